import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AzureCliCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  UsernamePasswordCredential,
  WorkloadIdentityCredential,
  type AccessToken,
  type TokenCredential,
} from "@azure/identity";
import {
  audienceOf,
  createCredential,
  createGatewayCredential,
  PerSurfaceCredential,
  RefreshTokenCredential,
  refreshTime,
  TokenCommandCredential,
  TokenProvider,
} from "../../provider/auth";
import { readProviderConfig } from "../../provider/config";
import { ConfigError, DualWriteError } from "../../provider/errors";

const MINUTE = 60_000;

/**
 * A credential that issues numbered tokens with a given lifetime on a fake clock. It stands in for
 * Entra ID here only; the real flow is tested against the emulator (test/provider/clients*).
 */
class CountingCredential implements TokenCredential {
  calls: string[] = [];
  private next = 1;
  constructor(
    private readonly clock: { now: number },
    private readonly lifetimeMs = 60 * MINUTE,
    private readonly delayMs = 0,
  ) {}
  async getToken(scope: string | string[]): Promise<AccessToken> {
    this.calls.push(String(scope));
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return { token: `t${this.next++}`, expiresOnTimestamp: this.clock.now + this.lifetimeMs };
  }
}

describe("auth: TokenProvider", () => {
  it("caches one token per audience, whatever the scope spelling", async () => {
    const clock = { now: 1_000_000 };
    const credential = new CountingCredential(clock);
    const tokens = new TokenProvider(credential, { now: () => clock.now });
    expect(await tokens.getToken("https://org.crm.dynamics.com/.default")).to.equal("t1");
    expect(await tokens.getToken("https://org.crm.dynamics.com/")).to.equal("t1");
    expect(await tokens.getToken("https://org.crm.dynamics.com")).to.equal("t1");
    expect(await tokens.getToken("https://IntegratorApp.com/.default")).to.equal("t2");
    expect(credential.calls).to.deep.equal([
      "https://org.crm.dynamics.com/.default",
      "https://IntegratorApp.com/.default",
    ]);
    expect(tokens.tokensAcquired).to.equal(2);
  });

  it("keeps a token until five minutes before it expires", async () => {
    const clock = { now: 0 };
    const credential = new CountingCredential(clock, 60 * MINUTE);
    const tokens = new TokenProvider(credential, { now: () => clock.now });
    await tokens.getToken("https://a/.default");
    clock.now = 55 * MINUTE - 1;
    expect(await tokens.getToken("https://a/.default")).to.equal("t1");
    clock.now = 55 * MINUTE;
    expect(await tokens.getToken("https://a/.default")).to.equal("t2");
  });

  it("shares one request among concurrent callers of an audience", async () => {
    const clock = { now: 0 };
    const credential = new CountingCredential(clock, 60 * MINUTE, 20);
    const tokens = new TokenProvider(credential, { now: () => clock.now });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => tokens.getToken("https://a/.default")),
    );
    expect(new Set(results)).to.deep.equal(new Set(["t1"]));
    expect(credential.calls).to.have.length(1);
  });

  it("asks again after invalidate", async () => {
    const clock = { now: 0 };
    const tokens = new TokenProvider(new CountingCredential(clock), { now: () => clock.now });
    await tokens.getToken("https://a/.default");
    tokens.invalidate("https://a");
    expect(await tokens.getToken("https://a/.default")).to.equal("t2");
  });

  it("reuses a token shorter-lived than the margin for half its life", async () => {
    const clock = { now: 0 };
    const tokens = new TokenProvider(new CountingCredential(clock, 2 * MINUTE), {
      now: () => clock.now,
    });
    await tokens.getToken("https://a/.default");
    clock.now = MINUTE - 1;
    expect(await tokens.getToken("https://a/.default")).to.equal("t1");
    clock.now = MINUTE;
    expect(await tokens.getToken("https://a/.default")).to.equal("t2");
  });

  it("wraps failures in an Authentication error without secrets, and does not cache them", async () => {
    let fail = true;
    const credential: TokenCredential = {
      getToken: () =>
        fail
          ? Promise.reject(
              new Error(
                "AADSTS7000215: Invalid client secret provided. client_secret=abc123\nTrace ID: …",
              ),
            )
          : Promise.resolve({ token: "ok", expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    const tokens = new TokenProvider(credential, { describe: "tenant t (dualwrite:tenantId)" });
    try {
      await tokens.getToken("https://a/.default");
      expect.fail("expected an error");
    } catch (e) {
      expect(e).to.be.instanceOf(DualWriteError);
      expect((e as DualWriteError).code).to.equal("Authentication");
      expect((e as Error).message).to.include(
        "Could not get a token for https://a/.default with tenant t (dualwrite:tenantId)",
      );
      expect((e as Error).message).to.include("AADSTS7000215");
      expect((e as Error).message).not.to.include("abc123");
    }
    fail = false;
    expect(await tokens.getToken("https://a/.default")).to.equal("ok");
  });
});

describe("auth: helpers", () => {
  it("audienceOf strips /.default and trailing slashes", () => {
    expect(audienceOf("https://x/y/.default")).to.equal("https://x/y");
    expect(audienceOf("https://x/")).to.equal("https://x");
  });

  it("refreshTime is the margin before expiry, or half the remaining life when that is later", () => {
    expect(refreshTime({ expiresOnTimestamp: 60 * MINUTE }, 0, 5 * MINUTE)).to.equal(55 * MINUTE);
    expect(refreshTime({ expiresOnTimestamp: 4 * MINUTE }, 0, 5 * MINUTE)).to.equal(2 * MINUTE);
  });
});

describe("auth: createCredential", () => {
  const dir = mkdtempSync(join(tmpdir(), "dw-auth-"));
  const file = join(dir, "token");
  writeFileSync(file, "federated-token");
  after(() => rmSync(dir, { recursive: true, force: true }));
  const base = {
    "dualwrite:tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "dualwrite:clientId": "0a1b2c3d-0000-4000-8000-000000000001",
    "dualwrite:gatewayUrl": "https://127.0.0.2:1",
    "dualwrite:authorityHost": "https://127.0.0.1:1",
  };
  const cfg = (extra: Record<string, string>) =>
    readProviderConfig((k) => ({ ...base, ...extra })[k], {});

  it("builds the credential the configuration selects", () => {
    expect(createCredential(cfg({ "dualwrite:clientSecret": "s" }))).to.be.instanceOf(
      ClientSecretCredential,
    );
    expect(createCredential(cfg({ "dualwrite:clientCertificatePath": file }))).to.be.instanceOf(
      ClientCertificateCredential,
    );
    expect(createCredential(cfg({ "dualwrite:federatedTokenFile": file }))).to.be.instanceOf(
      WorkloadIdentityCredential,
    );
    expect(createCredential(cfg({ "dualwrite:useAzureCli": "true" }))).to.be.instanceOf(
      AzureCliCredential,
    );
  });

  it("names the setting when a certificate or token file is missing", () => {
    for (const key of ["dualwrite:clientCertificatePath", "dualwrite:federatedTokenFile"]) {
      try {
        createCredential(cfg({ [key]: join(dir, "absent.pem") }));
        expect.fail("expected a ConfigError");
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        expect((e as ConfigError).property).to.equal(key);
        expect((e as Error).message).to.include("does not exist");
      }
    }
  });

  it("gives the gateway its own credential and routes scopes by audience", async () => {
    const secret = { "dualwrite:clientSecret": "s" };
    const gatewayOf = (extra: Record<string, string>) =>
      createGatewayCredential(cfg({ ...secret, ...extra }));
    expect(
      gatewayOf({ "dualwrite:gatewayUsername": "u@contoso.com", "dualwrite:gatewayPassword": "p" }),
    ).to.be.instanceOf(UsernamePasswordCredential);
    expect(gatewayOf({ "dualwrite:gatewayRefreshToken": "r" })).to.be.instanceOf(
      RefreshTokenCredential,
    );
    expect(gatewayOf({ "dualwrite:gatewayTokenCommand": "x" })).to.be.instanceOf(
      TokenCommandCredential,
    );
    expect(gatewayOf({ "dualwrite:gatewayCredential": "azureCli" })).to.be.instanceOf(
      AzureCliCredential,
    );
    expect(gatewayOf({})).to.be.instanceOf(ClientSecretCredential);
    expect(
      createCredential(cfg({ ...secret, "dualwrite:gatewayRefreshToken": "r" })),
    ).to.be.instanceOf(PerSurfaceCredential);

    const clock = { now: 0 };
    const gateway = new CountingCredential(clock);
    const app = new CountingCredential(clock);
    const routed = new PerSurfaceCredential("https://IntegratorApp.com/.default", gateway, app);
    await routed.getToken("https://integratorapp.com/.default");
    await routed.getToken(["https://IntegratorApp.com/"]);
    await routed.getToken("https://127.0.0.12:8443/.default");
    expect(gateway.calls).to.deep.equal([
      "https://integratorapp.com/.default",
      "https://IntegratorApp.com/",
    ]);
    expect(app.calls).to.deep.equal(["https://127.0.0.12:8443/.default"]);
  });
});
