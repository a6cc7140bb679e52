/**
 * The DualWriteManagement gateway over HTTPS with real tokens (docs/wire-contract.md): environment
 * resolution, connection set and link, solutions (apply, missing and stale Dataverse solutions),
 * maps with versions and `SwitchActive`, prerequisites, field mappings, integration keys, request
 * validation and the integration details Dataverse reports once linked.
 */
import { expect } from "chai";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import { Maps, Pair, gatewayAudience, type MapItem } from "./dualWriteHarness";

type ErrorBody = { error: { code: string; message: string } };

describe("DualWriteManagement gateway (HTTPS)", () => {
  let emu: TestEmulator;

  before(async () => {
    emu = await startTestEmulator({ settings: { transitionMs: 5, jobRowsPerSecond: 100_000 } });
  });
  after(() => emu?.close());

  it("answers 401 to a token for another audience", async () => {
    const pair = await Pair.seed(emu, "new-new", 0);
    const token = await emu.token(pair.info.dataverseUrl);
    const res = await emu.request(
      "GET",
      `${emu.gatewayUrl}/api/DualWriteManagement/1.0/Entities?targetType=AX&cid=${pair.cid}`,
      { token },
    );
    expect(res.status).to.equal(401);
    const ok = await emu.request(
      "GET",
      `${emu.gatewayUrl}/api/DualWriteManagement/1.0/Entities?targetType=AX&cid=${pair.cid}`,
      {
        token: await emu.token(gatewayAudience),
      },
    );
    expect(ok.status).to.equal(200);
  });

  it("resolves environments by URL, links them and reports the connection set", async () => {
    const pair = await Pair.seed(emu, "existing-new", 0);
    const unknown = await pair.dwm(
      "GET",
      `Environments?targetType=AX&identifier=${encodeURIComponent(`${emu.url}/fno/nope`)}`,
    );
    expect(unknown.json).to.deep.equal([]);
    const before = await pair.dwm(
      "GET",
      `Environments?targetType=AX&identifier=${encodeURIComponent(pair.info.financeOperationsUrl)}`,
    );
    expect(before.json).to.deep.equal([
      {
        cid: pair.cid,
        cname: pair.name,
        detail: { isSolutionAware: true },
        powerAppsEnvironment: null,
        linked: false,
      },
    ]);
    expect((await pair.gateway("GET", `api/ConnectionSet/${pair.name}`)).status).to.equal(404);
    expect(await pair.maps()).to.deep.equal([]);
    const notLinked = await pair.dwm("GET", `SolutionAware/${pair.cid}/Solutions/`);
    expect(notLinked.status).to.equal(409);
    expect((notLinked.json as ErrorBody).error.code).to.equal("NotLinked");

    const linked = await pair.link(["USMF", "DEMF"]);
    expect(linked.json).to.have.property("requestId").that.is.a("string");
    const after = await pair.dwm(
      "GET",
      `Environments?targetType=AX&identifier=${encodeURIComponent(`${pair.info.financeOperationsUrl}/`)}`,
    );
    expect(after.json).to.deep.equal([
      {
        cid: pair.cid,
        cname: pair.name,
        detail: { isSolutionAware: true },
        powerAppsEnvironment: pair.info.dataverseUrl,
        linked: true,
      },
    ]);
    const reset = await pair.dwm(
      "GET",
      `Status/${(linked.json as { requestId: string }).requestId}`,
    );
    expect(reset.json).to.include({ state: 2, errorMessage: null });

    const set = await pair.gateway("GET", `api/ConnectionSet/${pair.name}`);
    expect(set.status).to.equal(200);
    const companies = await pair.dvRows("cdm_companies");
    const idOf = (code: string): unknown =>
      companies.find((c) => c.cdm_companycode === code)?.cdm_companyid;
    expect(set.json).to.deep.equal({
      cid: pair.cid,
      cname: pair.name,
      environments: [
        { name: pair.name, targetType: "AX", directUrl: pair.info.financeOperationsUrl },
        { name: pair.name, targetType: "CRM", directUrl: pair.info.dataverseUrl },
      ],
      dualWriteDetail: {
        legalEntityMappings: {
          leftEnvironment: pair.info.financeOperationsUrl,
          rightEnvironment: pair.info.dataverseUrl,
          mappings: [
            { left: { name: "USMF", id: "USMF" }, right: { name: "USMF", id: idOf("USMF") } },
            { left: { name: "DEMF", id: "DEMF" }, right: { name: "DEMF", id: idOf("DEMF") } },
          ],
        },
        conflictResolution: { option: "1", master: "CRM" },
        skipInitialWritesForNewLegalEntities: false,
        isSolutionAware: true,
      },
    });
  });

  it("reports the link through RetrieveFinanceAndOperationsIntegrationDetails", async () => {
    const pair = await Pair.seed(emu, "new-new", 0);
    const before = await pair.dv("GET", "RetrieveFinanceAndOperationsIntegrationDetails");
    expect(before.status).to.equal(404);
    await pair.link(["DAT"]);
    const after = await pair.dv("GET", "RetrieveFinanceAndOperationsIntegrationDetails");
    expect(after.status, after.text).to.equal(200);
    expect(after.json).to.include({
      Url: pair.info.financeOperationsUrl,
      Id: pair.cid,
      TenantId: emu.credentials.tenantId,
    });
  });

  describe("solutions", () => {
    it("lists orchestration solutions, applies installed ones and publishes only their maps", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.link(["DAT"]);
      const list = await pair.dwm("GET", `SolutionAware/${pair.cid}/Solutions/`);
      const solutions = list.json as Array<{
        uniqueName: string;
        installed: boolean;
        applied: boolean;
        maps: string[];
      }>;
      expect(solutions.map((s) => [s.uniqueName, s.installed, s.applied])).to.deep.equal([
        ["msdyn_DualWriteAppCoreMaps", true, false],
        ["Dynamics365FinanceAndOperationsDualWriteMaps", true, false],
        ["Dynamics365GABDualWriteEntityMaps", true, false],
        ["msdyn_Dynamics365FinanceExtendedMaps", false, false],
        ["msdyn_Dynamics365SupplyChainExtendedMaps", false, false],
      ]);
      const core = solutions[0]?.maps ?? [];
      expect(core).to.include.members([
        Maps.legalEntities,
        Maps.currencies,
        Maps.customerGroups,
        Maps.accounts,
        Maps.contacts,
      ]);

      const missing = await pair.applySolutions("msdyn_Dynamics365SupplyChainExtendedMaps");
      expect(missing.state).to.equal(3);
      expect(missing.errorMessage).to.match(
        /^Dynamics 365 for Sales solution 'Dynamics365SupplyChainExtended' is missing\. Required version: '[\d.]+'/,
      );
      expect(await pair.maps()).to.deep.equal([]);

      expect(await pair.applySolutions("msdyn_DualWriteAppCoreMaps")).to.deep.include({
        state: 2,
        errorMessage: null,
      });
      const maps = await pair.maps();
      expect(maps.map((m) => m.detail.tName)).to.have.members(core);
      expect(maps.every((m) => m.detail.state === 1)).to.equal(true);
      expect(await pair.applySolutions("Dynamics365GABDualWriteEntityMaps")).to.include({
        state: 2,
      });
      const both = await pair.maps();
      expect(both.length).to.be.greaterThan(maps.length);
      expect(both.map((m) => m.detail.tName)).to.include("msdyn_parties - CDS Parties");
    });

    it("fails to apply when a required Dataverse solution is too old, with the version-mismatch text", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.link(["DAT"]);
      const company = (await pair.dvRows("solutions")).find(
        (s) => s.uniquename === "Dynamics365Company",
      );
      await emu.control.patchRow("dataverse", pair.name, "solutions", String(company?.solutionid), {
        version: "2.0.2.10",
      });
      const result = await pair.applySolutions("msdyn_DualWriteAppCoreMaps");
      expect(result).to.include({
        state: 3,
        errorMessage:
          "Dynamics 365 for Sales solution 'Dynamics365Company' has version mismatch. Version: '2.0.2.10' Required version: '2.0.133'",
      });
    });

    it("refuses a solution that has no maps, and a malformed apply", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.link(["DAT"]);
      const unknown = await pair.dwm("POST", `SolutionAware/${pair.cid}/RestoreTemplates`, {
        action: "2",
        solutions: [{ criteria: { uniquename: "NotASolution" } }],
      });
      expect(unknown.status).to.equal(400);
      expect((unknown.json as ErrorBody).error.code).to.equal("UnknownSolution");
      const bad = await pair.dwm("POST", `SolutionAware/${pair.cid}/RestoreTemplates`, {
        action: "9",
        solutions: [],
      });
      expect(bad.status).to.equal(400);
      expect((bad.json as ErrorBody).error.message).to.match(/body\.action/);
    });
  });

  describe("maps", () => {
    let pair: Pair;
    let maps: MapItem[];
    before(async () => {
      pair = await Pair.seed(emu, "new-new", 0);
      await pair.linkWithCoreMaps(["DAT"]);
      maps = await pair.maps();
    });
    const byName = (name: string): MapItem => {
      const m = maps.find((x) => x.detail.tName === name);
      if (!m) throw new Error(`no ${name}`);
      return m;
    };

    it("lists maps with entities, ids, versions and keys, the newest Microsoft version active", () => {
      const accounts = byName(Maps.accounts);
      expect(accounts.leftEntity).to.deep.equal({ targetType: "AX", name: "Customers V3" });
      expect(accounts.rightEntity).to.deep.equal({ targetType: "CRM", name: "accounts" });
      expect(accounts.detail.pid).to.match(/^DWM-[0-9a-f-]{36}-[0-9a-f-]{36}$/);
      expect(
        accounts.detail.templates.map((t) => `${t.author} ${Object.values(t.version).join(".")}`),
      ).to.deep.equal(["Contoso 1.0.0.1", "Microsoft 1.0.0.4", "Microsoft 1.0.0.5"]);
      expect(accounts.detail.template).to.deep.include({
        author: "Microsoft",
        version: { major: 1, minor: 0, build: 0, revision: 5 },
      });
      expect(accounts.detail.integrationKeys).to.deep.equal([
        "accountnumber",
        "msdyn_company.cdm_companycode",
      ]);
      expect(new Set(maps.map((m) => m.detail.tid)).size).to.equal(maps.length);
    });

    it("answers prerequisite sequences in start order", async () => {
      const tid = (n: string): string => byName(n).detail.tid;
      const res = await pair.dwm("POST", `GetTemplatePrerequisiteSequences/${pair.cid}`, [
        tid(Maps.accounts),
        tid(Maps.customerGroups),
        tid(Maps.currencies),
      ]);
      expect(res.json).to.deep.equal([
        [tid(Maps.legalEntities), tid(Maps.currencies), tid(Maps.customerGroups)],
        [tid(Maps.legalEntities)],
        [],
      ]);
    });

    it("answers the field mappings of a map", async () => {
      const res = await pair.dwm("GET", `${byName(Maps.accounts).detail.pid}/FieldMappings`);
      const leg = (
        res.json as { entityMappingTasks: Array<{ legs: Array<Record<string, unknown>> }> }
      ).entityMappingTasks[0]?.legs[0];
      expect(leg).to.include({
        sourceSchema: "CustomersV3",
        destinationSchema: "accounts",
        sourceFilter: '((PartyType == "Organization"))',
        reversedSourceFilter: "customertypecode eq 3",
      });
      expect(leg?.fieldMappings).to.deep.include({
        sourceField: "CustomerGroupId",
        destinationField: "msdyn_customergroupid.msdyn_groupid",
        syncDirection: 3,
      });
    });

    it("switches the active version only while the map is stopped", async () => {
      const older = byName(Maps.customerGroups).detail.templates[0];
      const groups = byName(Maps.customerGroups).detail;
      await pair.startMaps(Maps.legalEntities, Maps.customerGroups);
      const refused = await pair.dwm(
        "POST",
        `SolutionAware/${pair.cid}/SwitchActive/${String(older?.id)}?pid=${groups.pid}`,
      );
      expect(refused.status).to.equal(409);
      expect((refused.json as ErrorBody).error.code).to.equal("MapNotStopped");

      expect((await pair.run(2, [Maps.customerGroups])).state).to.equal(2);
      const switched = await pair.dwm(
        "POST",
        `SolutionAware/${pair.cid}/SwitchActive/${String(older?.id)}?pid=${groups.pid}`,
      );
      expect(switched.status, switched.text).to.equal(200);
      expect(switched.json).to.deep.equal({ tid: groups.tid, template: older });
      expect((await pair.map(Maps.customerGroups)).detail.template).to.deep.equal(older);
      const missing = await pair.dwm(
        "POST",
        `SolutionAware/${pair.cid}/SwitchActive/00000000-0000-0000-0000-000000000000?pid=${groups.pid}`,
      );
      expect(missing.status).to.equal(404);
    });

    it("reads and sets integration keys, refusing a change while the map runs", async () => {
      const org = pair.name;
      const read = await pair.gateway("GET", `api/dataset/${org}/IntegrationKeys`);
      expect(
        (read.json as { integrationKeys: Record<string, string[]> }).integrationKeys.accounts,
      ).to.deep.equal(["accountnumber", "msdyn_company.cdm_companycode"]);
      const set = await pair.gateway("POST", `api/dataset/${org}/IntegrationKeys`, {
        datasetName: org,
        integrationKeys: { accounts: ["accountnumber", "name", "msdyn_company.cdm_companycode"] },
      });
      expect(set.status, set.text).to.equal(200);
      expect((await pair.map(Maps.accounts)).detail.integrationKeys).to.deep.equal([
        "accountnumber",
        "name",
        "msdyn_company.cdm_companycode",
      ]);

      const running = await pair.gateway("POST", `api/dataset/${org}/IntegrationKeys`, {
        datasetName: org,
        integrationKeys: { cdm_companies: ["cdm_companycode", "cdm_name"] },
      });
      expect(running.status).to.equal(409);
      const unknown = await pair.gateway("POST", `api/dataset/${org}/IntegrationKeys`, {
        integrationKeys: { nosuchset: ["x"] },
      });
      expect(unknown.status).to.equal(400);
      expect((unknown.json as ErrorBody).error.code).to.equal("UnknownEntity");
    });

    it("validates Start: unknown actions, unknown maps and bad bodies are 400/404; a numeric string action works", async () => {
      const accounts = byName(Maps.currencies).detail;
      for (const action of [5, 6, 0, "x"]) {
        const res = await pair.dwm("POST", "Start", {
          action,
          details: [{ tid: accounts.tid, pid: accounts.pid, cid: pair.cid }],
        });
        expect(res.status, String(action)).to.equal(400);
        expect((res.json as ErrorBody).error.code).to.equal("InvalidAction");
      }
      const noDetails = await pair.dwm("POST", "Start", { action: 1, details: [] });
      expect(noDetails.status).to.equal(400);
      const unknownMap = await pair.dwm("POST", "Start", {
        action: 1,
        details: [{ tid: "00000000-0000-0000-0000-000000000001", cid: pair.cid }],
      });
      expect(unknownMap.status).to.equal(404);
      expect((unknownMap.json as ErrorBody).error.code).to.equal("MapNotFound");
      const unknownRequest = await pair.dwm("GET", "Status/00000000-0000-0000-0000-000000000002");
      expect(unknownRequest.status).to.equal(404);

      const started = await pair.run("1" as never, [Maps.currencies]);
      expect(started.state).to.equal(2);
      expect(started.action).to.equal(1);
    });

    it("answers initial-sync results per legal entity, NotStarted before any run", async () => {
      const res = await pair.gateway(
        "GET",
        `api/ProjectExecutionWithCompanies/${byName(Maps.accounts).detail.pid}`,
      );
      expect(res.json).to.deep.equal({
        projectExecutionResponses: [
          {
            legalEntityName: "DAT",
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
  });

  describe("control API of the runtime", () => {
    it("sets map states and versions by hand and removes legal entities without guards (drift)", async () => {
      const pair = await Pair.seed(emu, "existing-new", 0);
      await pair.linkWithCoreMaps(["USMF", "USRT"]);
      await pair.startMaps(Maps.legalEntities, Maps.currencies);

      const stop = await pair.control(
        "PUT",
        `maps/${pair.name}/${encodeURIComponent(Maps.currencies)}/state`,
        { state: "Stopped" },
      );
      expect(stop.status, stop.text).to.equal(200);
      expect((await pair.map(Maps.currencies)).detail.state).to.equal(1);
      const version = await pair.control(
        "PUT",
        `maps/${pair.name}/${encodeURIComponent(Maps.accounts)}/version`,
        {
          version: "1.0.0.1",
          author: "Contoso",
        },
      );
      expect(version.status, version.text).to.equal(200);
      expect((await pair.map(Maps.accounts)).detail.template.author).to.equal("Contoso");

      const removed = await pair.control("DELETE", `links/${pair.name}/legal-entities/USRT`);
      expect(removed.json).to.deep.equal({ legalEntities: ["USMF"] });
      const links = (await pair.control("GET", "links")).json as Array<{
        fnoEnv: string;
        legalEntities: string[];
      }>;
      expect(links.find((l) => l.fnoEnv === pair.name)?.legalEntities).to.deep.equal(["USMF"]);
      const bad = await pair.control(
        "PUT",
        `maps/${pair.name}/${encodeURIComponent(Maps.currencies)}/state`,
        { state: "Sleeping" },
      );
      expect(bad.status).to.equal(400);
    });
  });
});
