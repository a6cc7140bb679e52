/**
 * The emulator's TLS material: a local CA, a server certificate it signs for every loopback
 * address of the address plan (`core/hosts.ts`: 127.0.0.1 to 127.0.0.254, plus ::1 and
 * localhost), and a client certificate (with its private key) for `ClientCertificateCredential`.
 *
 * `@azure/identity` refuses non-HTTPS authorities, so the emulator must speak TLS, and clients
 * must trust its CA (`NODE_EXTRA_CA_CERTS=<caCertPath>`, see docs/emulator.md). The material is
 * generated once with `selfsigned` (no hand-written certificate code) and reused, so the CA path
 * a user or CI configured keeps working. By default it lives in one directory per machine (the
 * user cache directory), shared by every emulator, whatever its data directory.
 *
 * Files in the directory:
 *
 * | file               | content                                        |
 * |--------------------|------------------------------------------------|
 * | `ca.pem`           | CA certificate: what clients trust             |
 * | `ca-key.pem`       | CA private key (only used to sign the server certificate) |
 * | `server-hosts.pem` | server certificate (SAN IP 127.0.0.1–127.0.0.254, ::1, DNS localhost) followed by its private key |
 * | `client.pem`       | client certificate followed by its private key (the app registration's credential) |
 *
 * A directory made by an older emulator (its `server.pem` named 127.0.0.1 only) keeps its CA:
 * the missing `server-hosts.pem` is signed with `ca-key.pem` on first use, so clients that trust
 * `ca.pem` need nothing new. The certificate and its key are one file, written by rename, so
 * emulators starting at once never read a certificate with another one's key.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generate } from "selfsigned";
import { certificateAddresses } from "./hosts";

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

/** Files generated with the CA; the server certificate (`SERVER_FILE`) can be added later. */
const FILES = ["ca.pem", "ca-key.pem", "client.pem"] as const;

/** The server certificate and its key, one PEM file. */
const SERVER_FILE = "server-hosts.pem";

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
  const [caCert, caKey, client] = await Promise.all(
    ["ca.pem", "ca-key.pem", "client.pem"].map((f) => readFile(join(dir, f), "utf8")),
  );
  const clientCert = firstCertificate(client!);
  if (!clientCert)
    throw new Error(
      `${join(dir, "client.pem")} holds no certificate; delete ${dir} to regenerate it.`,
    );
  const server = await loadOrSignServer(dir, caCert!, caKey!);
  return {
    dir,
    caCertPath: join(dir, "ca.pem"),
    caCert: caCert!,
    serverKey: server.key,
    serverCert: server.cert,
    clientCertificatePath: join(dir, "client.pem"),
    clientCert: `${clientCert}\n`,
  };
}

/**
 * The server certificate and key from `server-hosts.pem`; signed anew with the CA when the file
 * is missing, unreadable or does not name every address of the plan.
 */
async function loadOrSignServer(
  dir: string,
  caCert: string,
  caKey: string,
): Promise<{ cert: string; key: string }> {
  const path = join(dir, SERVER_FILE);
  if (existsSync(path)) {
    const found = parseServerFile(await readFile(path, "utf8"));
    if (found) return found;
  }
  const signed = await signServerCertificate(caCert, caKey);
  const text = `${signed.cert.trim()}\n${signed.key.trim()}\n`;
  const staging = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  await writeFile(staging, text, { mode: 0o600 });
  // Rename replaces atomically: a concurrent reader sees the old file or this one, whole.
  await rename(staging, path);
  // Read back as a later start reads it, so every start hands out the same text.
  const written = parseServerFile(text);
  if (!written)
    throw new Error(`The server certificate signed for ${dir} does not name the plan's addresses.`);
  return written;
}

/** Certificate and key of a `server-hosts.pem`, when the certificate names every address. */
function parseServerFile(text: string): { cert: string; key: string } | undefined {
  const cert = firstCertificate(text);
  const key = /-----BEGIN (?:RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA )?PRIVATE KEY-----/.exec(
    text,
  )?.[0];
  if (!cert || !key) return undefined;
  try {
    const san = new X509Certificate(cert).subjectAltName ?? "";
    const named = new Set(san.split(/,\s*/).map((entry) => entry.replace(/^IP Address:/, "")));
    if (!certificateAddresses().every((a) => named.has(a))) return undefined;
  } catch {
    return undefined;
  }
  return { cert: `${cert}\n`, key: `${key}\n` };
}

function firstCertificate(text: string): string | undefined {
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
}

async function generateInto(dir: string): Promise<void> {
  const staging = `${dir}.tmp-${randomBytes(6).toString("hex")}`;
  await mkdir(staging, { recursive: true });
  try {
    const files = await generateMaterial();
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(staging, name), content, {
        // Files holding a private key are for the owner only.
        mode: name === "ca.pem" ? 0o644 : 0o600,
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

/** Ten-year validity: this CA only ever vouches for loopback. */
function validity(): { notBeforeDate: Date; notAfterDate: Date } {
  return {
    notBeforeDate: new Date(Date.now() - 24 * 3600 * 1000),
    notAfterDate: new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000),
  };
}

/** Generates the CA, the client certificate and the server certificate. */
async function generateMaterial(): Promise<Record<string, string>> {
  const common = { keySize: 2048, algorithm: "sha256", ...validity() } as const;

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
  const server = await signServerCertificate(ca.cert, ca.private);
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
    [SERVER_FILE]: `${server.cert.trim()}\n${server.key.trim()}\n`,
    "client.pem": `${client.cert.trim()}\n${client.private.trim()}\n`,
  };
}

/**
 * A server certificate signed by the CA for every address of the plan (one certificate for all
 * listeners: a client checks the address it connected to against the SAN list), ::1 and localhost.
 */
async function signServerCertificate(
  caCert: string,
  caKey: string,
): Promise<{ cert: string; key: string }> {
  const server = await generate([{ name: "commonName", value: "localhost" }], {
    keySize: 2048,
    algorithm: "sha256",
    ...validity(),
    ca: { key: caKey, cert: caCert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          ...certificateAddresses().map((ip) => ({ type: 7 as const, ip })),
          { type: 7, ip: "::1" },
        ],
      },
    ],
  });
  return { cert: server.cert, key: server.private };
}
