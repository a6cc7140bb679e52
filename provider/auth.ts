/**
 * Authentication: one `@azure/identity` credential per configuration, and a token cache with one
 * token per audience (gateway, each Dataverse org, each F&O environment), kept until five minutes
 * before it expires. Concurrent requests for the same audience share one token request, so a
 * `pulumi up` over a hundred maps asks Entra ID for a handful of tokens, not hundreds.
 */
import { existsSync, readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import {
  AzureCliCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  WorkloadIdentityCredential,
  type AccessToken,
  type TokenCredential,
} from "@azure/identity";
import { describeConfig, SETTINGS, type ProviderConfig } from "./config";
import { ConfigError, DualWriteError, scrub } from "./errors";

/** What the HTTP layer needs from authentication. */
export interface TokenSource {
  /** A bearer token for `scope` (e.g. `https://org.crm.dynamics.com/.default`). */
  getToken(scope: string): Promise<string>;
  /** Forgets the cached token for `scope` (after a 401), so the next call asks again. */
  invalidate(scope: string): void;
}

/** Options for `createCredential`. */
export interface CredentialOptions {
  /** Extra trusted CA certificates (PEM), added to Node's defaults; e.g. the emulator's CA. */
  readonly extraCaPem?: readonly string[];
}

/**
 * The `@azure/identity` credential the configuration selects. With `authorityHost` set (the
 * emulator, a sovereign cloud), instance discovery is turned off: it would call
 * login.microsoftonline.com, which is neither wanted nor reachable offline.
 *
 * @throws ConfigError when a certificate or token file named in the configuration does not exist.
 */
export function createCredential(
  cfg: ProviderConfig,
  options: CredentialOptions = {},
): TokenCredential {
  const extraCa = [...(options.extraCaPem ?? []), ...readCaFile(cfg)];
  const common = {
    ...(cfg.authorityHost !== undefined && {
      authorityHost: cfg.authorityHost,
      disableInstanceDiscovery: true,
    }),
    // `ca` replaces Node's list in an https.Agent, so keep the defaults beside the extra CA.
    ...(extraCa.length > 0 && { tlsOptions: { ca: [...rootCertificates, ...extraCa] } }),
  };
  switch (cfg.credential) {
    case "clientSecret": {
      if (!cfg.clientSecret)
        throw new ConfigError(SETTINGS.clientSecret.key, "The client secret is empty.");
      return new ClientSecretCredential(
        cfg.tenantId,
        cfg.clientId,
        cfg.clientSecret.reveal(),
        common,
      );
    }
    case "clientCertificate": {
      const path = requireFile(cfg.clientCertificatePath, "clientCertificatePath", cfg);
      return new ClientCertificateCredential(
        cfg.tenantId,
        cfg.clientId,
        {
          certificatePath: path,
          ...(cfg.clientCertificatePassword && {
            certificatePassword: cfg.clientCertificatePassword.reveal(),
          }),
        },
        common,
      );
    }
    case "workloadIdentity": {
      const path = requireFile(cfg.federatedTokenFile, "federatedTokenFile", cfg);
      return new WorkloadIdentityCredential({
        tenantId: cfg.tenantId,
        clientId: cfg.clientId,
        tokenFilePath: path,
        ...common,
      });
    }
    case "azureCli":
      // The CLI talks to its own cloud; authorityHost does not apply to it.
      return new AzureCliCredential(cfg.tenantId ? { tenantId: cfg.tenantId } : {});
  }
}

/** Options for `TokenProvider`. */
export interface TokenProviderOptions {
  /** Refresh this long before a token expires. @default 300000 (5 minutes) */
  readonly refreshMarginMs?: number;
  /** The clock, injectable for tests. @default Date.now */
  readonly now?: () => number;
  /** Says which configuration failed in error messages (see `describeConfig`); never a secret. */
  readonly describe?: string;
}

interface CachedToken {
  readonly token: string;
  /** When to ask for a new one (ms since the epoch). */
  readonly refreshAt: number;
}

/**
 * Caches one token per audience until `refreshMarginMs` before it expires, and shares one
 * in-flight request among concurrent callers of the same audience.
 */
export class TokenProvider implements TokenSource {
  private readonly cache = new Map<string, CachedToken>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly margin: number;
  private readonly now: () => number;
  private readonly describe: string;
  private acquired = 0;

  constructor(
    private readonly credential: TokenCredential,
    options: TokenProviderOptions = {},
  ) {
    this.margin = options.refreshMarginMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.describe = options.describe ?? "";
  }

  /** How many tokens were requested from the credential so far (for tests and benchmarks). */
  get tokensAcquired(): number {
    return this.acquired;
  }

  /** @inheritdoc */
  getToken(scope: string): Promise<string> {
    const audience = audienceOf(scope);
    const cached = this.cache.get(audience);
    if (cached && this.now() < cached.refreshAt) return Promise.resolve(cached.token);
    const pending = this.inFlight.get(audience);
    if (pending) return pending;
    const request = this.acquire(audience).finally(() => this.inFlight.delete(audience));
    this.inFlight.set(audience, request);
    return request;
  }

  /** @inheritdoc */
  invalidate(scope: string): void {
    this.cache.delete(audienceOf(scope));
  }

  private async acquire(audience: string): Promise<string> {
    const scope = `${audience}/.default`;
    let token: AccessToken | null;
    this.acquired++;
    try {
      token = await this.credential.getToken(scope);
    } catch (error) {
      throw authenticationError(scope, this.describe, error);
    }
    if (!token)
      throw authenticationError(
        scope,
        this.describe,
        new Error("the credential returned no token"),
      );
    this.cache.set(audience, {
      token: token.token,
      refreshAt: refreshTime(token, this.now(), this.margin),
    });
    return token.token;
  }
}

/**
 * When to refresh a token: `margin` before expiry, but never sooner than half its remaining life,
 * so a short-lived token (shorter than the margin) is still reused for a while instead of being
 * requested again on every call.
 */
export function refreshTime(
  token: Pick<AccessToken, "expiresOnTimestamp">,
  now: number,
  margin: number,
): number {
  const remaining = token.expiresOnTimestamp - now;
  return now + Math.max(remaining - margin, remaining / 2);
}

/**
 * The audience a scope asks for: `https://org.crm.dynamics.com/.default` → `https://org.crm.dynamics.com`.
 * Tokens are cached per audience, so `<url>`, `<url>/` and `<url>/.default` share one.
 */
export function audienceOf(scope: string): string {
  return scope.replace(/\/\.default$/, "").replace(/\/+$/, "");
}

function authenticationError(scope: string, describe: string, error: unknown): DualWriteError {
  const detail = error instanceof Error ? error.message : String(error);
  return new DualWriteError(
    `Could not get a token for ${scope}${describe ? ` with ${describe}` : ""}: ${scrub(firstLines(detail))}`,
    "Authentication",
    { cause: error },
  );
}

/** Identity errors repeat themselves over many lines; the first two carry the reason. */
function firstLines(text: string): string {
  return text.split("\n").slice(0, 2).join(" ").slice(0, 600);
}

function requireFile(
  path: string | undefined,
  name: "clientCertificatePath" | "federatedTokenFile",
  cfg: ProviderConfig,
): string {
  const key = cfg.sources[name] ?? SETTINGS[name].key;
  if (!path || !existsSync(path)) {
    throw new ConfigError(
      key,
      `${key} names a file that does not exist: "${path ?? ""}" (${describeConfig(cfg)}).`,
    );
  }
  return path;
}

function readCaFile(cfg: ProviderConfig): string[] {
  if (!cfg.caCertificatePath) return [];
  const key = cfg.sources.caCertificatePath ?? SETTINGS.caCertificatePath.key;
  try {
    return [readFileSync(cfg.caCertificatePath, "utf8")];
  } catch {
    throw new ConfigError(
      key,
      `${key} names a file that cannot be read: "${cfg.caCertificatePath}".`,
    );
  }
}

/** The extra CA certificates the configuration names (for the HTTP layer's agent). */
export function extraCaFromConfig(cfg: ProviderConfig): string[] {
  return readCaFile(cfg);
}
