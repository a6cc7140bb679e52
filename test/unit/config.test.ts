import { expect } from "chai";
import { inspect } from "node:util";
import {
  configFingerprint,
  describeConfig,
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
  "dualwrite:gatewayUrl": "https://127.0.0.1:8443/gateway/",
};

describe("config: readProviderConfig", () => {
  it("reads stack config, trims the gateway URL and defaults the gateway scope", () => {
    const cfg = readProviderConfig(stack({ ...base, "dualwrite:clientSecret": SECRET }), {});
    expect(cfg.tenantId).to.equal(TENANT);
    expect(cfg.clientId).to.equal(CLIENT);
    expect(cfg.credential).to.equal("clientSecret");
    expect(cfg.clientSecret?.reveal()).to.equal(SECRET);
    expect(cfg.gatewayUrl).to.equal("https://127.0.0.1:8443/gateway");
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
      DUALWRITE_GATEWAY_URL: "https://127.0.0.1:9443/gateway",
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
      /Missing dualwrite:gatewayUrl \(or DUALWRITE_GATEWAY_URL\)/,
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
        "authority https://login.microsoftonline.com, gateway https://127.0.0.1:8443/gateway",
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
