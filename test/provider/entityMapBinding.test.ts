/**
 * EntityMapBinding against the in-process emulator: prerequisites, the full lifecycle, a map
 * stopped by hand (drift seen by diff and read, fixed by update), adoption of a running map,
 * version and key changes, and delete (stops the map, deletes no row).
 */
import { expect } from "chai";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type { DualWriteConnectionOutputs } from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type {
  EntityMapBindingInputs,
  EntityMapBindingOutputs,
} from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import { UNKNOWN } from "../../provider/resources/common/check";
import { startResourceHarness, type ResourceHarness } from "./harness";

const ACCOUNTS = "accounts - Customers V3";
const CONTACTS = "contacts - Customers V3";
const LEGAL_ENTITIES = "cdm_companies - Legal entities";
const CURRENCIES = "transactioncurrencies - Currencies";
const GROUPS = "msdyn_customergroups - Customer groups";

describe("EntityMapBinding (provider, emulator)", () => {
  let h: ResourceHarness;
  let link: DualWriteConnectionOutputs;
  const made: Record<string, EntityMapBindingOutputs> = {};

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
  });
  after(() => h.close());

  const inputs = (
    mapName: string,
    extra: Partial<EntityMapBindingInputs> = {},
  ): EntityMapBindingInputs => ({
    environmentId: link.environmentId,
    financeOperationsUrl: link.financeOperationsUrl,
    dataverseUrl: link.dataverseUrl,
    mapName,
    ...extra,
  });
  const mapState = async (name: string): Promise<string> => {
    const maps = await h.emulator.control.call<
      { name: string; stateName?: string; state: number | string }[]
    >("GET", "maps?env=ee");
    const m = maps.find((x) => x.name === name);
    return String(m?.stateName ?? m?.state);
  };

  it("check accepts a catalog map with reads only", async () => {
    const mark = await h.mark();
    expect(await binding.check({}, { ...inputs(ACCOUNTS) }, h.ctx())).to.deep.equal([]);
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });

  it("refuses to start a map whose prerequisites are not running, naming them, with zero writes", async () => {
    const mark = await h.mark();
    let error: unknown;
    try {
      await binding.create(inputs(ACCOUNTS), h.ctx());
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(Error);
    const message = (error as Error).message;
    for (const pre of [LEGAL_ENTITIES, CURRENCIES, GROUPS]) expect(message).to.include(pre);
    expect(message).to.match(/startPrerequisites: true/);
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });

  it("starts prerequisites first, then the map (full create)", async () => {
    for (const name of [LEGAL_ENTITIES, CURRENCIES, GROUPS]) {
      made[name] = (await binding.create(inputs(name), h.ctx())).outs;
      expect(made[name].observedState).to.equal("Running");
    }
    const { id, outs } = await binding.create(inputs(ACCOUNTS), h.ctx());
    made[ACCOUNTS] = outs;
    // A map is known by its name: its tid is the active version's id, which a switch changes.
    expect(id).to.equal(`${link.environmentId}/${ACCOUNTS}`);
    expect(outs.projectId).to.not.equal("");
    expect(outs.observedState).to.equal("Running");
    expect(outs.activeVersion).to.equal("1.0.0.5");
    expect(outs.prerequisiteMaps).to.have.members([LEGAL_ENTITIES, CURRENCIES, GROUPS]);
    expect(outs.dataverseEntitySet).to.equal("accounts");
  });

  it("diff after create shows no change, with reads only", async () => {
    const mark = await h.mark();
    const d = await binding.diff("x", made[ACCOUNTS]!, inputs(ACCOUNTS), h.ctx());
    expect(d).to.deep.include({ changes: false, replaces: [] });
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });

  it("an environment id not known yet (the connection updated in a preview) is no change", async () => {
    const d = await binding.diff(
      "x",
      made[ACCOUNTS]!,
      { ...inputs(ACCOUNTS), environmentId: UNKNOWN },
      h.ctx(),
    );
    expect(d).to.deep.include({ changes: false, replaces: [] });
  });

  it("a map stopped by hand shows in diff and read; update restarts it", async () => {
    await h.emulator.control.call("PUT", `maps/ee/${encodeURIComponent(ACCOUNTS)}/state`, {
      state: "Stopped",
    });
    const d = await binding.diff("x", made[ACCOUNTS]!, inputs(ACCOUNTS), h.ctx());
    expect(d.changes).to.equal(true);
    expect(d.reasons.join(" ")).to.include(`map ${ACCOUNTS} is Stopped; declared Running`);
    const read = await binding.read("x", made[ACCOUNTS]!, h.ctx());
    expect(read?.props.observedState).to.equal("Stopped");
    const mark = await h.mark();
    made[ACCOUNTS] = await binding.update("x", read!.props, inputs(ACCOUNTS), h.ctx());
    expect(made[ACCOUNTS].observedState).to.equal("Running");
    const writes = await h.writesSince(mark);
    expect(writes.map((w) => `${w.method} ${w.path}`)).to.deep.equal([
      "POST /api/DualWriteManagement/1.0/Start",
    ]);
    expect(await mapState(ACCOUNTS)).to.match(/Running|4/);
  });

  it("adopts a map that already runs as declared, without writing", async () => {
    const mark = await h.mark();
    const { outs } = await binding.create(inputs(ACCOUNTS), h.ctx());
    expect(outs.observedState).to.equal("Running");
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });

  it("a version change stops the map, switches the version and restarts it", async () => {
    const news = inputs(ACCOUNTS, { version: "1.0.0.4", author: "Microsoft" });
    const d = await binding.diff("x", made[ACCOUNTS]!, news, h.ctx());
    expect(d.changes).to.equal(true);
    expect(d.reasons.join(" ")).to.match(/runs version 1\.0\.0\.5; declared 1\.0\.0\.4/);
    const mark = await h.mark();
    const before = made[ACCOUNTS]!;
    made[ACCOUNTS] = await binding.update("x", before, news, h.ctx());
    expect(made[ACCOUNTS].activeVersion).to.equal("1.0.0.4");
    expect(made[ACCOUNTS].observedState).to.equal("Running");
    // The tid follows the active version; the project stays.
    expect(made[ACCOUNTS].mapId).to.not.equal(before.mapId);
    expect(made[ACCOUNTS].projectId).to.equal(before.projectId);
    const writes = (await h.writesSince(mark)).map(
      (w) =>
        `${w.method} ${w.path.replace(/SwitchActive\/.*/, "SwitchActive/…").replace(/Project\/.*\/Refresh/, "Project/…/Refresh")}`,
    );
    // Stop, switch, refresh the tables (DWMapEngine.cs:1383-1400), start.
    expect(writes).to.deep.equal([
      "POST /api/DualWriteManagement/1.0/Start",
      "POST /api/DualWriteManagement/1.0/SolutionAware/" + link.environmentId + "/SwitchActive/…",
      "POST /api/Project/…/Refresh",
      "POST /api/DualWriteManagement/1.0/Start",
    ]);
    expect((await binding.diff("x", made[ACCOUNTS], news, h.ctx())).changes).to.equal(false);
  });

  it("a version changed by hand is drift that diff reports", async () => {
    await h.emulator.control.call("PUT", `maps/ee/${encodeURIComponent(ACCOUNTS)}/version`, {
      version: "1.0.0.1",
      author: "Contoso",
    });
    const news = inputs(ACCOUNTS, { version: "1.0.0.4", author: "Microsoft" });
    const d = await binding.diff("x", made[ACCOUNTS]!, news, h.ctx());
    expect(d.reasons.join(" ")).to.match(/runs version 1\.0\.0\.1; declared 1\.0\.0\.4/);
    made[ACCOUNTS] = await binding.update("x", made[ACCOUNTS]!, news, h.ctx());
    expect(made[ACCOUNTS].activeVersion).to.equal("1.0.0.4");
  });

  it("integration keys are set with the map stopped, then it runs again", async () => {
    const keys = ["accountnumber", "msdyn_company.cdm_companycode", "name"];
    const news = inputs(ACCOUNTS, {
      version: "1.0.0.4",
      author: "Microsoft",
      integrationKeys: keys,
    });
    const d = await binding.diff("x", made[ACCOUNTS]!, news, h.ctx());
    expect(d.reasons.join(" ")).to.match(
      /integration keys are accountnumber, msdyn_company\.cdm_companycode; declared/,
    );
    const mark = await h.mark();
    made[ACCOUNTS] = await binding.update("x", made[ACCOUNTS]!, news, h.ctx());
    expect(made[ACCOUNTS].integrationKeysInEffect).to.deep.equal(keys);
    // Written to the dataset the connection set names for the CRM side (DWMapEngine.cs:1501-1503):
    // for a link the provider made, the Dataverse host name (newLinkRequest, CHOICE).
    const keyWrites = (await h.writesSince(mark)).filter((w) =>
      w.path.endsWith("/IntegrationKeys"),
    );
    expect(keyWrites.map((w) => w.path)).to.deep.equal([
      `/api/dataset/${new URL(link.dataverseUrl).hostname}/IntegrationKeys`,
    ]);
    expect(made[ACCOUNTS].observedState).to.equal("Running");
    expect((await binding.diff("x", made[ACCOUNTS], news, h.ctx())).changes).to.equal(false);
  });

  it("pauses and resumes on a state change", async () => {
    const base = {
      version: "1.0.0.4",
      author: "Microsoft",
      integrationKeys: made[ACCOUNTS]!.integrationKeysInEffect,
    };
    made[ACCOUNTS] = await binding.update(
      "x",
      made[ACCOUNTS]!,
      inputs(ACCOUNTS, { ...base, state: "Paused" }),
      h.ctx(),
    );
    expect(made[ACCOUNTS].observedState).to.equal("Paused");
    made[ACCOUNTS] = await binding.update(
      "x",
      made[ACCOUNTS],
      inputs(ACCOUNTS, { ...base, state: "Running" }),
      h.ctx(),
    );
    expect(made[ACCOUNTS].observedState).to.equal("Running");
  });

  it("startPrerequisites starts what the map needs (contacts after stopping customer groups by hand)", async () => {
    await h.emulator.control.call("PUT", `maps/ee/${encodeURIComponent(GROUPS)}/state`, {
      state: "Stopped",
    });
    const { outs } = await binding.create(inputs(CONTACTS, { startPrerequisites: true }), h.ctx());
    expect(outs.observedState).to.equal("Running");
    expect(await mapState(GROUPS)).to.match(/Running|4/);
    made[CONTACTS] = outs;
  });

  it("a changed map name replaces the binding", async () => {
    const d = await binding.diff("x", made[CONTACTS]!, inputs(ACCOUNTS), h.ctx());
    expect(d).to.deep.include({ changes: true, replaces: ["mapName"] });
  });

  it("delete stops the map and deletes no business row", async () => {
    const accounts = (await h.emulator.control.rows("dataverse", "ee", "accounts")).length;
    const customers = (await h.emulator.control.rows("fno", "ee", "CustomersV3")).length;
    const mark = await h.mark();
    await binding.delete("x", made[CONTACTS]!, h.ctx());
    const writes = await h.writesSince(mark);
    expect(writes.map((w) => `${w.method} ${w.path}`)).to.deep.equal([
      "POST /api/DualWriteManagement/1.0/Start",
    ]);
    expect(await mapState(CONTACTS)).to.match(/Stopped|1/);
    expect((await binding.read("x", made[CONTACTS]!, h.ctx()))?.props.observedState).to.equal(
      "Stopped",
    );
    expect((await h.emulator.control.rows("dataverse", "ee", "accounts")).length).to.equal(
      accounts,
    );
    expect((await h.emulator.control.rows("fno", "ee", "CustomersV3")).length).to.equal(customers);
    // Stopped already: nothing more to do.
    const again = await h.mark();
    await binding.delete("x", made[CONTACTS]!, h.ctx());
    expect(await h.writesSince(again)).to.deep.equal([]);
  });

  it("read of a map whose link was reset returns nothing", async () => {
    await connection.delete(link.environmentId, { ...link, forceReset: true }, h.ctx());
    expect(await binding.read("x", made[ACCOUNTS]!, h.ctx())).to.equal(undefined);
  });
});
