import { expect } from "chai";
import { inspect } from "node:util";
import {
  configFingerprint,
  describeConfig,
  DUAL_WRITE_CLIENT_ID,
  readProviderConfig,
  Secret,
  type ConfigGetter,
} from "../../provider/config";
import { ConfigError } from "../../provider/errors";

const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT = "0a1b2c3d-0000-4000-8000-000000000001";
const SECRET = "very-secret-value~1";

function stack(values: Record<string, string>): ConfigGetter {
  return (key) => values[key];
}

function expectConfigError(fn: () => unknown, property: string, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as ConfigError).property).to.equal(property);
    expect((e as ConfigError).message).to.match(message);
    return;
  }
  expect.fail("expected a ConfigError");
}

const base = {
  "dualwrite:tenantId": TENANT,
  "dualwrite:clientId": CLIENT,
  "dualwrite:gatewayUrl": "https://127.0.0.2:8443/",
};

describe("config: readProviderConfig", () => {
  it("reads stack config, trims the gateway URL and defaults the gateway scope", () => {
    const cfg = readProviderConfig(stack({ ...base, "dualwrite:clientSecret": SECRET }), {});
    expect(cfg.tenantId).to.equal(TENANT);
    expect(cfg.clientId).to.equal(CLIENT);
    expect(cfg.credential).to.equal("clientSecret");
    expect(cfg.clientSecret?.reveal()).to.equal(SECRET);
    expect(cfg.gatewayUrl).to.equal("https://127.0.0.2:8443");
    expect(cfg.gatewayScope).to.equal("https://IntegratorApp.com/.default");
    expect(cfg.authorityHost).to.equal(undefined);
    expect(cfg.sources).to.include({
      tenantId: "dualwrite:tenantId",
      clientSecret: "dualwrite:clientSecret",
    });
  });

  it("falls back to the AZURE_* and DUALWRITE_* environment variables, setting by setting", () => {
    const cfg = readProviderConfig(stack({ "dualwrite:clientId": CLIENT }), {
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: "ignored-because-stack-config-wins",
      AZURE_CLIENT_SECRET: SECRET,
      AZURE_AUTHORITY_HOST: "https://127.0.0.1:9443",
      DUALWRITE_GATEWAY_URL: "https://127.0.0.2:9443",
    });
    expect(cfg.clientId).to.equal(CLIENT);
    expect(cfg.tenantId).to.equal(TENANT);
    expect(cfg.authorityHost).to.equal("https://127.0.0.1:9443");
    expect(cfg.sources).to.include({
      tenantId: "AZURE_TENANT_ID",
      clientId: "dualwrite:clientId",
      clientSecret: "AZURE_CLIENT_SECRET",
    });
  });

  it("selects the certificate, workload identity and Azure CLI credentials", () => {
    const cert = readProviderConfig(
      stack({ ...base, "dualwrite:clientCertificatePath": "/tmp/c.pem" }),
      {
        AZURE_CLIENT_CERTIFICATE_PASSWORD: "pw",
      },
    );
    expect([
      cert.credential,
      cert.clientCertificatePath,
      cert.clientCertificatePassword?.reveal(),
    ]).to.deep.equal(["clientCertificate", "/tmp/c.pem", "pw"]);
    const wi = readProviderConfig(stack(base), { AZURE_FEDERATED_TOKEN_FILE: "/var/run/token" });
    expect([wi.credential, wi.federatedTokenFile]).to.deep.equal([
      "workloadIdentity",
      "/var/run/token",
    ]);
    const cli = readProviderConfig(
      stack({ "dualwrite:useAzureCli": "true", "dualwrite:gatewayUrl": "https://h/gw" }),
      {},
    );
    expect([cli.credential, cli.useAzureCli, cli.tenantId, cli.clientId]).to.deep.equal([
      "azureCli",
      true,
      "",
      "",
    ]);
  });

  it("prefers a stack-config credential over one in the environment", () => {
    const cfg = readProviderConfig(
      stack({ ...base, "dualwrite:clientCertificatePath": "/tmp/c.pem" }),
      {
        AZURE_CLIENT_SECRET: SECRET,
      },
    );
    expect(cfg.credential).to.equal("clientCertificate");
    expect(cfg.clientSecret).to.equal(undefined);
  });

  it("refuses two credentials from the same source", () => {
    expectConfigError(
      () =>
        readProviderConfig(
          stack({
            ...base,
            "dualwrite:clientSecret": SECRET,
            "dualwrite:clientCertificatePath": "/c.pem",
          }),
          {},
        ),
      "dualwrite:clientSecret",
      /Set only one credential, not dualwrite:clientSecret and dualwrite:clientCertificatePath/,
    );
  });

  it("says which setting is missing and how to set it", () => {
    expectConfigError(
      () => readProviderConfig(stack(base), {}),
      "dualwrite:clientSecret",
      /pulumi config set --secret dualwrite:clientSecret/,
    );
    expectConfigError(
      () =>
        readProviderConfig(
          stack({ "dualwrite:clientId": CLIENT, "dualwrite:clientSecret": SECRET }),
          {},
        ),
      "dualwrite:tenantId",
      /Missing dualwrite:tenantId \(or AZURE_TENANT_ID\)/,
    );
    expectConfigError(
      () =>
        readProviderConfig(
          stack({
            "dualwrite:tenantId": TENANT,
            "dualwrite:clientId": CLIENT,
            "dualwrite:clientSecret": SECRET,
          }),
          {},
        ),
      "dualwrite:gatewayUrl",
      // How to find it: the tool reads it from the portal's traffic (EdgeUniversal.cs:301-343).
      /Missing dualwrite:gatewayUrl \(or DUALWRITE_GATEWAY_URL\).*projectmanagementservice\.<region>\.gateway\.prod\.island\.powerapps\.com.*developer tools.*DualWriteManagement.*EdgeUniversal\.cs/s,
    );
  });

  it("rejects non-https URLs, malformed tenants and non-boolean flags", () => {
    const ok = { ...base, "dualwrite:clientSecret": SECRET };
    expectConfigError(
      () =>
        readProviderConfig(stack({ ...ok, "dualwrite:authorityHost": "http://127.0.0.1:1" }), {}),
      "dualwrite:authorityHost",
      /must use https:\/\//,
    );
    expectConfigError(
      () => readProviderConfig(stack({ ...ok, "dualwrite:gatewayUrl": "not a url" }), {}),
      "dualwrite:gatewayUrl",
      /absolute https:\/\/ URL/,
    );
    expectConfigError(
      () => readProviderConfig(stack({ ...ok, "dualwrite:tenantId": "a/b" }), {}),
      "dualwrite:tenantId",
      /GUID or domain/,
    );
    expectConfigError(
      () => readProviderConfig(stack({ ...base, "dualwrite:useAzureCli": "maybe" }), {}),
      "dualwrite:useAzureCli",
      /true or false/,
    );
  });

  it("treats empty values as unset", () => {
    const cfg = readProviderConfig(
      stack({ ...base, "dualwrite:clientSecret": "", "dualwrite:authorityHost": " " }),
      {
        AZURE_CLIENT_SECRET: SECRET,
      },
    );
    expect(cfg.sources.clientSecret).to.equal("AZURE_CLIENT_SECRET");
    expect(cfg.authorityHost).to.equal(undefined);
  });
});

describe("config: secrets stay hidden", () => {
  const cfg = readProviderConfig(stack({ ...base, "dualwrite:clientSecret": SECRET }), {});

  it("never shows the secret in JSON, inspect, String or describeConfig", () => {
    expect(JSON.stringify(cfg)).not.to.include(SECRET);
    expect(inspect(cfg, { depth: 10, showHidden: true })).not.to.include(SECRET);
    expect(`${String(cfg.clientSecret)}`).to.equal("[secret]");
    expect(describeConfig(cfg)).not.to.include(SECRET);
    expect(describeConfig(cfg)).to.equal(
      `tenant ${TENANT} (dualwrite:tenantId), client ${CLIENT} (dualwrite:clientId), client secret (dualwrite:clientSecret), ` +
        "authority https://login.microsoftonline.com, gateway https://127.0.0.2:8443",
    );
  });

  it("keeps the secret through object spread", () => {
    const copy = { ...cfg };
    expect(copy.clientSecret).to.be.instanceOf(Secret);
    expect(copy.clientSecret?.reveal()).to.equal(SECRET);
  });

  it("fingerprints differ when only the secret differs, and do not contain it", () => {
    const other = readProviderConfig(
      stack({ ...base, "dualwrite:clientSecret": `${SECRET}x` }),
      {},
    );
    expect(configFingerprint(cfg)).to.not.equal(configFingerprint(other));
    expect(configFingerprint(cfg)).to.equal(
      configFingerprint(
        readProviderConfig(stack({ ...base, "dualwrite:clientSecret": SECRET }), {}),
      ),
    );
    expect(configFingerprint(cfg)).to.match(/^[0-9a-f]{64}$/);
  });
});

describe("config: the gateway's own credential", () => {
  const app = { ...base, "dualwrite:clientSecret": SECRET };
  const PASSWORD = "fixture-gateway-password";
  const REFRESH = "fixture-refresh-token";

  it("defaults to the app credential, or to the Azure CLI when the app uses it", () => {
    expect(readProviderConfig(stack(app), {}).gateway).to.deep.equal({ kind: "app" });
    const cli = readProviderConfig(
      stack({ "dualwrite:useAzureCli": "true", "dualwrite:gatewayUrl": "https://h" }),
      {},
    );
    expect(cli.gateway).to.deep.equal({ kind: "azureCli" });
  });

  it("infers password from a username, with the first-party client and the tenant", () => {
    const cfg = readProviderConfig(
      stack({
        ...app,
        "dualwrite:gatewayUsername": "dwadmin@contoso.onmicrosoft.com",
        "dualwrite:gatewayPassword": PASSWORD,
      }),
      {},
    );
    const g = cfg.gateway;
    if (g.kind !== "password") throw new Error(`expected password, got ${g.kind}`);
    expect([g.username, g.password.reveal(), g.clientId, g.tenantId]).to.deep.equal([
      "dwadmin@contoso.onmicrosoft.com",
      PASSWORD,
      DUAL_WRITE_CLIENT_ID,
      TENANT,
    ]);
    expect(DUAL_WRITE_CLIENT_ID).to.equal("2e49aa60-1bd3-43b6-8ab6-03ada3d9f08b");
    // The app credential stays what it was, for Dataverse and F&O.
    expect(cfg.credential).to.equal("clientSecret");
  });

  it("takes tenant 'organizations' when no tenant is known (Azure CLI app), and honours overrides", () => {
    const cfg = readProviderConfig(
      stack({
        "dualwrite:useAzureCli": "true",
        "dualwrite:gatewayUrl": "https://h",
        "dualwrite:gatewayUsername": "u@contoso.com",
        "dualwrite:gatewayPassword": PASSWORD,
      }),
      {},
    );
    expect(cfg.gateway).to.include({ kind: "password", tenantId: "organizations" });
    const custom = readProviderConfig(
      stack({
        ...app,
        "dualwrite:gatewayRefreshToken": REFRESH,
        "dualwrite:gatewayClientId": CLIENT,
        "dualwrite:gatewayTenantId": "common",
      }),
      {},
    );
    expect(custom.gateway).to.include({
      kind: "refreshToken",
      clientId: CLIENT,
      tenantId: "common",
    });
  });

  it("infers refreshToken and tokenCommand, and reads DUALWRITE_GATEWAY_* from the environment", () => {
    const refresh = readProviderConfig(stack(app), { DUALWRITE_GATEWAY_REFRESH_TOKEN: REFRESH });
    expect(refresh.gateway.kind).to.equal("refreshToken");
    expect(refresh.sources.gatewayRefreshToken).to.equal("DUALWRITE_GATEWAY_REFRESH_TOKEN");
    const command = readProviderConfig(
      stack({ ...app, "dualwrite:gatewayTokenCommand": "get-token --for dual-write" }),
      {},
    );
    expect(command.gateway).to.deep.equal({
      kind: "tokenCommand",
      command: "get-token --for dual-write",
    });
    const env = readProviderConfig(stack(app), {
      DUALWRITE_GATEWAY_USERNAME: "u@contoso.com",
      DUALWRITE_GATEWAY_PASSWORD: PASSWORD,
    });
    expect(env.gateway).to.include({ kind: "password", username: "u@contoso.com" });
  });

  it("lets dualwrite:gatewayCredential choose, also against inputs set for another kind", () => {
    const cfg = readProviderConfig(
      stack({
        ...app,
        "dualwrite:gatewayCredential": "azureCli",
        "dualwrite:gatewayUsername": "u@contoso.com",
      }),
      {},
    );
    expect(cfg.gateway).to.deep.equal({ kind: "azureCli", tenantId: TENANT });
    const both = readProviderConfig(
      stack({
        ...app,
        "dualwrite:gatewayCredential": "refreshToken",
        "dualwrite:gatewayUsername": "u@contoso.com",
        "dualwrite:gatewayRefreshToken": REFRESH,
      }),
      {},
    );
    expect(both.gateway.kind).to.equal("refreshToken");
    expect(
      readProviderConfig(stack({ ...app, "dualwrite:gatewayCredential": "app" }), {}).gateway,
    ).to.deep.equal({ kind: "app" });
  });

  it("refuses an unknown kind, a kind without its inputs, two inputs, and a client id that is no GUID", () => {
    expectConfigError(
      () => readProviderConfig(stack({ ...app, "dualwrite:gatewayCredential": "browser" }), {}),
      "dualwrite:gatewayCredential",
      /must be one of password, refreshToken, azureCli, tokenCommand, app; got "browser"/,
    );
    expectConfigError(
      () => readProviderConfig(stack({ ...app, "dualwrite:gatewayUsername": "u@contoso.com" }), {}),
      "dualwrite:gatewayPassword",
      /gatewayCredential is password, so dualwrite:gatewayPassword \(or DUALWRITE_GATEWAY_PASSWORD\) must be set.*--secret/,
    );
    expectConfigError(
      () =>
        readProviderConfig(stack({ ...app, "dualwrite:gatewayCredential": "tokenCommand" }), {}),
      "dualwrite:gatewayTokenCommand",
      /must be set to a command that prints an access token/,
    );
    expectConfigError(
      () =>
        readProviderConfig(
          stack({
            ...app,
            "dualwrite:gatewayUsername": "u@contoso.com",
            "dualwrite:gatewayRefreshToken": REFRESH,
          }),
          {},
        ),
      "dualwrite:gatewayCredential",
      /dualwrite:gatewayUsername and dualwrite:gatewayRefreshToken are both set: set dualwrite:gatewayCredential to password or refreshToken/,
    );
    expectConfigError(
      () =>
        readProviderConfig(
          stack({
            ...app,
            "dualwrite:gatewayRefreshToken": REFRESH,
            "dualwrite:gatewayClientId": "x",
          }),
          {},
        ),
      "dualwrite:gatewayClientId",
      /must be an application \(client\) id, a GUID/,
    );
  });

  it("never shows the gateway password, refresh token or token command; fingerprints tell them apart", () => {
    const password = readProviderConfig(
      stack({
        ...app,
        "dualwrite:gatewayUsername": "u@contoso.com",
        "dualwrite:gatewayPassword": PASSWORD,
      }),
      {},
    );
    const refresh = readProviderConfig(
      stack({ ...app, "dualwrite:gatewayRefreshToken": REFRESH }),
      {},
    );
    const command = readProviderConfig(
      stack({ ...app, "dualwrite:gatewayTokenCommand": "print-token --key K3Y" }),
      {},
    );
    for (const cfg of [password, refresh, command]) {
      for (const text of [
        JSON.stringify(cfg),
        inspect(cfg, { depth: 10, showHidden: true }),
        describeConfig(cfg),
      ]) {
        expect(text).not.to.include(PASSWORD);
        expect(text).not.to.include(REFRESH);
      }
      expect(describeConfig(cfg)).not.to.include("K3Y");
    }
    expect(describeConfig(password)).to.equal(
      `tenant ${TENANT} (dualwrite:tenantId), client ${CLIENT} (dualwrite:clientId), client secret (dualwrite:clientSecret), ` +
        "authority https://login.microsoftonline.com, gateway https://127.0.0.2:8443, " +
        `gateway sign-in: password of u@contoso.com (dualwrite:gatewayUsername), client ${DUAL_WRITE_CLIENT_ID}, tenant ${TENANT}`,
    );
    expect(describeConfig(refresh)).to.contain(
      "gateway sign-in: refresh token (dualwrite:gatewayRefreshToken)",
    );
    expect(describeConfig(command)).to.contain(
      "gateway sign-in: token command (dualwrite:gatewayTokenCommand)",
    );
    const otherPassword = readProviderConfig(
      stack({
        ...app,
        "dualwrite:gatewayUsername": "u@contoso.com",
        "dualwrite:gatewayPassword": `${PASSWORD}x`,
      }),
      {},
    );
    expect(configFingerprint(password)).not.to.equal(configFingerprint(otherPassword));
    expect(configFingerprint(password)).not.to.equal(
      configFingerprint(readProviderConfig(stack(app), {})),
    );
  });
});
