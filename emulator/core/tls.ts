/**
 * The emulator's TLS material: a local CA, a server certificate it signs for 127.0.0.1/localhost,
 * and a client certificate (with its private key) for `ClientCertificateCredential`.
 *
 * `@azure/identity` refuses non-HTTPS authorities, so the emulator must speak TLS, and clients
 * must trust its CA (`NODE_EXTRA_CA_CERTS=<caCertPath>`, see docs/emulator.md). The material is
 * generated once with `selfsigned` (no hand-written certificate code) and reused, so the CA path
 * a user or CI configured keeps working. By default it lives in one directory per machine (the
 * user cache directory), shared by every emulator, whatever its data directory.
 *
 * Files in the directory:
 *
 * | file              | content                                        |
 * |-------------------|------------------------------------------------|
 * | `ca.pem`          | CA certificate: what clients trust             |
 * | `ca-key.pem`      | CA private key (only used to sign server.pem)  |
 * | `server.pem`      | server certificate, SAN IP 127.0.0.1, ::1, DNS localhost |
 * | `server-key.pem`  | its private key                                |
 * | `client.pem`      | client certificate followed by its private key (the app registration's credential) |
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generate } from "selfsigned";

/** The loaded TLS material and where its files are. */
export interface TlsMaterial {
  readonly dir: string;
  /** Path of the CA certificate (PEM): give it to clients as `NODE_EXTRA_CA_CERTS`. */
  readonly caCertPath: string;
  readonly caCert: string;
  readonly serverKey: string;
  readonly serverCert: string;
  /** Path of the client certificate + private key PEM (for `ClientCertificateCredential`). */
  readonly clientCertificatePath: string;
  /** The client certificate alone (PEM), whose public key verifies client assertions. */
  readonly clientCert: string;
}

/** Environment variable that overrides the default TLS directory. */
export const TLS_DIR_ENV = "DUALWRITE_EMULATOR_TLS_DIR";

const FILES = ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client.pem"] as const;

/**
 * The default TLS directory: `$DUALWRITE_EMULATOR_TLS_DIR`, else `emulator-tls` in the project's
 * machine cache (`$PULUMI_DUALWRITE_CACHE_DIR`, as the toolchain setup uses it), else
 * `pulumi-dualwrite/emulator-tls` under the user's cache directory (XDG on Linux,
 * `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows; the temp directory without a home).
 */
export function defaultTlsDir(): string {
  const fromEnv = process.env[TLS_DIR_ENV];
  if (fromEnv) return resolve(fromEnv);
  const projectCache = process.env.PULUMI_DUALWRITE_CACHE_DIR;
  if (projectCache) return join(resolve(projectCache), "emulator-tls");
  return join(userCacheDir(), "pulumi-dualwrite", "emulator-tls");
}

function userCacheDir(): string {
  try {
    if (process.platform === "win32")
      return process.env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local");
    if (process.platform === "darwin") return join(homedir(), "Library", "Caches");
    return process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  } catch {
    // No home directory (some CI sandboxes): the temp directory is the next best shared place.
    return tmpdir();
  }
}

/**
 * Loads the TLS material from `dir`, generating it first when the directory does not exist.
 *
 * Generation writes into a fresh sibling directory and renames it into place; a rename onto an
 * existing, non-empty directory fails, so when several emulators start at once on a new machine
 * exactly one set wins and every process loads that one.
 */
export async function ensureTlsMaterial(dir: string): Promise<TlsMaterial> {
  if (!existsSync(join(dir, "ca.pem"))) await generateInto(dir);
  return load(dir);
}

async function load(dir: string): Promise<TlsMaterial> {
  const missing = FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new Error(
      `The emulator's TLS directory ${dir} is incomplete (missing ${missing.join(", ")}). ` +
        `Delete the directory to generate a new CA, then trust the new ca.pem.`,
    );
  }
  const [caCert, serverKey, serverCert, client] = await Promise.all(
    ["ca.pem", "server-key.pem", "server.pem", "client.pem"].map((f) =>
      readFile(join(dir, f), "utf8"),
    ),
  );
  const clientCert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(
    client!,
  )?.[0];
  if (!clientCert)
    throw new Error(
      `${join(dir, "client.pem")} holds no certificate; delete ${dir} to regenerate it.`,
    );
  // Fail at start, with the path, rather than at the first handshake.
  new X509Certificate(serverCert!);
  return {
    dir,
    caCertPath: join(dir, "ca.pem"),
    caCert: caCert!,
    serverKey: serverKey!,
    serverCert: serverCert!,
    clientCertificatePath: join(dir, "client.pem"),
    clientCert: `${clientCert}\n`,
  };
}

async function generateInto(dir: string): Promise<void> {
  const staging = `${dir}.tmp-${randomBytes(6).toString("hex")}`;
  await mkdir(staging, { recursive: true });
  try {
    const files = await generateMaterial();
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(staging, name), content, {
        mode: name.includes("key") || name === "client.pem" ? 0o600 : 0o644,
      });
    }
    try {
      await rename(staging, dir);
    } catch (e) {
      // Another process won the race (ENOTEMPTY/EEXIST on POSIX, EPERM on Windows): use its set.
      // A directory that exists but holds no CA is reported by `load` with what is missing.
      if (!existsSync(dir)) throw e;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Generates the five PEM files. Ten-year validity: this CA only ever vouches for loopback. */
async function generateMaterial(): Promise<Record<(typeof FILES)[number], string>> {
  const notBeforeDate = new Date(Date.now() - 24 * 3600 * 1000);
  const notAfterDate = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000);
  const common = { keySize: 2048, algorithm: "sha256", notBeforeDate, notAfterDate } as const;

  const ca = await generate([{ name: "commonName", value: "pulumi-dualwrite emulator local CA" }], {
    ...common,
    extensions: [
      { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
      {
        name: "keyUsage",
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  });
  const server = await generate([{ name: "commonName", value: "localhost" }], {
    ...common,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
          { type: 7, ip: "::1" },
        ],
      },
    ],
  });
  // Entra app registrations usually hold a self-signed certificate; so does the emulator's.
  const client = await generate(
    [{ name: "commonName", value: "pulumi-dualwrite emulator client" }],
    {
      ...common,
      extensions: [
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true },
        { name: "extKeyUsage", clientAuth: true },
      ],
    },
  );
  return {
    "ca.pem": ca.cert,
    "ca-key.pem": ca.private,
    "server.pem": server.cert,
    "server-key.pem": server.private,
    "client.pem": `${client.cert.trim()}\n${client.private.trim()}\n`,
  };
}
