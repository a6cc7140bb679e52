/**
 * What the emulated Entra tenant knows: its id and domain, its one app registration (client id,
 * client secret, the client certificate it trusts), its one user — the dual-write administrator
 * that delegated sign-in uses — and the key the tenant signs tokens with.
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

/** The seeded user who administers dual-write (signs in with a password, as a service account would). */
export interface TenantUser {
  /** The user principal name, `dwadmin@<tenant domain>` (the `upn` claim). */
  readonly username: string;
  readonly password: string;
  /** The user's object id (the `oid` claim). */
  readonly objectId: string;
  /** Display name (the `name` claim). */
  readonly displayName: string;
}

/** The registered app, the tenant's user and the tenant's signing key. */
export interface AppRegistration {
  readonly tenantId: string;
  /** The tenant's initial domain, `<name>.onmicrosoft.com` (never looked up: only a name). */
  readonly domain: string;
  /** The dual-write administrator. */
  readonly admin: TenantUser;
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
  /** Added with delegated sign-in; a file without them gets them on the next start. */
  readonly domain?: string;
  readonly admin?: TenantUser;
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
  let file: RegistrationFile;
  if (path !== undefined && existsSync(path)) {
    file = parseRegistration(await readFile(path, "utf8"), path);
  } else {
    const { privateKey } = await promisify(generateKeyPair)("rsa", { modulusLength: 2048 });
    file = {
      format: 1,
      tenantId: randomUUID(),
      clientId: randomUUID(),
      clientSecret: newClientSecret(),
      signingKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    };
  }
  const complete = withUser(file);
  // Written when new or when an older file lacked the user, so the password stays the same.
  if (path !== undefined && complete !== file)
    await writeFileAtomic(path, JSON.stringify(complete, null, 2), 0o600);
  const signingKey = createPrivateKey(complete.signingKey);
  return {
    tenantId: complete.tenantId,
    domain: complete.domain!,
    admin: complete.admin!,
    clientId: complete.clientId,
    clientSecret: complete.clientSecret,
    clientCertificate,
    signingKey,
    signingPublicKey: createPublicKey(signingKey),
  };
}

/** The file with a domain and an administrator; the same object when it has both already. */
function withUser(file: RegistrationFile): RegistrationFile {
  if (file.domain !== undefined && file.admin !== undefined) return file;
  // A per-tenant name, so two emulators' users are told apart in logs and tokens.
  const domain =
    file.domain ?? `dwemu${file.tenantId.replace(/-/g, "").slice(0, 8)}.onmicrosoft.com`;
  return {
    ...file,
    domain,
    admin: file.admin ?? {
      username: `dwadmin@${domain}`,
      password: newPassword(),
      objectId: randomUUID(),
      displayName: "Dual-write Administrator",
    },
  };
}

/** A password Entra's default policy accepts: upper, lower, digit and symbol, 24 characters. */
function newPassword(): string {
  const body = randomBytes(18).toString("base64url").replace(/[-_]/g, "x");
  return `Dw1!${body.slice(0, 20)}`;
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
    typeof v.signingKey !== "string" ||
    (v.domain !== undefined && typeof v.domain !== "string") ||
    (v.admin !== undefined &&
      (typeof v.admin !== "object" ||
        v.admin === null ||
        typeof v.admin.username !== "string" ||
        typeof v.admin.password !== "string" ||
        typeof v.admin.objectId !== "string"))
  ) {
    throw new Error(
      `${path} is not an emulator registration (format 1); restore it or delete the data directory.`,
    );
  }
  return v as RegistrationFile;
}
