/**
 * The dynamic providers as Pulumi serializes them into state: small, secret-free, and working
 * when loaded the way the `pulumi-resource-pulumi-nodejs` host loads them (require-from-string in
 * a directory where `pulumi-dualwrite` resolves), with credentials given only to `configure`.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider, RUNTIME_MODULE, type ResourceKind } from "../../provider/dynamic/adapter";
import { resetClientCache } from "../../provider/clients/index";
import * as runtime from "../../provider/dynamic/runtime";
import { startResourceHarness, type ResourceHarness } from "./harness";

// The host's loader (a dependency of @pulumi/pulumi).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString = require("require-from-string") as (code: string) => {
  handler: () => pulumi.dynamic.ResourceProvider;
};

const KINDS: readonly ResourceKind[] = [
  "DualWriteConnection",
  "CompanyBootstrap",
  "EntityMapBinding",
  "InitialSyncRun",
];

/** What `new dynamic.Resource` stores in `__provider`. */
async function serialized(kind: ResourceKind): Promise<string> {
  const provider = dynamicProvider(kind);
  return (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text;
}

describe("serialized dynamic providers", () => {
  let h: ResourceHarness;
  before(async () => {
    h = await startResourceHarness({ seed: [{ scenario: "existing-existing", name: "ee" }] });
  });
  after(async () => {
    resetClientCache();
    await h.close();
  });

  it("one provider object per resource type", () => {
    for (const kind of KINDS) expect(dynamicProvider(kind)).to.equal(dynamicProvider(kind));
    expect(new Set(KINDS.map(dynamicProvider)).size).to.equal(KINDS.length);
  });

  for (const kind of KINDS) {
    it(`${kind}: captures two strings and requires the runtime inside each method`, async () => {
      const text = await serialized(kind);
      expect(text).to.include(`kind: "${kind}"`);
      expect(text).to.include(`runtimeModule: "${RUNTIME_MODULE}"`);
      expect(text.match(/require\(runtimeModule\)/g)).to.have.length(7);
      // Nothing else is inlined: no module of ours, no SDK, no client, no config.
      expect(text.length).to.be.below(6_000);
      for (const word of [
        "readProviderConfig",
        "createClients",
        "got",
        "@azure/identity",
        "zod",
        "__awaiter",
      ]) {
        expect(text).not.to.include(word);
      }
    });
  }

  it("holds no secret even after the provider process was configured with one", async () => {
    runtime.configure((key) => h.stack[key]);
    runtime.context().clients({
      financeOperationsUrl: h.env("ee").financeOperationsUrl,
      dataverseUrl: h.env("ee").dataverseUrl,
    });
    for (const kind of KINDS) {
      const text = await serialized(kind);
      for (const secret of [
        h.emulator.credentials.clientSecret,
        h.emulator.credentials.tenantId,
        h.emulator.credentials.clientId,
      ]) {
        expect(text).not.to.include(secret);
      }
    }
  });

  it("works when loaded as the host loads it: configure gets the credentials, check reads the emulator", async () => {
    const text = await serialized("DualWriteConnection");
    const provider = requireFromString(text).handler();
    await provider.configure!({
      config: { get: (key: string) => h.stack[key], require: (key: string) => h.stack[key] ?? "" },
    });
    const env = h.env("ee");
    const good = {
      scenario: "existing-existing",
      financeOperationsUrl: env.financeOperationsUrl,
      dataverseUrl: env.dataverseUrl,
      legalEntities: ["USMF"],
      __provider: text,
    };
    const mark = await h.mark();
    expect(await provider.check!({}, good)).to.deep.include({ failures: [] });
    expect((await h.requestsSince(mark)).some((r) => r.surface === "gateway")).to.equal(true);
    const bad = await provider.check!({}, { ...good, legalEntities: ["TOOLONG"] });
    expect(bad.failures?.map((f) => f.property)).to.deep.equal(["legalEntities"]);
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });
});
