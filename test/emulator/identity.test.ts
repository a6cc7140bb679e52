/**
 * Identity contract: the real `@azure/identity` gets tokens from the emulated tenant with a secret
 * and with a certificate, every surface accepts them, and refuses bad tokens with a 401 in its
 * own shape. Bad token requests get Entra's error shape.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { expect } from "chai";
import { createLocalJWKSet, decodeJwt, jwtVerify, SignJWT } from "jose";
import { GATEWAY_AUDIENCE } from "../../emulator/index";
import { startTestEmulator, type TestEmulator } from "../support/emulator";

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
      url: `${emu.gatewayUrl}/api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=${encodeURIComponent(financeOperationsUrl)}`,
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

    it("a grant other than client_credentials is AADSTS70003; no credential is AADSTS7000218", async () => {
      const grant = await tokenRequest({
        grant_type: "password",
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
    it("accepts tokens from both credential types on gateway, Dataverse and F&O", async () => {
      for (const credential of [emu.secretCredential(), emu.certificateCredential()]) {
        for (const call of surfaceCalls()) {
          const token = (await credential.getToken(`${call.resource}/.default`)).token;
          const res = await emu.request("GET", call.url, { token });
          expect(res.status, `${call.surface}: ${res.text}`).to.equal(200);
        }
      }
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
