/**
 * InitialSyncRun against the in-process emulator: the data-volume rules refused in check with
 * the counts measured (and nothing written), a run with progress and per-legal-entity results, a
 * failed run (unresolved lookups) that records nothing, and a run as history (diff, delete).
 */
import { expect } from "chai";
import { companyBootstrapLifecycle as bootstrap } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type { DualWriteConnectionOutputs } from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type { EntityMapBindingOutputs } from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import { initialSyncRunLifecycle as run } from "../../provider/resources/initialSyncRun/initialSyncRun.handler";
import type {
  InitialSyncRunInputs,
  InitialSyncRunOutputs,
} from "../../provider/resources/initialSyncRun/initialSyncRun.schema";
import { startResourceHarness, type ResourceHarness } from "./harness";

const ACCOUNTS = "accounts - Customers V3";
const GROUPS = "msdyn_customergroups - Customer groups";
const VENDORS = "msdyn_vendors - Vendors V2";

describe("InitialSyncRun (provider, emulator)", () => {
  let h: ResourceHarness;
  let link: DualWriteConnectionOutputs;
  const maps: Record<string, EntityMapBindingOutputs> = {};

  before(async () => {
    h = await startResourceHarness({ seed: [{ scenario: "existing-existing", name: "ee" }] });
    const ctx = h.ctx();
    link = (
      await connection.create(
        {
          scenario: "existing-existing",
          financeOperationsUrl: h.env("ee").financeOperationsUrl,
          dataverseUrl: h.env("ee").dataverseUrl,
          legalEntities: ["USMF", "DEMF"],
        },
        ctx,
      )
    ).outs;
    await bootstrap.create(
      {
        financeOperationsUrl: link.financeOperationsUrl,
        dataverseUrl: link.dataverseUrl,
        companyCode: "USMF",
        owningBusinessUnit: "Contoso US",
      },
      ctx,
    );
    for (const name of [ACCOUNTS, VENDORS]) {
      maps[name] = (
        await binding.create(
          {
            environmentId: link.environmentId,
            financeOperationsUrl: link.financeOperationsUrl,
            dataverseUrl: link.dataverseUrl,
            mapName: name,
            startPrerequisites: true,
          },
          ctx,
        )
      ).outs;
    }
  });
  after(() => h.close());

  const inputs = (
    mapName: string,
    extra: Partial<InitialSyncRunInputs> = {},
  ): InitialSyncRunInputs => ({
    environmentId: link.environmentId,
    financeOperationsUrl: link.financeOperationsUrl,
    dataverseUrl: link.dataverseUrl,
    mapName,
    master: "FinanceOperations",
    linkedLegalEntities: link.linkedLegalEntities,
    ...extra,
  });
  /** Real generated rows (`PUT /_emulator/bulk-rows`): exactly `count` of them in the table. */
  const setBulkRows = (side: "fno" | "dataverse", table: string, company: string, count: number) =>
    h.emulator.control.call("PUT", "bulk-rows", { env: "ee", side, table, company, count });

  describe("data-volume rules (refused in check, with the counts, before anything is written)", () => {
    it("more than 500,000 F&O rows for one legal entity", async () => {
      await setBulkRows("fno", "CustomerGroups", "USMF", 600_000);
      try {
        const mark = await h.mark();
        const failures = await run.check(
          {},
          { ...inputs(GROUPS, { legalEntities: ["USMF"] }) },
          h.ctx(),
        );
        expect(failures.map((f) => f.property)).to.deep.equal(["mapName"]);
        expect(failures[0]!.reason)
          .to.match(/600,0\d\d CustomerGroups rows in USMF/)
          .and.to.match(/500,000/)
          .and.to.match(/initial sync skipped/);
        // The same for a run that replaces a recorded one (another map): a new run, checked as one.
        const replacing = await run.check(
          { ...inputs(ACCOUNTS, { legalEntities: ["USMF"] }) },
          { ...inputs(GROUPS, { legalEntities: ["USMF"] }) },
          h.ctx(),
        );
        expect(replacing.map((f) => f.property)).to.deep.equal(["mapName"]);
        expect(await h.writesSince(mark)).to.deep.equal([]);
      } finally {
        await setBulkRows("fno", "CustomerGroups", "USMF", 0);
      }
    });

    it("more than 70,000 Dataverse rows for the Dataverse → F&O leg", async () => {
      // Dataverse counts above 5,000 are paged through (the service caps $count), so these rows
      // are real rows, in a pair of their own whose maps do not run (no live sync of them).
      const volume = await h.emulator.control.seed({
        scenario: "existing-existing",
        name: "volume",
        size: 2,
      });
      const volumeLink = (
        await connection.create(
          {
            scenario: "existing-existing",
            financeOperationsUrl: volume.financeOperationsUrl,
            dataverseUrl: volume.dataverseUrl,
            legalEntities: ["USMF"],
          },
          h.ctx(),
        )
      ).outs;
      const companies = await h.emulator.control.rows("dataverse", "volume", "cdm_companies");
      const usmf = String(companies.find((r) => r.cdm_companycode === "USMF")?.cdm_companyid);
      const rows = Array.from({ length: 72_000 }, (_, i) => ({
        accountid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
        name: `Volume ${i}`,
        accountnumber: `VOL-${i}`,
        _msdyn_company_value: usmf,
      }));
      for (let i = 0; i < rows.length; i += 12_000)
        await h.emulator.control.insertRows(
          "dataverse",
          "volume",
          "accounts",
          rows.slice(i, i + 12_000),
        );
      const news = {
        ...inputs(ACCOUNTS, { legalEntities: ["USMF"] }),
        environmentId: volumeLink.environmentId,
        financeOperationsUrl: volume.financeOperationsUrl,
        dataverseUrl: volume.dataverseUrl,
      };
      const mark = await h.mark();
      const failures = await run.check({}, { ...news }, h.ctx());
      expect(failures.map((f) => f.property)).to.deep.equal(["mapName"]);
      expect(failures[0]!.reason)
        .to.match(/72,0\d\d accounts for USMF/)
        .and.to.match(/70,000/)
        .and.to.match(/24 hours/);
      // create applies the same rules before it starts anything
      let error: unknown;
      try {
        await run.create(news, h.ctx());
      } catch (e) {
        error = e;
      }
      expect((error as Error).message).to.match(/70,000/);
      expect(await h.writesSince(mark)).to.deep.equal([]);
    });

    it("10 or more lookups when Dataverse holds rows", async () => {
      await setBulkRows("dataverse", "msdyn_vendors", "USMF", 25);
      try {
        const mark = await h.mark();
        const failures = await run.check(
          {},
          { ...inputs(VENDORS, { legalEntities: ["USMF"] }) },
          h.ctx(),
        );
        expect(failures.map((f) => f.property)).to.deep.equal(["mapName"]);
        expect(failures[0]!.reason)
          .to.match(/1\d lookups/)
          .and.to.match(/cannot initial-sync from Dataverse/);
        expect(await h.writesSince(mark)).to.deep.equal([]);
      } finally {
        await setBulkRows("dataverse", "msdyn_vendors", "USMF", 0);
      }
    });
  });

  describe("a run", () => {
    let groups: InitialSyncRunOutputs;
    let accounts: InitialSyncRunOutputs;

    it("check accepts a run within the limits, with reads only", async () => {
      const mark = await h.mark();
      expect(
        await run.check({}, { ...inputs(ACCOUNTS, { legalEntities: ["USMF"] }) }, h.ctx()),
      ).to.deep.equal([]);
      expect(await h.writesSince(mark)).to.deep.equal([]);
    });

    it("runs customer groups, then accounts, with progress and results per legal entity", async () => {
      h.logs.length = 0;
      const mark = await h.mark();
      const g = await run.create(inputs(GROUPS, { legalEntities: ["USMF"] }), h.ctx());
      groups = g.outs;
      expect(g.id).to.equal(groups.requestId);
      expect(groups.status).to.equal("Succeeded");
      expect(groups.results.map((r) => [r.legalEntity, r.status])).to.deep.equal([
        ["USMF", "Succeeded"],
      ]);
      expect(groups.measuredCounts.financeOperations.USMF).to.be.greaterThan(0);
      // A run is history (`spec.ts`): whether its job was started or adopted is `adopted`; it
      // records no ownership, as its delete only forgets it.
      expect(groups.adopted).to.equal(false);
      expect(groups).to.not.have.property("ownership");
      // The groups map runs (a prerequisite of accounts): it is stopped ("4"), its tables are
      // refreshed, and the initial sync is started once ("1", skipInitialSync false), then polled.
      const writes = (await h.writesSince(mark)).map((w) =>
        w.path.replace(/Project\/.*\/Refresh/, "Project/…/Refresh"),
      );
      expect(writes).to.deep.equal([
        "/api/DualWriteManagement/1.0/Start",
        "/api/Project/…/Refresh",
        "/api/DualWriteManagement/1.0/Start",
      ]);

      accounts = (await run.create(inputs(ACCOUNTS, { legalEntities: ["USMF"] }), h.ctx())).outs;
      const usmf = accounts.results.find((r) => r.legalEntity === "USMF");
      expect(usmf?.status).to.equal("Succeeded");
      expect(usmf?.upserted).to.be.greaterThan(0);
      expect(
        h.logs.some((l) => /^Initial sync of accounts - Customers V3: (map is|USMF)/.test(l)),
      ).to.equal(true);
      expect(
        h.logs.some((l) =>
          /^Initial sync of accounts - Customers V3 finished: USMF Succeeded/.test(l),
        ),
      ).to.equal(true);
    });

    it("is history: the same declaration shows no change; a new trigger runs it again in place", async () => {
      const same = inputs(ACCOUNTS, { legalEntities: ["USMF"] });
      expect(await run.diff(accounts.requestId, accounts, same, h.ctx())).to.deep.include({
        changes: false,
      });
      const again = await run.diff(
        accounts.requestId,
        accounts,
        { ...same, trigger: "2026-11-25" },
        h.ctx(),
      );
      // An update, not a replacement: the update knows the run it recorded, so a job that an
      // interrupted `up` started for the new trigger is adopted rather than run twice.
      expect(again).to.deep.include({ changes: true, replaces: [] });
      expect(again.reasons).to.deep.equal([
        'trigger changes from (not set) to "2026-11-25": the initial sync runs again',
      ]);
      // Another map is another run.
      const other = await run.diff(
        accounts.requestId,
        accounts,
        { ...same, mapName: GROUPS },
        h.ctx(),
      );
      expect(other).to.deep.include({ changes: true, replaces: ["mapName"] });
      const read = await run.read(accounts.requestId, accounts, h.ctx());
      expect(read?.id).to.equal(accounts.requestId);
    });

    it("reports only the declared legal entities, although a run covers the link's", async () => {
      expect(accounts.results.map((r) => r.legalEntity)).to.deep.equal(["USMF"]);
      // A new trigger (and no legalEntities) runs the groups again, as an update: a new job.
      const mark = await h.mark();
      const all = await run.update(
        groups.requestId,
        groups,
        inputs(GROUPS, { trigger: "all" }),
        h.ctx(),
      );
      expect(all.results.map((r) => r.legalEntity).sort()).to.deep.equal(["DEMF", "USMF"]);
      expect(all.requestId).to.not.equal(groups.requestId);
      expect(all.adopted).to.equal(false);
      const starts = (await h.writesSince(mark)).filter((w) => w.path.endsWith("/Start"));
      expect(starts, "stop, then the start with initial sync").to.have.length(2);
    });

    it("a failed run (a lookup that cannot resolve) raises the first errors and records nothing", async () => {
      // A DEMF customer whose group exists nowhere: its group lookup cannot resolve in Dataverse.
      // (The map is stopped first, or live sync would refuse the row at once.)
      await h.emulator.control.call("PUT", `maps/ee/${encodeURIComponent(ACCOUNTS)}/state`, {
        state: "Stopped",
      });
      await h.emulator.control.insertRows("fno", "ee", "CustomersV3", {
        dataAreaId: "demf",
        CustomerAccount: "DE-ORPHAN",
        PartyType: "Organization",
        OrganizationName: "Orphan GmbH",
        CustomerGroupId: "ZZ-NONE",
        SalesCurrencyCode: "EUR",
      });
      let error: unknown;
      try {
        await run.create(inputs(ACCOUNTS, { legalEntities: ["DEMF"] }), h.ctx());
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).message)
        .to.match(/Initial sync of accounts - Customers V3 failed/)
        .and.to.match(/DEMF/)
        .and.to.match(/ZZ-NONE/);
      // The failed sync leaves the map not running: the binding sees it as drift.
      const d = await binding.diff(
        "x",
        maps[ACCOUNTS]!,
        { ...maps[ACCOUNTS]!, startPrerequisites: true },
        h.ctx(),
      );
      expect(d.changes).to.equal(true);
    });

    it("delete forgets the run and writes nothing", async () => {
      const mark = await h.mark();
      await run.delete(groups.requestId, groups, h.ctx());
      expect(await h.writesSince(mark)).to.deep.equal([]);
    });
  });
});
