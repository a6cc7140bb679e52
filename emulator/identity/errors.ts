/**
 * Entra ID errors, one factory per AADSTS code the emulator answers (Azurite style: an error
 * factory with one method per code). The server renders them in Entra's shape:
 * `{"error":"invalid_client","error_description":"AADSTS7000215: …","error_codes":[7000215],…}`.
 *
 * Codes and wording follow Microsoft's AADSTS error reference for the common cases; for client
 * assertion checks, where Entra's exact code varies, the closest documented code is used.
 */
import { EmulatorHttpError } from "../core/http";

function entraError(
  status: number,
  error: string,
  code: number,
  description: string,
): EmulatorHttpError {
  return new EmulatorHttpError(
    status,
    error,
    `AADSTS${code}: ${description}`,
    {},
    { error_codes: [code] },
  );
}

/** Factories for the identity surface's errors. */
export const EntraErrors = {
  tenantNotFound: (tenant: string) =>
    entraError(
      400,
      "invalid_tenant",
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    ),
  missingParameter: (name: string) =>
    entraError(
      400,
      "invalid_request",
      900144,
      `The request body must contain the following parameter: '${name}'.`,
    ),
  unsupportedGrantType: (grantType: string) =>
    entraError(
      400,
      "unsupported_grant_type",
      70003,
      `The app requested an unsupported grant type '${grantType}'. The emulator supports 'client_credentials', 'password' and 'refresh_token'.`,
    ),
  // Delegated sign-in (ROPC: https://learn.microsoft.com/entra/identity-platform/v2-oauth-ropc;
  // refresh: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token;
  // codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
  userNotFound: (username: string, tenant: string) =>
    entraError(
      400,
      "invalid_grant",
      50034,
      `The user account ${username} does not exist in the ${tenant} directory. To sign into this application, ` +
        `the account must be added to the directory.`,
    ),
  invalidPassword: () =>
    entraError(
      400,
      "invalid_grant",
      50126,
      `Error validating credentials due to invalid username or password.`,
    ),
  malformedRefreshToken: () =>
    entraError(400, "invalid_grant", 9002313, `Invalid request. Request is malformed or invalid.`),
  refreshTokenOfAnotherClient: () =>
    entraError(
      400,
      "invalid_grant",
      70000,
      `Provided grant is invalid or malformed. The refresh token was issued to another client.`,
    ),
  /** A non-SPA refresh token past its lifetime (Entra's inactivity expiry). */
  refreshTokenExpired: (issuedAt: number, lifetimeSeconds: number) =>
    entraError(
      400,
      "invalid_grant",
      700082,
      `The refresh token has expired due to inactivity. The token was issued on ${iso(issuedAt)} and was inactive for ${timeSpan(lifetimeSeconds)}.`,
    ),
  /** A refresh token issued to a single-page app, past its fixed lifetime from sign-in. */
  spaRefreshTokenExpired: (authTime: number, lifetimeSeconds: number) =>
    entraError(
      400,
      "invalid_grant",
      700084,
      `The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of ` +
        `${timeSpan(lifetimeSeconds)}, which cannot be extended. It is now expired and a new sign in request must be ` +
        `sent by the SPA to the sign in page. The token was issued on ${iso(authTime)}.`,
    ),
  /** An SPA refresh token redeemed without `Origin` (why TokenRefresh.cs:136 sends it). */
  spaRequiresCrossOrigin: () =>
    entraError(
      400,
      "invalid_request",
      9002327,
      `Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.`,
    ),
  redirectUriMismatch: (redirectUri: string, clientId: string) =>
    entraError(
      400,
      "invalid_request",
      50011,
      `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured ` +
        `for the application '${clientId}'.`,
    ),
  applicationNotFound: (clientId: string, tenant: string) =>
    entraError(
      400,
      "unauthorized_client",
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if ` +
        `the application has not been installed by the administrator of the tenant or consented to by any user in ` +
        `the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  invalidClientSecret: (clientId: string) =>
    entraError(
      401,
      "invalid_client",
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, ` +
        `not the client secret ID, for a secret added to app '${clientId}'.`,
    ),
  missingClientCredential: () =>
    entraError(
      401,
      "invalid_client",
      7000218,
      `The request body must contain the following parameter: 'client_assertion' or 'client_secret'.`,
    ),
  invalidAssertionType: (type: string) =>
    entraError(
      400,
      "invalid_request",
      50027,
      `Invalid client_assertion_type '${type}'; expected 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.`,
    ),
  malformedAssertion: (reason: string) =>
    entraError(401, "invalid_client", 50027, `JWT token is invalid or malformed. ${reason}`),
  assertionSignatureInvalid: (thumbprint: string) =>
    entraError(
      401,
      "invalid_client",
      700027,
      `Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used ` +
        `by client: '${thumbprint}'. Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see ` +
        `configured keys for app Id.]`,
    ),
  assertionAudienceInvalid: (aud: string, expected: string) =>
    entraError(
      401,
      "invalid_client",
      50027,
      `JWT token is invalid or malformed. The client assertion's audience '${aud}' is not the token endpoint '${expected}'.`,
    ),
  assertionIssuerMismatch: () =>
    entraError(
      401,
      "invalid_client",
      700021,
      `Client assertion application identifier doesn't match 'client_id' parameter (the 'iss' and 'sub' claims must be the client id).`,
    ),
  assertionExpired: (now: number, nbf: number | undefined, exp: number | undefined) =>
    entraError(
      401,
      "invalid_client",
      700024,
      `Client assertion is not within its valid time range. Current time: ${iso(now)}, assertion valid from ` +
        `${nbf === undefined ? "(unset)" : iso(nbf)}, expiry time of assertion ${exp === undefined ? "(unset)" : iso(exp)}.`,
    ),
  invalidScope: (scope: string) =>
    entraError(
      400,
      "invalid_scope",
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with ` +
        `/.default suffixed to the resource identifier (application ID URI).`,
    ),
  resourceNotFound: (resource: string, tenant: string) =>
    entraError(
      400,
      "invalid_resource",
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if ` +
        `the application has not been installed by the administrator of the tenant or consented to by any user in ` +
        `the tenant. You might have sent your authentication request to the wrong tenant.`,
    ),
  unsupportedContentType: () =>
    entraError(
      400,
      "invalid_request",
      900144,
      `The request body must be 'application/x-www-form-urlencoded' and contain the following parameter: 'grant_type'.`,
    ),
};

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** A .NET TimeSpan as Entra prints it: `1.00:00:00`. */
function timeSpan(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  const rest = seconds % 86_400;
  const hh = String(Math.floor(rest / 3600)).padStart(2, "0");
  const mm = String(Math.floor((rest % 3600) / 60)).padStart(2, "0");
  const ss = String(rest % 60).padStart(2, "0");
  return `${days > 0 ? `${days}.` : ""}${hh}:${mm}:${ss}`;
}
