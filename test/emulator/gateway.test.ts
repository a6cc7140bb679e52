/**
 * The DualWriteManagement gateway over HTTPS with real tokens, in the dialect of Microsoft's own
 * tool (microsoft/Dual-write-automations @ f14edd6, `DWLibary/`): environments by host, the
 * connection set with its schemas and keys, Reset with the tool's body, solutions one per apply,
 * maps with template ids and string states, `"8"` initialization, prerequisites, field mappings
 * and refresh, `SwitchActive` with a raw body, integration keys, initial-sync results, the
 * Dataverse functions that give the cid and the Power Platform environment id — and the old
 * dialect refused.
 */
import { expect } from "chai";
import { guidFrom } from "../../emulator/runtime/ids";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import {
  Action,
  Maps,
  Pair,
  State,
  gatewayAudience,
  hostOf,
  startParameters,
  type MapItem,
} from "./dualWriteHarness";

type ErrorBody = { error: { code: string; message: string } };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("DualWriteManagement gateway (HTTPS)", () => {
  let emu: TestEmulator;

  before(async () => {
    emu = await startTestEmulator({ settings: { transitionMs: 5, jobRowsPerSecond: 100_000 } });
  });
  after(() => emu?.close());

  it("answers 401 to a token for another audience", async () => {
    const pair = await Pair.seed(emu, "new-new", 0);
    const url = `${emu.gatewayUrl}/api/DualWriteManagement/1.0/Entities?targetType=AX&cid=${pair.cid}`;
    const res = await emu.request("GET", url, { token: await emu.token(pair.info.dataverseUrl) });
    expect(res.status).to.equal(401);
    const ok = await emu.request("GET", url, { token: await emu.token(gatewayAudience) });
    expect(ok.status).to.equal(200);
  });

  describe("Dataverse functions that name the pair", () => {
    it("answers RetrieveCurrentOrganization with the Power Platform environment id", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      const res = await pair.dv(
        "GET",
        "RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default')",
      );
      expect(res.status, res.text).to.equal(200);
      const detail = (res.json as { Detail: Record<string, unknown> }).Detail;
      expect(detail.EnvironmentId).to.equal(pair.powerAppsEnvironment).and.match(GUID);
      expect(detail.OrganizationId).to.match(GUID);
      expect(detail.TenantId).to.equal(emu.credentials.tenantId);
      for (const k of ["FriendlyName", "OrganizationVersion", "UrlName", "UniqueName", "Geo"])
        expect(detail[k], k).to.be.a("string");
      expect(detail.Endpoints).to.deep.include({
        Keys: ["WebApplication", "OrganizationService", "OrganizationDataService"],
      });
      expect((detail.Endpoints as { Values: string[] }).Values[0]).to.equal(
        `${pair.info.dataverseUrl}/`,
      );
      const other = await Pair.seed(emu, "new-new", 0);
      expect(other.powerAppsEnvironment, "one id per environment").to.not.equal(
        pair.powerAppsEnvironment,
      );
      const bare = await pair.dv("GET", "RetrieveCurrentOrganization");
      expect(bare.status).to.equal(400);
    });

    it("answers RetrieveFinanceAndOperationsIntegrationDetails while integrated, linked or not", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      const expected = {
        Url: pair.info.financeOperationsUrl,
        Id: pair.cid,
        TenantId: emu.credentials.tenantId,
      };
      const before = await pair.dv("GET", "RetrieveFinanceAndOperationsIntegrationDetails");
      expect(before.status, before.text).to.equal(200);
      expect(before.json).to.include(expected);
      await pair.link(["DAT"]);
      const after = await pair.dv("GET", "RetrieveFinanceAndOperationsIntegrationDetails");
      expect(after.json).to.include(expected);

      // Removing the Power Platform integration (drift, control API) makes it answer 0x80048d0b.
      const org = pair.name;
      const removed = await pair.control("PUT", `integration/${org}`, { integrated: false });
      expect(removed.status, removed.text).to.equal(200);
      const gone = await pair.dv("GET", "RetrieveFinanceAndOperationsIntegrationDetails");
      expect(gone.status).to.equal(404);
      expect((gone.json as ErrorBody).error.code).to.equal("0x80048d0b");
      await pair.control("PUT", `integration/${org}`, { integrated: true });
      const back = await pair.dv("GET", "RetrieveFinanceAndOperationsIntegrationDetails");
      expect(back.json).to.include(expected);
    });
  });

  describe("environments and the connection set", () => {
    it("resolves a linked environment by its host only: [] for URLs, unknown hosts and unlinked environments", async () => {
      const pair = await Pair.seed(emu, "existing-new", 0);
      expect(await pair.environments(), "not linked yet").to.deep.equal([]);
      expect(await pair.environments("127.0.0.250")).to.deep.equal([]);
      expect((await pair.gateway("GET", `api/ConnectionSet/${pair.name}`)).status).to.equal(404);
      expect(await pair.maps()).to.deep.equal([]);
      const notLinked = await pair.dwm("GET", `SolutionAware/${pair.cid}/Solutions/`);
      expect(notLinked.status).to.equal(409);
      expect((notLinked.json as ErrorBody).error.code).to.equal("NotLinked");

      const linked = await pair.link(["USMF", "DEMF"]);
      expect(linked.json).to.deep.equal({});
      const [env, ...more] = await pair.environments();
      expect(more).to.deep.equal([]);
      expect(env).to.deep.equal({
        cid: pair.cid,
        cname: env?.cname,
        targetType: "AX",
        displayName: pair.fnoHost,
        detail: { isSolutionAware: true },
        powerAppsEnvironment: pair.powerAppsEnvironment,
      });
      expect(env?.cname).to.match(/^dw-[0-9a-f-]{36}$/);
      // The old dialect: a full URL (with or without a trailing slash), a host with its port.
      const port = new URL(pair.info.financeOperationsUrl).port;
      for (const identifier of [
        pair.info.financeOperationsUrl,
        `${pair.info.financeOperationsUrl}/`,
        `${pair.fnoHost}:${port}`,
      ]) {
        expect(await pair.environments(identifier), identifier).to.deep.equal([]);
      }
      const crm = await pair.dwm(
        "GET",
        `Environments?targetType=CRM&identifier=${hostOf(pair.info.dataverseUrl)}`,
      );
      expect(crm.status).to.equal(400);
    });

    it("reports the connection set as the tool's DWConnectionSet: environments by name, schemas with user keys", async () => {
      const pair = await Pair.seed(emu, "existing-new", 0);
      await pair.linkWithCoreMaps(["USMF", "DEMF"]);
      const set = await pair.connectionSet();
      const cname = await pair.cname();
      const axName = pair.fnoHost;
      const crmName = hostOf(pair.info.dataverseUrl);
      expect(set).to.include({
        id: pair.cid,
        name: cname,
        tenant: emu.credentials.tenantId,
        forDualWrite: true,
      });
      expect((set as unknown as { targetTypeList: string[] }).targetTypeList).to.deep.equal([
        "AX",
        "CRM",
      ]);
      expect(Object.keys(set.environments)).to.have.members([axName, crmName]);
      expect(set.environments[axName]).to.deep.include({
        name: axName,
        targetType: "AX",
        directUrl: pair.info.financeOperationsUrl,
        powerAppsEnvironment: pair.powerAppsEnvironment,
        isDevInstance: false,
      });
      const crm = set.environments[crmName];
      expect(crm).to.deep.include({
        name: crmName,
        connectionSetName: cname,
        targetType: "CRM",
        directUrl: pair.info.dataverseUrl,
        powerAppsEnvironment: pair.powerAppsEnvironment,
      });
      const accounts = crm?.schemas.find((s) => s.name === "accounts");
      expect(accounts?.keys).to.deep.equal([
        {
          name: "userKeys",
          displayName: "User keys",
          fields: ["accountnumber", "msdyn_company.cdm_companycode"],
          isIntegrationKey: true,
        },
      ]);
      expect((accounts as unknown as { id: string }).id).to.match(GUID);

      const companies = await pair.dvRows("cdm_companies");
      const idOf = (code: string): unknown =>
        companies.find((c) => c.cdm_companycode === code)?.cdm_companyid;
      expect(set.dualWriteDetail.legalEntityMappings).to.deep.equal({
        leftEnvironment: axName,
        rightEnvironment: crmName,
        mappings: [
          { left: { name: "USMF", id: "USMF" }, right: { name: "USMF", id: idOf("USMF") } },
          { left: { name: "DEMF", id: "DEMF" }, right: { name: "DEMF", id: idOf("DEMF") } },
        ],
      });
      const requests = (
        set.dualWriteDetail as unknown as { solutionAwareRequests: Array<Record<string, unknown>> }
      ).solutionAwareRequests;
      expect(requests.map((r) => [r.action, r.state])).to.deep.equal([["2", "2"]]);
      // Only the connection-set name opens it (not the environment's name, not the cid).
      for (const other of [pair.name, pair.cid])
        expect((await pair.gateway("GET", `api/ConnectionSet/${other}`)).status).to.equal(404);
    });
  });

  describe("solutions", () => {
    it("lists the installed orchestration solutions as SolutionList and applies one per call", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.link(["DAT"]);
      const list = await pair.dwm("GET", `SolutionAware/${pair.cid}/Solutions/`);
      const solutions = list.json as Array<Record<string, unknown>>;
      expect(solutions.map((s) => s.uniquename)).to.deep.equal([
        "msdyn_DualWriteAppCoreMaps",
        "Dynamics365FinanceAndOperationsDualWriteMaps",
        "Dynamics365GABDualWriteEntityMaps",
      ]);
      const installed = (await pair.dvRows("solutions")).find(
        (s) => s.uniquename === "msdyn_DualWriteAppCoreMaps",
      );
      expect(solutions[0]).to.deep.equal({
        uniquename: "msdyn_DualWriteAppCoreMaps",
        version: installed?.version,
        friendlyname: installed?.friendlyname,
        ismanaged: true,
        solutionid: installed?.solutionid,
        id: installed?.solutionid,
        description: "",
      });

      const missing = await pair.applySolution("msdyn_Dynamics365SupplyChainExtendedMaps");
      expect(missing).to.deep.include({ action: "2", state: "3" });
      expect(missing.result.message).to.match(
        /^Dynamics 365 for Sales solution 'Dynamics365SupplyChainExtended' is missing\. Required version: '[\d.]+'/,
      );
      expect(await pair.maps()).to.deep.equal([]);

      const core = await pair.applySolution("msdyn_DualWriteAppCoreMaps");
      expect(core).to.deep.include({ action: "2", state: "2" });
      expect(core.result).to.deep.equal({ message: "", status: "Succeeded" });
      const maps = await pair.maps();
      expect(maps.map((m) => m.detail.tName)).to.include.members([
        Maps.legalEntities,
        Maps.currencies,
        Maps.customerGroups,
        Maps.accounts,
        Maps.contacts,
      ]);
      expect(maps.every((m) => m.detail.state === State.stopped)).to.equal(true);
      expect((await pair.applySolution("Dynamics365GABDualWriteEntityMaps")).state).to.equal("2");
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
      const result = await pair.applySolution("msdyn_DualWriteAppCoreMaps");
      expect(result.state).to.equal("3");
      expect(result.result.message).to.equal(
        "Dynamics 365 for Sales solution 'Dynamics365Company' has version mismatch. Version: '2.0.2.10' Required version: '2.0.133'",
      );
    });

    it("refuses several solutions in one apply, a solution without maps, and a numeric action", async () => {
      const pair = await Pair.seed(emu, "new-new", 0);
      await pair.link(["DAT"]);
      const apply = (body: unknown) =>
        pair.dwm("POST", `SolutionAware/${pair.cid}/RestoreTemplates`, body);
      const two = await apply({
        action: "2",
        solutions: [
          { criteria: { uniquename: "msdyn_DualWriteAppCoreMaps" } },
          { criteria: { uniquename: "Dynamics365GABDualWriteEntityMaps" } },
        ],
      });
      expect(two.status).to.equal(400);
      expect((two.json as ErrorBody).error.message).to.match(/exactly one solution/);
      const unknown = await apply({
        action: "2",
        solutions: [{ criteria: { uniquename: "NotASolution" } }],
      });
      expect(unknown.status).to.equal(400);
      expect((unknown.json as ErrorBody).error.code).to.equal("UnknownSolution");
      for (const action of [2, "9"]) {
        const bad = await apply({
          action,
          solutions: [{ criteria: { uniquename: "msdyn_DualWriteAppCoreMaps" } }],
        });
        expect(bad.status, String(action)).to.equal(400);
        expect((bad.json as ErrorBody).error.message).to.match(/body\.action/);
      }
      expect(await pair.maps()).to.deep.equal([]);
    });
  });

  describe("maps", () => {
    let pair: Pair;
    let maps: MapItem[];
    before(async () => {
      pair = await Pair.seed(emu, "new-new", 0);
      await pair.link(["DAT"]);
      expect((await pair.applySolution("msdyn_DualWriteAppCoreMaps")).state).to.equal("2");
      maps = await pair.maps();
    });
    const byName = (name: string, from = maps): MapItem => {
      const m = from.find((x) => x.detail.tName === name);
      if (!m) throw new Error(`no ${name}`);
      return m;
    };

    it("lists maps as the live capture shows them: tid = active template id, string state, actions, no pid before init", () => {
      const accounts = byName(Maps.accounts);
      expect(accounts.leftEntity).to.deep.equal({
        targetType: "AX",
        name: "Customers V3",
        displayName: "Customers V3",
        singletonName: "Customers V3",
      });
      expect(accounts.rightEntity).to.deep.equal({
        targetType: "CRM",
        name: "accounts",
        displayName: "accounts",
        singletonName: "account",
      });
      expect(accounts.detail).to.not.have.property("pid");
      expect(accounts.detail).to.not.have.property("integrationKeys");
      expect(accounts.detail).to.include({ state: "1", isProjectDeleted: false });
      expect(accounts.detail.actions).to.deep.equal(["8"]);
      expect(
        accounts.detail.templates.map((t) => `${t.author} ${Object.values(t.version).join(".")}`),
      ).to.deep.equal(["Contoso 1.0.0.1", "Microsoft 1.0.0.4", "Microsoft 1.0.0.5"]);
      expect(accounts.detail.template).to.deep.include({
        author: "Microsoft",
        name: `msdyn_[${Maps.accounts}]`,
        version: { major: 1, minor: 0, build: 0, revision: 5 },
      });
      expect(accounts.detail.tid).to.equal(accounts.detail.template.id).and.match(GUID);
      const ids = maps.flatMap((m) => m.detail.templates.map((t) => t.id));
      expect(new Set(ids).size, "every version has its own id").to.equal(ids.length);
      expect(accounts.detail.templates.map((t) => t.id)).to.include(accounts.detail.tid);
    });

    it('initializes maps with "8" (no pid, no parameters) and refuses the old dialect of Start', async () => {
      const currencies = byName(Maps.currencies).detail;
      const post = (body: unknown) => pair.dwm("POST", "Start", body);
      const initBody = { action: "8", details: [{ tid: currencies.tid, cid: pair.cid }] };
      // Before init: a start has no pid to send.
      const noPid = await post({ ...initBody, action: "1" });
      expect(noPid.status).to.equal(400);
      const init = await post(initBody);
      expect(init.status, init.text).to.equal(200);
      const { requestId } = init.json as { requestId: string };
      expect(requestId).to.match(GUID);
      const done = await pair.waitRequest(requestId);
      expect(done.state, String(done.errorMessage)).to.equal("2");
      const status = await pair.dwm("GET", `Status/${requestId}`);
      const [item, ...rest] = status.json as MapItem[];
      expect(rest).to.deep.equal([]);
      expect(item?.detail.tName).to.equal(Maps.currencies);
      expect(item?.detail.pid).to.match(GUID);
      expect(item?.detail.lastRequests[0]).to.include({ requestId, action: "8", state: "2" });
      expect(
        (item?.detail as unknown as { lastRequest: { requestId: string } }).lastRequest.requestId,
      ).to.equal(requestId);
      const pid = String(item?.detail.pid);

      const detail = { tid: currencies.tid, pid, cid: pair.cid };
      const mapId = guidFrom("tid", pair.cid, Maps.currencies);
      const refused: Array<[string, unknown, string]> = [
        ["numeric action", { action: 1, details: [detail] }, "InvalidAction"],
        ["old stop code 2", { action: "2", details: [detail] }, "InvalidAction"],
        ["old pause code 3", { action: "3", details: [detail] }, "InvalidAction"],
        ["unknown code", { action: "7", details: [detail] }, "InvalidAction"],
        [
          "map id as tid",
          { action: "1", details: [{ ...detail, tid: mapId }] },
          "InvalidTemplateId",
        ],
        [
          "cid as tid",
          { action: "4", details: [{ ...detail, tid: pair.cid }] },
          "InvalidTemplateId",
        ],
        ["foreign pid", { action: "4", details: [{ ...detail, pid: pair.cid }] }, "BadRequest"],
        ["pid with 8", { action: "8", details: [detail] }, "BadRequest"],
        [
          "parameters with 8",
          {
            action: "8",
            details: [{ tid: detail.tid, cid: pair.cid, parameters: startParameters(true, "CRM") }],
          },
          "BadRequest",
        ],
        ["no details", { action: "1", details: [] }, "BadRequest"],
        [
          "numeric option",
          {
            action: "1",
            details: [{ ...detail, parameters: { conflictResolution: { option: 1 } } }],
          },
          "BadRequest",
        ],
      ];
      for (const [what, body, code] of refused) {
        const res = await post(body);
        expect(res.status, `${what}: ${res.text}`).to.equal(400);
        expect((res.json as ErrorBody).error.code, what).to.equal(code);
      }
      expect((await pair.dwm("GET", `Status/${guidFrom("nothing")}`)).status).to.equal(404);
      // The map was never touched by the refused calls.
      expect((await pair.map(Maps.currencies)).detail.lastRequests).to.have.length(1);
    });

    it("answers prerequisite sequences as active template ids in start order", async () => {
      await pair.initMaps();
      maps = await pair.maps();
      const tid = (n: string): string => byName(n).detail.tid;
      const sequence = async (id: string): Promise<unknown> => {
        const res = await pair.dwm("POST", `GetTemplatePrerequisiteSequences/${pair.cid}`, [id]);
        expect(res.status, res.text).to.equal(200);
        return res.json;
      };
      expect(await sequence(tid(Maps.accounts))).to.deep.equal([
        [tid(Maps.legalEntities), tid(Maps.currencies), tid(Maps.customerGroups)],
      ]);
      expect(await sequence(tid(Maps.customerGroups))).to.deep.equal([[tid(Maps.legalEntities)]]);
      expect(await sequence(tid(Maps.currencies))).to.deep.equal([[]]);
      const mapId = await pair.dwm("POST", `GetTemplatePrerequisiteSequences/${pair.cid}`, [
        guidFrom("tid", pair.cid, Maps.accounts),
      ]);
      expect(mapId.status).to.equal(400);
    });

    it("answers field mappings with the project's name and id, and refreshes that project", async () => {
      const accounts = byName(Maps.accounts);
      const pid = String(accounts.detail.pid);
      const res = await pair.dwm("GET", `${pid}/FieldMappings`);
      expect(res.status, res.text).to.equal(200);
      const fm = res.json as {
        name: string;
        id: string;
        templateIdentifier: { id: string };
        entityMappingTasks: Array<{ legs: Array<Record<string, unknown>> }>;
      };
      expect(fm.id).to.equal(pid);
      expect(fm.name).to.be.a("string").and.include(pid);
      expect(fm.templateIdentifier.id).to.equal(accounts.detail.tid);
      const leg = fm.entityMappingTasks[0]?.legs[0];
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
      const refresh = await pair.gateway("POST", `api/Project/${fm.name}/Refresh`, {
        tokens: [""],
      });
      expect(refresh.status, refresh.text).to.equal(200);
      const unknown = await pair.gateway("POST", "api/Project/DWM-nothing/Refresh", {
        tokens: [""],
      });
      expect(unknown.status).to.equal(404);
      expect((unknown.json as ErrorBody).error.code).to.equal("ProjectNotFound");
    });

    it("switches the active version with the raw template id as body, only while the map is stopped", async () => {
      const groups = byName(Maps.customerGroups).detail;
      const older = groups.templates[0];
      const path = `SolutionAware/${pair.cid}/SwitchActive/${String(older?.id)}?pid=${String(groups.pid)}`;
      await pair.startMaps(Maps.legalEntities, Maps.customerGroups);
      const refused = await pair.dwm("POST", path, String(older?.id));
      expect(refused.status).to.equal(409);
      expect((refused.json as ErrorBody).error.code).to.equal("MapNotStopped");

      const stopped = await pair.run(
        Action.stop,
        [Maps.customerGroups],
        startParameters(true, "CRM"),
      );
      expect(stopped.state).to.equal("2");
      const quoted = await pair.dwm("POST", path, JSON.stringify(String(older?.id)));
      expect(quoted.status, "a JSON-quoted body is not what the tool sends").to.equal(400);
      const switched = await pair.dwm("POST", path, String(older?.id));
      expect(switched.status, switched.text).to.equal(200);
      const after = (await pair.map(Maps.customerGroups)).detail;
      expect(after.template).to.deep.equal(older);
      expect(after.tid, "tid follows the active version").to.equal(older?.id);
      expect(after.pid).to.equal(groups.pid);
      const missing = await pair.dwm(
        "POST",
        `SolutionAware/${pair.cid}/SwitchActive/00000000-0000-0000-0000-000000000000?pid=${String(groups.pid)}`,
        "00000000-0000-0000-0000-000000000000",
      );
      expect(missing.status).to.equal(404);
    });

    it("sets integration keys on the CRM dataset and shows them in the connection set only", async () => {
      const dataset = hostOf(pair.info.dataverseUrl);
      const keysOf = async (set: string): Promise<string[] | undefined> => {
        const cs = await pair.connectionSet();
        const crm = Object.values(cs.environments).find((e) => e.targetType === "CRM");
        return crm?.schemas.find((s) => s.name === set)?.keys[0]?.fields;
      };
      expect(await keysOf("accounts")).to.deep.equal([
        "accountnumber",
        "msdyn_company.cdm_companycode",
      ]);
      const post = (name: string, body: unknown) =>
        pair.gateway("POST", `api/dataset/${name}/IntegrationKeys`, body);
      const set = await post(dataset, {
        integrationKeys: { accounts: ["accountnumber", "name", "msdyn_company.cdm_companycode"] },
        datasetName: dataset,
      });
      expect(set.status, set.text).to.equal(200);
      expect(await keysOf("accounts")).to.deep.equal([
        "accountnumber",
        "name",
        "msdyn_company.cdm_companycode",
      ]);
      expect(
        (await pair.gateway("GET", `api/dataset/${dataset}/IntegrationKeys`)).status,
        "no GET route",
      ).to.equal(405);

      const running = await post(dataset, {
        integrationKeys: { cdm_companies: ["cdm_companycode", "cdm_name"] },
        datasetName: dataset,
      });
      expect(running.status).to.equal(409);
      const unknownSet = await post(dataset, {
        integrationKeys: { nosuchset: ["x"] },
        datasetName: dataset,
      });
      expect(unknownSet.status).to.equal(400);
      expect((unknownSet.json as ErrorBody).error.code).to.equal("UnknownEntity");
      // The old dialect named the dataset by the org's name; the CRM environment's name is wanted.
      for (const name of [pair.name, "contoso.crm.dynamics.com"]) {
        const res = await post(name, { integrationKeys: { accounts: ["accountnumber"] } });
        expect(res.status, name).to.equal(404);
        expect((res.json as ErrorBody).error.code).to.equal("DatasetNotFound");
      }
    });

    it("answers initial-sync results with the project name, empty before any run", async () => {
      const accounts = byName(Maps.accounts);
      const res = await pair.gateway(
        "GET",
        `api/ProjectExecutionWithCompanies/${String(accounts.detail.pid)}`,
      );
      expect(res.status, res.text).to.equal(200);
      const fm = await pair.dwm("GET", `${String(accounts.detail.pid)}/FieldMappings`);
      expect(res.json).to.deep.equal({
        projectName: (fm.json as { name: string }).name,
        projectExecutionResponses: [],
      });
      const unknown = await pair.gateway("GET", `api/ProjectExecutionWithCompanies/${pair.cid}`);
      expect(unknown.status).to.equal(404);
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
      expect((await pair.map(Maps.currencies)).detail.state).to.equal(State.stopped);
      const version = await pair.control(
        "PUT",
        `maps/${pair.name}/${encodeURIComponent(Maps.accounts)}/version`,
        {
          version: "1.0.0.1",
          author: "Contoso",
        },
      );
      expect(version.status, version.text).to.equal(200);
      const accounts = (await pair.map(Maps.accounts)).detail;
      expect(accounts.template.author).to.equal("Contoso");
      expect(accounts.tid).to.equal(accounts.template.id);

      const removed = await pair.control("DELETE", `links/${pair.name}/legal-entities/USRT`);
      expect(removed.json).to.deep.equal({ legalEntities: ["USMF"] });
      const links = (await pair.control("GET", "links")).json as Array<{
        fnoEnv: string;
        cname: string;
        legalEntities: string[];
      }>;
      const link = links.find((l) => l.fnoEnv === pair.name);
      expect(link?.legalEntities).to.deep.equal(["USMF"]);
      expect(link?.cname).to.equal(await pair.cname());
      const bad = await pair.control(
        "PUT",
        `maps/${pair.name}/${encodeURIComponent(Maps.currencies)}/state`,
        { state: "Sleeping" },
      );
      expect(bad.status).to.equal(400);
    });
  });
});
