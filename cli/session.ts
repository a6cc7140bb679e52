/**
 * What the read-only commands (`export`, `compare`) share: environment URLs from the command line,
 * the provider's settings read as the provider reads them (`--config` file of `dualwrite:` keys,
 * else the `AZURE_*`/`DUALWRITE_*` environment variables — the same reader as `doctor`), and a
 * private set of the provider's clients built from them.
 */
import { createClients, type Clients } from "../provider/clients";
import { readProviderConfig, SETTINGS, type ProviderConfig } from "../provider/config";
import { environmentUrl } from "../provider/resources/dualWriteConnection/connectionImport";
import { UsageError } from "./command";
import type { ConfigFile } from "./configFile";

/** Settings and clients for one side (one set of credentials). */
export interface Session {
  readonly cfg: ProviderConfig;
  readonly clients: Clients;
  /** Closes the clients' connections. */
  close(): void;
}

/**
 * Reads the settings (from `configFile`, else `env`) and builds a private set of clients.
 * @throws ConfigError when a setting is missing or malformed (the message names it)
 */
export function openSession(options: {
  readonly configFile?: ConfigFile;
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
}): Session {
  const file = options.configFile;
  const cfg = readProviderConfig((key) => file?.values[key], options.env);
  const clients = createClients(
    cfg,
    {},
    {
      private: true,
      timeoutMs: options.timeoutMs,
      // A person waits: a few retries, short waits.
      retry: { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 2_000, maxRetryAfterMs: 30_000 },
    },
  );
  return { cfg, clients, close: () => clients.http.close() };
}

/** The clients of `session` with a Dataverse environment (the provider's reads need `c.dataverse`). */
export function withDataverse(clients: Clients, dataverseUrl: string): Clients {
  return {
    gateway: clients.gateway,
    http: clients.http,
    tokens: clients.tokens,
    dataverse: clients.dataverseFor(dataverseUrl),
    get fno() {
      return clients.fno;
    },
    dataverseFor: (url) => clients.dataverseFor(url),
    fnoFor: (url) => clients.fnoFor(url),
  };
}

/**
 * An environment URL given on the command line, in the one spelling import ids and stack config
 * use (`environmentUrl`: https, host in lower case, no trailing `/`; a bare host gets https://).
 * @throws UsageError naming the flag
 */
export function urlArgument(flag: string, text: string): string {
  const url = environmentUrl(text);
  if (url === undefined)
    throw new UsageError(
      `${flag}: expected an https:// URL without credentials, query or fragment, got '${text}'.`,
    );
  return url;
}

/** Per-request timeout from `--timeout` seconds. @throws UsageError when out of range */
export function timeoutArgument(text: string | undefined): number {
  const seconds = text === undefined ? 30 : Number(text);
  if (!(seconds > 0 && seconds <= 600))
    throw new UsageError(`--timeout: expected seconds from 1 to 600, got '${text}'.`);
  return Math.round(seconds * 1000);
}

/** Settings whose values are secrets (or may hold one): never written, never printed. */
export const SECRET_SETTINGS: ReadonlySet<keyof typeof SETTINGS> = new Set([
  "clientSecret",
  "clientCertificatePassword",
  "gatewayPassword",
  "gatewayRefreshToken",
  "gatewayTokenCommand",
]);

/**
 * The settings `cfg` was read with, as stack config: every setting given (in the file or the
 * environment) that is not secret, with its value, in the order of `SETTINGS`; and the keys of
 * the secret ones given, which a stack must get with `pulumi config set --secret`.
 */
export function stackSettings(cfg: ProviderConfig): {
  readonly plain: ReadonlyArray<readonly [key: string, value: string]>;
  readonly secrets: readonly string[];
} {
  const plain: [string, string][] = [];
  const secrets: string[] = [];
  for (const name of Object.keys(SETTINGS) as (keyof typeof SETTINGS)[]) {
    if (cfg.sources[name] === undefined) continue;
    const key = SETTINGS[name].key;
    if (SECRET_SETTINGS.has(name)) {
      secrets.push(key);
      continue;
    }
    const value = plainValue(cfg, name);
    if (value !== undefined) plain.push([key, value]);
  }
  return { plain, secrets };
}

/**
 * The value of a non-secret setting as the configuration holds it (secrets give undefined), for
 * people (doctor) and for generated stack config (export).
 */
export function plainValue(cfg: ProviderConfig, name: keyof typeof SETTINGS): string | undefined {
  const g = cfg.gateway;
  switch (name) {
    case "tenantId":
      return cfg.tenantId || undefined;
    case "clientId":
      return cfg.clientId || undefined;
    case "clientCertificatePath":
      return cfg.clientCertificatePath;
    case "federatedTokenFile":
      return cfg.federatedTokenFile;
    case "useAzureCli":
      return cfg.useAzureCli ? "true" : undefined;
    case "authorityHost":
      return cfg.authorityHost;
    case "gatewayUrl":
      return cfg.gatewayUrl;
    case "gatewayScope":
      return cfg.gatewayScope;
    case "caCertificatePath":
      return cfg.caCertificatePath;
    case "gatewayCredential":
      return g.kind;
    case "gatewayUsername":
      return g.kind === "password" ? g.username : undefined;
    case "gatewayClientId":
      return g.kind === "password" || g.kind === "refreshToken" ? g.clientId : undefined;
    case "gatewayTenantId":
      return g.kind === "password" || g.kind === "refreshToken" || g.kind === "azureCli"
        ? g.tenantId
        : undefined;
    default:
      return undefined;
  }
}
