/**
 * Access, ID and refresh tokens and client assertions: what the emulated tenant signs, and how it
 * checks what it receives.
 *
 * Access tokens are RS256 JWTs signed with the tenant's key and published in the JWKS. They carry
 * `aud` (the requested scope without `/.default`), `iss`, `tid`, `appid`/`azp`, `iat`, `nbf`,
 * `exp`; an app-only token has `idtyp: app` and the app as `oid`; a delegated (user) token has
 * `scp`, `upn`, `name` and the user's `oid` — the claims Microsoft's tool reads (`upn`:
 * Struct/LoginData.cs:64-78) and a resource uses to tell a user from an app
 * (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
 * Refresh tokens are opaque to clients; here they are JWS with their own `typ` (`rt+jwt`), so
 * they survive a restart with a data directory and can never pass as an access token.
 * Token times are wall-clock, not emulated: clients cache tokens against their own clock, so a
 * sped-up emulator clock must not expire them early.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import {
  calculateJwkThumbprint,
  compactVerify,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type ProtectedHeaderParameters,
} from "jose";
import type { TokenClaims } from "../core/http";
import { EntraErrors } from "./errors";
import type { AppRegistration, TenantUser } from "./registration";

/** The DualWriteManagement gateway's audience (scope `https://IntegratorApp.com/.default`). */
export const GATEWAY_AUDIENCE = "https://IntegratorApp.com";

/**
 * The first-party client of the dual-write portal (Data Integrator): a public client that signs
 * users in, never an app on its own (TokenRefresh.cs:143; toolbAX
 * src/FoToolbox.Core/DualWrite/Auth/DualWriteAuthConstants.cs).
 */
export const FIRST_PARTY_CLIENT_ID = "2e49aa60-1bd3-43b6-8ab6-03ada3d9f08b";

/** The portal's origin, sent as `Origin` on refresh (TokenRefresh.cs:136; GlobalVar.cs:175-190). */
export const PORTAL_ORIGIN = "https://dataintegrator.trafficmanager.net";

/** The portal's single-page-app redirect URI, sent on refresh (TokenRefresh.cs:138-145). */
export const PORTAL_REDIRECT_URI = `${PORTAL_ORIGIN}/dualWrite`;

/**
 * The delegated permission every emulated resource exposes (`scp`). Entra grants `.default` as
 * the permissions consented for the client; Dataverse and most first-party APIs call theirs
 * `user_impersonation` [choice: the gateway's own name is not in the evidence].
 */
export const DELEGATED_PERMISSION = "user_impersonation";

/** JOSE `typ` of the emulator's refresh tokens (access and ID tokens are `JWT`). */
const REFRESH_TOKEN_TYPE = "rt+jwt";

/** What a refresh token stands for. */
export interface RefreshGrant {
  /** The user's object id. */
  readonly userId: string;
  /** The client it was issued to: only that client may redeem it. */
  readonly clientId: string;
  /** The scopes of the original request (resource scope and OpenID scopes). */
  readonly scope: string;
  /** Issued to a single-page app (cross-origin request): fixed lifetime from `authTime`, Origin required. */
  readonly spa: boolean;
  /** When the user signed in (seconds since the epoch); rotation keeps it. */
  readonly authTime: number;
  /** When this token was issued (seconds since the epoch). */
  readonly issuedAt: number;
}

/** Why a bearer token was refused; the message is shown to the client in the 401 body. */
export class TokenRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenRejectedError";
  }
}

/** What to put in a token (the token endpoint fills it from the request; tests may mint others). */
export interface TokenRequest {
  readonly audience: string;
  /** @default the home tenant */
  readonly tenantId?: string;
  /** @default the registered client id */
  readonly appId?: string;
  /** Seconds until expiry; may be zero or negative to mint an already expired token. */
  readonly lifetimeSeconds: number;
  /** The signed-in user: makes a delegated token (`scp`, `upn`, the user's `oid`). */
  readonly user?: TenantUser;
}

/** The tenant's signing side, its public keys, and the checks on incoming tokens and assertions. */
export class TokenService {
  private kid: string | undefined;
  private publicJwk: JWK | undefined;

  /** @param baseUrl returns the emulator's `https://127.0.0.1:<port>` (known once it listens). */
  constructor(
    readonly registration: AppRegistration,
    private readonly baseUrl: () => string,
  ) {}

  /** The `issuer` of the tenant's OpenID configuration and of its tokens. */
  issuer(tenant = this.registration.tenantId): string {
    return `${this.baseUrl()}/${tenant}/v2.0`;
  }

  /** The token endpoint URL, which is also the audience client assertions must carry. */
  tokenEndpoint(tenant = this.registration.tenantId): string {
    return `${this.baseUrl()}/${tenant}/oauth2/v2.0/token`;
  }

  /** The JWKS document: the tenant's one signing key. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.ensureKeyId();
    return { keys: [{ ...this.publicJwk!, kid: this.kid!, use: "sig", alg: "RS256" }] };
  }

  /** Signs an access token. Returns the compact JWT. */
  async issue(request: TokenRequest): Promise<string> {
    await this.ensureKeyId();
    const now = Math.floor(Date.now() / 1000);
    const tenantId = request.tenantId ?? this.registration.tenantId;
    const appId = request.appId ?? this.registration.clientId;
    const user = request.user;
    const claims = user
      ? {
          tid: tenantId,
          appid: appId,
          azp: appId,
          // A public client authenticates with nothing but the user's sign-in.
          appidacr: appId === FIRST_PARTY_CLIENT_ID ? "0" : "1",
          idtyp: "user",
          oid: user.objectId,
          upn: user.username,
          unique_name: user.username,
          name: user.displayName,
          scp: DELEGATED_PERMISSION,
          ver: "1.0",
          uti: randomUUID(),
        }
      : {
          tid: tenantId,
          appid: appId,
          azp: appId,
          appidacr: "1",
          idtyp: "app",
          oid: appId,
          ver: "2.0",
          uti: randomUUID(),
        };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: this.kid! })
      .setAudience(request.audience)
      .setIssuer(this.issuer(tenantId))
      .setSubject(user ? pairwiseSubject(user.objectId, appId) : appId)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + request.lifetimeSeconds)
      .sign(this.registration.signingKey);
  }

  /**
   * Signs an ID token for a user and client (OpenID Connect Core §2): what MSAL reads to know the
   * account (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference).
   */
  async issueIdToken(user: TenantUser, clientId: string, lifetimeSeconds: number): Promise<string> {
    await this.ensureKeyId();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      tid: this.registration.tenantId,
      oid: user.objectId,
      preferred_username: user.username,
      name: user.displayName,
      ver: "2.0",
    })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: this.kid! })
      .setAudience(clientId)
      .setIssuer(this.issuer())
      .setSubject(pairwiseSubject(user.objectId, clientId))
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetimeSeconds)
      .sign(this.registration.signingKey);
  }

  /** Signs a refresh token for `grant` (its `issuedAt` is now). */
  async issueRefreshToken(grant: Omit<RefreshGrant, "issuedAt">): Promise<string> {
    await this.ensureKeyId();
    return new SignJWT({
      cid: grant.clientId,
      scope: grant.scope,
      spa: grant.spa,
      auth_time: grant.authTime,
      tid: this.registration.tenantId,
      jti: randomUUID(),
    })
      .setProtectedHeader({ alg: "RS256", typ: REFRESH_TOKEN_TYPE, kid: this.kid! })
      .setSubject(grant.userId)
      .setIssuedAt(Math.floor(Date.now() / 1000))
      .sign(this.registration.signingKey);
  }

  /**
   * What a refresh token stands for; undefined when it is not one this tenant signed (altered,
   * truncated, an access token, another tenant's). Expiry is the caller's to judge.
   */
  async readRefreshToken(token: string): Promise<RefreshGrant | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.registration.signingPublicKey, {
        algorithms: ["RS256"],
        typ: REFRESH_TOKEN_TYPE,
      });
      const { sub, cid, scope, spa, auth_time, iat, tid } = payload;
      if (
        typeof sub !== "string" ||
        typeof cid !== "string" ||
        typeof scope !== "string" ||
        typeof spa !== "boolean" ||
        typeof auth_time !== "number" ||
        typeof iat !== "number" ||
        tid !== this.registration.tenantId
      )
        return undefined;
      return { userId: sub, clientId: cid, scope, spa, authTime: auth_time, issuedAt: iat };
    } catch {
      return undefined;
    }
  }

  /**
   * Checks a bearer token presented to a surface: signature, expiry, tenant, issuer, app and
   * audience (a trailing slash on either side is tolerated, as Entra's v1 resources have one).
   * Throws `TokenRejectedError` with a sentence that says what is wrong.
   */
  async verifyAccessToken(token: string, expectedAudience: string): Promise<TokenClaims> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.registration.signingPublicKey, {
        algorithms: ["RS256"],
        // A refresh token (`rt+jwt`) is signed by the same key but is never a bearer token.
        typ: "JWT",
      }));
    } catch (e) {
      throw new TokenRejectedError(describeJoseFailure(e, token));
    }
    const { aud, tid, appid, exp, iss, scp, upn, oid } = payload;
    if (typeof tid !== "string" || tid.toLowerCase() !== this.registration.tenantId.toLowerCase()) {
      throw new TokenRejectedError(
        `The access token was issued for tenant '${String(tid)}', not for this environment's tenant '${this.registration.tenantId}'.`,
      );
    }
    if (iss !== this.issuer()) {
      throw new TokenRejectedError(
        `The access token's issuer '${String(iss)}' is not '${this.issuer()}'.`,
      );
    }
    if (typeof appid !== "string" || !this.knowsClient(appid)) {
      throw new TokenRejectedError(
        `The application '${String(appid)}' is not registered in tenant '${this.registration.tenantId}'.`,
      );
    }
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.some((a) => typeof a === "string" && sameAudience(a, expectedAudience))) {
      throw new TokenRejectedError(
        `The access token's audience '${audiences.join("', '")}' is not '${expectedAudience}'. ` +
          `Request a token with scope '${expectedAudience}/.default'.`,
      );
    }
    return {
      aud: String(audiences[0]),
      tid,
      appid,
      exp: Number(exp),
      iss: String(iss),
      ...(typeof scp === "string" && { scp }),
      ...(typeof upn === "string" && { upn }),
      ...(typeof oid === "string" && { oid }),
    };
  }

  /** Whether a client id is the registered app or the portal's first-party client. */
  knowsClient(clientId: string): boolean {
    const id = clientId.toLowerCase();
    return id === this.registration.clientId.toLowerCase() || id === FIRST_PARTY_CLIENT_ID;
  }

  /** Compares a presented client secret in constant time. */
  secretMatches(secret: string): boolean {
    const a = createHash("sha256").update(secret).digest();
    const b = createHash("sha256").update(this.registration.clientSecret).digest();
    return timingSafeEqual(a, b);
  }

  /**
   * Checks a client assertion (RFC 7523) as Entra does: signed (RS256 or PS256) by the registered
   * certificate's key, `aud` = the token endpoint, `iss` = `sub` = the client id, within its
   * validity. Throws the Entra error for the first failed check.
   */
  async verifyClientAssertion(
    assertion: string,
    clientId: string,
    tokenEndpoint: string,
  ): Promise<void> {
    let header: ProtectedHeaderParameters;
    let claims: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(assertion);
      claims = decodeJwt(assertion);
    } catch {
      throw EntraErrors.malformedAssertion("The client assertion is not a JWT.");
    }
    try {
      // Signature only: time is checked below, to answer Entra's time-range error.
      await compactVerify(assertion, this.registration.clientCertificate.publicKey, {
        algorithms: ["RS256", "PS256"],
      });
    } catch {
      const thumbprint = header["x5t#S256"] ?? header.x5t;
      throw EntraErrors.assertionSignatureInvalid(
        typeof thumbprint === "string" ? thumbprint : "(none)",
      );
    }
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.some((a) => a === tokenEndpoint))
      throw EntraErrors.assertionAudienceInvalid(String(aud.join(", ")), tokenEndpoint);
    if (claims.iss !== clientId || claims.sub !== clientId)
      throw EntraErrors.assertionIssuerMismatch();
    const now = Math.floor(Date.now() / 1000);
    const skew = 300;
    const exp = typeof claims.exp === "number" ? claims.exp : undefined;
    const nbf = typeof claims.nbf === "number" ? claims.nbf : undefined;
    if (exp === undefined || exp + skew < now || (nbf !== undefined && nbf - skew > now)) {
      throw EntraErrors.assertionExpired(now, nbf, exp);
    }
  }

  private async ensureKeyId(): Promise<void> {
    if (this.kid) return;
    this.publicJwk = await exportJWK(this.registration.signingPublicKey);
    this.kid = await calculateJwkThumbprint(this.publicJwk);
  }
}

/**
 * The `sub` of a user's token for one client: Entra's subject is pairwise (the same user has a
 * different `sub` per app), so it is derived, not the object id.
 */
function pairwiseSubject(objectId: string, clientId: string): string {
  return createHash("sha256").update(`${objectId}|${clientId.toLowerCase()}`).digest("base64url");
}

/** Audiences compare case-insensitively, ignoring one trailing slash. */
export function sameAudience(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/\/$/, "").toLowerCase();
  return norm(a) === norm(b);
}

function describeJoseFailure(e: unknown, token: string): string {
  const code = (e as { code?: string }).code;
  if (code === "ERR_JWT_EXPIRED") {
    let exp = "";
    try {
      const claims = decodeJwt(token);
      if (typeof claims.exp === "number") exp = ` at ${new Date(claims.exp * 1000).toISOString()}`;
    } catch {
      // The message without the time is still true.
    }
    return `The access token expired${exp}. Request a new token.`;
  }
  if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED")
    return `The access token is not valid yet or has bad claims (${(e as Error).message}).`;
  if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" || code === "ERR_JWKS_NO_MATCHING_KEY") {
    return "The access token's signature is invalid: it was not signed by this tenant, or it was altered.";
  }
  if (code === "ERR_JOSE_ALG_NOT_ALLOWED") return "The access token is not signed with RS256.";
  return "The access token is malformed: expected a signed JWT from this emulator's token endpoint.";
}
