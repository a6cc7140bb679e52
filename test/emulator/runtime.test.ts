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
import { Maps, Pair, eventually } from "./dualWriteHarness";

/** Start, stop, pause, resume, initial sync (DWEnums.cs). */
const Action = { start: 1, stop: 2, pause: 3, resume: 4, initialSync: 8 } as const;
/** Map states. */
const State = { stopped: 1, initialSync: 2, running: 4, paused: 5, notRunning: 6 } as const;

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

  /** A linked existing-existing pair with the core maps, legal entities, currencies and groups Running and synced. */
  async function readyPair(size = 10): Promise<Pair> {
    const pair = await Pair.seed(emu, "existing-existing", size);
    await pair.linkWithCoreMaps(["USMF"]);
    await pair.startMaps(Maps.legalEntities, Maps.currencies, Maps.customerGroups);
    for (const m of [Maps.currencies, Maps.customerGroups]) {
      const s = await pair.initialSync(m, "AX");
      expect(s.state, String(s.errorMessage)).to.equal(2);
    }
    return pair;
  }

  async function dvAccount(pair: Pair, number: string): Promise<Row | undefined> {
    const res = await pair.dv("GET", `accounts?$filter=accountnumber eq '${number}'`);
    expect(res.status, res.text).to.equal(200);
    return (res.json as { value: Row[] }).value[0];
  }

  describe("map state machine", () => {
    it("refuses to start a map whose prerequisites are not Running, then starts them in order", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      const alone = await pair.run(Action.start, [Maps.accounts]);
      expect(alone.state).to.equal(3);
      expect(alone.errorMessage).to.equal(
        `Unable to build dual-write lookup metadata. Missing: ${Maps.legalEntities}, ${Maps.currencies}, ${Maps.customerGroups}. Start the prerequisite maps first (they must be Running).`,
      );
      const accounts = await pair.map(Maps.accounts);
      expect(accounts.detail.state).to.equal(State.stopped);
      expect(accounts.detail.lastRequests[0]).to.include({
        requestId: alone.requestId,
        action: 1,
        state: 3,
      });

      const all = await pair.run(Action.start, [
        Maps.legalEntities,
        Maps.currencies,
        Maps.customerGroups,
        Maps.accounts,
      ]);
      expect(all.state, String(all.errorMessage)).to.equal(2);
      expect(all.maps.map((m) => m.detail.state)).to.deep.equal([4, 4, 4, 4]);
    });

    it("pauses, resumes and stops, refuses what the state does not allow, and treats repeats as done", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      await pair.startMaps(Maps.legalEntities, Maps.currencies);

      expect((await pair.run(Action.pause, [Maps.currencies])).state).to.equal(2);
      expect((await pair.map(Maps.currencies)).detail.state).to.equal(State.paused);
      expect(
        (await pair.run(Action.pause, [Maps.currencies])).state,
        "pausing a paused map is done",
      ).to.equal(2);
      const start = await pair.run(Action.start, [Maps.currencies]);
      expect(start.state).to.equal(3);
      expect(start.errorMessage).to.match(/is Paused and cannot be started; resume it instead/);

      expect((await pair.run(Action.resume, [Maps.currencies])).state).to.equal(2);
      expect((await pair.map(Maps.currencies)).detail.state).to.equal(State.running);
      expect((await pair.run(Action.stop, [Maps.currencies])).state).to.equal(2);
      expect((await pair.map(Maps.currencies)).detail.state).to.equal(State.stopped);
      const resume = await pair.run(Action.resume, [Maps.currencies]);
      expect(resume.state).to.equal(3);
      expect(resume.errorMessage).to.match(/only a Paused map can be resumed/);
    });

    it("keeps a request Waiting until its transition time has passed, and refuses a second request on a busy map", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      await pair.startMaps(Maps.legalEntities);
      await emu.control.updateSettings({ transitionMs: 3_600_000 });

      const posted = await pair.act(Action.stop, [Maps.legalEntities]);
      expect(posted.status, posted.text).to.equal(202);
      const { requestId } = posted.json as { requestId: string };
      const waiting = await pair.dwm("GET", `Status/${requestId}`);
      expect((waiting.json as { state: number }).state).to.equal(1);
      expect((await pair.map(Maps.legalEntities)).detail.lastRequests[0]).to.include({
        requestId,
        state: 1,
      });

      const second = await pair.act(Action.pause, [Maps.legalEntities]);
      expect(second.status).to.equal(409);
      expect((second.json as { error: { code: string } }).error.code).to.equal("MapBusy");

      await emu.control.setClock({ advanceMs: 3_600_000 });
      const done = await pair.waitRequest(requestId);
      expect(done.state).to.equal(2);
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
      expect((await pair.run(Action.pause, [Maps.accounts])).state).to.equal(2);
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
      expect(resumed.state).to.equal(2);
      expect(resumed.maps[0]?.detail.state).to.equal(State.running);
      expect((await dvAccount(pair, "USMF-Q1"))?.name).to.equal("Queued C");
      const runtimeMap = (await pair.runtimeMaps()).find((m) => m.name === Maps.accounts);
      expect(runtimeMap?.queueLength).to.equal(0);
      expect(runtimeMap?.catchUpErrors).to.deep.equal([]);
    });
  });

  describe("initial sync", () => {
    it("fails with unresolved lookups when customer groups never synced, reports the first five errors, and leaves the map NotRunning", async () => {
      const pair = await Pair.seed(emu, "existing-existing", 20);
      await pair.linkWithCoreMaps(["USMF"]);
      await pair.startMaps(Maps.legalEntities, Maps.currencies, Maps.customerGroups, Maps.accounts);
      await pair.initialSync(Maps.currencies, "AX");

      const failed = await pair.initialSync(Maps.accounts, "AX");
      expect(failed.state).to.equal(3);
      expect(failed.errorMessage).to.match(
        /^Initial sync of 'accounts - Customers V3' failed for USMF: \d+ error\(s\), first: Couldn't resolve the guid/,
      );
      expect((await pair.map(Maps.accounts)).detail.state).to.equal(State.notRunning);

      const { pid } = (await pair.map(Maps.accounts)).detail;
      const res = await pair.gateway("GET", `api/ProjectExecutionWithCompanies/${pid}`);
      const [usmf] = (res.json as { projectExecutionResponses: Array<Record<string, unknown>> })
        .projectExecutionResponses;
      expect(usmf).to.include({ legalEntityName: "USMF", executionStatus: "Failed" });
      expect(usmf?.errorCount).to.be.greaterThan(5);
      const legs =
        (
          usmf?.taskExecutionStatuses as Array<{
            legs: Array<{ status: string; importErrors: Array<Record<string, string>> }>;
          }>
        )[0]?.legs ?? [];
      expect(legs[0]?.status).to.equal("ERROR");
      expect(legs[0]?.importErrors).to.have.length(5);
      expect(legs[0]?.importErrors[0]?.sourceField).to.equal("msdyn_customergroupid");
      expect(legs[0]?.importErrors[0]?.errorMessage).to.match(
        /^Couldn't resolve the guid for the field: msdyn_customergroupid\. The lookup wasn't found: \d+\. Try this URL\(s\): https:\/\/127\.0\.0\.1:\d+\/dataverse\/.+\/api\/data\/v9\.0\/msdyn_customergroups\?\$select=msdyn_customergroupid&\$filter=msdyn_groupid eq '\d+' and _msdyn_company_value eq [0-9a-f-]+$/,
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

      await pair.startMaps(Maps.accounts);
      const run = await pair.initialSync(Maps.accounts, "AX");
      expect(run.state, String(run.errorMessage)).to.equal(2);
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
        `api/ProjectExecutionWithCompanies/${(await pair.map(Maps.accounts)).detail.pid}`,
      );
      const [execution] = (
        res.json as { projectExecutionResponses: Array<Record<string, unknown>> }
      ).projectExecutionResponses;
      expect(execution).to.include({
        legalEntityName: "USMF",
        executionStatus: "Succeeded",
        errorCount: 0,
        initialSyncRequestId: run.requestId,
      });
      expect(execution?.upsertCount).to.equal(fnoOrgs.length + stampedOnlyInDv.length);
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
      await pair.startMaps(Maps.accounts);
      const run = await pair.initialSync(Maps.accounts, "CRM");
      expect(run.state, String(run.errorMessage)).to.equal(2);
      const customer = await pair.fno(
        "GET",
        `CustomersV3(dataAreaId='usmf',CustomerAccount='${String(twin?.accountnumber)}')`,
      );
      expect((customer.json as Row).OrganizationName).to.equal("Dataverse Wins Ltd");
    });

    it("refuses more than 500,000 rows per legal entity, counting virtual rows", async () => {
      const pair = await Pair.seed(emu, "existing-existing", 5);
      await pair.linkWithCoreMaps(["USMF"]);
      await pair.startMaps(Maps.legalEntities, Maps.currencies, Maps.customerGroups, Maps.accounts);
      const set = await pair.control("PUT", "virtual-rows", {
        env: pair.name,
        side: "fno",
        table: "CustomersV3",
        company: "USMF",
        count: 500_000,
      });
      expect(set.status, set.text).to.equal(200);
      const count = await pair.fno("GET", "CustomersV3/$count");
      expect(Number(count.text)).to.equal(500_005);

      const run = await pair.initialSync(Maps.accounts, "AX");
      expect(run.state).to.equal(3);
      expect(run.errorMessage).to.include(
        "rows of CustomersV3 for legal entity USMF exceed the limit of 500000 rows per initial synchronization run per legal entity",
      );
      expect((await pair.map(Maps.accounts)).detail.state).to.equal(State.notRunning);
    });

    it("fails the Dataverse leg of a map with ten or more lookups", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      await pair.startMaps(Maps.legalEntities, Maps.vendors);
      const run = await pair.initialSync(Maps.vendors, "CRM");
      expect(run.state).to.equal(3);
      expect(run.errorMessage).to.match(
        /5 Attempts to get data from https:\/\/127\.0\.0\.1:\d+\/dataverse\/.+\/msdyn_vendors Failed\. The map has 12 lookups/,
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
      expect(await pair.applySolutions("msdyn_DualWriteAppCoreMaps")).to.include({ state: 2 });
      await pair.startMaps(Maps.legalEntities);
      const run = await pair.initialSync(Maps.legalEntities, "AX");
      expect(run.state).to.equal(3);
      expect(run.errorMessage).to.equal(
        "Initial sync supports at most 40 legal entities; this run has 41. Run it in groups of at most 40.",
      );
      expect((await pair.map(Maps.legalEntities)).detail.state, "the map keeps its state").to.equal(
        State.running,
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

      await emu.control.updateSettings({ jobRowsPerSecond: 0.001 });
      const slow = await pair.act(Action.initialSync, [Maps.customerGroups], {
        conflictResolution: { option: "1", master: "AX" },
      });
      const { requestId } = slow.json as { requestId: string };
      await pair.waitForState(Maps.customerGroups, State.initialSync, "InitialSync");
      const blocked = await edit(["USMF", "USRT"]);
      expect(blocked.status).to.equal(409);
      expect((blocked.json as { error: { code: string } }).error.code).to.equal("MapInitializing");
      await emu.control.updateSettings({ jobRowsPerSecond: 100_000 });
      expect((await pair.waitRequest(requestId)).state).to.equal(2);

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

      expect((await pair.run(Action.pause, [Maps.customerGroups])).state).to.equal(2);
      const removal = await edit(["USMF"]);
      expect(removal.status).to.equal(409);
      expect((removal.json as { error: { code: string } }).error.code).to.equal("MapPaused");
      const more = await edit(["USMF", "USRT", "DEMF"], true);
      expect(more.status, more.text).to.equal(200);
      const connection = await pair.gateway("GET", `api/ConnectionSet/${pair.name}`);
      const mappings = (
        connection.json as {
          dualWriteDetail: { legalEntityMappings: { mappings: Array<{ left: { name: string } }> } };
        }
      ).dualWriteDetail.legalEntityMappings.mappings;
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
      await pair.startMaps(Maps.accounts);
      await pair.initialSync(Maps.accounts, "AX");
      const before = {
        accounts: (await pair.dvRows("accounts")).length,
        contacts: (await pair.dvRows("contacts")).length,
        groups: (await pair.dvRows("msdyn_customergroups")).length,
        companies: (await pair.dvRows("cdm_companies")).length,
        customers: (await pair.fnoRows("CustomersV3")).length,
      };
      expect((await pair.dvRows("msdyn_dualwriteruntimeconfigs")).length).to.be.greaterThan(0);

      const refused = await pair.gateway(
        "POST",
        `api/ConnectionSet/${pair.cid}/Reset?targetType=AX&forceReset=false`,
        {},
      );
      expect(refused.status).to.equal(409);
      expect((refused.json as { error: { code: string; message: string } }).error.code).to.equal(
        "MapsNotStopped",
      );

      const reset = await pair.gateway(
        "POST",
        `api/ConnectionSet/${pair.cid}/Reset?targetType=AX&forceReset=true`,
        {},
      );
      expect(reset.status, reset.text).to.equal(200);
      expect(await pair.maps()).to.deep.equal([]);
      expect((await pair.gateway("GET", `api/ConnectionSet/${pair.name}`)).status).to.equal(404);
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

      // Relinking starts from scratch: solutions must be applied again, history is gone.
      await pair.linkWithCoreMaps(["USMF"]);
      const accounts = await pair.map(Maps.accounts);
      expect(accounts.detail.state).to.equal(State.stopped);
      expect(accounts.detail.lastRequests).to.deep.equal([]);
      const history = await pair.gateway(
        "GET",
        `api/ProjectExecutionWithCompanies/${accounts.detail.pid}`,
      );
      expect(history.json).to.deep.equal({
        projectExecutionResponses: [
          {
            legalEntityName: "USMF",
            executionStatus: "NotStarted",
            initialSyncRequestId: null,
            upsertCount: 0,
            errorCount: 0,
            totalCount: 0,
            taskExecutionStatuses: [],
          },
        ],
      });
    });

    it("keeps links 1:1: a Dataverse org linked elsewhere cannot be linked again", async () => {
      const first = await Pair.seed(emu, "new-new", 0);
      const second = await Pair.seed(emu, "new-new", 0);
      await first.link(["DAT"]);
      const res = await second.reset(["DAT"], { org: first.info.dataverseUrl });
      expect(res.status).to.equal(409);
      expect((res.json as { error: { code: string } }).error.code).to.equal(
        "DataverseAlreadyLinked",
      );
      await first.gateway(
        "POST",
        `api/ConnectionSet/${first.cid}/Reset?targetType=AX&forceReset=false`,
        {},
      );
      expect((await second.reset(["DAT"], { org: first.info.dataverseUrl })).status).to.equal(200);
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
        await pair.startMaps(Maps.legalEntities, Maps.customerGroups);
        const posted = await pair.act(Action.initialSync, [Maps.customerGroups], {
          conflictResolution: { option: "1", master: "AX" },
        });
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
        expect(done.state, String(done.errorMessage)).to.equal(2);
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
