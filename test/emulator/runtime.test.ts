/**
 * The dual-write runtime over HTTPS: the map state machine with prerequisites and errors, live
 * sync both ways (with failures failing the original write), pause/queue/resume, initial sync
 * (success, unresolved lookups, limits), legal-entity guards and company enabling, and reset.
 * Every call goes through the real server with real tokens; tables are read through the
 * Dataverse Web API, F&O OData or the control API.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import {
  Action,
  Maps,
  Pair,
  State,
  eventually,
  startParameters,
  type MapItem,
} from "./dualWriteHarness";

type Row = Record<string, unknown>;

describe("dual-write runtime (HTTPS)", function () {
  let emu: TestEmulator;

  before(async () => {
    emu = await startTestEmulator({ settings: { transitionMs: 5, jobRowsPerSecond: 100_000 } });
  });
  after(() => emu?.close());
  afterEach(async () => {
    await emu.control.updateSettings({ transitionMs: 5, jobRowsPerSecond: 100_000 });
  });

  /**
   * A linked existing-existing pair with the core maps: legal entities Running, currencies and
   * groups Running after an initial sync (a start with `skipInitialSync:false` from Stopped).
   */
  async function readyPair(size = 10): Promise<Pair> {
    const pair = await Pair.seed(emu, "existing-existing", size);
    await pair.linkWithCoreMaps(["USMF"]);
    await pair.startMaps(Maps.legalEntities);
    for (const m of [Maps.currencies, Maps.customerGroups]) {
      const s = await pair.initialSync(m, "AX");
      expect(s.state, String(s.errorMessage)).to.equal("2");
    }
    return pair;
  }

  /** The map's entry for a request in `lastRequests`. */
  const entryOf = (m: MapItem, requestId: string) =>
    m.detail.lastRequests.find((r) => r.requestId === requestId);

  async function dvAccount(pair: Pair, number: string): Promise<Row | undefined> {
    const res = await pair.dv("GET", `accounts?$filter=accountnumber eq '${number}'`);
    expect(res.status, res.text).to.equal(200);
    return (res.json as { value: Row[] }).value[0];
  }

  describe("map state machine", () => {
    it("refuses to start a map whose prerequisites are not Running, then starts them in order", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      const alone = await pair.run(Action.start, [Maps.accounts], startParameters(true, "CRM"));
      expect(alone.state).to.equal("3");
      expect(alone.errorMessage).to.equal(
        `Unable to build dual-write lookup metadata. Missing: ${Maps.legalEntities}, ${Maps.currencies}, ${Maps.customerGroups}. Start the prerequisite maps first (they must be Running).`,
      );
      const accounts = await pair.map(Maps.accounts);
      expect(accounts.detail.state).to.equal(State.stopped);
      expect(accounts.detail.actions).to.deep.equal([Action.start]);
      expect(accounts.detail.lastRequests[0]).to.include({
        requestId: alone.requestId,
        action: "1",
        state: "3",
        errorMessage: alone.errorMessage,
      });

      const all = await pair.run(
        Action.start,
        [Maps.legalEntities, Maps.currencies, Maps.customerGroups, Maps.accounts],
        startParameters(true, "CRM"),
      );
      expect(all.state, String(all.errorMessage)).to.equal("2");
      expect(all.maps.map((m) => m.detail.state)).to.deep.equal(["4", "4", "4", "4"]);
      expect(all.maps.map((m) => m.detail.actions)).to.deep.equal(
        Array(4).fill([Action.stop, Action.pause]),
      );
    });

    it('initializes a map with "8": no pid before, a GUID after; other actions need the pid', async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.link(["DAT"]);
      expect((await pair.applySolution("msdyn_DualWriteAppCoreMaps")).state).to.equal("2");
      const before = await pair.map(Maps.currencies);
      expect(before.detail).to.not.have.property("pid");
      expect(before.detail.actions).to.deep.equal([Action.init]);
      const start = await pair.act(Action.start, [Maps.currencies], startParameters(true, "CRM"));
      expect(start.status).to.equal(400);
      expect((start.json as { error: { message: string } }).error.message).to.match(
        /pid is required/,
      );

      const init = await pair.run(Action.init, [Maps.currencies]);
      expect(init.state, String(init.errorMessage)).to.equal("2");
      const after = await pair.map(Maps.currencies);
      expect(after.detail.pid).to.match(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
      expect(after.detail.state).to.equal(State.stopped);
      expect(entryOf(after, init.requestId)).to.include({ action: "8", state: "2" });
      // A map that has a project is done at once when initialized again.
      expect((await pair.run(Action.init, [Maps.currencies])).state).to.equal("2");
      expect((await pair.map(Maps.currencies)).detail.pid).to.equal(after.detail.pid);

      const withPid = await pair.dwm("POST", "Start", {
        action: "8",
        details: [{ tid: after.detail.tid, pid: after.detail.pid, cid: pair.cid }],
      });
      expect(withPid.status).to.equal(400);
    });

    it("pauses, resumes and stops, refuses what the state does not allow, and treats repeats as done", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      await pair.startMaps(Maps.legalEntities, Maps.currencies);

      expect((await pair.run(Action.pause, [Maps.currencies])).state).to.equal("2");
      const paused = await pair.map(Maps.currencies);
      expect(paused.detail.state).to.equal(State.paused);
      expect(paused.detail.actions).to.deep.equal([Action.stop, Action.resume]);
      expect(
        (await pair.run(Action.pause, [Maps.currencies])).state,
        "pausing a paused map is done",
      ).to.equal("2");
      const start = await pair.run(Action.start, [Maps.currencies], startParameters(true, "CRM"));
      expect(start.state).to.equal("3");
      expect(start.errorMessage).to.match(/is Paused and cannot be started; resume it instead/);

      expect((await pair.run(Action.resume, [Maps.currencies])).state).to.equal("2");
      expect((await pair.map(Maps.currencies)).detail.state).to.equal(State.running);
      // The tool's stop carries the start parameters (DWMapEngine.cs:1804-1815).
      expect(
        (await pair.run(Action.stop, [Maps.currencies], startParameters(true, "CRM"))).state,
      ).to.equal("2");
      expect((await pair.map(Maps.currencies)).detail.state).to.equal(State.stopped);
      const resume = await pair.run(Action.resume, [Maps.currencies]);
      expect(resume.state).to.equal("3");
      expect(resume.errorMessage).to.match(/only a Paused map can be resumed/);
    });

    it("pauses and resumes several maps in one request, as the tool does in bulk", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      await pair.startMaps(Maps.legalEntities, Maps.currencies);
      const both = [Maps.legalEntities, Maps.currencies];
      const paused = await pair.run(Action.pause, both);
      expect(paused.state, String(paused.errorMessage)).to.equal("2");
      expect(paused.maps.map((m) => [m.detail.tName, m.detail.state])).to.deep.equal([
        [Maps.legalEntities, State.paused],
        [Maps.currencies, State.paused],
      ]);
      for (const m of paused.maps) expect(entryOf(m, paused.requestId)?.action).to.equal("5");
      const resumed = await pair.run(Action.resume, both);
      expect(resumed.maps.map((m) => m.detail.state)).to.deep.equal([State.running, State.running]);
    });

    it("refuses an initial sync of a Running map: the tool only syncs a stopped one", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      await pair.startMaps(Maps.legalEntities, Maps.currencies);
      const run = await pair.initialSync(Maps.currencies, "AX");
      expect(run.state).to.equal("3");
      expect(run.errorMessage).to.match(
        /is Running and cannot be started; an initial sync starts a stopped map/,
      );
      expect((await pair.map(Maps.currencies)).detail.state).to.equal(State.running);
    });

    it("keeps a request Waiting until its transition time has passed, and refuses a second request on a busy map", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      await pair.startMaps(Maps.legalEntities);
      await emu.control.updateSettings({ transitionMs: 3_600_000 });

      const posted = await pair.act(Action.stop, [Maps.legalEntities]);
      expect(posted.status, posted.text).to.equal(200);
      const { requestId } = posted.json as { requestId: string };
      const waiting = await pair.dwm("GET", `Status/${requestId}`);
      const [item] = waiting.json as MapItem[];
      expect(item?.detail.tName).to.equal(Maps.legalEntities);
      expect(item && entryOf(item, requestId)).to.include({ action: "4", state: "1" });
      expect((await pair.map(Maps.legalEntities)).detail.lastRequests[0]).to.include({
        requestId,
        state: "1",
      });

      const second = await pair.act(Action.pause, [Maps.legalEntities]);
      expect(second.status).to.equal(409);
      expect((second.json as { error: { code: string } }).error.code).to.equal("MapBusy");

      await emu.control.setClock({ advanceMs: 3_600_000 });
      const done = await pair.waitRequest(requestId);
      expect(done.state).to.equal("2");
      expect(done.maps[0]?.detail.state).to.equal(State.stopped);
    });
  });

  describe("live sync", () => {
    let pair: Pair;
    before(async () => {
      pair = await readyPair();
      await pair.startMaps(Maps.accounts, Maps.contacts);
    });

    it("copies an F&O customer to Dataverse inside the same request, stamped, resolved and owned by the company team", async () => {
      const created = await pair.fno("POST", "CustomersV3", {
        dataAreaId: "usmf",
        CustomerAccount: "USMF-LIVE1",
        PartyType: "Organization",
        OrganizationName: "Live One Ltd",
        CustomerGroupId: "10",
        SalesCurrencyCode: "CAD",
      });
      expect(created.status, created.text).to.equal(201);
      const account = await dvAccount(pair, "USMF-LIVE1");
      expect(account, "account in Dataverse").to.not.equal(undefined);
      const usmf = await pair.companyId("USMF");
      expect(account?._msdyn_company_value).to.equal(usmf);
      expect(account?.name).to.equal("Live One Ltd");
      const group = (await pair.dvRows("msdyn_customergroups")).find(
        (g) => g.msdyn_groupid === "10" && g._msdyn_company_value === usmf,
      );
      expect(account?._msdyn_customergroupid_value).to.equal(group?.msdyn_customergroupid);
      const cad = (await pair.dvRows("transactioncurrencies")).find(
        (c) => c.isocurrencycode === "CAD",
      );
      expect(account?._transactioncurrencyid_value).to.equal(cad?.transactioncurrencyid);
      const team = (await pair.dvRows("teams")).find((t) => t.name === "USMF DW");
      expect(account?._ownerid_value).to.equal(team?.teamid);

      const patched = await pair.fno(
        "PATCH",
        "CustomersV3(dataAreaId='usmf',CustomerAccount='USMF-LIVE1')",
        {
          OrganizationName: "Live One Renamed",
        },
      );
      expect(patched.status, patched.text).to.be.oneOf([200, 204]);
      expect((await dvAccount(pair, "USMF-LIVE1"))?.name).to.equal("Live One Renamed");
    });

    it("copies a stamped Dataverse account to F&O, and ignores unstamped rows and unlinked companies", async () => {
      const usmf = await pair.companyId("USMF");
      const group = (await pair.dvRows("msdyn_customergroups")).find(
        (g) => g.msdyn_groupid === "20" && g._msdyn_company_value === usmf,
      );
      const created = await pair.dv("POST", "accounts", {
        name: "From Dataverse Inc.",
        accountnumber: "USMF-DV1",
        customertypecode: 3,
        "msdyn_company@odata.bind": `/cdm_companies(${usmf})`,
        "msdyn_customergroupid@odata.bind": `/msdyn_customergroups(${String(group?.msdyn_customergroupid)})`,
      });
      expect(created.status, created.text).to.equal(204);
      const inFno = await pair.fno(
        "GET",
        "CustomersV3(dataAreaId='usmf',CustomerAccount='USMF-DV1')",
      );
      expect(inFno.status, inFno.text).to.equal(200);
      expect(inFno.json).to.include({
        OrganizationName: "From Dataverse Inc.",
        CustomerGroupId: "20",
        PartyType: "Organization",
      });

      const unstamped = await pair.dv("POST", "accounts", {
        name: "No company",
        accountnumber: "NOCOMP-1",
        customertypecode: 3,
      });
      expect(unstamped.status, unstamped.text).to.equal(204);
      expect(
        (await pair.fnoRows("CustomersV3")).some((c) => c.CustomerAccount === "NOCOMP-1"),
      ).to.equal(false);

      const usrt = await pair.fno("POST", "CustomersV3", {
        dataAreaId: "usrt",
        CustomerAccount: "USRT-LIVE1",
        PartyType: "Organization",
        OrganizationName: "Not linked",
        CustomerGroupId: "10",
      });
      expect(usrt.status, usrt.text).to.equal(201);
      expect(await dvAccount(pair, "USRT-LIVE1")).to.equal(undefined);
    });

    it("fails the F&O write when Dataverse cannot resolve a lookup, and nothing is written", async () => {
      const res = await pair.fno("POST", "CustomersV3", {
        dataAreaId: "usmf",
        CustomerAccount: "USMF-BAD1",
        PartyType: "Organization",
        OrganizationName: "Bad group",
        CustomerGroupId: "99",
      });
      // F&O answers a failed write as AxODataWriteException: 500, the infolog in innererror.
      expect(res.status).to.equal(500);
      const inner = (res.json as { error: { innererror: { message: string; type: string } } }).error
        .innererror;
      expect(inner.type).to.equal(
        "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException",
      );
      expect(inner.message).to.match(
        /^Write failed for table row of type '.+'\. Infolog: Unable to write data to entity accounts\./,
      );
      expect(inner.message).to.include(
        "Couldn't resolve the guid for the field: msdyn_customergroupid. The lookup wasn't found: 99.",
      );
      const get = await pair.fno(
        "GET",
        "CustomersV3(dataAreaId='usmf',CustomerAccount='USMF-BAD1')",
      );
      expect(get.status).to.equal(404);
      expect(await dvAccount(pair, "USMF-BAD1")).to.equal(undefined);
    });

    it("fails the Dataverse write when F&O refuses the copy, with the plug-in error", async () => {
      const usmf = await pair.companyId("USMF");
      const res = await pair.dv("POST", "accounts", {
        name: "No group",
        accountnumber: "USMF-DVBAD",
        customertypecode: 3,
        "msdyn_company@odata.bind": `/cdm_companies(${usmf})`,
      });
      expect(res.status).to.equal(400);
      const error = (res.json as { error: { code: string; message: string } }).error;
      expect(error.code).to.equal("0x80040265");
      expect(error.message).to.equal(
        "Unable to write data to entity accounts. Writes to CustomersV3 failed with error message Field 'Customer group' must be filled in.",
      );
      expect(await dvAccount(pair, "USMF-DVBAD")).to.equal(undefined);
    });

    it("deletes the counterpart of a deleted row, and syncs persons to contacts", async () => {
      const person = await pair.fno("POST", "CustomersV3", {
        dataAreaId: "usmf",
        CustomerAccount: "USMF-P1",
        PartyType: "Person",
        PersonFirstName: "Ada",
        PersonLastName: "Lovelace",
        CustomerGroupId: "10",
      });
      expect(person.status, person.text).to.equal(201);
      const contacts = await pair.dv("GET", "contacts?$filter=msdyn_contactpersonid eq 'USMF-P1'");
      expect((contacts.json as { value: Row[] }).value[0]).to.include({
        firstname: "Ada",
        lastname: "Lovelace",
        fullname: "Ada Lovelace",
      });
      expect(await dvAccount(pair, "USMF-P1"), "a person is not an account").to.equal(undefined);

      const removed = await pair.fno(
        "DELETE",
        "CustomersV3(dataAreaId='usmf',CustomerAccount='USMF-P1')",
      );
      expect(removed.status, removed.text).to.be.oneOf([200, 204]);
      const after = await pair.dv("GET", "contacts?$filter=msdyn_contactpersonid eq 'USMF-P1'");
      expect((after.json as { value: Row[] }).value).to.have.length(0);
    });

    it("queues changes while a map is Paused and replays them in order on resume", async () => {
      expect((await pair.run(Action.pause, [Maps.accounts])).state).to.equal("2");
      const created = await pair.fno("POST", "CustomersV3", {
        dataAreaId: "usmf",
        CustomerAccount: "USMF-Q1",
        PartyType: "Organization",
        OrganizationName: "Queued A",
        CustomerGroupId: "10",
      });
      expect(created.status, created.text).to.equal(201);
      await pair.fno("PATCH", "CustomersV3(dataAreaId='usmf',CustomerAccount='USMF-Q1')", {
        OrganizationName: "Queued B",
      });
      await pair.fno("PATCH", "CustomersV3(dataAreaId='usmf',CustomerAccount='USMF-Q1')", {
        OrganizationName: "Queued C",
      });
      expect(await dvAccount(pair, "USMF-Q1"), "nothing synced while paused").to.equal(undefined);
      expect(
        (await pair.runtimeMaps()).find((m) => m.name === Maps.accounts)?.queueLength,
      ).to.equal(3);

      const resumed = await pair.run(Action.resume, [Maps.accounts]);
      expect(resumed.state).to.equal("2");
      expect(resumed.maps[0]?.detail.state).to.equal(State.running);
      expect((await dvAccount(pair, "USMF-Q1"))?.name).to.equal("Queued C");
      const runtimeMap = (await pair.runtimeMaps()).find((m) => m.name === Maps.accounts);
      expect(runtimeMap?.queueLength).to.equal(0);
      expect(runtimeMap?.catchUpErrors).to.deep.equal([]);
    });

    it("skips catch-up on resume when asked: preserving the queue as catch-up errors, or discarding it", async () => {
      // MapCatchUpParameter (DWLibary/Struct/MapsHelper.cs:26-29,55-58, DWEnums.cs:33-41).
      for (const preserve of [true, false]) {
        const account = `USMF-SKIP${preserve ? "P" : "D"}`;
        expect((await pair.run(Action.pause, [Maps.accounts])).state).to.equal("2");
        const created = await pair.fno("POST", "CustomersV3", {
          dataAreaId: "usmf",
          CustomerAccount: account,
          PartyType: "Organization",
          OrganizationName: "Skipped",
          CustomerGroupId: "10",
        });
        expect(created.status, created.text).to.equal(201);
        const errorsBefore =
          (await pair.runtimeMaps()).find((m) => m.name === Maps.accounts)?.catchUpErrors.length ??
          0;
        const resumed = await pair.run(Action.resume, [Maps.accounts], {
          dualWriteSkipCatchUpSyncParameters: { skipCatchUpSyncPreserveData: preserve },
        });
        expect(resumed.state, String(resumed.errorMessage)).to.equal("2");
        expect(await dvAccount(pair, account), "not replayed").to.equal(undefined);
        const runtimeMap = (await pair.runtimeMaps()).find((m) => m.name === Maps.accounts);
        expect(runtimeMap?.queueLength).to.equal(0);
        expect(runtimeMap?.catchUpErrors.length).to.equal(errorsBefore + (preserve ? 1 : 0));
      }
    });
  });

  describe("initial sync", () => {
    it("fails with unresolved lookups when customer groups never synced, reports the first five errors, and leaves the map NotRunning", async () => {
      const pair = await Pair.seed(emu, "existing-existing", 20);
      await pair.linkWithCoreMaps(["USMF"]);
      await pair.startMaps(Maps.legalEntities, Maps.customerGroups);
      await pair.initialSync(Maps.currencies, "AX");

      const failed = await pair.initialSync(Maps.accounts, "AX");
      expect(failed.state).to.equal("3");
      expect(failed.errorMessage).to.match(
        /^Initial sync of 'accounts - Customers V3' failed for USMF: \d+ error\(s\), first: Couldn't resolve the guid/,
      );
      expect((await pair.map(Maps.accounts)).detail.state).to.equal(State.notRunning);

      const { pid } = (await pair.map(Maps.accounts)).detail;
      const res = await pair.gateway("GET", `api/ProjectExecutionWithCompanies/${String(pid)}`);
      const [usmf] = (res.json as { projectExecutionResponses: Array<Record<string, unknown>> })
        .projectExecutionResponses;
      expect(usmf).to.include({
        legalEntityName: "USMF",
        executionStatus: "Failed",
        initialSyncRequestId: failed.requestId,
      });
      expect(usmf?.errorCount).to.be.greaterThan(5);
      const legs =
        (
          usmf?.taskExecutionStatuses as Array<{
            legs: Array<{
              status: string;
              importRecordsErrorCount: number;
              importErrors: Array<Record<string, string>>;
            }>;
          }>
        )[0]?.legs ?? [];
      expect(legs[0]?.status).to.equal("ERROR");
      expect(legs[0]?.importRecordsErrorCount).to.equal(usmf?.errorCount);
      expect(legs[0]?.importErrors).to.have.length(5);
      expect(legs[0]?.importErrors[0]?.sourceField).to.equal("msdyn_customergroupid");
      expect(legs[0]?.importErrors[0]?.errorMessage).to.match(
        /^Couldn't resolve the guid for the field: msdyn_customergroupid\. The lookup wasn't found: \d+\. Try this URL\(s\): https:\/\/127\.0\.0\.\d+:\d+\/api\/data\/v9\.0\/msdyn_customergroups\?\$select=msdyn_customergroupid&\$filter=msdyn_groupid eq '\d+' and _msdyn_company_value eq [0-9a-f-]+$/,
      );
    });

    it("moves rows both ways once the prerequisites are synced, with the master deciding conflicts", async () => {
      const pair = await readyPair(20);
      const usmf = await pair.companyId("USMF");
      const fnoOrgs = (await pair.fnoRows("CustomersV3")).filter(
        (c) => c.dataAreaId === "usmf" && c.PartyType === "Organization",
      );
      // Stamp the Dataverse twin of an F&O customer, with another name: with master AX, F&O wins.
      const twin = (await pair.dvRows("accounts")).find((a) =>
        fnoOrgs.some((c) => c.CustomerAccount === a.accountnumber),
      );
      expect(twin, "the seed shares account numbers").to.not.equal(undefined);
      await emu.control.patchRow("dataverse", pair.name, "accounts", String(twin?.accountid), {
        _msdyn_company_value: usmf,
        name: "Dataverse Name",
      });
      const stampedOnlyInDv = (await pair.dvRows("accounts")).filter(
        (a) =>
          a._msdyn_company_value === usmf &&
          !fnoOrgs.some((c) => c.CustomerAccount === a.accountnumber),
      );
      expect(
        stampedOnlyInDv.length,
        "the seed has stamped Dataverse-only accounts",
      ).to.be.greaterThan(0);

      const run = await pair.initialSync(Maps.accounts, "AX");
      expect(run.state, String(run.errorMessage)).to.equal("2");
      expect(run.maps[0]?.detail.state).to.equal(State.running);

      const accounts = (await pair.dvRows("accounts")).filter(
        (a) => a._msdyn_company_value === usmf,
      );
      for (const c of fnoOrgs) {
        expect(
          accounts.filter((a) => a.accountnumber === c.CustomerAccount),
          String(c.CustomerAccount),
        ).to.have.length(1);
      }
      const twinAfter = accounts.find((a) => a.accountid === twin?.accountid);
      const fnoTwin = fnoOrgs.find((c) => c.CustomerAccount === twin?.accountnumber);
      expect(twinAfter?.name).to.equal(fnoTwin?.OrganizationName);
      const fnoAfter = await pair.fnoRows("CustomersV3");
      for (const a of stampedOnlyInDv) {
        expect(
          fnoAfter.some((c) => c.CustomerAccount === a.accountnumber && c.dataAreaId === "usmf"),
          String(a.accountnumber),
        ).to.equal(true);
      }

      const res = await pair.gateway(
        "GET",
        `api/ProjectExecutionWithCompanies/${String((await pair.map(Maps.accounts)).detail.pid)}`,
      );
      const [execution] = (
        res.json as { projectExecutionResponses: Array<Record<string, unknown>> }
      ).projectExecutionResponses;
      expect(execution).to.include({
        legalEntityName: "USMF",
        executionStatus: "Succeeded",
        errorCount: 0,
        initialSyncRequestId: run.requestId,
        legalEntityId: usmf,
      });
      expect(execution?.upsertCount).to.equal(fnoOrgs.length + stampedOnlyInDv.length);
      const legs = (
        execution?.taskExecutionStatuses as Array<{
          legs: Array<{ importRecordsInsertedCount: number; importRecordsUpdatedCount: number }>;
        }>
      )[0]?.legs;
      const moved = (legs ?? []).reduce(
        (n, l) => n + l.importRecordsInsertedCount + l.importRecordsUpdatedCount,
        0,
      );
      expect(moved, "the legs account for every upsert").to.equal(execution?.upsertCount);
    });

    it("lets the Dataverse master win a conflict", async () => {
      const pair = await readyPair(20);
      const fnoOrgs = (await pair.fnoRows("CustomersV3")).filter(
        (c) => c.dataAreaId === "usmf" && c.PartyType === "Organization",
      );
      const dvAccounts = await pair.dvRows("accounts");
      const usmf = await pair.companyId("USMF");
      // Stamp the seeded Dataverse twin of an F&O customer so that it takes part, with another name.
      const twin = dvAccounts.find((a) =>
        fnoOrgs.some((c) => c.CustomerAccount === a.accountnumber),
      );
      expect(twin).to.not.equal(undefined);
      await emu.control.patchRow("dataverse", pair.name, "accounts", String(twin?.accountid), {
        _msdyn_company_value: usmf,
        name: "Dataverse Wins Ltd",
      });
      const run = await pair.initialSync(Maps.accounts, "CRM");
      expect(run.state, String(run.errorMessage)).to.equal("2");
      const customer = await pair.fno(
        "GET",
        `CustomersV3(dataAreaId='usmf',CustomerAccount='${String(twin?.accountnumber)}')`,
      );
      expect((customer.json as Row).OrganizationName).to.equal("Dataverse Wins Ltd");
    });

    it("refuses more than 500,000 rows per legal entity, counting real rows", async () => {
      const pair = await Pair.seed(emu, "existing-existing", 5);
      await pair.linkWithCoreMaps(["USMF"]);
      await pair.startMaps(Maps.legalEntities, Maps.currencies, Maps.customerGroups);
      const bulk = (count: number) =>
        pair.control("PUT", "bulk-rows", {
          env: pair.name,
          side: "fno",
          table: "CustomersV3",
          company: "USMF",
          count,
        });
      const set = await bulk(500_000);
      expect(set.status, set.text).to.equal(200);
      const count = await pair.fno("GET", "CustomersV3/$count");
      expect(Number(count.text)).to.equal(500_005);

      const run = await pair.initialSync(Maps.accounts, "AX");
      expect(run.state).to.equal("3");
      expect(run.errorMessage).to.include(
        "rows of CustomersV3 for legal entity USMF exceed the limit of 500000 rows per initial synchronization run per legal entity",
      );
      expect((await pair.map(Maps.accounts)).detail.state).to.equal(State.notRunning);
      expect((await bulk(0)).status).to.equal(200);
    });

    it("fails the Dataverse leg of a map with ten or more lookups", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      await pair.startMaps(Maps.legalEntities);
      const run = await pair.initialSync(Maps.vendors, "CRM");
      expect(run.state).to.equal("3");
      expect(run.errorMessage).to.include(
        `5 Attempts to get data from ${pair.info.dataverseUrl}/api/data/v9.2/msdyn_vendors Failed. The map has 12 lookups`,
      );
      expect((await pair.map(Maps.vendors)).detail.state).to.equal(State.notRunning);
    });

    it("refuses an initial sync over more than 40 legal entities", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      const codes = Array.from({ length: 41 }, (_, i) => `L${String(i + 1).padStart(2, "0")}`);
      await emu.control.insertRows(
        "fno",
        pair.name,
        "LegalEntities",
        codes.map((c) => ({ LegalEntityId: c, Name: `Company ${c}` })),
      );
      const tooMany = await pair.reset(codes);
      expect(tooMany.status).to.equal(400);
      expect((tooMany.json as { error: { code: string } }).error.code).to.equal(
        "TooManyLegalEntities",
      );
      await pair.link(codes, { skip: true });
      expect(await pair.applySolution("msdyn_DualWriteAppCoreMaps")).to.include({ state: "2" });
      await pair.initMaps();
      const run = await pair.initialSync(Maps.legalEntities, "AX");
      expect(run.state).to.equal("3");
      expect(run.errorMessage).to.equal(
        "Initial sync supports at most 40 legal entities; this run has 41. Run it in groups of at most 40.",
      );
      expect((await pair.map(Maps.legalEntities)).detail.state, "the map keeps its state").to.equal(
        State.stopped,
      );
    });
  });

  describe("legal entities and companies", () => {
    it("enables a company: cdm_companies row, business unit of the same name, owner team '<code> DW' as default owning team", async () => {
      const pair = await Pair.seed(emu, "existing-new", 0);
      await pair.link(["USRT"]);
      const company = (await pair.dvRows("cdm_companies")).find(
        (c) => c.cdm_companycode === "USRT",
      );
      expect(company).to.include({
        cdm_name: "Contoso Retail USA",
        cdm_isenabledfordualwrite: true,
      });
      const unit = (await pair.dvRows("businessunits")).find(
        (b) => b.name === "Contoso Retail USA",
      );
      expect(unit, "business unit").to.not.equal(undefined);
      const team = (await pair.dvRows("teams")).find((t) => t.name === "USRT DW");
      expect(team).to.include({ _businessunitid_value: unit?.businessunitid, teamtype: 0 });
      expect(company?._cdm_defaultowningteam_value).to.equal(team?.teamid);
      const viaApi = await pair.dv(
        "GET",
        "cdm_companies?$filter=cdm_companycode eq 'USRT'&$select=cdm_name,_cdm_defaultowningteam_value",
      );
      expect((viaApi.json as { value: Row[] }).value[0]).to.include({
        cdm_name: "Contoso Retail USA",
        _cdm_defaultowningteam_value: team?.teamid,
      });
    });

    it("refuses duplicate or blank company names with the dual-write text", async () => {
      const pair = await Pair.seed(emu, "existing-new", 0);
      await emu.control.insertRows("fno", pair.name, "LegalEntities", [
        { LegalEntityId: "DUP", Name: "Contoso Retail USA" },
        { LegalEntityId: "BLNK", Name: "  " },
      ]);
      for (const codes of [["USRT", "DUP"], ["BLNK"]]) {
        const res = await pair.reset(codes);
        expect(res.status, codes.join()).to.equal(400);
        expect((res.json as { error: { message: string } }).error.message).to.match(
          /^Saving connection set failed! An item with the same key has already been added\./,
        );
      }
      const unknown = await pair.reset(["ZZZZ"]);
      expect(unknown.status).to.equal(400);
      expect((unknown.json as { error: { code: string } }).error.code).to.equal(
        "UnknownLegalEntity",
      );
      expect(await pair.dvRows("cdm_companies"), "nothing enabled").to.deep.equal([]);
    });

    it("guards legal-entity edits: not while a map initializes, no removal while one is paused, initial writes for new ones", async () => {
      const pair = await readyPair(5);
      const edit = (legalEntities: string[], skip = false) =>
        pair.gateway("PUT", `api/ConnectionSet/${pair.cid}/LegalEntities`, {
          legalEntities,
          skipInitialWritesForNewLegalEntities: skip,
        });

      const stopped = await pair.run(
        Action.stop,
        [Maps.customerGroups],
        startParameters(true, "AX"),
      );
      expect(stopped.state).to.equal("2");
      await emu.control.updateSettings({ jobRowsPerSecond: 0.001 });
      const slow = await pair.act(
        Action.start,
        [Maps.customerGroups],
        startParameters(false, "AX"),
      );
      const { requestId } = slow.json as { requestId: string };
      await pair.waitForState(Maps.customerGroups, State.initialSync, "InitialSync");
      // The initial sync's request stays Waiting until the map leaves InitialSync.
      const waiting = await pair.map(Maps.customerGroups);
      expect(entryOf(waiting, requestId)?.state).to.equal("1");
      expect(waiting.detail.actions).to.deep.equal([]);
      const blocked = await edit(["USMF", "USRT"]);
      expect(blocked.status).to.equal(409);
      expect((blocked.json as { error: { code: string } }).error.code).to.equal("MapInitializing");
      await emu.control.updateSettings({ jobRowsPerSecond: 100_000 });
      expect((await pair.waitRequest(requestId)).state).to.equal("2");

      // Adding USRT with initial writes copies its customer groups while the map keeps running.
      const added = await edit(["USMF", "USRT"]);
      expect(added.status, added.text).to.equal(200);
      expect(added.json).to.deep.equal({ legalEntities: ["USMF", "USRT"] });
      const usrt = await pair.companyId("USRT");
      const fnoGroups = (await pair.fnoRows("CustomerGroups")).filter(
        (g) => g.dataAreaId === "usrt",
      );
      await eventually(async () => {
        const groups = (await pair.dvRows("msdyn_customergroups")).filter(
          (g) => g._msdyn_company_value === usrt,
        );
        return groups.length === fnoGroups.length ? true : undefined;
      }, "initial writes for USRT");
      await pair.waitForState(Maps.customerGroups, State.running, "Running again");

      expect((await pair.run(Action.pause, [Maps.customerGroups])).state).to.equal("2");
      const removal = await edit(["USMF"]);
      expect(removal.status).to.equal(409);
      expect((removal.json as { error: { code: string } }).error.code).to.equal("MapPaused");
      const more = await edit(["USMF", "USRT", "DEMF"], true);
      expect(more.status, more.text).to.equal(200);
      const mappings = (await pair.connectionSet()).dualWriteDetail.legalEntityMappings.mappings;
      expect(mappings.map((m) => m.left.name)).to.deep.equal(["USMF", "USRT", "DEMF"]);
    });

    it("refuses more than 40 legal entities with initial writes in an edit", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      const codes = Array.from({ length: 41 }, (_, i) => `E${String(i + 1).padStart(2, "0")}`);
      await emu.control.insertRows(
        "fno",
        pair.name,
        "LegalEntities",
        codes.map((c) => ({ LegalEntityId: c, Name: `Entity ${c}` })),
      );
      await pair.link(["DAT"]);
      const res = await pair.gateway("PUT", `api/ConnectionSet/${pair.cid}/LegalEntities`, {
        legalEntities: codes,
      });
      expect(res.status).to.equal(400);
      expect((res.json as { error: { code: string; message: string } }).error).to.deep.equal({
        code: "TooManyLegalEntities",
        message:
          "41 legal entities with initial writes exceed the limit of 40. Link at most 40, or set skipInitialWritesForNewLegalEntities.",
      });
    });
  });

  describe("reset", () => {
    it("needs stopped maps (or force), clears runtime state and never touches business rows", async () => {
      const pair = await readyPair(10);
      await pair.initialSync(Maps.accounts, "AX");
      const before = {
        accounts: (await pair.dvRows("accounts")).length,
        contacts: (await pair.dvRows("contacts")).length,
        groups: (await pair.dvRows("msdyn_customergroups")).length,
        companies: (await pair.dvRows("cdm_companies")).length,
        customers: (await pair.fnoRows("CustomersV3")).length,
      };
      expect((await pair.dvRows("msdyn_dualwriteruntimeconfigs")).length).to.be.greaterThan(0);
      const oldCname = await pair.cname();

      // The tool's relink: the Reset body built from the connection set (ResetLinkEngine.cs:100-147).
      const set = await pair.connectionSet();
      const crm = Object.values(set.environments).find((e) => e.targetType === "CRM");
      const ax = Object.values(set.environments).find((e) => e.targetType === "AX");
      const relink = {
        powerAppsEnvironmentName: crm?.powerAppsEnvironment,
        environments: [crm, ax].map((e) => ({
          targetType: e?.targetType,
          name: e?.name,
          displayName: e?.environmentDisplayName,
          id: e?.powerAppsEnvironment,
          isDevInstance: e?.isDevInstance,
          directUrl: e?.directUrl,
        })),
        legalEntities: set.dualWriteDetail.legalEntityMappings.mappings.map((m) => m.left.name),
      };
      const refused = await pair.resetWith(relink, false);
      expect(refused.status).to.equal(409);
      expect((refused.json as { error: { code: string; message: string } }).error.code).to.equal(
        "MapsNotStopped",
      );

      // Unlinking (environments: [], the project's choice) is accepted at once and done later.
      await emu.control.updateSettings({ transitionMs: 3_600_000 });
      const unlink = await pair.resetWith(
        {
          powerAppsEnvironmentName: pair.powerAppsEnvironment,
          environments: [],
          legalEntities: [],
        },
        true,
      );
      expect(unlink.status, unlink.text).to.equal(200);
      expect(unlink.json).to.deep.equal({});
      expect(await pair.cname(), "the link stays until the transition has passed").to.equal(
        oldCname,
      );
      await emu.control.setClock({ advanceMs: 3_600_000 });
      await eventually(
        async () => ((await pair.cname()) === undefined ? true : undefined),
        "the unlink",
      );
      await emu.control.updateSettings({ transitionMs: 5 });
      expect(await pair.maps()).to.deep.equal([]);
      expect(await pair.environments()).to.deep.equal([]);
      expect((await pair.gateway("GET", `api/ConnectionSet/${String(oldCname)}`)).status).to.equal(
        404,
      );
      expect(await pair.dvRows("msdyn_dualwriteruntimeconfigs")).to.deep.equal([]);
      expect({
        accounts: (await pair.dvRows("accounts")).length,
        contacts: (await pair.dvRows("contacts")).length,
        groups: (await pair.dvRows("msdyn_customergroups")).length,
        companies: (await pair.dvRows("cdm_companies")).length,
        customers: (await pair.fnoRows("CustomersV3")).length,
      }).to.deep.equal(before);

      // Live sync has stopped with the link.
      const created = await pair.fno("POST", "CustomersV3", {
        dataAreaId: "usmf",
        CustomerAccount: "USMF-AFTER",
        PartyType: "Organization",
        OrganizationName: "After reset",
        CustomerGroupId: "10",
      });
      expect(created.status).to.equal(201);
      expect(await dvAccount(pair, "USMF-AFTER")).to.equal(undefined);

      // Relinking starts from scratch: a new connection set, solutions applied again, new
      // projects, no history.
      await pair.linkWithCoreMaps(["USMF"]);
      expect(await pair.cname()).to.not.equal(oldCname);
      const accounts = await pair.map(Maps.accounts);
      expect(accounts.detail.state).to.equal(State.stopped);
      expect(accounts.detail.lastRequests.map((r) => r.action)).to.deep.equal(["8"]);
      const history = await pair.gateway(
        "GET",
        `api/ProjectExecutionWithCompanies/${String(accounts.detail.pid)}`,
      );
      expect(history.json).to.deep.include({ projectExecutionResponses: [] });
    });

    it("relinks with the tool's body built from the connection set, with force while maps run", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      await pair.startMaps(Maps.legalEntities);
      const oldCname = await pair.cname();
      const res = await pair.link(["DAT"], { force: true });
      expect(res.json).to.deep.equal({});
      expect(await pair.cname()).to.not.equal(oldCname);
      expect(await pair.maps(), "solutions must be applied again").to.deep.equal([]);
      const mappings = (await pair.connectionSet()).dualWriteDetail.legalEntityMappings.mappings;
      expect(mappings.map((m) => m.left.name)).to.deep.equal(["DAT"]);
    });

    it("refuses the old dialect and bodies that name no known environment", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      const body = pair.resetBody(["DAT"]);
      const environments = body.environments as Array<Record<string, unknown>>;
      const variants: Array<[string, unknown]> = [
        [
          "URL strings (the old dialect)",
          {
            powerAppsEnvironmentName: pair.info.dataverseUrl,
            environments: [pair.info.financeOperationsUrl, pair.info.dataverseUrl],
            legalEntities: ["DAT"],
          },
        ],
        ["no environments member", { legalEntities: ["DAT"] }],
        ["two CRM environments", { ...body, environments: [environments[0], environments[0]] }],
        [
          "an unknown Dataverse URL",
          {
            ...body,
            environments: [
              { ...environments[0], directUrl: "https://127.0.0.250:1/" },
              environments[1],
            ],
          },
        ],
        [
          "the Dataverse URL as powerAppsEnvironmentName",
          { ...body, powerAppsEnvironmentName: pair.info.dataverseUrl },
        ],
      ];
      for (const [what, variant] of variants) {
        const res = await pair.resetWith(variant);
        expect(res.status, `${what}: ${res.text}`).to.equal(400);
      }
      expect(await pair.environments()).to.deep.equal([]);
    });

    it("keeps links 1:1: a Dataverse org linked elsewhere cannot be linked again", async () => {
      const first = await Pair.seed(emu, "new-new", 0);
      const second = await Pair.seed(emu, "new-new", 0);
      await first.link(["DAT"]);
      const res = await second.reset(["DAT"], { org: first });
      expect(res.status).to.equal(409);
      expect((res.json as { error: { code: string } }).error.code).to.equal(
        "DataverseAlreadyLinked",
      );
      await first.unlink();
      await second.link(["DAT"], { org: first });
      const [env] = await second.environments();
      expect(env?.powerAppsEnvironment).to.equal(first.powerAppsEnvironment);
    });
  });

  describe("persistence", () => {
    it("resumes an initial sync and keeps live sync after a restart", async () => {
      const dataDir = await mkdtemp(join(tmpdir(), "dw-runtime-"));
      let first: TestEmulator | undefined;
      let second: TestEmulator | undefined;
      try {
        first = await startTestEmulator({
          dataDir,
          settings: { transitionMs: 5, jobRowsPerSecond: 0.001 },
        });
        const pair = await Pair.seed(first, "existing-existing", 5);
        await pair.linkWithCoreMaps(["USMF"]);
        await pair.startMaps(Maps.legalEntities);
        const posted = await pair.act(
          Action.start,
          [Maps.customerGroups],
          startParameters(false, "AX"),
        );
        const { requestId } = posted.json as { requestId: string };
        await pair.waitForState(Maps.customerGroups, State.initialSync, "InitialSync");
        const jobs = (await pair.control("GET", "jobs")).json as Array<{
          requestId: string;
          state: string;
        }>;
        expect(jobs.find((j) => j.requestId === requestId)?.state).to.equal("Running");
        await first.close();

        second = await startTestEmulator({
          dataDir,
          settings: { transitionMs: 5, jobRowsPerSecond: 100_000 },
        });
        const info = second.environments.find((e) => e.name === pair.name);
        if (!info) throw new Error("the pair did not survive the restart");
        const restored = await Pair.of(second, info);
        expect(restored.cid).to.equal(pair.cid);
        const done = await restored.waitRequest(requestId);
        expect(done.state, String(done.errorMessage)).to.equal("2");
        expect(done.maps[0]?.detail.state).to.equal(State.running);
        const usmf = await restored.companyId("USMF");
        const groups = (await restored.dvRows("msdyn_customergroups")).filter(
          (g) => g._msdyn_company_value === usmf,
        );
        expect(groups).to.have.length(3);

        const created = await restored.fno("POST", "CustomerGroups", {
          dataAreaId: "usmf",
          CustomerGroupId: "90",
          Description: "After restart",
        });
        expect(created.status, created.text).to.equal(201);
        const copied = (await restored.dvRows("msdyn_customergroups")).find(
          (g) => g.msdyn_groupid === "90",
        );
        expect(copied).to.include({
          msdyn_description: "After restart",
          _msdyn_company_value: usmf,
        });
      } finally {
        await first?.close();
        await second?.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
});
