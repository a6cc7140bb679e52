/**
 * Bearer-token check for the gateway, Dataverse and F&O surfaces: the token must be signed by
 * the emulated tenant, unexpired, for the home tenant and registered app, and for the audience
 * of the surface it is sent to. A refusal is a 401 in the surface's error shape with the
 * `WWW-Authenticate` challenge Dataverse sends, which names where to get a token.
 */
import { EmulatorHttpError, type Surface, type TokenClaims } from "../core/http";
import { GATEWAY_AUDIENCE, TokenRejectedError, type TokenService } from "./tokens";

/** The audience a surface expects: the gateway's fixed one, or the environment's own URL. */
export function expectedAudience(
  surface: Surface,
  params: Readonly<Record<string, string>>,
  baseUrl: string,
): string {
  switch (surface) {
    case "gateway":
      return GATEWAY_AUDIENCE;
    case "dataverse":
      return `${baseUrl}/dataverse/${params.org ?? ""}`;
    case "fno":
      return `${baseUrl}/fno/${params.env ?? ""}`;
    default:
      throw new Error(`Surface '${surface}' does not take bearer tokens.`);
  }
}

/**
 * Verifies the `Authorization` header of a request to `surface`. Returns the token's claims or
 * throws a 401 `EmulatorHttpError` (code `Unauthorized`) that says what is wrong.
 */
export async function authenticate(
  tokens: TokenService,
  surface: Surface,
  authorization: string | undefined,
  params: Readonly<Record<string, string>>,
  baseUrl: string,
): Promise<TokenClaims> {
  const audience = expectedAudience(surface, params, baseUrl);
  const challenge = {
    "www-authenticate": `Bearer authorization_uri=${baseUrl}/${tokens.registration.tenantId}/oauth2/authorize, resource_id=${audience}`,
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
  try {
    return await tokens.verifyAccessToken(m[1]!, audience);
  } catch (e) {
    if (e instanceof TokenRejectedError)
      throw new EmulatorHttpError(401, "Unauthorized", e.message, challenge);
    throw e;
  }
}
