/**
 * The identity surface: the part of Microsoft Entra ID that `@azure/identity` calls for the
 * client-credentials flow. Paths are below `/<tenant>/`.
 *
 * | route                                         | answer                                        |
 * |-----------------------------------------------|-----------------------------------------------|
 * | `GET v2.0/.well-known/openid-configuration`   | OpenID metadata (`issuer`, `token_endpoint`, `jwks_uri`, …) |
 * | `GET discovery/v2.0/keys`                     | JWKS with the tenant's signing key            |
 * | `POST oauth2/v2.0/token`                      | `{token_type, expires_in, access_token}` for `client_credentials` with a secret or a certificate assertion |
 */
import type { EmulatorSettings } from "../core/context";
import type { EmulatorRequest, EmulatorResponse, Route } from "../core/http";
import { EntraErrors } from "./errors";
import { GATEWAY_AUDIENCE, sameAudience, type TokenService } from "./tokens";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Tenant names that have an OpenID configuration with `{tenantid}` placeholders, as in Entra. */
const MULTI_TENANT_NAMES = new Set(["common", "organizations"]);

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

/** `POST oauth2/v2.0/token`: client credentials, with a secret or a certificate assertion. */
async function token(deps: IdentityDeps, req: EmulatorRequest): Promise<EmulatorResponse> {
  const tenant = requestedTenant(deps, req, false);
  const contentType = String(req.headers["content-type"] ?? "");
  if (!contentType.toLowerCase().startsWith("application/x-www-form-urlencoded"))
    throw EntraErrors.unsupportedContentType();
  const form = new URLSearchParams(req.body.toString("utf8"));
  const basic = basicCredentials(req.headers.authorization);

  const grantType = form.get("grant_type");
  if (!grantType) throw EntraErrors.missingParameter("grant_type");
  if (grantType !== "client_credentials") throw EntraErrors.unsupportedGrantType(grantType);

  const clientId = form.get("client_id") ?? basic?.clientId;
  if (!clientId) throw EntraErrors.missingParameter("client_id");
  const registration = deps.tokens.registration;
  if (clientId.toLowerCase() !== registration.clientId.toLowerCase())
    throw EntraErrors.applicationNotFound(clientId, tenant);

  // Client authentication: a secret (form or Basic) or a signed assertion.
  const secret = form.get("client_secret") ?? basic?.secret;
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
 * The resource of a client-credentials scope: exactly one `<resource>/.default` (OpenID scopes
 * that some clients add are ignored). The resource must be one the emulator serves: the gateway,
 * or a Dataverse or F&O environment URL of this emulator.
 */
function resourceOf(deps: IdentityDeps, scope: string | null, tenant: string): string {
  if (!scope) throw EntraErrors.missingParameter("scope");
  const scopes = scope
    .split(/\s+/)
    .filter((s) => s && !["openid", "profile", "offline_access", "email"].includes(s));
  if (scopes.length !== 1 || !scopes[0]!.endsWith("/.default"))
    throw EntraErrors.invalidScope(scope);
  const resource = scopes[0]!.slice(0, -"/.default".length);
  const base = deps.baseUrl().toLowerCase();
  const r = resource.replace(/\/$/, "").toLowerCase();
  const served =
    sameAudience(resource, GATEWAY_AUDIENCE) ||
    (r.startsWith(`${base}/dataverse/`) &&
      /^[^/]+$/.test(r.slice(base.length + "/dataverse/".length))) ||
    (r.startsWith(`${base}/fno/`) && /^[^/]+$/.test(r.slice(base.length + "/fno/".length)));
  if (!served) throw EntraErrors.resourceNotFound(resource, tenant);
  return resource;
}

/**
 * The tenant in the path. The home tenant always works; `common`/`organizations` only where
 * Entra serves them too (metadata, keys), never for a client-credentials token.
 */
function requestedTenant(
  deps: IdentityDeps,
  req: EmulatorRequest,
  allowMultiTenant: boolean,
): string {
  const tenant = req.params.tenant ?? "";
  if (tenant.toLowerCase() === deps.tokens.registration.tenantId.toLowerCase()) return tenant;
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

function json(body: unknown): EmulatorResponse {
  return {
    status: 200,
    headers: { "cache-control": "no-store, no-cache", pragma: "no-cache" },
    body,
  };
}
