/**
 * The gateway's sign-in, per credential route, against the emulated tenant: each route gives the
 * gateway a token it accepts (a user's, delegated) while Dataverse and F&O keep the app's token;
 * the refresh-token route renews as TokenRefresh.cs does and keeps the rotated token in memory;
 * an expired refresh token, a failing token command and a wrong password fail with a clear
 * message that holds no secret. App-only tokens at the gateway are refused by default.
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { decodeJwt } from "jose";
import {
  createCredential,
  parseTokenOutput,
  PerSurfaceCredential,
  TokenProvider,
} from "../../provider/auth";
import { readProviderConfig, type ProviderConfig } from "../../provider/config";
import { DualWriteError } from "../../provider/errors";
import { startTestEmulator, type TestEmulator } from "../support/emulator";

const GATEWAY_SCOPE = "https://IntegratorApp.com/.default";

describe("provider auth: the gateway's own sign-in", () => {
  let emu: TestEmulator;
  let dir: string;

  before(async () => {
    emu = await startTestEmulator({ seed: "new-new", log: () => undefined });
    dir = await mkdtemp(join(tmpdir(), "dw-gateway-auth-"));
  });
  after(async () => {
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Stack config for the emulator plus `gateway` settings (empty environment). */
  function config(gateway: Record<string, string>): ProviderConfig {
    const values: Record<string, string> = {
      "dualwrite:tenantId": emu.credentials.tenantId,
      "dualwrite:clientId": emu.credentials.clientId,
      "dualwrite:clientSecret": emu.credentials.clientSecret,
      "dualwrite:authorityHost": emu.url,
      "dualwrite:gatewayUrl": emu.gatewayUrl,
      "dualwrite:caCertificatePath": emu.caCertPath,
      ...gateway,
    };
    return readProviderConfig((key) => values[key], {});
  }

  /** The Environments call of the gateway with a token: its status. */
  async function gatewayStatus(token: string): Promise<number> {
    const host = new URL(emu.environments[0]!.financeOperationsUrl).hostname;
    const res = await emu.request(
      "GET",
      `${emu.gatewayUrl}/api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=${host}`,
      { token },
    );
    return res.status;
  }

  async function failure(p: Promise<unknown>): Promise<Error> {
    try {
      await p;
    } catch (e) {
      return e as Error;
    }
    throw new Error("expected a failure");
  }

  it("password: a delegated gateway token (UsernamePasswordCredential), app tokens for Dataverse", async () => {
    const cfg = config({
      "dualwrite:gatewayUsername": emu.dualWriteAdmin.username,
      "dualwrite:gatewayPassword": emu.dualWriteAdmin.password,
    });
    const credential = createCredential(cfg);
    expect(credential).to.be.instanceOf(PerSurfaceCredential);
    const tokens = new TokenProvider(credential);
    const gateway = await tokens.getToken(GATEWAY_SCOPE);
    expect(decodeJwt(gateway)).to.include({
      upn: emu.dualWriteAdmin.username,
      scp: "user_impersonation",
      appid: "2e49aa60-1bd3-43b6-8ab6-03ada3d9f08b",
    });
    expect(await gatewayStatus(gateway)).to.equal(200);
    const dataverseUrl = emu.environments[0]!.dataverseUrl;
    const dataverse = await tokens.getToken(`${dataverseUrl}/.default`);
    expect(decodeJwt(dataverse)).to.include({ appid: emu.credentials.clientId, idtyp: "app" });
    expect(decodeJwt(dataverse).upn).to.equal(undefined);
  });

  it("password: a wrong password fails naming the AADSTS code, never the password", async () => {
    const wrong = "Wr0ng!password-value";
    const cfg = config({
      "dualwrite:gatewayUsername": emu.dualWriteAdmin.username,
      "dualwrite:gatewayPassword": wrong,
    });
    const e = await failure(new TokenProvider(createCredential(cfg)).getToken(GATEWAY_SCOPE));
    expect(e).to.be.instanceOf(DualWriteError);
    expect(e.message).to.contain("AADSTS50126");
    expect(e.message).not.to.contain(wrong);
  });

  it("refreshToken: renews a portal sign-in with Origin and keeps the rotated token in memory", async () => {
    // A refresh token issued to a non-SPA redemption counts its lifetime from its own issue, so
    // the rotated one outlives the first: proof that the credential redeems the newest.
    const ropc = await emu.request("POST", `${emu.url}/organizations/oauth2/v2.0/token`, {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "password",
        client_id: "2e49aa60-1bd3-43b6-8ab6-03ada3d9f08b",
        username: emu.dualWriteAdmin.username,
        password: emu.dualWriteAdmin.password,
        scope: `${GATEWAY_SCOPE} offline_access`,
      }).toString(),
    });
    const first = (ropc.json as { refresh_token: string }).refresh_token;
    const credential = createCredential(config({ "dualwrite:gatewayRefreshToken": first }));
    await new Promise((r) => setTimeout(r, 2100));
    const renewed = await credential.getToken(GATEWAY_SCOPE);
    expect(decodeJwt(renewed!.token)).to.include({ upn: emu.dualWriteAdmin.username });
    expect(await gatewayStatus(renewed!.token)).to.equal(200);
    await emu.control.updateSettings({ refreshTokenLifetimeSeconds: 2 });
    try {
      // The first token is now past its lifetime; the rotated one (issued 2 s later) is not.
      const again = await credential.getToken(GATEWAY_SCOPE);
      expect(await gatewayStatus(again!.token)).to.equal(200);
      const stale = createCredential(config({ "dualwrite:gatewayRefreshToken": first }));
      const e = await failure(stale.getToken(GATEWAY_SCOPE));
      expect(e.message).to.contain("the refresh token has expired");
    } finally {
      await emu.control.updateSettings({ refreshTokenLifetimeSeconds: 86_400 });
    }
  });

  it("refreshToken: a portal (single-page app) token works, and once expired says to sign in again", async () => {
    const signIn = await emu.control.signIn();
    const cfg = config({ "dualwrite:gatewayRefreshToken": signIn.refresh_token });
    const tokens = new TokenProvider(createCredential(cfg), { describe: "test" });
    // Entra redeems an SPA token only cross-origin: this works because Origin is sent.
    expect(await gatewayStatus(await tokens.getToken(GATEWAY_SCOPE))).to.equal(200);
    await emu.control.updateSettings({ refreshTokenLifetimeSeconds: 0 });
    try {
      const expired = new TokenProvider(createCredential(cfg));
      const e = await failure(expired.getToken(GATEWAY_SCOPE));
      expect(e.message).to.contain(
        "the refresh token has expired: sign in again and set dualwrite:gatewayRefreshToken",
      );
      expect(e.message).to.contain("AADSTS700084");
      expect(e.message).not.to.contain(signIn.refresh_token);
    } finally {
      await emu.control.updateSettings({ refreshTokenLifetimeSeconds: 86_400 });
    }
  });

  it("tokenCommand: a raw JWT or az-style JSON on stdout; the scope in DUALWRITE_TOKEN_SCOPE", async () => {
    const delegated = await emu.token("https://IntegratorApp.com");
    const tokenFile = join(dir, "token.txt");
    await writeFile(tokenFile, delegated);
    const script = join(dir, "print-token.js");
    await writeFile(
      script,
      `const fs = require("fs");
       if (process.env.DUALWRITE_TOKEN_SCOPE !== ${JSON.stringify(GATEWAY_SCOPE)}) { console.error("wrong scope " + process.env.DUALWRITE_TOKEN_SCOPE); process.exit(3); }
       const token = fs.readFileSync(${JSON.stringify(tokenFile)}, "utf8");
       if (process.argv[2] === "json") process.stdout.write(JSON.stringify({ accessToken: token, expiresOn: "2999-01-01 00:00:00.000000", expires_on: 32503680000 }));
       else process.stdout.write("\\n" + token + "\\n");`,
    );
    await chmod(script, 0o700);
    for (const form of ["raw", "json"]) {
      const cfg = config({
        "dualwrite:gatewayTokenCommand": `"${process.execPath}" "${script}" ${form}`,
      });
      const token = await new TokenProvider(createCredential(cfg)).getToken(GATEWAY_SCOPE);
      expect(token, form).to.equal(delegated);
      expect(await gatewayStatus(token), form).to.equal(200);
    }
  });

  it("tokenCommand: a failing command or unusable output is an error that shows no output", async () => {
    const failing = config({
      "dualwrite:gatewayTokenCommand": `"${process.execPath}" -e "console.error('not signed in'); process.exit(7)"`,
    });
    const e = await failure(new TokenProvider(createCredential(failing)).getToken(GATEWAY_SCOPE));
    expect(e.message).to.contain(
      "dualwrite:gatewayTokenCommand failed with exit code 7: not signed in",
    );
    const garbage = config({
      "dualwrite:gatewayTokenCommand": `"${process.execPath}" -e "process.stdout.write('s3cret-but-no-token')"`,
    });
    const g = await failure(new TokenProvider(createCredential(garbage)).getToken(GATEWAY_SCOPE));
    expect(g.message).to.contain("printed neither a JWT nor JSON");
    expect(g.message).not.to.contain("s3cret");
  });

  it("parses the outputs of common token commands", () => {
    const now = Date.UTC(2030, 0, 1);
    const jwt = `e30.${Buffer.from(JSON.stringify({ exp: 1_900_000_000 })).toString("base64url")}.sig`;
    expect(parseTokenOutput(jwt, now)).to.deep.equal({
      token: jwt,
      expiresOnTimestamp: 1_900_000_000_000,
    });
    expect(parseTokenOutput('{"access_token":"abc","expires_on":"1900000000"}', now)).to.deep.equal(
      { token: "abc", expiresOnTimestamp: 1_900_000_000_000 },
    );
    // No expiry anywhere: five minutes, so it is asked again soon.
    expect(parseTokenOutput('{"accessToken":"abc"}', now)).to.deep.equal({
      token: "abc",
      expiresOnTimestamp: now + 300_000,
    });
    expect(parseTokenOutput("not a token", now)).to.equal(undefined);
    expect(parseTokenOutput('{"token":"abc"}', now)).to.equal(undefined);
  });

  it("app: the gateway gets the app-only token, which it refuses by default", async () => {
    const cfg = config({ "dualwrite:gatewayCredential": "app" });
    const tokens = new TokenProvider(createCredential(cfg));
    const token = await tokens.getToken(GATEWAY_SCOPE);
    expect(decodeJwt(token).scp).to.equal(undefined);
    expect(await gatewayStatus(token)).to.equal(401);
  });
});
