/**
 * Access tokens and client assertions: what the emulated tenant signs, and how it checks what
 * it receives.
 *
 * Tokens are RS256 JWTs signed with the tenant's key and published in the JWKS. They carry
 * `aud` (the requested scope without `/.default`), `iss`, `tid`, `appid`/`azp`, `iat`, `nbf`,
 * `exp`. Token times are wall-clock, not emulated: clients cache tokens against their own clock,
 * so a sped-up emulator clock must not expire them early.
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
import type { AppRegistration } from "./registration";

/** The DualWriteManagement gateway's audience (scope `https://IntegratorApp.com/.default`). */
export const GATEWAY_AUDIENCE = "https://IntegratorApp.com";

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
    return new SignJWT({
      tid: tenantId,
      appid: appId,
      azp: appId,
      appidacr: "1",
      idtyp: "app",
      oid: appId,
      ver: "2.0",
      uti: randomUUID(),
    })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: this.kid! })
      .setAudience(request.audience)
      .setIssuer(this.issuer(tenantId))
      .setSubject(appId)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + request.lifetimeSeconds)
      .sign(this.registration.signingKey);
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
      }));
    } catch (e) {
      throw new TokenRejectedError(describeJoseFailure(e, token));
    }
    const { aud, tid, appid, exp, iss } = payload;
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
    if (
      typeof appid !== "string" ||
      appid.toLowerCase() !== this.registration.clientId.toLowerCase()
    ) {
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
    return { aud: String(audiences[0]), tid, appid, exp: Number(exp), iss: String(iss) };
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
