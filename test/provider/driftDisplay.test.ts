/**
 * Drift as other providers show it (issue 10, Required 10), against the in-process emulator: a
 * refresh (`read`) records what it observes in the declared properties — of the outputs and, for
 * the engine to keep, of the inputs — so that the next preview shows `observed → declared` under
 * the resource. The dynamic protocol has no detailed diff: the engine then shows the inputs that
 * differ. The plugin returns a detailed diff naming the same properties, read from the old
 * outputs. Without drift, a read changes no input.
 */
import { expect } from "chai";
import { toPluginProvider, type PluginResource } from "../../provider/plugin/adapter";
import { SeenResources } from "../../provider/plugin/references";
import { runInRequestScope, type RequestScope } from "../../provider/plugin/server";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type { DualWriteConnectionOutputs } from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type {
  EntityMapBindingInputs,
  EntityMapBindingOutputs,
} from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import { startResourceHarness, type ResourceHarness } from "./harness";

const ACCOUNTS = "accounts - Customers V3";
const PREREQUISITES = [
  "cdm_companies - Legal entities",
  "transactioncurrencies - Currencies",
  "msdyn_customergroups - Customer groups",
];
const BINDING_URN = "urn:pulumi:dev::p::dualwrite:index:EntityMapBinding::accounts";
const CONNECTION_URN = "urn:pulumi:dev::p::dualwrite:index:DualWriteConnection::link";

describe("drift recorded by refresh, shown as old → new (provider, emulator)", function () {
  this.timeout(60_000);
  let h: ResourceHarness;
  let link: DualWriteConnectionOutputs;
  let accounts: EntityMapBindingOutputs;
  const declared = (): EntityMapBindingInputs => ({
    environmentId: link.environmentId,
    financeOperationsUrl: link.financeOperationsUrl,
    dataverseUrl: link.dataverseUrl,
    mapName: ACCOUNTS,
    integrationKeys: ["accountnumber", "msdyn_company.cdm_companycode"],
    // Declared, as DualWriteScenario declares it: a default left out shows as removed instead.
    state: "Running",
  });

  before(async () => {
    h = await startResourceHarness({ seed: [{ scenario: "existing-existing", name: "ee" }] });
    link = (
      await connection.create(
        {
          scenario: "existing-existing",
          financeOperationsUrl: h.env("ee").financeOperationsUrl,
          dataverseUrl: h.env("ee").dataverseUrl,
          legalEntities: ["USMF", "DEMF"],
        },
        h.ctx(),
      )
    ).outs;
    for (const mapName of PREREQUISITES)
      await binding.create({ ...declared(), mapName, integrationKeys: undefined }, h.ctx());
    accounts = (await binding.create(declared(), h.ctx())).outs;
  });
  after(() => h.close());

  it("a read without drift changes no input", async () => {
    const read = await binding.read("x", accounts, h.ctx());
    expect(read?.inputs).to.equal(undefined);
    expect(read?.props.state).to.equal(accounts.state);
  });

  it("a read records a map stopped and a version switched by hand in the declared properties", async () => {
    await h.emulator.control.call("PUT", `maps/ee/${encodeURIComponent(ACCOUNTS)}/state`, {
      state: "Stopped",
    });
    await h.emulator.control.call("PUT", `maps/ee/${encodeURIComponent(ACCOUNTS)}/version`, {
      version: "1.0.0.4",
      author: "Microsoft",
    });
    const read = await binding.read("x", accounts, h.ctx());
    expect(read?.props).to.include({
      state: "Stopped",
      observedState: "Stopped",
      resolvedVersion: "1.0.0.4",
      activeVersion: "1.0.0.4",
    });
    expect(read?.inputs).to.include({ state: "Stopped", resolvedVersion: "1.0.0.4" });
    // What the engine shows in preview: the inputs that differ, observed → declared.
    expect(read?.inputs).to.not.have.property("observedState");

    const d = await binding.diff(
      "x",
      read!.props,
      { ...declared(), resolvedVersion: "1.0.0.5" },
      h.ctx(),
    );
    expect(d.changes).to.equal(true);
    expect(d.properties).to.have.members(["state", "resolvedVersion"]);
    expect(d.reasons.join("\n"))
      .to.include(`map ${ACCOUNTS} is Stopped; declared Running: starts it`)
      .and.to.include("switch 1.0.0.4 → 1.0.0.5");
    accounts = read!.props;
  });

  it("the plugin answers a detailed diff with those properties (old values from the outputs)", async () => {
    const resource: PluginResource = {
      kind: "EntityMapBinding",
      lifecycle: binding as unknown as PluginResource["lifecycle"],
      shape: {
        inputs: ["connection", "mapName", "version", "integrationKeys", "state"],
        outputs: ["environmentId", "mapName", "state", "resolvedVersion", "observedState"],
      },
    };
    const plugin = toPluginProvider([resource], () => h.ctx(), new SeenResources());
    const scope: RequestScope = { method: "diff", timeoutSeconds: 0, startedAt: Date.now() };
    const news = {
      ...declared(),
      resolvedVersion: "1.0.0.5",
      connection: { urn: CONNECTION_URN, id: link.environmentId },
    };
    const answer = await runInRequestScope(scope, () =>
      plugin.diff("x", BINDING_URN, { ...accounts }, news),
    );
    expect(answer.changes).to.equal(true);
    expect(scope.detailedDiff).to.deep.equal({ state: "update", resolvedVersion: "update" });
  });

  it("the connection records legal entities removed by hand the same way", async () => {
    await h.emulator.control.call("DELETE", "links/ee/legal-entities/DEMF");
    const read = await connection.read(link.environmentId, link, h.ctx());
    expect(read?.props.legalEntities).to.deep.equal(["USMF"]);
    expect(read?.inputs).to.deep.include({ legalEntities: ["USMF"] });
    const d = await connection.diff(
      link.environmentId,
      read!.props,
      {
        scenario: "existing-existing",
        financeOperationsUrl: link.financeOperationsUrl,
        dataverseUrl: link.dataverseUrl,
        legalEntities: ["USMF", "DEMF"],
      },
      h.ctx(),
    );
    expect(d.properties).to.deep.equal(["legalEntities"]);
    expect(d.reasons.join("\n")).to.include(
      "legal entities linked are USMF; declared DEMF, USMF: adds DEMF",
    );
  });
});
