/**
 * EntityMapBinding with `initialSync` against the in-process emulator: the map's start from
 * Stopped is its initial sync — one `Start` "1" with `skipInitialSync:false`, after a table
 * refresh, waited for until the map leaves InitialSync, as Microsoft's tool starts a map
 * configured with initial sync (DWMapEngine.cs:1182-1297) — so each map is started once. Also:
 * the data-volume rules in check, a running map adopted without a sync, a new trigger syncing
 * again, and a map stopped by hand restarted with its sync.
 */
import { expect } from "chai";
import { MapAction } from "../../provider/clients/gateway";
import { companyBootstrapLifecycle as bootstrap } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type { DualWriteConnectionOutputs } from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type {
  BindingInitialSync,
  EntityMapBindingInputs,
  EntityMapBindingOutputs,
} from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import { startResourceHarness, type ResourceHarness } from "./harness";

const ACCOUNTS = "accounts - Customers V3";
const LEGAL_ENTITIES = "cdm_companies - Legal entities";
const CURRENCIES = "transactioncurrencies - Currencies";
const GROUPS = "msdyn_customergroups - Customer groups";

const FROM_FO: BindingInitialSync = { master: "FinanceOperations" };

describe("EntityMapBinding with initialSync (provider, emulator)", () => {
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
    await bootstrap.create(
      {
        financeOperationsUrl: link.financeOperationsUrl,
        dataverseUrl: link.dataverseUrl,
        companyCode: "USMF",
        owningBusinessUnit: "Contoso US",
      },
      h.ctx(),
    );
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
    initialSync: FROM_FO,
    ...extra,
  });
  /** The action codes of a map's recent requests (newest first), as the gateway lists them. */
  const actionsOf = async (mapName: string): Promise<(string | undefined)[]> => {
    const clients = h.ctx().clients(link);
    const map = (await clients.gateway.listMaps(link.environmentId, { fresh: true })).find(
      (m) => m.tName === mapName,
    );
    return (map?.lastRequests ?? []).map((r) => r.action);
  };
  /** The gateway writes since `mark`, as "<method> <path>" with project names elided. */
  const writesSince = async (mark: number): Promise<string[]> =>
    (await h.writesSince(mark)).map((w) =>
      `${w.method} ${w.path}`.replace(/Project\/.*\/Refresh/, "Project/…/Refresh"),
    );

  it("check holds a new binding's initial sync to the data-volume rules, with reads only", async () => {
    await h.emulator.control.call("PUT", "bulk-rows", {
      env: "ee",
      side: "fno",
      table: "CustomerGroups",
      company: "USMF",
      count: 600_000,
    });
    try {
      const mark = await h.mark();
      const failures = await binding.check({}, { ...inputs(GROUPS) }, h.ctx());
      expect(failures.map((f) => f.property)).to.deep.equal(["initialSync"]);
      expect(failures[0]!.reason)
        .to.match(/Initial sync of msdyn_customergroups - Customer groups refused/)
        .and.to.match(/600,0\d\d CustomerGroups rows in USMF/)
        .and.to.match(/500,000/)
        .and.to.match(/leave out initialSync/);
      expect(await h.writesSince(mark)).to.deep.equal([]);
      // Without initialSync the same binding is fine: live sync moves no existing rows.
      expect(
        await binding.check({}, { ...inputs(GROUPS, { initialSync: undefined }) }, h.ctx()),
      ).to.deep.equal([]);
    } finally {
      await h.emulator.control.call("PUT", "bulk-rows", {
        env: "ee",
        side: "fno",
        table: "CustomerGroups",
        company: "USMF",
        count: 0,
      });
    }
  });

  it("starts a new map once, with its initial sync: initialize, refresh, one start, no stop", async () => {
    h.logs.length = 0;
    const mark = await h.mark();
    const { outs } = await binding.create(inputs(LEGAL_ENTITIES), h.ctx());
    made[LEGAL_ENTITIES] = outs;
    expect(outs.observedState).to.equal("Running");
    expect(await writesSince(mark)).to.deep.equal([
      "POST /api/DualWriteManagement/1.0/Start", // "8": the map gets its project
      "POST /api/Project/…/Refresh",
      "POST /api/DualWriteManagement/1.0/Start", // "1" with skipInitialSync:false
    ]);
    expect(await actionsOf(LEGAL_ENTITIES)).to.deep.equal([MapAction.Start, MapAction.Initialize]);
    const sync = outs.lastInitialSync;
    expect(sync?.master).to.equal("FinanceOperations");
    expect(sync?.requestId).to.be.a("string").and.not.equal("");
    expect(sync?.results.map((r) => r.legalEntity).sort()).to.deep.equal(["DEMF", "USMF"]);
    expect(sync?.measuredCounts).to.have.keys("financeOperations", "dataverse");
    expect(h.logs).to.include.members([
      "Starting initial sync of cdm_companies - Legal entities for the link's legal entities (master: FinanceOperations)",
    ]);
  });

  it("maps in dependency order: each starts once, after the maps it needs have their data", async () => {
    for (const name of [CURRENCIES, GROUPS]) {
      made[name] = (await binding.create(inputs(name), h.ctx())).outs;
      expect(made[name].observedState).to.equal("Running");
    }
    made[ACCOUNTS] = (
      await binding.create(
        inputs(ACCOUNTS, { initialSync: { ...FROM_FO, legalEntities: ["USMF"] } }),
        h.ctx(),
      )
    ).outs;
    const usmf = made[ACCOUNTS].lastInitialSync?.results;
    // Only the declared legal entity is reported, although the sync covers the link's.
    expect(usmf?.map((r) => r.legalEntity)).to.deep.equal(["USMF"]);
    expect(usmf?.[0]?.upserted).to.be.greaterThan(0);
    for (const name of [LEGAL_ENTITIES, CURRENCIES, GROUPS, ACCOUNTS]) {
      const starts = (await actionsOf(name)).filter((a) => a === MapAction.Start);
      expect(starts, `starts of ${name}`).to.have.length(1);
    }
  });

  it("adopts a map that already runs, without a sync and without writing", async () => {
    const mark = await h.mark();
    const { outs } = await binding.create(inputs(ACCOUNTS), h.ctx());
    expect(outs.observedState).to.equal("Running");
    expect(await h.writesSince(mark)).to.deep.equal([]);
    // The map's newest request is the sync that ended: a create (e.g. after an `up` killed before
    // it wrote the state) records it as adopted instead of leaving it unrecorded.
    expect(outs.lastInitialSync?.requestId).to.equal(made[ACCOUNTS]!.lastInitialSync?.requestId);
    expect(outs.lastInitialSync?.adopted).to.equal(true);
    expect(outs.lastInitialSync?.status).to.equal("Succeeded");
    // Without initialSync declared, a binding records no sync.
    const plain = await binding.create(inputs(CURRENCIES, { initialSync: undefined }), h.ctx());
    expect(plain.outs.lastInitialSync).to.equal(undefined);
  });

  it("diff shows a new trigger; update stops the map and starts it with its sync again", async () => {
    const before = made[GROUPS]!;
    const again = inputs(GROUPS, { initialSync: { ...FROM_FO, trigger: "2026-11-25" } });
    const d = await binding.diff("x", before, again, h.ctx());
    expect(d).to.deep.include({ changes: true, replaces: [] });
    expect(d.reasons.join(" ")).to.include("initialSync");
    const mark = await h.mark();
    made[GROUPS] = await binding.update("x", before, again, h.ctx());
    expect(await writesSince(mark)).to.deep.equal([
      "POST /api/DualWriteManagement/1.0/Start", // "4"
      "POST /api/Project/…/Refresh",
      "POST /api/DualWriteManagement/1.0/Start", // "1" with skipInitialSync:false
    ]);
    expect(made[GROUPS].observedState).to.equal("Running");
    expect(made[GROUPS].lastInitialSync?.trigger).to.equal("2026-11-25");
    expect(made[GROUPS].lastInitialSync?.requestId).to.not.equal(before.lastInitialSync?.requestId);
  });

  it("a change of whose results are reported alone writes nothing and keeps the last sync", async () => {
    const before = made[GROUPS]!;
    const news = inputs(GROUPS, {
      initialSync: { ...FROM_FO, trigger: "2026-11-25", legalEntities: ["USMF"] },
    });
    const mark = await h.mark();
    const after = await binding.update("x", before, news, h.ctx());
    expect(await h.writesSince(mark)).to.deep.equal([]);
    expect(after.lastInitialSync).to.deep.equal(before.lastInitialSync);
  });

  it("a map stopped by hand is restarted with its initial sync", async () => {
    await h.emulator.control.call("PUT", `maps/ee/${encodeURIComponent(CURRENCIES)}/state`, {
      state: "Stopped",
    });
    const read = await binding.read("x", made[CURRENCIES]!, h.ctx());
    expect(read?.props.observedState).to.equal("Stopped");
    const mark = await h.mark();
    const after = await binding.update("x", read!.props, inputs(CURRENCIES), h.ctx());
    expect(after.observedState).to.equal("Running");
    expect(await writesSince(mark)).to.deep.equal([
      "POST /api/Project/…/Refresh",
      "POST /api/DualWriteManagement/1.0/Start",
    ]);
    expect(after.lastInitialSync?.requestId).to.not.equal(
      made[CURRENCIES]!.lastInitialSync?.requestId,
    );
  });
});
