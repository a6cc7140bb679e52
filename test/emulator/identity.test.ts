/**
 * Identity contract: the real `@azure/identity` gets app tokens from the emulated tenant with a
 * secret and with a certificate, and delegated tokens for the dual-write administrator with
 * `UsernamePasswordCredential` (the tool's ROPC route); refresh tokens rotate and expire as
 * Entra's do, redeemed the way TokenRefresh.cs sends them. Dataverse and F&O accept app tokens,
 * the gateway delegated ones (app tokens only with `gatewayAcceptsAppTokens`); every surface
 * refuses bad tokens with a 401 in its own shape. Bad token requests get Entra's error shape.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { UsernamePasswordCredential } from "@azure/identity";
import { expect } from "chai";
import { createLocalJWKSet, decodeJwt, jwtVerify, SignJWT } from "jose";
import {
  DUAL_WRITE_CLIENT_ID,
  GATEWAY_AUDIENCE,
  PORTAL_ORIGIN,
  PORTAL_REDIRECT_URI,
} from "../../emulator/index";
import { startTestEmulator, type TestEmulator, type TestResponse } from "../support/emulator";

describe("emulator identity", () => {
  let emu: TestEmulator;
  let dataverseUrl: string;
  let financeOperationsUrl: string;

  before(async () => {
    emu = await startTestEmulator({ seed: "new-new" });
    ({ dataverseUrl, financeOperationsUrl } = emu.environments[0]!);
  });
  after(() => emu.close());

  /** One authenticated GET per surface, each to a route that exists. */
  const surfaceCalls = () => [
    {
      surface: "gateway",
      resource: GATEWAY_AUDIENCE,
      url: `${emu.gatewayUrl}/api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=${new URL(financeOperationsUrl).hostname}`,
    },
    { surface: "dataverse", resource: dataverseUrl, url: `${dataverseUrl}/api/data/v9.2/WhoAmI` },
    {
      surface: "fno",
      resource: financeOperationsUrl,
      url: `${financeOperationsUrl}/data/LegalEntities`,
    },
  ];

  describe("OpenID metadata and token endpoint", () => {
    it("ClientSecretCredential makes exactly two calls: openid-configuration and token", async () => {
      const since = await emu.control.lastRequestSeq();
      const token = await emu.secretCredential().getToken(`${GATEWAY_AUDIENCE}/.default`);
      const calls = (await emu.control.requests(since)).map(
        (r) => `${r.method} ${r.path} ${r.status}`,
      );
      const t = emu.credentials.tenantId;
      expect(calls).to.deep.equal([
        `GET /${t}/v2.0/.well-known/openid-configuration 200`,
        `POST /${t}/oauth2/v2.0/token 200`,
      ]);
      const claims = decodeJwt(token.token);
      expect(claims).to.include({
        aud: GATEWAY_AUDIENCE,
        tid: t,
        appid: emu.credentials.clientId,
        iss: `${emu.url}/${t}/v2.0`,
      });
      expect(claims.exp! - claims.iat!).to.equal(3600);
    });

    it("ClientCertificateCredential gets a token with a certificate assertion", async () => {
      const token = await emu.certificateCredential().getToken(`${dataverseUrl}/.default`);
      expect(decodeJwt(token.token).aud).to.equal(dataverseUrl);
    });

    it("publishes metadata whose JWKS verifies the tokens it issues", async () => {
      const meta = await emu.request(
        "GET",
        `${emu.url}/${emu.credentials.tenantId}/v2.0/.well-known/openid-configuration`,
      );
      expect(meta.status).to.equal(200);
      const config = meta.json as Record<string, string>;
      expect(config).to.include.keys(
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
      );
      const jwks = await emu.request("GET", config.jwks_uri!);
      const token = await emu.token(financeOperationsUrl);
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.json as never), {
        issuer: config.issuer!,
        audience: financeOperationsUrl,
      });
      expect(payload.tid).to.equal(emu.credentials.tenantId);
    });

    it("issues tokens with the lifetime from settings", async () => {
      await emu.control.updateSettings({ tokenLifetimeSeconds: 120 });
      try {
        const res = await tokenRequest({ scope: `${GATEWAY_AUDIENCE}/.default` });
        expect(res.status).to.equal(200);
        const body = res.json as { expires_in: number; access_token: string; token_type: string };
        expect(body.token_type).to.equal("Bearer");
        expect(body.expires_in).to.equal(120);
        const claims = decodeJwt(body.access_token);
        expect(claims.exp! - claims.iat!).to.equal(120);
      } finally {
        await emu.control.updateSettings({ tokenLifetimeSeconds: 3600 });
      }
    });
  });

  describe("token endpoint errors in Entra's shape", () => {
    it("a wrong secret is AADSTS7000215, also through @azure/identity", async () => {
      const res = await tokenRequest({
        client_secret: "not-the-secret",
        scope: `${GATEWAY_AUDIENCE}/.default`,
      });
      expect(res.status).to.equal(401);
      expectEntraError(res.json, "invalid_client", 7000215);

      const { ClientSecretCredential } = await import("@azure/identity");
      const wrong = new ClientSecretCredential(
        emu.credentials.tenantId,
        emu.credentials.clientId,
        "not-the-secret",
        {
          authorityHost: emu.url,
          disableInstanceDiscovery: true,
        },
      );
      let message = "";
      await wrong
        .getToken(`${GATEWAY_AUDIENCE}/.default`)
        .catch((e: Error) => (message = e.message));
      expect(message).to.contain("AADSTS7000215");
      expect(message).not.to.contain(emu.credentials.clientSecret);
    });

    it("an unknown client id is AADSTS700016", async () => {
      const res = await tokenRequest({
        client_id: randomUUID(),
        scope: `${GATEWAY_AUDIENCE}/.default`,
      });
      expect(res.status).to.equal(400);
      expectEntraError(res.json, "unauthorized_client", 700016);
    });

    it("a scope without /.default is AADSTS1002012, an unknown resource AADSTS500011", async () => {
      const noDefault = await tokenRequest({ scope: GATEWAY_AUDIENCE });
      expect(noDefault.status).to.equal(400);
      expectEntraError(noDefault.json, "invalid_scope", 1002012);
      const unknown = await tokenRequest({ scope: "https://graph.microsoft.com/.default" });
      expect(unknown.status).to.equal(400);
      expectEntraError(unknown.json, "invalid_resource", 500011);
    });

    it("another tenant is AADSTS90002", async () => {
      const res = await emu.request(
        "GET",
        `${emu.url}/${randomUUID()}/v2.0/.well-known/openid-configuration`,
      );
      expect(res.status).to.equal(400);
      expectEntraError(res.json, "invalid_tenant", 90002);
    });

    it("a grant it does not know is AADSTS70003; no credential is AADSTS7000218", async () => {
      const grant = await tokenRequest({
        grant_type: "authorization_code",
        scope: `${GATEWAY_AUDIENCE}/.default`,
      });
      expect(grant.status).to.equal(400);
      expectEntraError(grant.json, "unsupported_grant_type", 70003);
      const none = await tokenRequest({
        client_secret: undefined,
        scope: `${GATEWAY_AUDIENCE}/.default`,
      });
      expect(none.status).to.equal(401);
      expectEntraError(none.json, "invalid_client", 7000218);
    });

    it("a client assertion signed by another key is AADSTS700027; one for another audience is refused", async () => {
      const endpoint = `${emu.url}/${emu.credentials.tenantId}/oauth2/v2.0/token`;
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const foreign = await assertion(privateKey, endpoint);
      const bad = await tokenRequest({
        client_secret: undefined,
        ...assertionForm(foreign),
        scope: `${GATEWAY_AUDIENCE}/.default`,
      });
      expect(bad.status).to.equal(401);
      expectEntraError(bad.json, "invalid_client", 700027);

      const { createPrivateKey } = await import("node:crypto");
      const { readFileSync } = await import("node:fs");
      const ownKey = createPrivateKey(readFileSync(emu.credentials.certificatePath, "utf8"));
      const good = await tokenRequest({
        client_secret: undefined,
        ...assertionForm(await assertion(ownKey, endpoint)),
        scope: `${GATEWAY_AUDIENCE}/.default`,
      });
      expect(good.status).to.equal(200);
      const wrongAud = await tokenRequest({
        client_secret: undefined,
        ...assertionForm(await assertion(ownKey, `${emu.url}/other/oauth2/v2.0/token`)),
        scope: `${GATEWAY_AUDIENCE}/.default`,
      });
      expect(wrongAud.status).to.equal(401);
      expectEntraError(wrongAud.json, "invalid_client", 50027);
    });
  });

  describe("bearer checks on every surface", () => {
    it("Dataverse and F&O accept app tokens from both credential types; the gateway a user's", async () => {
      for (const credential of [emu.secretCredential(), emu.certificateCredential()]) {
        for (const call of surfaceCalls().filter((c) => c.surface !== "gateway")) {
          const token = (await credential.getToken(`${call.resource}/.default`)).token;
          const res = await emu.request("GET", call.url, { token });
          expect(res.status, `${call.surface}: ${res.text}`).to.equal(200);
        }
      }
      const gateway = surfaceCalls()[0]!;
      const delegated = (await emu.adminCredential().getToken(`${GATEWAY_AUDIENCE}/.default`))
        .token;
      const res = await emu.request("GET", gateway.url, { token: delegated });
      expect(res.status, res.text).to.equal(200);
    });

    it("the gateway refuses app-only tokens with 401 in its shape, unless gatewayAcceptsAppTokens", async () => {
      const gateway = surfaceCalls()[0]!;
      for (const credential of [emu.secretCredential(), emu.certificateCredential()]) {
        const token = (await credential.getToken(`${GATEWAY_AUDIENCE}/.default`)).token;
        expect(decodeJwt(token).scp, "an app-only token").to.equal(undefined);
        const refused = await emu.request("GET", gateway.url, { token });
        expect(refused.status).to.equal(401);
        const error = (refused.json as { error: { code: string; message: string } }).error;
        expect(error.code).to.equal("Unauthorized");
        expect(error.message).to.match(/accepts only delegated user tokens/);
        expect(refused.headers["www-authenticate"]).to.match(/^Bearer authorization_uri=/);
      }
      await emu.control.updateSettings({ gatewayAcceptsAppTokens: true });
      try {
        const token = await emu.appToken(GATEWAY_AUDIENCE);
        const allowed = await emu.request("GET", gateway.url, { token });
        expect(allowed.status, allowed.text).to.equal(200);
      } finally {
        await emu.control.updateSettings({ gatewayAcceptsAppTokens: false });
      }
      const again = await emu.request("GET", gateway.url, {
        token: await emu.appToken(GATEWAY_AUDIENCE),
      });
      expect(again.status).to.equal(401);
    });

    it("tolerates a trailing slash on the audience", async () => {
      const token = await emu.control.mintToken({ audience: `${dataverseUrl}/` });
      const res = await emu.request("GET", `${dataverseUrl}/api/data/v9.2/WhoAmI`, { token });
      expect(res.status).to.equal(200);
    });

    const refusals: Array<{
      name: string;
      token: (resource: string) => Promise<string | undefined>;
      says: RegExp;
    }> = [
      { name: "no token", token: () => Promise.resolve(undefined), says: /No bearer token/ },
      {
        name: "wrong audience",
        token: (r) =>
          emu.control.mintToken({
            audience: r === GATEWAY_AUDIENCE ? dataverseUrl : GATEWAY_AUDIENCE,
          }),
        says: /audience/,
      },
      {
        name: "tampered",
        token: async (r) => tamper(await emu.token(r)),
        says: /signature is invalid/,
      },
      {
        name: "expired",
        token: (r) => emu.control.mintToken({ audience: r, lifetimeSeconds: -60 }),
        says: /expired/,
      },
      {
        name: "wrong tenant",
        token: (r) => emu.control.mintToken({ audience: r, tenantId: randomUUID() }),
        says: /tenant/,
      },
      {
        name: "unknown app",
        token: (r) => emu.control.mintToken({ audience: r, appId: randomUUID() }),
        says: /not registered/,
      },
      { name: "not a JWT", token: () => Promise.resolve("abc.def"), says: /malformed/ },
    ];
    for (const refusal of refusals) {
      it(`answers 401 in the surface's shape for: ${refusal.name}`, async () => {
        for (const call of surfaceCalls()) {
          const token = await refusal.token(call.resource);
          const res = await emu.request("GET", call.url, token === undefined ? {} : { token });
          expect(res.status, call.surface).to.equal(401);
          const error = (res.json as { error: { code: string; message: string } }).error;
          expect(error.code, call.surface).to.equal("Unauthorized");
          expect(error.message, call.surface).to.match(refusal.says);
          expect(res.headers["www-authenticate"], call.surface).to.match(
            new RegExp(
              `^Bearer authorization_uri=${escape(emu.url)}/${emu.credentials.tenantId}/oauth2/authorize`,
            ),
          );
        }
      });
    }
  });

  describe("delegated sign-in of the dual-write administrator", () => {
    const scope = `${GATEWAY_AUDIENCE}/.default`;
    const credential = (tenant: string, password = emu.dualWriteAdmin.password) =>
      new UsernamePasswordCredential(
        tenant,
        DUAL_WRITE_CLIENT_ID,
        emu.dualWriteAdmin.username,
        password,
        { authorityHost: emu.url, disableInstanceDiscovery: true },
      );

    it("UsernamePasswordCredential gets a user token with upn, scp, oid, tid, aud, appid in two calls, at any tenant name", async () => {
      const { tenantDomain } = await emu.control.call<{ tenantDomain: string }>("GET", "info");
      for (const tenant of [emu.credentials.tenantId, tenantDomain, "organizations", "common"]) {
        const since = await emu.control.lastRequestSeq();
        const token = (await credential(tenant).getToken(scope)).token;
        const calls = (await emu.control.requests(since)).map(
          (r) => `${r.method} ${r.host}${r.path} ${r.status}`,
        );
        expect(calls, tenant).to.deep.equal([
          `GET 127.0.0.1/${tenant}/v2.0/.well-known/openid-configuration 200`,
          `POST 127.0.0.1/${tenant}/oauth2/v2.0/token 200`,
        ]);
        const claims = decodeJwt(token);
        expect(claims, tenant).to.include({
          aud: GATEWAY_AUDIENCE,
          tid: emu.credentials.tenantId,
          appid: DUAL_WRITE_CLIENT_ID,
          upn: emu.dualWriteAdmin.username,
          scp: "user_impersonation",
          idtyp: "user",
        });
        expect(claims.oid).to.match(/^[0-9a-f-]{36}$/);
        expect(claims.oid).not.to.equal(DUAL_WRITE_CLIENT_ID);
      }
      expect(emu.dualWriteAdmin.username).to.match(/^dwadmin@[a-z0-9]+\.onmicrosoft\.com$/);
    });

    it("answers the password grant as Entra does: refresh token, ID token and client_info on request", async () => {
      const res = await passwordRequest({
        scope: `${scope} openid profile offline_access`,
        client_info: "1",
      });
      expect(res.status, res.text).to.equal(200);
      const body = res.json as Record<string, string | number>;
      expect(body).to.include({ token_type: "Bearer", expires_in: 3600 });
      expect(body.scope).to.equal(
        `${GATEWAY_AUDIENCE}/user_impersonation openid profile offline_access`,
      );
      expect(body).to.include.keys("access_token", "refresh_token", "id_token", "client_info");
      const id = decodeJwt(String(body.id_token));
      expect(id).to.include({
        aud: DUAL_WRITE_CLIENT_ID,
        preferred_username: emu.dualWriteAdmin.username,
      });
      expect(
        JSON.parse(Buffer.from(String(body.client_info), "base64url").toString()),
      ).to.deep.equal({ uid: id.oid, utid: emu.credentials.tenantId });
      const bare = await passwordRequest({ scope });
      expect(bare.json).not.to.have.any.keys("refresh_token", "id_token", "client_info");
    });

    it("a wrong password is AADSTS50126 and an unknown user AADSTS50034, also through @azure/identity", async () => {
      const wrong = await passwordRequest({ scope, password: "not-the-password" });
      expect(wrong.status).to.equal(400);
      expectEntraError(wrong.json, "invalid_grant", 50126);
      const unknown = await passwordRequest({ scope, username: `nobody@${randomUUID()}.test` });
      expect(unknown.status).to.equal(400);
      expectEntraError(unknown.json, "invalid_grant", 50034);
      let message = "";
      await credential("organizations", "not-the-password")
        .getToken(scope)
        .catch((e: Error) => (message = e.message));
      expect(message).to.contain("AADSTS50126");
      expect(message).not.to.contain(emu.dualWriteAdmin.password);
    });

    it("the registered app may use the password grant only with its secret", async () => {
      const noSecret = await passwordRequest({ scope, client_id: emu.credentials.clientId });
      expect(noSecret.status).to.equal(401);
      expectEntraError(noSecret.json, "invalid_client", 7000218);
      const withSecret = await passwordRequest({
        scope,
        client_id: emu.credentials.clientId,
        client_secret: emu.credentials.clientSecret,
      });
      expect(withSecret.status, withSecret.text).to.equal(200);
      expect(
        decodeJwt(String((withSecret.json as { access_token: string }).access_token)),
      ).to.include({ appid: emu.credentials.clientId, upn: emu.dualWriteAdmin.username });
    });

    it("renews a portal sign-in as TokenRefresh.cs does: Origin, redirect URI, rotating refresh tokens", async () => {
      const signIn = await emu.control.signIn();
      expect(decodeJwt(signIn.access_token)).to.include({ upn: emu.dualWriteAdmin.username });
      const first = await refreshRequest(signIn.refresh_token);
      expect(first.status, first.text).to.equal(200);
      const renewed = first.json as Record<string, string>;
      expect(renewed.refresh_token).to.be.a("string").and.not.equal(signIn.refresh_token);
      expect(decodeJwt(renewed.access_token!)).to.include({
        aud: GATEWAY_AUDIENCE,
        appid: DUAL_WRITE_CLIENT_ID,
        upn: emu.dualWriteAdmin.username,
        scp: "user_impersonation",
      });
      const gateway = await emu.request("GET", surfaceCalls()[0]!.url, {
        token: renewed.access_token!,
      });
      expect(gateway.status, gateway.text).to.equal(200);
      // The rotated token works, and the old one is not revoked by its use (Entra's rule).
      expect((await refreshRequest(renewed.refresh_token!)).status).to.equal(200);
      expect((await refreshRequest(signIn.refresh_token)).status).to.equal(200);
    });

    it("a portal (SPA) refresh token needs Origin (AADSTS9002327) and the portal's redirect URI (AADSTS50011)", async () => {
      const { refresh_token } = await emu.control.signIn();
      const noOrigin = await refreshRequest(refresh_token, { origin: undefined });
      expect(noOrigin.status).to.equal(400);
      expectEntraError(noOrigin.json, "invalid_request", 9002327);
      const otherRedirect = await refreshRequest(refresh_token, {
        redirect_uri: "https://example.test/callback",
      });
      expect(otherRedirect.status).to.equal(400);
      expectEntraError(otherRedirect.json, "invalid_request", 50011);
    });

    it("an expired refresh token is invalid_grant: AADSTS700084 from the portal, AADSTS700082 from ROPC", async () => {
      const { refresh_token: spa } = await emu.control.signIn();
      const ropc = (
        (await passwordRequest({ scope: `${scope} offline_access` })).json as {
          refresh_token: string;
        }
      ).refresh_token;
      expect((await refreshRequest(spa)).status).to.equal(200);
      await emu.control.updateSettings({ refreshTokenLifetimeSeconds: 0 });
      try {
        const expiredSpa = await refreshRequest(spa);
        expect(expiredSpa.status).to.equal(400);
        expectEntraError(expiredSpa.json, "invalid_grant", 700084);
        const expiredRopc = await refreshRequest(ropc, { origin: undefined });
        expect(expiredRopc.status).to.equal(400);
        expectEntraError(expiredRopc.json, "invalid_grant", 700082);
      } finally {
        await emu.control.updateSettings({ refreshTokenLifetimeSeconds: 86_400 });
      }
      expect((await refreshRequest(spa)).status).to.equal(200);
    });

    it("a refresh token is never a bearer token, and an access token never a refresh token", async () => {
      const signIn = await emu.control.signIn();
      const asBearer = await emu.request("GET", surfaceCalls()[0]!.url, {
        token: signIn.refresh_token,
      });
      expect(asBearer.status).to.equal(401);
      const asRefresh = await refreshRequest(signIn.access_token);
      expect(asRefresh.status).to.equal(400);
      expectEntraError(asRefresh.json, "invalid_grant", 9002313);
      const otherClient = await refreshRequest(signIn.refresh_token, {
        client_id: emu.credentials.clientId,
        client_secret: emu.credentials.clientSecret,
      });
      expect(otherClient.status).to.equal(400);
      expectEntraError(otherClient.json, "invalid_grant", 70000);
    });

    /** The ROPC form MSAL sends (client_info and the rest optional). */
    function passwordRequest(overrides: Record<string, string | undefined>): Promise<TestResponse> {
      return form("organizations", {
        grant_type: "password",
        client_id: DUAL_WRITE_CLIENT_ID,
        username: emu.dualWriteAdmin.username,
        password: emu.dualWriteAdmin.password,
        ...overrides,
      });
    }

    /** The refresh POST exactly as TokenRefresh.cs:126-157 builds it (authority: `common`). */
    function refreshRequest(
      refreshToken: string,
      overrides: Record<string, string | undefined> = {},
    ): Promise<TestResponse> {
      // `Origin` is the portal's AbsoluteUri, with its slash (TokenRefresh.cs:136).
      const { origin, ...fields } = overrides;
      const sendOrigin = "origin" in overrides ? origin : `${PORTAL_ORIGIN}/`;
      return form(
        "common",
        {
          client_id: DUAL_WRITE_CLIENT_ID,
          scope: "https://IntegratorApp.com/.default openid profile offline_access",
          redirect_uri: PORTAL_REDIRECT_URI,
          grant_type: "refresh_token",
          refresh_token: refreshToken,
          ...fields,
        },
        sendOrigin,
      );
    }

    function form(
      tenant: string,
      fields: Record<string, string | undefined>,
      origin?: string,
    ): Promise<TestResponse> {
      const body = new URLSearchParams(
        Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined),
      ).toString();
      return emu.request("POST", `${emu.url}/${tenant}/oauth2/v2.0/token`, {
        headers: {
          "content-type": "application/x-www-form-urlencoded;charset=UTF-8",
          accept: "application/json",
          ...(origin === undefined ? {} : { origin }),
        },
        body,
      });
    }
  });

  /** POSTs a client-credentials form; `undefined` values are left out. */
  function tokenRequest(overrides: Record<string, string | undefined>) {
    const form: Record<string, string | undefined> = {
      grant_type: "client_credentials",
      client_id: emu.credentials.clientId,
      client_secret: emu.credentials.clientSecret,
      ...overrides,
    };
    const body = new URLSearchParams(
      Object.entries(form).filter((e): e is [string, string] => e[1] !== undefined),
    ).toString();
    return emu.request("POST", `${emu.url}/${emu.credentials.tenantId}/oauth2/v2.0/token`, {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
  }

  function assertion(key: import("node:crypto").KeyObject, audience: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: "RS256", x5t: "AAAA" })
      .setIssuer(emu.credentials.clientId)
      .setSubject(emu.credentials.clientId)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 600)
      .sign(key);
  }
});

function assertionForm(jwt: string): Record<string, string> {
  return {
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: jwt,
  };
}

function expectEntraError(body: unknown, error: string, code: number): void {
  const b = body as Record<string, unknown>;
  expect(b.error).to.equal(error);
  expect(b.error_codes).to.deep.equal([code]);
  expect(b.error_description).to.match(new RegExp(`^AADSTS${code}: `));
  expect(b).to.include.keys("timestamp", "trace_id", "correlation_id");
}

/** Changes one claim without re-signing. */
function tamper(token: string): string {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8")) as Record<
    string,
    unknown
  >;
  claims.exp = Number(claims.exp) + 3600;
  return [header, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
