/**
 * Provider configuration: who we authenticate as, per surface, and where the gateway is.
 *
 * Read in the dynamic provider's `configure` from stack config (`dualwrite:*`, the secret
 * decrypted by the engine) and, key by key, from the usual Azure environment variables. The result
 * lives only in the provider process: it is never captured in a serialized provider nor written to
 * state, and secrets sit in `Secret` boxes that print as `[secret]` in logs, JSON and messages.
 *
 * Two credentials: Dataverse and F&O take the app credential (`credential`: client secret,
 * certificate, workload identity or Azure CLI); the DualWriteManagement gateway takes its own
 * (`gateway`), because Microsoft's tool calls it only with a user's delegated token for the
 * portal's first-party client (TokenRefresh.cs:127-160, ServicePrincipalAuth.cs:33-36):
 *
 * | `dualwrite:gatewayCredential` | token from                                                         |
 * |-------------------------------|--------------------------------------------------------------------|
 * | `password`                    | username + password (ROPC) of a non-MFA account, first-party client |
 * | `refreshToken`                | a refresh token from a browser sign-in, renewed as TokenRefresh.cs does |
 * | `azureCli`                    | `az account get-access-token` of the signed-in user               |
 * | `tokenCommand`                | any command that prints a token                                    |
 * | `app`                         | the app credential (app-only: unproven at the real gateway)        |
 */
import { createHash } from "node:crypto";
import { inspect } from "node:util";
import { ConfigError } from "./errors";

/**
 * A secret string that does not show itself: `String()`, `JSON.stringify` and `console.log` all
 * give `[secret]`. Call `reveal()` only at the point of use (handing it to `@azure/identity`).
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return "[secret]";
  }

  toJSON(): string {
    return "[secret]";
  }

  [inspect.custom](): string {
    return "[secret]";
  }
}

/** Which `@azure/identity` credential the provider uses. */
export type CredentialKind = "clientSecret" | "clientCertificate" | "workloadIdentity" | "azureCli";

/** The gateway's token scope in Entra ID (the dual-write admin app's audience). */
export const DEFAULT_GATEWAY_SCOPE = "https://IntegratorApp.com/.default";

/**
 * The first-party client of the dual-write portal (Data Integrator), the client id of every
 * gateway token Microsoft's tool gets (TokenRefresh.cs:143; toolbAX
 * src/FoToolbox.Core/DualWrite/Auth/DualWriteAuthConstants.cs).
 */
export const DUAL_WRITE_CLIENT_ID = "2e49aa60-1bd3-43b6-8ab6-03ada3d9f08b";

/** Where the gateway's token comes from (see the table at the top of this file). */
export type GatewayCredentialKind =
  "password" | "refreshToken" | "azureCli" | "tokenCommand" | "app";

const GATEWAY_CREDENTIAL_KINDS: readonly GatewayCredentialKind[] = [
  "password",
  "refreshToken",
  "azureCli",
  "tokenCommand",
  "app",
];

/** The gateway's credential, resolved. */
export type GatewayCredentialConfig =
  | {
      readonly kind: "password";
      /** The account's user principal name, e.g. `dwadmin@contoso.onmicrosoft.com`. */
      readonly username: string;
      readonly password: Secret;
      /** @default DUAL_WRITE_CLIENT_ID */
      readonly clientId: string;
      /** Tenant of the sign-in. @default tenantId, else `organizations` */
      readonly tenantId: string;
    }
  | {
      readonly kind: "refreshToken";
      /** The refresh token to start from; renewed tokens stay in memory only. */
      readonly refreshToken: Secret;
      readonly clientId: string;
      readonly tenantId: string;
    }
  | {
      readonly kind: "azureCli";
      /** Tenant for `az`; undefined = the CLI's own. */
      readonly tenantId?: string;
    }
  | {
      readonly kind: "tokenCommand";
      /** A shell command line whose standard output is the token (never logged). */
      readonly command: string;
    }
  | { readonly kind: "app" };

/** Resolved provider configuration. Built by `readProviderConfig`; never persisted. */
export interface ProviderConfig {
  /** Entra tenant (GUID or domain). Empty only with the Azure CLI credential, which knows its own. */
  readonly tenantId: string;
  /** App registration (client) id. Empty only with the Azure CLI credential. */
  readonly clientId: string;
  /** Client secret, when `credential` is `clientSecret`. */
  readonly clientSecret?: Secret;
  /** PEM file with certificate and private key, when `credential` is `clientCertificate`. */
  readonly clientCertificatePath?: string;
  /** Password of an encrypted certificate key (`AZURE_CLIENT_CERTIFICATE_PASSWORD`). */
  readonly clientCertificatePassword?: Secret;
  /** File holding a federated token (workload identity, as CI systems provide). */
  readonly federatedTokenFile?: string;
  /** Use the signed-in Azure CLI user. */
  readonly useAzureCli?: boolean;
  /** Which credential the settings above select. */
  readonly credential: CredentialKind;
  /**
   * Token authority, e.g. the emulator's `https://127.0.0.1:<port>`. When set, instance discovery
   * is turned off (it would call login.microsoftonline.com).
   * @default https://login.microsoftonline.com
   */
  readonly authorityHost?: string;
  /** DualWriteManagement gateway base URL, without a trailing slash. */
  readonly gatewayUrl: string;
  /** The gateway's own credential (delegated sign-in; `app` = the app credential above). */
  readonly gateway: GatewayCredentialConfig;
  /** Scope of gateway tokens. @default "https://IntegratorApp.com/.default" */
  readonly gatewayScope: string;
  /**
   * Extra CA certificate (PEM file) to trust besides the system's, e.g. the emulator's CA when
   * `NODE_EXTRA_CA_CERTS` cannot be set before Node starts.
   */
  readonly caCertificatePath?: string;
  /** Where each setting came from (`dualwrite:tenantId`, `AZURE_TENANT_ID`, …), for messages. */
  readonly sources: Readonly<Record<string, string>>;
}

/** Reads one stack config value by its full key, e.g. `dualwrite:tenantId`. */
export type ConfigGetter = (key: string) => string | undefined;

/** A setting: its stack config key and the environment variable it falls back to. */
interface Setting {
  readonly key: string;
  readonly env?: string;
}

/** Every setting the provider reads, in one table so messages and docs name the same keys. */
export const SETTINGS = {
  tenantId: { key: "dualwrite:tenantId", env: "AZURE_TENANT_ID" },
  clientId: { key: "dualwrite:clientId", env: "AZURE_CLIENT_ID" },
  clientSecret: { key: "dualwrite:clientSecret", env: "AZURE_CLIENT_SECRET" },
  clientCertificatePath: {
    key: "dualwrite:clientCertificatePath",
    env: "AZURE_CLIENT_CERTIFICATE_PATH",
  },
  clientCertificatePassword: {
    key: "dualwrite:clientCertificatePassword",
    env: "AZURE_CLIENT_CERTIFICATE_PASSWORD",
  },
  federatedTokenFile: { key: "dualwrite:federatedTokenFile", env: "AZURE_FEDERATED_TOKEN_FILE" },
  useAzureCli: { key: "dualwrite:useAzureCli", env: "DUALWRITE_USE_AZURE_CLI" },
  authorityHost: { key: "dualwrite:authorityHost", env: "AZURE_AUTHORITY_HOST" },
  gatewayUrl: { key: "dualwrite:gatewayUrl", env: "DUALWRITE_GATEWAY_URL" },
  gatewayScope: { key: "dualwrite:gatewayScope", env: "DUALWRITE_GATEWAY_SCOPE" },
  caCertificatePath: { key: "dualwrite:caCertificatePath", env: "DUALWRITE_CA_CERTIFICATE_PATH" },
  gatewayCredential: { key: "dualwrite:gatewayCredential", env: "DUALWRITE_GATEWAY_CREDENTIAL" },
  gatewayUsername: { key: "dualwrite:gatewayUsername", env: "DUALWRITE_GATEWAY_USERNAME" },
  gatewayPassword: { key: "dualwrite:gatewayPassword", env: "DUALWRITE_GATEWAY_PASSWORD" },
  gatewayRefreshToken: {
    key: "dualwrite:gatewayRefreshToken",
    env: "DUALWRITE_GATEWAY_REFRESH_TOKEN",
  },
  gatewayTokenCommand: {
    key: "dualwrite:gatewayTokenCommand",
    env: "DUALWRITE_GATEWAY_TOKEN_COMMAND",
  },
  gatewayClientId: { key: "dualwrite:gatewayClientId", env: "DUALWRITE_GATEWAY_CLIENT_ID" },
  gatewayTenantId: { key: "dualwrite:gatewayTenantId", env: "DUALWRITE_GATEWAY_TENANT_ID" },
} as const satisfies Record<string, Setting>;

type SettingName = keyof typeof SETTINGS;

/**
 * Resolves the provider configuration: each setting from stack config, else from its environment
 * variable. The credential is chosen from stack config first (secret, certificate, federated token
 * file, Azure CLI), then from the environment in the same order, so a stack that names a
 * certificate is not overridden by an `AZURE_CLIENT_SECRET` left in a CI environment.
 *
 * @throws ConfigError naming the key (and its environment variable) to set or fix.
 */
export function readProviderConfig(
  get: ConfigGetter,
  env: NodeJS.ProcessEnv = process.env,
): ProviderConfig {
  const sources: Record<string, string> = {};
  const fromConfig = (name: SettingName): string | undefined => nonEmpty(get(SETTINGS[name].key));
  const fromEnv = (name: SettingName): string | undefined => nonEmpty(env[SETTINGS[name].env]);
  const read = (name: SettingName): string | undefined => {
    const c = fromConfig(name);
    if (c !== undefined) {
      sources[name] = SETTINGS[name].key;
      return c;
    }
    const e = fromEnv(name);
    if (e !== undefined) sources[name] = SETTINGS[name].env;
    return e;
  };

  const credential = chooseCredential(fromConfig, fromEnv);
  const tenantId = read("tenantId") ?? "";
  const clientId = read("clientId") ?? "";
  if (credential.kind !== "azureCli") {
    if (!tenantId)
      throw missing("tenantId", "the Entra tenant id (a GUID or contoso.onmicrosoft.com)");
    if (!clientId) throw missing("clientId", "the application (client) id of the app registration");
  }
  if (tenantId && !/^[0-9A-Za-z.-]+$/.test(tenantId)) {
    throw new ConfigError(
      SETTINGS.tenantId.key,
      `${describeSetting("tenantId")} must be a tenant GUID or domain name (letters, digits, '-' and '.'); got "${tenantId}"`,
    );
  }

  const authorityHost = read("authorityHost");
  const gatewayUrl = read("gatewayUrl");
  if (!gatewayUrl) {
    throw missing(
      "gatewayUrl",
      "the DualWriteManagement gateway's base URL, scheme and host only, e.g. " +
        "https://projectmanagementservice.<region>.gateway.prod.island.powerapps.com. The gateway is " +
        "regional and no API lists it: open the environment's dual-write page " +
        "(https://dataintegrator.trafficmanager.net/dualWrite?axenv=<F&O host>) with the browser's " +
        "developer tools and take the host of the requests to .../api/DualWriteManagement/1.0/..., as " +
        "Microsoft's tool does (DWLibary/EdgeUniversal.cs:301-343). For the emulator: its gatewayUrl, " +
        "https://127.0.0.2:<port>",
    );
  }
  const gatewayScope = read("gatewayScope") ?? DEFAULT_GATEWAY_SCOPE;
  const gateway = readGatewayCredential(fromConfig, fromEnv, sources, {
    tenantId,
    appKind: credential.kind,
  });

  const cfg: ProviderConfig = {
    tenantId,
    clientId,
    credential: credential.kind,
    gatewayUrl: httpsUrl("gatewayUrl", gatewayUrl),
    gateway,
    gatewayScope,
    sources,
    ...(authorityHost !== undefined && { authorityHost: httpsUrl("authorityHost", authorityHost) }),
    ...optionalString("caCertificatePath", read("caCertificatePath")),
  };
  switch (credential.kind) {
    case "clientSecret":
      sources.clientSecret = credential.source;
      return { ...cfg, clientSecret: new Secret(credential.value) };
    case "clientCertificate": {
      sources.clientCertificatePath = credential.source;
      const password = read("clientCertificatePassword");
      return {
        ...cfg,
        clientCertificatePath: credential.value,
        ...(password !== undefined && { clientCertificatePassword: new Secret(password) }),
      };
    }
    case "workloadIdentity":
      sources.federatedTokenFile = credential.source;
      return { ...cfg, federatedTokenFile: credential.value };
    case "azureCli":
      sources.useAzureCli = credential.source;
      return { ...cfg, useAzureCli: true };
  }
}

/**
 * A one-line description of the configuration for messages: ids, credential kind, where each came
 * from, and the URLs. Never a secret.
 * @example "tenant 72f9… (dualwrite:tenantId), client 0a1b… (AZURE_CLIENT_ID), client secret (dualwrite:clientSecret), authority https://127.0.0.1:8443, gateway https://127.0.0.1:8443/gateway"
 */
export function describeConfig(cfg: ProviderConfig): string {
  const from = (name: string): string => (cfg.sources[name] ? ` (${cfg.sources[name]})` : "");
  const credential = {
    clientSecret: `client secret${from("clientSecret")}`,
    clientCertificate: `client certificate ${cfg.clientCertificatePath ?? ""}${from("clientCertificatePath")}`,
    workloadIdentity: `workload identity token file ${cfg.federatedTokenFile ?? ""}${from("federatedTokenFile")}`,
    azureCli: `Azure CLI${from("useAzureCli")}`,
  }[cfg.credential];
  const parts = [
    cfg.tenantId ? `tenant ${cfg.tenantId}${from("tenantId")}` : "tenant of the Azure CLI login",
    ...(cfg.clientId ? [`client ${cfg.clientId}${from("clientId")}`] : []),
    credential,
    `authority ${cfg.authorityHost ?? "https://login.microsoftonline.com"}`,
    `gateway ${cfg.gatewayUrl}`,
    ...(cfg.gateway.kind === "app" ? [] : [`gateway sign-in: ${describeGatewayCredential(cfg)}`]),
  ];
  return parts.join(", ");
}

/**
 * The gateway's credential in words, never a secret nor the token command's text.
 * @example "password of dwadmin@contoso.onmicrosoft.com (dualwrite:gatewayUsername), client 2e49aa60-…, tenant organizations"
 */
export function describeGatewayCredential(cfg: ProviderConfig): string {
  const from = (name: string): string => (cfg.sources[name] ? ` (${cfg.sources[name]})` : "");
  const g = cfg.gateway;
  switch (g.kind) {
    case "password":
      return `password of ${g.username}${from("gatewayUsername")}, client ${g.clientId}, tenant ${g.tenantId}`;
    case "refreshToken":
      return `refresh token${from("gatewayRefreshToken")}, client ${g.clientId}, tenant ${g.tenantId}`;
    case "azureCli":
      return `Azure CLI${g.tenantId ? `, tenant ${g.tenantId}` : ""}`;
    case "tokenCommand":
      return `token command${from("gatewayTokenCommand")}`;
    case "app":
      return "the app credential (app-only token)";
  }
}

/**
 * A digest of everything that identifies a configuration, secrets included, for in-memory cache
 * keys: two resources with the same settings share one token cache and HTTP layer. The digest is
 * one-way and never leaves the process.
 */
export function configFingerprint(cfg: ProviderConfig): string {
  const hash = createHash("sha256");
  for (const part of [
    cfg.tenantId,
    cfg.clientId,
    cfg.credential,
    cfg.clientSecret?.reveal() ?? "",
    cfg.clientCertificatePath ?? "",
    cfg.clientCertificatePassword?.reveal() ?? "",
    cfg.federatedTokenFile ?? "",
    cfg.authorityHost ?? "",
    cfg.gatewayUrl,
    cfg.gatewayScope,
    cfg.caCertificatePath ?? "",
    ...gatewayParts(cfg.gateway),
  ]) {
    hash.update(part).update("\0");
  }
  return hash.digest("hex");
}

/** Everything that identifies the gateway credential, secrets included (for the digest only). */
function gatewayParts(g: GatewayCredentialConfig): string[] {
  switch (g.kind) {
    case "password":
      return [g.kind, g.username, g.password.reveal(), g.clientId, g.tenantId];
    case "refreshToken":
      return [g.kind, g.refreshToken.reveal(), g.clientId, g.tenantId];
    case "azureCli":
      return [g.kind, g.tenantId ?? ""];
    case "tokenCommand":
      return [g.kind, g.command];
    case "app":
      return [g.kind];
  }
}

type Lookup = (name: SettingName) => string | undefined;

/** The settings that select a gateway credential when `gatewayCredential` is not set. */
const GATEWAY_INPUTS = [
  ["gatewayUsername", "password"],
  ["gatewayRefreshToken", "refreshToken"],
  ["gatewayTokenCommand", "tokenCommand"],
] as const satisfies ReadonlyArray<readonly [SettingName, GatewayCredentialKind]>;

/**
 * The gateway's credential: `gatewayCredential` when set, else inferred from which input is set
 * (stack config first, then the environment, as for the app credential): a username → `password`,
 * a refresh token → `refreshToken`, a token command → `tokenCommand`; with none, the app
 * credential's own way (`azureCli` when that is the Azure CLI, else `app`).
 */
function readGatewayCredential(
  fromConfig: Lookup,
  fromEnv: Lookup,
  sources: Record<string, string>,
  app: { tenantId: string; appKind: CredentialKind },
): GatewayCredentialConfig {
  const read = (name: SettingName): string | undefined => {
    const c = fromConfig(name);
    if (c !== undefined) {
      sources[name] = SETTINGS[name].key;
      return c;
    }
    const e = fromEnv(name);
    if (e !== undefined) sources[name] = SETTINGS[name].env;
    return e;
  };
  const explicit = read("gatewayCredential");
  let kind: GatewayCredentialKind;
  if (explicit !== undefined) {
    if (!(GATEWAY_CREDENTIAL_KINDS as readonly string[]).includes(explicit)) {
      throw new ConfigError(
        SETTINGS.gatewayCredential.key,
        `${describeSetting("gatewayCredential")} must be one of ${GATEWAY_CREDENTIAL_KINDS.join(", ")}; got "${explicit}"`,
      );
    }
    kind = explicit as GatewayCredentialKind;
  } else {
    kind =
      inferGatewayKind(fromConfig, "key") ??
      inferGatewayKind(fromEnv, "env") ??
      (app.appKind === "azureCli" ? "azureCli" : "app");
  }

  const clientId = read("gatewayClientId") ?? DUAL_WRITE_CLIENT_ID;
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(clientId)) {
    throw new ConfigError(
      SETTINGS.gatewayClientId.key,
      `${describeSetting("gatewayClientId")} must be an application (client) id, a GUID; got "${clientId}"`,
    );
  }
  const tenantId = read("gatewayTenantId") ?? (app.tenantId || "organizations");
  if (!/^[0-9A-Za-z.-]+$/.test(tenantId)) {
    throw new ConfigError(
      SETTINGS.gatewayTenantId.key,
      `${describeSetting("gatewayTenantId")} must be a tenant GUID, a domain name, organizations or common; got "${tenantId}"`,
    );
  }
  const need = (name: SettingName, what: string): string => {
    const value = read(name);
    if (value === undefined)
      throw new ConfigError(
        SETTINGS[name].key,
        `dualwrite:gatewayCredential is ${kind}, so ${describeSetting(name)} must be set to ${what}.`,
      );
    return value;
  };
  switch (kind) {
    case "password":
      return {
        kind,
        username: need("gatewayUsername", "the user principal name of the account that signs in"),
        password: new Secret(
          need(
            "gatewayPassword",
            "its password, as a secret (`pulumi config set --secret dualwrite:gatewayPassword`)",
          ),
        ),
        clientId,
        tenantId,
      };
    case "refreshToken":
      return {
        kind,
        refreshToken: new Secret(
          need(
            "gatewayRefreshToken",
            "a refresh token of a browser sign-in, as a secret (`pulumi config set --secret dualwrite:gatewayRefreshToken`)",
          ),
        ),
        clientId,
        tenantId,
      };
    case "tokenCommand":
      return {
        kind,
        command: need(
          "gatewayTokenCommand",
          "a command that prints an access token for the gateway",
        ),
      };
    case "azureCli": {
      const cliTenant = read("gatewayTenantId") ?? (app.tenantId || undefined);
      return cliTenant === undefined ? { kind } : { kind, tenantId: cliTenant };
    }
    case "app":
      return { kind };
  }
}

/** The gateway credential one source's inputs select; two inputs without `gatewayCredential` is an error. */
function inferGatewayKind(lookup: Lookup, via: "key" | "env"): GatewayCredentialKind | undefined {
  const present = GATEWAY_INPUTS.filter(([name]) => lookup(name) !== undefined);
  if (present.length > 1) {
    const names = present.map(([name]) => SETTINGS[name][via]);
    throw new ConfigError(
      SETTINGS.gatewayCredential[via],
      `${names.join(" and ")} are both set: set ${SETTINGS.gatewayCredential[via]} to ` +
        `${present.map(([, kind]) => kind).join(" or ")} to say which the gateway uses.`,
    );
  }
  return present[0]?.[1];
}

type CredentialChoice =
  | {
      kind: "clientSecret" | "clientCertificate" | "workloadIdentity";
      value: string;
      source: string;
    }
  | { kind: "azureCli"; source: string };

function chooseCredential(fromConfig: Lookup, fromEnv: Lookup): CredentialChoice {
  const stack = credentialFrom(fromConfig, "key");
  if (stack) return stack;
  const environment = credentialFrom(fromEnv, "env");
  if (environment) return environment;
  throw new ConfigError(
    SETTINGS.clientSecret.key,
    "No credential is configured. Set one of: dualwrite:clientSecret (as a secret: " +
      "`pulumi config set --secret dualwrite:clientSecret …`) or AZURE_CLIENT_SECRET; " +
      "dualwrite:clientCertificatePath or AZURE_CLIENT_CERTIFICATE_PATH; " +
      "dualwrite:federatedTokenFile or AZURE_FEDERATED_TOKEN_FILE (workload identity); " +
      "or dualwrite:useAzureCli=true to use `az login`.",
  );
}

/** The credential one source (stack config or environment) selects, if any; two is an error. */
function credentialFrom(lookup: Lookup, via: "key" | "env"): CredentialChoice | undefined {
  const secret = lookup("clientSecret");
  const certificate = lookup("clientCertificatePath");
  const tokenFile = lookup("federatedTokenFile");
  const cliText = lookup("useAzureCli");
  const cli = cliText === undefined ? false : parseBoolean("useAzureCli", cliText, via);
  const chosen = [
    secret !== undefined && "clientSecret",
    certificate !== undefined && "clientCertificatePath",
    tokenFile !== undefined && "federatedTokenFile",
    cli && "useAzureCli",
  ].filter((x): x is SettingName => typeof x === "string");
  if (chosen.length > 1) {
    const names = chosen.map((n) => SETTINGS[n][via]);
    throw new ConfigError(
      names[0] ?? SETTINGS.clientSecret[via],
      `Set only one credential, not ${names.join(" and ")}: remove all but the one the provider should use.`,
    );
  }
  if (secret !== undefined)
    return { kind: "clientSecret", value: secret, source: SETTINGS.clientSecret[via] };
  if (certificate !== undefined) {
    return {
      kind: "clientCertificate",
      value: certificate,
      source: SETTINGS.clientCertificatePath[via],
    };
  }
  if (tokenFile !== undefined) {
    return { kind: "workloadIdentity", value: tokenFile, source: SETTINGS.federatedTokenFile[via] };
  }
  if (cli) return { kind: "azureCli", source: SETTINGS.useAzureCli[via] };
  return undefined;
}

function parseBoolean(name: SettingName, text: string, via: "key" | "env"): boolean {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "1" || t === "yes") return true;
  if (t === "false" || t === "0" || t === "no") return false;
  throw new ConfigError(
    SETTINGS[name][via],
    `${SETTINGS[name][via]} must be true or false; got "${text}"`,
  );
}

function httpsUrl(name: SettingName, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(
      SETTINGS[name].key,
      `${describeSetting(name)} must be an absolute https:// URL; got "${text}"`,
    );
  }
  if (url.protocol !== "https:") {
    throw new ConfigError(
      SETTINGS[name].key,
      `${describeSetting(name)} must use https:// (Entra ID clients refuse anything else); got "${text}"`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigError(
      SETTINGS[name].key,
      `${describeSetting(name)} must be a plain base URL without credentials, query or fragment`,
    );
  }
  return url.toString().replace(/\/+$/, "");
}

function missing(name: SettingName, what: string): ConfigError {
  return new ConfigError(
    SETTINGS[name].key,
    `Missing ${describeSetting(name)}: set it to ${what}.`,
  );
}

/** "dualwrite:tenantId (or AZURE_TENANT_ID)". */
function describeSetting(name: SettingName): string {
  return `${SETTINGS[name].key} (or ${SETTINGS[name].env})`;
}

function nonEmpty(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

function optionalString<K extends string>(
  key: K,
  value: string | undefined,
): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
