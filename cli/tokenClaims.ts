/**
 * What a person may see of an access token: who it is for (`aud`), whose it is (a user's
 * delegated token with its `upn`, or an application's app-only token), which client got it and
 * when it expires — read from the JWT's payload only. The signature is not checked (the service
 * does that); the token itself is never returned nor printed.
 */

/** The identifying claims of an access token. */
export interface TokenSummary {
  /** `aud`: the resource the token is for, e.g. `https://IntegratorApp.com`. */
  readonly audience: string | undefined;
  /** `delegated` when the token carries `scp` (a signed-in user), else `app-only`. */
  readonly kind: "delegated" | "app-only";
  /** The user (`upn`, else `unique_name`, else `preferred_username`) of a delegated token. */
  readonly user: string | undefined;
  /** `appid` (v1) or `azp` (v2): the client that got the token. */
  readonly appId: string | undefined;
  /** `tid`. */
  readonly tenantId: string | undefined;
  /** `scp` of a delegated token, e.g. `user_impersonation`. */
  readonly scopes: string | undefined;
  /** `exp` in milliseconds since the epoch. */
  readonly expiresAt: number | undefined;
}

/** The claims of a JWT access token; undefined when the token is not a readable JWT. */
export function summarizeToken(token: string): TokenSummary | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined || token.split(".").length !== 3) return undefined;
  let claims: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    claims = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const text = (name: string): string | undefined => {
    const v = claims[name];
    return typeof v === "string" && v !== "" ? v : undefined;
  };
  const aud = Array.isArray(claims.aud) ? claims.aud.filter((a) => typeof a === "string") : [];
  const scopes = text("scp");
  return {
    audience: text("aud") ?? (aud.length > 0 ? aud.join(" ") : undefined),
    kind: scopes !== undefined ? "delegated" : "app-only",
    user: text("upn") ?? text("unique_name") ?? text("preferred_username"),
    appId: text("appid") ?? text("azp"),
    tenantId: text("tid"),
    scopes,
    expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : undefined,
  };
}

/**
 * The summary in one line.
 * @example "delegated token of dwadmin@contoso.onmicrosoft.com (scp user_impersonation), aud https://IntegratorApp.com, client 2e49aa60-…, expires 2025-01-01T11:00:00Z (in 60 min)"
 */
export function describeToken(summary: TokenSummary, now: number): string {
  const who =
    summary.kind === "delegated"
      ? `delegated token of ${summary.user ?? "a user (no upn)"}${summary.scopes ? ` (scp ${summary.scopes})` : ""}`
      : "app-only token";
  const parts = [
    who,
    `aud ${summary.audience ?? "(none)"}`,
    ...(summary.appId ? [`client ${summary.appId}`] : []),
    ...(summary.tenantId ? [`tenant ${summary.tenantId}`] : []),
    summary.expiresAt === undefined
      ? "no expiry"
      : `expires ${new Date(summary.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z")} (${relative(summary.expiresAt - now)})`,
  ];
  return parts.join(", ");
}

/** `in 59 min`, `in 2 h`, `expired 3 min ago`. */
function relative(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const span = minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
  return ms >= 0 ? `in ${span}` : `expired ${span} ago`;
}
