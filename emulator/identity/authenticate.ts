/**
 * Bearer-token check for the gateway, Dataverse and F&O surfaces: the token must be signed by
 * the emulated tenant, unexpired, for the home tenant and a known client, and for the audience
 * of the surface it is sent to. A refusal is a 401 in the surface's error shape with the
 * `WWW-Authenticate` challenge Dataverse sends, which names where to get a token.
 *
 * The gateway also wants a user: Microsoft's tool calls it only with delegated tokens of the
 * portal's first-party client (TokenRefresh.cs:141-145, ServicePrincipalAuth.cs:35-36, toolbAX
 * src/FoToolbox.Core/DualWrite/Auth/MsalRopcTokenAcquirer.cs), so an app-only token (no `scp`)
 * is refused unless the `gatewayAcceptsAppTokens` setting allows it [choice: no evidence shows
 * what the real gateway answers to an app token; the emulator stays on the proven side].
 */
import type { EmulatorSettings } from "../core/context";
import { EmulatorHttpError, type Surface, type TokenClaims } from "../core/http";
import {
  FIRST_PARTY_CLIENT_ID,
  GATEWAY_AUDIENCE,
  TokenRejectedError,
  type TokenService,
} from "./tokens";

/** The audience a surface expects: the gateway's fixed one, or the environment's own URL. */
export function expectedAudience(surface: Surface, origin: string): string {
  switch (surface) {
    case "gateway":
      return GATEWAY_AUDIENCE;
    case "dataverse":
    case "fno":
      return origin;
    default:
      throw new Error(`Surface '${surface}' does not take bearer tokens.`);
  }
}

/**
 * Verifies the `Authorization` header of a request to `surface` at `origin` (the routed host's
 * `https://<address>:<port>`). Returns the token's claims or throws a 401 `EmulatorHttpError`
 * (code `Unauthorized`) that says what is wrong.
 */
export async function authenticate(
  tokens: TokenService,
  settings: Pick<EmulatorSettings, "gatewayAcceptsAppTokens">,
  surface: Surface,
  authorization: string | undefined,
  origin: string,
  identityUrl: string,
): Promise<TokenClaims> {
  const audience = expectedAudience(surface, origin);
  const challenge = {
    "www-authenticate": `Bearer authorization_uri=${identityUrl}/${tokens.registration.tenantId}/oauth2/authorize, resource_id=${audience}`,
  };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!m) {
    throw new EmulatorHttpError(
      401,
      "Unauthorized",
      `No bearer token: send 'Authorization: Bearer <token>' with a token for scope '${audience}/.default'.`,
      challenge,
    );
  }
  let claims: TokenClaims;
  try {
    claims = await tokens.verifyAccessToken(m[1]!, audience);
  } catch (e) {
    if (e instanceof TokenRejectedError)
      throw new EmulatorHttpError(401, "Unauthorized", e.message, challenge);
    throw e;
  }
  if (surface === "gateway" && claims.scp === undefined && !settings.gatewayAcceptsAppTokens) {
    throw new EmulatorHttpError(
      401,
      "Unauthorized",
      `The gateway accepts only delegated user tokens: this token of application '${claims.appid}' has no 'scp' ` +
        `(an app-only token). Sign in a user with dual-write administration rights, e.g. the password or ` +
        `refresh-token grant of client ${FIRST_PARTY_CLIENT_ID} for scope '${GATEWAY_AUDIENCE}/.default'.`,
      challenge,
    );
  }
  return claims;
}
