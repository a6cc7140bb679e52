/**
 * Authentication: the credentials a configuration selects — the app credential for Dataverse and
 * F&O, and the gateway's own (see `provider/config.ts`) — and a token cache with one token per
 * audience (gateway, each Dataverse org, each F&O environment), kept until five minutes before it
 * expires. Concurrent requests for the same audience share one token request, so a `pulumi up`
 * over a hundred maps asks Entra ID for a handful of tokens, not hundreds.
 *
 * Gateway credentials (delegated sign-in, as Microsoft's tool does it):
 * - `password`: `@azure/identity`'s `UsernamePasswordCredential` with the first-party client id,
 *   the tool's own route (ServicePrincipalAuth.cs:33-36; toolbAX
 *   src/FoToolbox.Core/DualWrite/Auth/MsalRopcTokenAcquirer.cs). It works against any HTTPS
 *   authority, the emulator's loopback one included (instance discovery off).
 * - `refreshToken`: the refresh grant exactly as TokenRefresh.cs:126-160 sends it — client id,
 *   `<scope> openid profile offline_access`, the portal's redirect URI, `Origin` of the portal —
 *   because a portal sign-in's refresh token belongs to a single-page app and Entra redeems those
 *   only cross-origin (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token).
 *   `@azure/identity` has no credential that sends `Origin`, hence a small client on `got`.
 *   Entra rotates refresh tokens; the newest is kept in memory only (stack config is not written).
 * - `azureCli`: `AzureCliCredential`.
 * - `tokenCommand`: runs a command that prints a token (its output is never logged).
 * - `app`: the app credential (app-only token: unproven at the real gateway).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import {
  AzureCliCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  UsernamePasswordCredential,
  WorkloadIdentityCredential,
  type AccessToken,
  type GetTokenOptions,
  type TokenCredential,
} from "@azure/identity";
import { describeConfig, SETTINGS, type ProviderConfig } from "./config";
import { ConfigError, DualWriteError, scrub } from "./errors";

/** The dual-write portal's origin, sent as `Origin` on refresh (TokenRefresh.cs:136; the URI's AbsoluteUri, with its slash). */
export const PORTAL_ORIGIN = "https://dataintegrator.trafficmanager.net/";

/** The portal's redirect URI, sent on refresh (TokenRefresh.cs:138-145). */
export const PORTAL_REDIRECT_URI = "https://dataintegrator.trafficmanager.net/dualWrite";

/** Entra's default authority host. */
const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com";

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
 * The credential for every surface of a configuration: the app credential (Dataverse, F&O) and,
 * when the gateway signs in on its own, a credential that hands gateway scopes to the gateway's
 * credential. With `authorityHost` set (the emulator, a sovereign cloud), instance discovery is
 * turned off: it would call login.microsoftonline.com, which is neither wanted nor reachable offline.
 *
 * @throws ConfigError when a certificate or token file named in the configuration does not exist.
 */
export function createCredential(
  cfg: ProviderConfig,
  options: CredentialOptions = {},
): TokenCredential {
  const app = createAppCredential(cfg, options);
  const g = cfg.gateway;
  // One credential serves both when the gateway signs in the way the app does.
  const same =
    g.kind === "app" ||
    (g.kind === "azureCli" && cfg.credential === "azureCli" && (g.tenantId ?? "") === cfg.tenantId);
  if (same) return app;
  return new PerSurfaceCredential(cfg.gatewayScope, createGatewayCredential(cfg, options), app);
}

/** Options shared by the `@azure/identity` credentials of a configuration. */
function identityOptions(cfg: ProviderConfig, options: CredentialOptions) {
  const extraCa = [...(options.extraCaPem ?? []), ...readCaFile(cfg)];
  return {
    ...(cfg.authorityHost !== undefined && {
      authorityHost: cfg.authorityHost,
      disableInstanceDiscovery: true,
    }),
    // `ca` replaces Node's list in an https.Agent, so keep the defaults beside the extra CA.
    ...(extraCa.length > 0 && { tlsOptions: { ca: [...rootCertificates, ...extraCa] } }),
  };
}

/** The app credential: what Dataverse and F&O (and the gateway, with `app`) get tokens from. */
export function createAppCredential(
  cfg: ProviderConfig,
  options: CredentialOptions = {},
): TokenCredential {
  const common = identityOptions(cfg, options);
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

/** The gateway's own credential, as `cfg.gateway` selects it. */
export function createGatewayCredential(
  cfg: ProviderConfig,
  options: CredentialOptions = {},
): TokenCredential {
  const g = cfg.gateway;
  switch (g.kind) {
    case "password":
      // The tool's route (ServicePrincipalAuth.cs:35): ROPC for the first-party public client.
      // Only for accounts without MFA: https://learn.microsoft.com/entra/identity-platform/v2-oauth-ropc
      return new UsernamePasswordCredential(
        g.tenantId,
        g.clientId,
        g.username,
        g.password.reveal(),
        identityOptions(cfg, options),
      );
    case "refreshToken":
      return new RefreshTokenCredential({
        authorityHost: cfg.authorityHost ?? DEFAULT_AUTHORITY_HOST,
        tenantId: g.tenantId,
        clientId: g.clientId,
        refreshToken: g.refreshToken.reveal(),
        extraCaPem: [...(options.extraCaPem ?? []), ...readCaFile(cfg)],
      });
    case "azureCli":
      return new AzureCliCredential(g.tenantId ? { tenantId: g.tenantId } : {});
    case "tokenCommand":
      return new TokenCommandCredential(g.command);
    case "app":
      return createAppCredential(cfg, options);
  }
}

/**
 * Hands the gateway's scope to the gateway's credential and every other scope (Dataverse, F&O)
 * to the app credential, so one token cache serves both.
 */
export class PerSurfaceCredential implements TokenCredential {
  private readonly gatewayAudience: string;

  constructor(
    gatewayScope: string,
    private readonly gateway: TokenCredential,
    private readonly app: TokenCredential,
  ) {
    this.gatewayAudience = audienceOf(gatewayScope).toLowerCase();
  }

  /** @inheritdoc */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const list = Array.isArray(scopes) ? scopes : [scopes];
    const forGateway = list.some((s) => audienceOf(s).toLowerCase() === this.gatewayAudience);
    return (forGateway ? this.gateway : this.app).getToken(scopes, options);
  }
}

/** Options of `RefreshTokenCredential`. */
export interface RefreshTokenCredentialOptions {
  /** e.g. `https://login.microsoftonline.com` or the emulator's `https://127.0.0.1:<port>`. */
  readonly authorityHost: string;
  /** Tenant in the token endpoint's path (the tool uses `common`; a tenant id works too). */
  readonly tenantId: string;
  readonly clientId: string;
  /** The refresh token to start from. */
  readonly refreshToken: string;
  /** Extra trusted CA certificates (PEM). */
  readonly extraCaPem?: readonly string[];
  /** @default 30000 */
  readonly timeoutMs?: number;
}

/** AADSTS codes that mean "this refresh token can no longer be used: sign in again". */
const SIGN_IN_AGAIN_CODES = new Set([
  70008, // expired or revoked
  70043, // expired or invalid due to sign-in frequency checks by Conditional Access
  50173, // the grant expired (password changed or reset)
  700081, // maximum age reached
  700082, // expired due to inactivity
  700084, // single-page-app token past its fixed lifetime
]);

/**
 * Renews a browser sign-in with the refresh grant, as TokenRefresh.cs:126-160 does. Each answer
 * carries a new refresh token, which replaces the one in memory (Entra rotates them:
 * https://learn.microsoft.com/entra/identity-platform/refresh-tokens). Renewals run one at a time.
 */
export class RefreshTokenCredential implements TokenCredential {
  #refreshToken: string;
  #queue: Promise<unknown> = Promise.resolve();
  private readonly endpoint: string;
  private readonly ca: string[] | undefined;

  constructor(private readonly options: RefreshTokenCredentialOptions) {
    this.#refreshToken = options.refreshToken;
    this.endpoint = `${options.authorityHost.replace(/\/+$/, "")}/${encodeURIComponent(options.tenantId)}/oauth2/v2.0/token`;
    const extra = options.extraCaPem ?? [];
    this.ca = extra.length > 0 ? [...rootCertificates, ...extra] : undefined;
  }

  /** @inheritdoc */
  getToken(scopes: string | string[]): Promise<AccessToken> {
    const scope = (Array.isArray(scopes) ? scopes : [scopes]).join(" ");
    const next = this.#queue.then(() => this.redeem(scope));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  private async redeem(scope: string): Promise<AccessToken> {
    let response: { statusCode: number; body: string };
    try {
      // Loaded here, not with this module: only this sign-in uses got, and loading it adds ~16 MB
      // to the provider process (clients/http.ts).
      const { default: got } = await import("got");
      response = await got.post(this.endpoint, {
        form: {
          client_id: this.options.clientId,
          scope: `${scope} openid profile offline_access`,
          redirect_uri: PORTAL_REDIRECT_URI,
          grant_type: "refresh_token",
          refresh_token: this.#refreshToken,
        },
        headers: { accept: "application/json", origin: PORTAL_ORIGIN },
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: this.options.timeoutMs ?? 30_000 },
        ...(this.ca && { https: { certificateAuthority: this.ca } }),
      });
    } catch (e) {
      // got's errors carry the request options, the form with the refresh token among them:
      // keep only the reason.
      const code = (e as { code?: string }).code ?? "request failed";
      throw new DualWriteError(
        `The refresh-token sign-in at ${this.endpoint} failed (${code}).`,
        "Authentication",
      );
    }
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(response.body) as Record<string, unknown>;
    } catch {
      // Not JSON: reported by status below.
    }
    if (response.statusCode !== 200) {
      const codes = Array.isArray(body.error_codes) ? (body.error_codes as unknown[]) : [];
      const description =
        typeof body.error_description === "string"
          ? scrub(body.error_description.split(/\r?\n/)[0] ?? "")
          : `HTTP ${response.statusCode}`;
      if (body.error === "invalid_grant" && codes.some((c) => SIGN_IN_AGAIN_CODES.has(Number(c)))) {
        throw new DualWriteError(
          `the refresh token has expired: sign in again and set dualwrite:gatewayRefreshToken (${description})`,
          "RefreshTokenExpired",
        );
      }
      throw new DualWriteError(
        `the refresh token was refused: ${typeof body.error === "string" ? `${body.error}: ` : ""}${description}`,
        "Authentication",
      );
    }
    const token = body.access_token;
    const expiresIn = Number(body.expires_in);
    if (typeof token !== "string" || !Number.isFinite(expiresIn))
      throw new DualWriteError(
        `The token endpoint ${this.endpoint} answered without access_token and expires_in.`,
        "Authentication",
      );
    // Rotation: the newest refresh token is the one to redeem next (memory only).
    if (typeof body.refresh_token === "string" && body.refresh_token !== "")
      this.#refreshToken = body.refresh_token;
    return { token, expiresOnTimestamp: Date.now() + expiresIn * 1000 };
  }
}

/** Options of `TokenCommandCredential`. */
export interface TokenCommandOptions {
  /** @default 60000 */
  readonly timeoutMs?: number;
  /** The command's environment. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs a shell command that prints an access token on standard output: the raw JWT, or JSON with
 * `accessToken` or `access_token` and optionally `expiresOn`/`expires_on` (what
 * `az account get-access-token` prints). The command gets the scope in
 * `DUALWRITE_TOKEN_SCOPE`. Its output is never logged nor put in an error.
 */
export class TokenCommandCredential implements TokenCredential {
  constructor(
    private readonly command: string,
    private readonly options: TokenCommandOptions = {},
  ) {}

  /** @inheritdoc */
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    const scope = (Array.isArray(scopes) ? scopes : [scopes]).join(" ");
    const { code, stdout, stderr, timedOut } = await run(this.command, {
      timeoutMs: this.options.timeoutMs ?? 60_000,
      env: { ...(this.options.env ?? process.env), DUALWRITE_TOKEN_SCOPE: scope },
    });
    const key = SETTINGS.gatewayTokenCommand.key;
    if (timedOut)
      throw new DualWriteError(`${key} did not finish within its time limit.`, "Authentication");
    if (code !== 0) {
      const reason = scrub(stderr.trim().split(/\r?\n/)[0] ?? "").slice(0, 300);
      throw new DualWriteError(
        `${key} failed with exit code ${code}${reason ? `: ${reason}` : ""}.`,
        "Authentication",
      );
    }
    const parsed = parseTokenOutput(stdout.trim());
    if (!parsed)
      throw new DualWriteError(
        `${key} printed neither a JWT nor JSON with accessToken or access_token (its output is not shown: it may hold a secret).`,
        "Authentication",
      );
    return parsed;
  }
}

/** A token from a command's output: a raw JWT or JSON; undefined when it is neither. */
export function parseTokenOutput(text: string, now = Date.now()): AccessToken | undefined {
  if (text.startsWith("{")) {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const token = value.accessToken ?? value.access_token;
    if (typeof token !== "string" || token === "") return undefined;
    const expires =
      timestampOf(value.expires_on) ??
      timestampOf(value.expiresOn) ??
      timestampOf(value.expiresOnTimestamp) ??
      jwtExpiry(token);
    return { token, expiresOnTimestamp: expires ?? now + 5 * 60_000 };
  }
  if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(text)) {
    const expires = jwtExpiry(text);
    return { token: text, expiresOnTimestamp: expires ?? now + 5 * 60_000 };
  }
  return undefined;
}

/** Epoch seconds, epoch milliseconds, or a date text, as milliseconds; undefined otherwise. */
function timestampOf(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value))
    return value > 1e12 ? value : value * 1000;
  if (typeof value !== "string" || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return timestampOf(Number(value));
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The `exp` of a JWT (unverified: only to know when to ask again), in milliseconds. */
function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      exp?: unknown;
    };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a shell command line; collects its output (bounded) and exit code. */
function run(
  command: string,
  options: { timeoutMs: number; env: NodeJS.ProcessEnv },
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(command, {
      shell: true,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      windowsHide: true,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const limit = 1024 * 1024;
    child.stdout.on("data", (d: Buffer) => {
      if (stdout.length < limit) stdout += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString("utf8");
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill();
    }, options.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout: "", stderr: e.message, timedOut });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
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
