/**
 * The one app registration the emulated Entra tenant knows: tenant id, client id, client secret,
 * the client certificate it trusts, and the key the tenant signs access tokens with.
 *
 * With a data directory the registration is generated once and kept in `identity.json` (mode
 * 0600), so a restarted emulator accepts the same credentials and the tokens it issued before.
 * Without one, it is random per start: nothing secret outlives the process.
 */
import {
  generateKeyPair,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  randomUUID,
  type KeyObject,
  X509Certificate,
} from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { writeFileAtomic } from "../store/persistence";

/** The registered app and the tenant's signing key. */
export interface AppRegistration {
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The certificate registered for the app: client assertions must verify with its public key. */
  readonly clientCertificate: X509Certificate;
  /** The tenant's token-signing private key (RS256). */
  readonly signingKey: KeyObject;
  readonly signingPublicKey: KeyObject;
}

/** What `identity.json` holds. */
interface RegistrationFile {
  readonly format: 1;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** PKCS#8 PEM of the signing key. */
  readonly signingKey: string;
}

/** File name of the registration inside a data directory. */
export const REGISTRATION_FILE = "identity.json";

/**
 * Loads the registration from `dataDir`, creating it on first start; without `dataDir`, creates
 * a fresh one in memory. `clientCertificatePem` is the certificate the app trusts.
 */
export async function loadOrCreateRegistration(
  dataDir: string | undefined,
  clientCertificatePem: string,
): Promise<AppRegistration> {
  const clientCertificate = new X509Certificate(clientCertificatePem);
  const path = dataDir === undefined ? undefined : join(dataDir, REGISTRATION_FILE);
  if (path !== undefined && existsSync(path)) {
    const file = parseRegistration(await readFile(path, "utf8"), path);
    const signingKey = createPrivateKey(file.signingKey);
    return {
      ...file,
      clientCertificate,
      signingKey,
      signingPublicKey: createPublicKey(signingKey),
    };
  }
  const { privateKey } = await promisify(generateKeyPair)("rsa", { modulusLength: 2048 });
  const file: RegistrationFile = {
    format: 1,
    tenantId: randomUUID(),
    clientId: randomUUID(),
    clientSecret: newClientSecret(),
    signingKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
  if (path !== undefined) await writeFileAtomic(path, JSON.stringify(file, null, 2), 0o600);
  return {
    tenantId: file.tenantId,
    clientId: file.clientId,
    clientSecret: file.clientSecret,
    clientCertificate,
    signingKey: privateKey,
    signingPublicKey: createPublicKey(privateKey),
  };
}

/** A secret shaped like Entra's (`xxx8Q~` + 34 characters), so log scrubbers that know it match. */
function newClientSecret(): string {
  const body = randomBytes(30).toString("base64url").replace(/[-_]/g, "x");
  return `${body.slice(0, 3)}8Q~${body.slice(3, 37)}`;
}

function parseRegistration(text: string, path: string): RegistrationFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(
      `${path} is not valid JSON; restore it from a backup or delete the data directory.`,
    );
  }
  const v = value as Partial<RegistrationFile> | null;
  if (
    !v ||
    v.format !== 1 ||
    typeof v.tenantId !== "string" ||
    typeof v.clientId !== "string" ||
    typeof v.clientSecret !== "string" ||
    typeof v.signingKey !== "string"
  ) {
    throw new Error(
      `${path} is not an emulator registration (format 1); restore it or delete the data directory.`,
    );
  }
  return v as RegistrationFile;
}
