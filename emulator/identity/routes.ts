/**
 * The identity surface: the part of Microsoft Entra ID that `@azure/identity` (MSAL) and
 * Microsoft's dual-write tool call. Paths are below `/<tenant>/` on 127.0.0.1; the tenant is the
 * home tenant's id or domain, or — for a user's sign-in — `common` or `organizations`.
 *
 * | route                                         | answer                                        |
 * |-----------------------------------------------|-----------------------------------------------|
 * | `GET v2.0/.well-known/openid-configuration`   | OpenID metadata (`issuer`, `token_endpoint`, `jwks_uri`, …) |
 * | `GET discovery/v2.0/keys`                     | JWKS with the tenant's signing key            |
 * | `POST oauth2/v2.0/token`                      | `client_credentials` (secret or certificate assertion), `password` (ROPC) and `refresh_token` |
 *
 * Grants, each as Entra documents it:
 * - `client_credentials` — https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
 * - `password` (ROPC), the tool's `UsernamePasswordCredential` (ServicePrincipalAuth.cs:33-36; toolbAX
 *   src/FoToolbox.Core/DualWrite/Auth/MsalRopcTokenAcquirer.cs) —
 *   https://learn.microsoft.com/entra/identity-platform/v2-oauth-ropc
 * - `refresh_token`, as TokenRefresh.cs:126-160 sends it (portal redirect URI, `Origin`; toolbAX
 *   src/FoToolbox.Core/DualWrite/Auth/DualWriteRefreshTokenProvider.cs) —
 *   https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token
 *
 * Refresh tokens rotate: every redemption answers a new one. The old one is not revoked ("Refresh
 * tokens aren't revoked when used to acquire new access tokens",
 * https://learn.microsoft.com/entra/identity-platform/refresh-tokens). Those issued to the portal's
 * single-page app keep the expiry of the original sign-in and must be redeemed cross-origin.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { EmulatorSettings } from "../core/context";
import { roleOfAddress, hostnameOf } from "../core/hosts";
import type { EmulatorRequest, EmulatorResponse, Route } from "../core/http";
import { EntraErrors } from "./errors";
import type { TenantUser } from "./registration";
import {
  DELEGATED_PERMISSION,
  FIRST_PARTY_CLIENT_ID,
  GATEWAY_AUDIENCE,
  PORTAL_REDIRECT_URI,
  sameAudience,
  type TokenService,
} from "./tokens";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Tenant names that have an OpenID configuration with `{tenantid}` placeholders, as in Entra. */
const MULTI_TENANT_NAMES = new Set(["common", "organizations"]);

/** OpenID Connect scopes a client may add to a resource scope. */
const OPENID_SCOPES = ["openid", "profile", "offline_access", "email"];

/** Everything the identity routes need. */
export interface IdentityDeps {
  readonly tokens: TokenService;
  readonly settings: EmulatorSettings;
  /** `https://127.0.0.1:<port>` */
  readonly baseUrl: () => string;
}

/** The identity surface's routes. */
export function identityRoutes(deps: IdentityDeps): Route[] {
  return [
    {
      method: "GET",
      pattern: /^v2\.0\/\.well-known\/openid-configuration$/,
      handle: (req) => openIdConfiguration(deps, req),
    },
    { method: "GET", pattern: /^discovery\/v2\.0\/keys$/, handle: (req) => keys(deps, req) },
    { method: "POST", pattern: /^oauth2\/v2\.0\/token$/, handle: (req) => token(deps, req) },
  ];
}

/**
 * The control route that plays a user's browser sign-in at the dual-write portal:
 * `POST /_emulator/sign-in` answers the token response the portal's page receives (and Microsoft's
 * tool captures from the browser's traffic, EdgeUniversal.cs:323-337): the administrator's
 * delegated gateway token and a single-page-app refresh token. It is how a test or a person gets
 * a refresh token for `dualwrite:gatewayRefreshToken` without a browser.
 */
export function identityControlRoutes(deps: IdentityDeps): Route[] {
  return [
    {
      method: "POST",
      pattern: /^sign-in$/,
      handle: async () =>
        json(
          await grantTokens(deps, {
            user: deps.tokens.registration.admin,
            clientId: FIRST_PARTY_CLIENT_ID,
            scope: `${GATEWAY_AUDIENCE}/.default openid profile offline_access`,
            spa: true,
            authTime: Math.floor(Date.now() / 1000),
            clientInfo: true,
          }),
        ),
    },
  ];
}

function openIdConfiguration(deps: IdentityDeps, req: EmulatorRequest): EmulatorResponse {
  const tenant = requestedTenant(deps, req, true);
  const base = deps.baseUrl();
  const t = MULTI_TENANT_NAMES.has(tenant.toLowerCase())
    ? "{tenantid}"
    : deps.tokens.registration.tenantId;
  const p = `${base}/${tenant}`;
  return json({
    token_endpoint: `${p}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: [
      "client_secret_post",
      "private_key_jwt",
      "client_secret_basic",
    ],
    jwks_uri: `${p}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: `${base}/${t}/v2.0`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${p}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${p}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${p}/oauth2/v2.0/logout`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    claims_supported: [
      "sub",
      "iss",
      "aud",
      "exp",
      "iat",
      "nbf",
      "tid",
      "ver",
      "oid",
      "appid",
      "azp",
    ],
    tenant_region_scope: "EU",
    cloud_instance_name: "emulator.local",
    cloud_graph_host_name: "graph.emulator.local",
    msgraph_host: "graph.emulator.local",
  });
}

async function keys(deps: IdentityDeps, req: EmulatorRequest): Promise<EmulatorResponse> {
  requestedTenant(deps, req, true);
  return json(await deps.tokens.jwks());
}

/** `POST oauth2/v2.0/token`: the grant decides. */
async function token(deps: IdentityDeps, req: EmulatorRequest): Promise<EmulatorResponse> {
  const contentType = String(req.headers["content-type"] ?? "");
  if (!contentType.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    requestedTenant(deps, req, true);
    throw EntraErrors.unsupportedContentType();
  }
  const form = new URLSearchParams(req.body.toString("utf8"));
  const grantType = form.get("grant_type");
  if (!grantType) {
    requestedTenant(deps, req, true);
    throw EntraErrors.missingParameter("grant_type");
  }
  switch (grantType) {
    case "client_credentials":
      return clientCredentials(deps, req, form);
    case "password":
      return passwordGrant(deps, req, form);
    case "refresh_token":
      return refreshGrant(deps, req, form);
    default:
      requestedTenant(deps, req, true);
      throw EntraErrors.unsupportedGrantType(grantType);
  }
}

/** Client credentials, with a secret or a certificate assertion: an app-only token. */
async function clientCredentials(
  deps: IdentityDeps,
  req: EmulatorRequest,
  form: URLSearchParams,
): Promise<EmulatorResponse> {
  // An app signs in at its own tenant only.
  const tenant = requestedTenant(deps, req, false);
  const clientId = form.get("client_id") ?? basicCredentials(req.headers.authorization)?.clientId;
  if (!clientId) throw EntraErrors.missingParameter("client_id");
  const registration = deps.tokens.registration;
  if (clientId.toLowerCase() !== registration.clientId.toLowerCase())
    throw EntraErrors.applicationNotFound(clientId, tenant);
  await authenticateClient(deps, req, form, clientId, tenant);

  const audience = resourceOf(deps, form.get("scope"), tenant);
  const lifetime = deps.settings.tokenLifetimeSeconds;
  const accessToken = await deps.tokens.issue({ audience, lifetimeSeconds: lifetime });
  return json({
    token_type: "Bearer",
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: accessToken,
  });
}

/**
 * Resource owner password credentials: the administrator's username and password, for the
 * portal's public client (no client secret) or for the registered app (with its secret or
 * assertion, as a confidential client may).
 */
async function passwordGrant(
  deps: IdentityDeps,
  req: EmulatorRequest,
  form: URLSearchParams,
): Promise<EmulatorResponse> {
  const tenant = requestedTenant(deps, req, true);
  const clientId = await delegatedClient(deps, req, form, tenant);
  const username = form.get("username");
  if (!username) throw EntraErrors.missingParameter("username");
  const password = form.get("password");
  if (password === null) throw EntraErrors.missingParameter("password");
  const admin = deps.tokens.registration.admin;
  if (username.toLowerCase() !== admin.username.toLowerCase())
    throw EntraErrors.userNotFound(username, tenant);
  if (!constantTimeEquals(password, admin.password)) throw EntraErrors.invalidPassword();

  const scope = form.get("scope");
  if (!scope) throw EntraErrors.missingParameter("scope");
  return json(
    await grantTokens(deps, {
      user: admin,
      clientId,
      scope,
      tenant,
      // ROPC is a direct request, never the browser's cross-origin one.
      spa: false,
      authTime: Math.floor(Date.now() / 1000),
      clientInfo: form.get("client_info") === "1",
    }),
  );
}

/** Refresh token grant: a new access token and a new (rotated) refresh token. */
async function refreshGrant(
  deps: IdentityDeps,
  req: EmulatorRequest,
  form: URLSearchParams,
): Promise<EmulatorResponse> {
  const tenant = requestedTenant(deps, req, true);
  const clientId = await delegatedClient(deps, req, form, tenant);
  const refreshToken = form.get("refresh_token");
  if (!refreshToken) throw EntraErrors.missingParameter("refresh_token");
  const grant = await deps.tokens.readRefreshToken(refreshToken);
  const admin = deps.tokens.registration.admin;
  if (!grant || grant.userId !== admin.objectId) throw EntraErrors.malformedRefreshToken();
  if (grant.clientId.toLowerCase() !== clientId.toLowerCase())
    throw EntraErrors.refreshTokenOfAnotherClient();
  const redirectUri = form.get("redirect_uri");
  if (
    redirectUri !== null &&
    clientId === FIRST_PARTY_CLIENT_ID &&
    redirectUri !== PORTAL_REDIRECT_URI
  )
    throw EntraErrors.redirectUriMismatch(redirectUri, clientId);
  if (grant.spa && req.headers.origin === undefined) throw EntraErrors.spaRequiresCrossOrigin();

  // The lifetime is read now, not at issue: lowering it through the control API expires tokens
  // already handed out [choice: so tests need not wait a day].
  const lifetime = deps.settings.refreshTokenLifetimeSeconds;
  const now = Math.floor(Date.now() / 1000);
  if (grant.spa && now >= grant.authTime + lifetime)
    throw EntraErrors.spaRefreshTokenExpired(grant.authTime, lifetime);
  if (!grant.spa && now >= grant.issuedAt + lifetime)
    throw EntraErrors.refreshTokenExpired(grant.issuedAt, lifetime);

  return json(
    await grantTokens(deps, {
      user: admin,
      clientId,
      scope: form.get("scope") ?? grant.scope,
      tenant,
      spa: grant.spa,
      authTime: grant.authTime,
      clientInfo: form.get("client_info") === "1",
    }),
  );
}

/** What a user's token response is made of. */
interface UserGrant {
  readonly user: TenantUser;
  readonly clientId: string;
  /** The requested scopes: one `<resource>/.default` plus OpenID scopes. */
  readonly scope: string;
  /** The tenant in the request path (for the resource error). */
  readonly tenant?: string;
  readonly spa: boolean;
  readonly authTime: number;
  /** Whether MSAL asked for `client_info` (its account key). */
  readonly clientInfo: boolean;
}

/**
 * The token response for a signed-in user: a delegated access token for the scope's resource;
 * an ID token with `openid`; a refresh token with `offline_access`; `client_info` when asked.
 * Fields as Entra answers them (Struct/LoginData.cs:17-37 reads the same names).
 */
async function grantTokens(deps: IdentityDeps, g: UserGrant): Promise<Record<string, unknown>> {
  const audience = resourceOf(deps, g.scope, g.tenant ?? deps.tokens.registration.tenantId);
  const requested = g.scope.split(/\s+/).filter((s) => s !== "");
  const openid = OPENID_SCOPES.filter((s) => requested.includes(s));
  const lifetime = deps.settings.tokenLifetimeSeconds;
  const registration = deps.tokens.registration;
  return {
    token_type: "Bearer",
    scope: [`${audience.replace(/\/$/, "")}/${DELEGATED_PERMISSION}`, ...openid].join(" "),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: await deps.tokens.issue({
      audience,
      appId: g.clientId,
      user: g.user,
      lifetimeSeconds: lifetime,
    }),
    ...(openid.includes("offline_access") && {
      refresh_token: await deps.tokens.issueRefreshToken({
        userId: g.user.objectId,
        clientId: g.clientId,
        scope: g.scope,
        spa: g.spa,
        authTime: g.authTime,
      }),
    }),
    ...(openid.includes("openid") && {
      id_token: await deps.tokens.issueIdToken(g.user, g.clientId, lifetime),
    }),
    ...(g.clientInfo && {
      client_info: Buffer.from(
        JSON.stringify({ uid: g.user.objectId, utid: registration.tenantId }),
      ).toString("base64url"),
    }),
  };
}

/**
 * The client of a user's grant: the portal's public client needs no credential; the registered
 * app must authenticate as in client credentials. Any other id is unknown to the tenant.
 */
async function delegatedClient(
  deps: IdentityDeps,
  req: EmulatorRequest,
  form: URLSearchParams,
  tenant: string,
): Promise<string> {
  const clientId = form.get("client_id") ?? basicCredentials(req.headers.authorization)?.clientId;
  if (!clientId) throw EntraErrors.missingParameter("client_id");
  if (clientId.toLowerCase() === FIRST_PARTY_CLIENT_ID) return FIRST_PARTY_CLIENT_ID;
  if (clientId.toLowerCase() !== deps.tokens.registration.clientId.toLowerCase())
    throw EntraErrors.applicationNotFound(clientId, tenant);
  await authenticateClient(deps, req, form, clientId, tenant);
  return deps.tokens.registration.clientId;
}

/** Client authentication of the registered app: a secret (form or Basic) or a signed assertion. */
async function authenticateClient(
  deps: IdentityDeps,
  req: EmulatorRequest,
  form: URLSearchParams,
  clientId: string,
  tenant: string,
): Promise<void> {
  const secret = form.get("client_secret") ?? basicCredentials(req.headers.authorization)?.secret;
  const assertion = form.get("client_assertion");
  if (secret !== null && secret !== undefined) {
    if (!deps.tokens.secretMatches(secret)) throw EntraErrors.invalidClientSecret(clientId);
  } else if (assertion) {
    const assertionType = form.get("client_assertion_type") ?? "";
    if (assertionType !== ASSERTION_TYPE) throw EntraErrors.invalidAssertionType(assertionType);
    await deps.tokens.verifyClientAssertion(assertion, clientId, deps.tokens.tokenEndpoint(tenant));
  } else {
    throw EntraErrors.missingClientCredential();
  }
}

/**
 * The resource of a scope: exactly one `<resource>/.default` (OpenID scopes beside it are
 * allowed). The resource must be one the emulator serves: the gateway, or a Dataverse or F&O
 * address of this emulator (`https://127.0.0.(11..254):<port>`).
 */
function resourceOf(deps: IdentityDeps, scope: string | null, tenant: string): string {
  if (!scope) throw EntraErrors.missingParameter("scope");
  const scopes = scope.split(/\s+/).filter((s) => s && !OPENID_SCOPES.includes(s));
  if (scopes.length !== 1 || !scopes[0]!.endsWith("/.default"))
    throw EntraErrors.invalidScope(scope);
  const resource = scopes[0]!.slice(0, -"/.default".length);
  if (!servedResource(deps, resource)) throw EntraErrors.resourceNotFound(resource, tenant);
  return resource;
}

function servedResource(deps: IdentityDeps, resource: string): boolean {
  if (sameAudience(resource, GATEWAY_AUDIENCE)) return true;
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return false;
  }
  const port = new URL(deps.baseUrl()).port;
  const role = roleOfAddress(hostnameOf(url.host) ?? "");
  return (
    url.protocol === "https:" &&
    url.port === port &&
    (url.pathname === "/" || url.pathname === "") &&
    url.search === "" &&
    (role?.service === "fno" || role?.service === "dataverse")
  );
}

/**
 * The tenant in the path. The home tenant (id or domain) always works; `common`/`organizations`
 * only where Entra serves them too (metadata, keys, a user's sign-in), never for an app's token.
 */
function requestedTenant(
  deps: IdentityDeps,
  req: EmulatorRequest,
  allowMultiTenant: boolean,
): string {
  const tenant = req.params.tenant ?? "";
  const { tenantId, domain } = deps.tokens.registration;
  if (tenant.toLowerCase() === tenantId.toLowerCase()) return tenant;
  if (tenant.toLowerCase() === domain.toLowerCase()) return tenant;
  if (allowMultiTenant && MULTI_TENANT_NAMES.has(tenant.toLowerCase())) return tenant;
  throw EntraErrors.tenantNotFound(tenant);
}

function basicCredentials(
  header: string | undefined,
): { clientId: string; secret: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  try {
    // RFC 6749 §2.3.1: both parts are form-encoded before being joined.
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon)),
      secret: decodeURIComponent(decoded.slice(colon + 1)),
    };
  } catch {
    return undefined;
  }
}

/** Compares a presented password in constant time. */
function constantTimeEquals(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function json(body: unknown): EmulatorResponse {
  return {
    status: 200,
    headers: { "cache-control": "no-store, no-cache", pragma: "no-cache" },
    body,
  };
}
