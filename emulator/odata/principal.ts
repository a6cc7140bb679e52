/**
 * Whom a request of an OData surface counts against for service protection and throttling: the
 * user of the token. Dataverse evaluates its limits "per user" and counts an application user like
 * any other (api-limits); F&O's priority mapping names either a Microsoft Entra application or a
 * user (priority-based-throttling). So a delegated token (it has `scp`) counts for its signed-in
 * user (`oid`, else `upn`) and an app-only token for its application (`appid`).
 */
import type { TokenClaims } from "../core/http";

/** `user:<oid or upn>` for a delegated token, `app:<appid>` for an app-only one, `anonymous` without claims. */
export function principalOf(claims: TokenClaims | undefined): string {
  if (!claims) return "anonymous";
  if (claims.scp !== undefined) {
    const user = claims.oid ?? claims.upn;
    if (user !== undefined) return `user:${user.toLowerCase()}`;
  }
  return `app:${claims.appid}`;
}
