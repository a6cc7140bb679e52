/**
 * The provider plugin's adapter on plain values: Pulumi's wire objects (secrets, references,
 * output values) in and out, the operation's deadline (`customTimeouts`) on the lifecycle's waits,
 * and the detailed diff with replace kinds.
 */
import { expect } from "chai";
import { UNKNOWN } from "../../provider/resources/common/check";
import { DEFAULT_OPTIONS } from "../../provider/resources/common/handler";
import {
  detailedDiff,
  kindOfUrn,
  optionsUnder,
  type PluginResource,
} from "../../provider/plugin/adapter";
import { resolveReferences, SeenResources } from "../../provider/plugin/references";
import {
  OUTPUT_SIG,
  RESOURCE_SIG,
  SECRET_SIG,
  SIG_KEY,
  toPlain,
  withSecrets,
} from "../../provider/plugin/wire";
import { entityMapBindingLifecycle } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";

const binding: PluginResource = {
  kind: "EntityMapBinding",
  lifecycle: entityMapBindingLifecycle as unknown as PluginResource["lifecycle"],
  shape: {
    inputs: [
      "connection",
      "mapName",
      "version",
      "author",
      "integrationKeys",
      "state",
      "startPrerequisites",
    ],
    outputs: ["environmentId", "financeOperationsUrl", "dataverseUrl", "mapName", "state"],
  },
};
const CONNECTION_URN = "urn:pulumi:dev::p::dualwrite:index:DualWriteConnection::link";

describe("provider plugin adapter", function () {
  it("unwraps secrets, references and output values, and wraps secret outputs again", function () {
    const { values, secretKeys } = toPlain({
      mapName: { [SIG_KEY]: SECRET_SIG, value: "accounts - Customers V3" },
      connection: { [SIG_KEY]: RESOURCE_SIG, urn: CONNECTION_URN, id: "cid-1", packageVersion: "" },
      state: { [SIG_KEY]: OUTPUT_SIG, value: "Running", secret: false, dependencies: [] },
      author: { [SIG_KEY]: OUTPUT_SIG, dependencies: [] },
    });
    expect(values).to.deep.equal({
      mapName: "accounts - Customers V3",
      connection: { urn: CONNECTION_URN, id: "cid-1" },
      state: "Running",
      author: UNKNOWN,
    });
    expect([...secretKeys]).to.deep.equal(["mapName"]);
    expect(withSecrets({ mapName: "x", state: "Running" }, secretKeys)).to.deep.equal({
      mapName: { [SIG_KEY]: SECRET_SIG, value: "x" },
      state: "Running",
    });
  });

  it("resolves a connection reference from what the connection showed in this process", function () {
    const seen = new SeenResources();
    const ref = { urn: CONNECTION_URN, id: "cid-1" };
    const missing = resolveReferences("EntityMapBinding", { connection: ref }, seen);
    expect(missing.failures.map((f) => f.property)).to.deep.equal(["connection"]);
    seen.remember(CONNECTION_URN, {
      financeOperationsUrl: "https://fo.example",
      dataverseUrl: "https://dv.example",
    });
    expect(resolveReferences("EntityMapBinding", { connection: ref }, seen)).to.deep.equal({
      values: {
        environmentId: "cid-1",
        financeOperationsUrl: "https://fo.example",
        dataverseUrl: "https://dv.example",
      },
      failures: [],
    });
    // In a preview that creates the connection, its id is not known yet.
    const creating = resolveReferences(
      "EntityMapBinding",
      { connection: { ...ref, id: UNKNOWN } },
      seen,
    );
    expect(creating.values.environmentId).to.equal(UNKNOWN);
    const absent = resolveReferences("EntityMapBinding", {}, seen);
    expect(absent.failures[0]?.reason).to.match(/is required: pass the DualWriteConnection/);
  });

  it("caps every wait of the lifecycle at what is left of the operation's customTimeouts", function () {
    expect(optionsUnder(undefined)).to.equal(DEFAULT_OPTIONS);
    expect(optionsUnder({ method: "create", timeoutSeconds: 0, startedAt: 0 })).to.equal(
      DEFAULT_OPTIONS,
    );
    let now = 1_000_000;
    const options = optionsUnder(
      { method: "create", timeoutSeconds: 120, startedAt: now },
      () => now,
    );
    expect(options.mapActionTimeoutMs).to.equal(120_000);
    expect(options.initialSyncTimeoutMs).to.equal(120_000);
    now += 90_000; // a later wait of the same operation gets what is left
    expect(options.linkTimeoutMs).to.equal(30_000);
    now += 60_000; // spent: a short wait that times out clearly, not an unbounded one
    expect(options.solutionTimeoutMs).to.equal(1_000);
    const long = optionsUnder(
      { method: "update", timeoutSeconds: 48 * 3600, startedAt: now },
      () => now,
    );
    expect(long.mapActionTimeoutMs).to.equal(DEFAULT_OPTIONS.mapActionTimeoutMs);
  });

  it("reports the declared properties that differ, with replace kinds, references by what they resolve to", function () {
    const olds = {
      environmentId: "cid-1",
      financeOperationsUrl: "https://fo.example",
      dataverseUrl: "https://dv.example",
      mapName: "accounts - Customers V3",
      state: "Running",
    };
    expect(
      detailedDiff(binding, olds, { ...olds, state: "Stopped", version: "1.0.0.5" }, []),
    ).to.deep.equal({
      state: "update",
      version: "add",
    });
    expect(
      detailedDiff(binding, olds, { ...olds, financeOperationsUrl: "https://other.example" }, [
        "connection",
      ]),
    ).to.deep.equal({ connection: "updateReplace" });
    expect(detailedDiff(binding, olds, olds, [])).to.deep.equal({});
  });

  it("reads the resource kind from a URN, parent types included", function () {
    expect(kindOfUrn(CONNECTION_URN)).to.equal("DualWriteConnection");
    expect(
      kindOfUrn(
        "urn:pulumi:dev::p::dualwrite:index:DualWriteScenario$dualwrite:index:EntityMapBinding::m",
      ),
    ).to.equal("EntityMapBinding");
  });
});
