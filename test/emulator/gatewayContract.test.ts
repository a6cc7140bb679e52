/**
 * The gateway contract, judged by Microsoft's own tool: the requests of microsoft/Dual-write-
 * automations (`DWLibary/` @ f14edd6), transcribed from its C# source with their file and line
 * (./dualWriteTool/requests.ts), replayed byte for byte against the emulator — method, path, query,
 * the tool's headers and body bytes — and the answers read the way its DTOs read them
 * (./dualWriteTool/dtos.ts, Newtonsoft's rules in ./dualWriteTool/newtonsoft.ts). Nothing here
 * uses `provider/`: if the provider and the emulator agreed with each other but not with the tool,
 * this suite would still fail.
 *
 * The flows follow the tool's engines in their order: resolve the environment by host, read the
 * connection set, apply one solution, list the maps, initialize those without a project ("8"),
 * prerequisites, field mappings and refresh, integration keys (read back from the connection
 * set), switch a version, start ("1"), pause ("5") and resume ("6") in bulk, stop ("4"), initial
 * sync ("1" with skipInitialSync false), its results, and a Reset built from the connection set.
 * The first link is the project's **choice** (docs/wire-contract.md, 3a): no evidence shows one.
 */
import { expect } from "chai";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import type { EnvironmentInfo } from "../../emulator/index";
import {
  ConnectionSet,
  EnvironmentList,
  FieldMappingsDto,
  InitialSyncDetails,
  MapList,
  MapsRequestResponse,
  PrerequisiteSequences,
  SolutionList,
  SolutionRequestResponse,
  SolutionResult,
  connectionSetEnvironment,
  currentKeyList,
  mapStatusOf,
  type ConnectionSetView,
  type DWEnvironmentView,
  type DWMapLastRequestView,
  type DWMapView,
  type DWSolutionView,
  type FieldMappingsView,
  type InitialSyncDetailsView,
  type SolutionResultView,
} from "./dualWriteTool/dtos";
import {
  clientCredentialsGrant,
  passwordGrant,
  refreshGrant,
  send,
  sendToolRequest,
  type ToolResponse,
} from "./dualWriteTool/http";
import { deserialize, type CsType } from "./dualWriteTool/newtonsoft";
import * as tool from "./dualWriteTool/requests";

const LEGAL_ENTITIES = "cdm_companies - Legal entities";
const CUSTOMER_GROUPS = "msdyn_customergroups - Customer groups";
const ACCOUNTS = "accounts - Customers V3";
const CORE_SOLUTION = "msdyn_DualWriteAppCoreMaps";

/** A bare GUID, as the live capture's `pid` and `tid` (toolbAX DualWriteResponseParserTests.cs). */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Map status codes (`DWEnums.cs:43-56`). */
const Status = { None: 0, Stopped: 1, InitialSync: 2, CatchUp: 3, Running: 4, Paused: 5 } as const;

/** A JSON object at `where`, or a failed assertion. */
function objectAt(value: unknown, where: string): Record<string, unknown> {
  expect(value, `${where} is an object`).to.be.an("object").and.not.be.an("array");
  return value as Record<string, unknown>;
}

/** Polls `probe` until it gives a value (real time; the emulator runs with short transitions). */
async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("gateway contract: Microsoft's dual-write tool against the emulator", function () {
  let emu: TestEmulator;
  let pair: EnvironmentInfo;
  /** The delegated gateway token of the seeded administrator, and its refresh token. */
  let gatewayToken: string;
  let refreshToken: string | undefined;
  /** An app-only token for the Dataverse set-up calls. */
  let dataverseToken: string;
  /** The F&O environment's host, the tool's `identifier` (`ArgsHandler.cs:76-98`). */
  let host: string;
  /** The Power Platform environment id of the Dataverse org (`RetrieveCurrentOrganization`). */
  let powerAppsEnvironment: string;
  let cid: string;
  let cname: string;

  /** Sends one of the tool's requests with the delegated token. */
  function call(request: tool.ToolRequest, token = gatewayToken): Promise<ToolResponse> {
    return sendToolRequest(emu.gatewayUrl, token, request);
  }

  /** Sends a request, expects success and reads the answer as the DTO `type`. */
  async function read<T>(request: tool.ToolRequest, type: CsType): Promise<T> {
    const res = await call(request);
    expect(res.status, `${request.source}: ${request.method} ${request.pathAndQuery} → ${res.text}`)
      .to.be.at.least(200)
      .and.below(300);
    return deserialize<T>(type, res.text);
  }

  /** `GET Entities` read as `List<DWMap>` (`DWCommonEngine.cs:43-124`). */
  const maps = (): Promise<DWMapView[]> => read<DWMapView[]>(tool.entities(cid), MapList);

  /** One map by `tName`, as the tool finds it (`DWMapEngine.cs:440`). */
  async function map(name: string): Promise<DWMapView> {
    const found = (await maps()).find((m) => m.detail.tName === name);
    expect(found, `map ${name} in Entities`).to.not.equal(undefined);
    return found!;
  }

  /** The connection set, fetched again as `getConnectionSet(true)` does (`DWCommonEngine.cs:337-412`). */
  const connectionSet = (): Promise<ConnectionSetView> =>
    read<ConnectionSetView>(tool.connectionSet(cname), ConnectionSet);

  /**
   * `startStopMap` (`DWMapEngine.cs:1698-1852`): posts `Start`, reads `{requestId}`, then polls
   * `Status/<requestId>` as `checkRequestResponseStatus` does (1854-1928): for one map the entry
   * of `result[0].detail.lastRequests` with the request id until "2" or "3"; in bulk (pause,
   * resume) every item's entry. Returns the final entries.
   */
  async function startStop(
    action: "1" | "4" | "5" | "6" | "8",
    details: tool.StartDetail[],
    bulk = false,
  ): Promise<{ requestId: string; outcome: DWMapLastRequestView[] }> {
    const answer = await read<{ requestId: string | null }>(
      tool.start(action, details),
      MapsRequestResponse,
    );
    const requestId = answer.requestId;
    expect(requestId, "MapsRequestResponse.requestId").to.be.a("string").and.not.equal("");
    const outcome = await eventually(async () => {
      const result = await read<DWMapView[]>(tool.status(requestId!), MapList);
      // The tool indexes result[0] (1905): an empty array would throw in it.
      expect(result, `Status/${requestId} lists the request's maps`).to.have.length.greaterThan(0);
      const entries = (bulk ? result : result.slice(0, 1)).map((m) =>
        (m.detail.lastRequests ?? []).find((r) => r.requestId === requestId),
      );
      const done = entries.every((e) => e?.state === "2" || e?.state === "3");
      return done ? (entries as DWMapLastRequestView[]) : undefined;
    }, `request ${requestId} (action "${action}")`);
    return { requestId: requestId!, outcome };
  }

  /** Waits, as `checkPauseResumeCompleted` (684-735) and the initial-sync loop (1237-1297) do. */
  async function waitForStatus(
    name: string,
    accept: (status: number) => boolean,
  ): Promise<DWMapView> {
    return eventually(async () => {
      const m = await map(name);
      return accept(mapStatusOf(m)) ? m : undefined;
    }, `map ${name}`);
  }

  before(async function () {
    this.timeout(120_000);
    emu = await startTestEmulator({ settings: { transitionMs: 5, jobRowsPerSecond: 100_000 } });
    pair = await emu.control.seed({ scenario: "new-data-new", name: "tool-contract", size: 6 });
    host = new URL(pair.financeOperationsUrl).hostname;

    const { tenantId, clientId, clientSecret } = emu.credentials;
    const { username, password } = emu.dualWriteAdmin;
    const signIn = await passwordGrant(emu.url, tenantId, username, password);
    gatewayToken = signIn.access_token;
    refreshToken = signIn.refresh_token;
    dataverseToken = await clientCredentialsGrant(
      emu.url,
      tenantId,
      clientId,
      clientSecret,
      pair.dataverseUrl,
    );
    const org = await send(
      "GET",
      `${pair.dataverseUrl}/api/data/v9.2/RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default')`,
      { Authorization: `Bearer ${dataverseToken}`, Accept: "application/json" },
    );
    expect(org.status, org.text).to.equal(200);
    powerAppsEnvironment = (JSON.parse(org.text) as { Detail: { EnvironmentId: string } }).Detail
      .EnvironmentId;
    expect(powerAppsEnvironment).to.match(GUID);
  });
  after(() => emu?.close());

  it("builds the tool's bodies byte for byte: Newtonsoft-indented with CRLF and no nulls, or raw text", () => {
    // DWMapEngine.cs:1792-1829 for "8" (no pid, parameters nulled) and "1" (parameters).
    expect(tool.start("8", [{ tid: "T", cid: "C" }]).body).to.equal(
      '{\r\n  "action": "8",\r\n  "details": [\r\n    {\r\n      "tid": "T",\r\n      "cid": "C"\r\n    }\r\n  ]\r\n}',
    );
    expect(
      tool.start("1", [
        { tid: "T", pid: "P", cid: "C", parameters: tool.startParameters(false, "AX") },
      ]).body,
    ).to.equal(
      '{\r\n  "action": "1",\r\n  "details": [\r\n    {\r\n      "tid": "T",\r\n      "pid": "P",\r\n      "cid": "C",\r\n' +
        '      "parameters": {\r\n        "skipInitialSync": false,\r\n        "conflictResolution": {\r\n' +
        '          "option": "1",\r\n          "master": "AX"\r\n        }\r\n      }\r\n    }\r\n  ]\r\n}',
    );
    // ResetLinkEngine.cs:57-64: True/False in the query; a null displayName is left out.
    const reset = tool.reset("C", true, {
      powerAppsEnvironmentName: "E",
      environments: [
        {
          targetType: "CRM",
          name: "n",
          displayName: null,
          id: "E",
          isDevInstance: false,
          directUrl: "u",
        },
      ],
      legalEntities: ["DAT"],
    });
    expect(reset.pathAndQuery).to.equal("/api/ConnectionSet/C/Reset?targetType=AX&forceReset=True");
    expect(reset.body).to.equal(
      '{\r\n  "powerAppsEnvironmentName": "E",\r\n  "environments": [\r\n    {\r\n      "targetType": "CRM",\r\n' +
        '      "name": "n",\r\n      "id": "E",\r\n      "isDevInstance": false,\r\n      "directUrl": "u"\r\n' +
        '    }\r\n  ],\r\n  "legalEntities": [\r\n    "DAT"\r\n  ]\r\n}',
    );
    expect(tool.switchActive("C", "T", "P").body).to.equal("T");
    expect(tool.prerequisites("C", "T").body).to.equal('["T"]');
    expect(tool.refresh("P").body).to.equal('{"tokens":[""]}');
    expect(tool.restoreTemplates("C", "S").body).to.equal(
      '{"action":"2","solutions":[{"criteria":{"uniquename":"S"}}]}',
    );
    expect(tool.integrationKeys("org", "accounts", ["accountnumber"]).body).to.equal(
      '{"integrationKeys":{"accounts":["accountnumber"]},"datasetName":"org"}',
    );
  });

  it("answers [] for an environment that is not linked yet (DWEnvCalls.cs:37 then has no [0])", async () => {
    const envs = await read<DWEnvironmentView[]>(tool.environments(host), EnvironmentList);
    expect(envs).to.deep.equal([]);
  });

  it("links the pair — the project's choice 3a — and the link appears asynchronously", async () => {
    // No evidence shows a first link; docs/wire-contract.md 3a: the cid from Dataverse's
    // RetrieveFinanceAndOperationsIntegrationDetails, names = hostnames, ids = the PP env id.
    const details = await send(
      "GET",
      `${pair.dataverseUrl}/api/data/v9.2/RetrieveFinanceAndOperationsIntegrationDetails`,
      { Authorization: `Bearer ${dataverseToken}`, Accept: "application/json" },
    );
    expect(details.status, details.text).to.equal(200);
    const integration = JSON.parse(details.text) as { Id: string; Url: string };
    expect(integration.Url.replace(/\/$/, "")).to.equal(pair.financeOperationsUrl);
    cid = integration.Id;
    const dvHost = new URL(pair.dataverseUrl).hostname;
    const link = tool.reset(cid, false, {
      powerAppsEnvironmentName: powerAppsEnvironment,
      environments: [
        {
          targetType: "CRM",
          name: dvHost,
          displayName: dvHost,
          id: powerAppsEnvironment,
          isDevInstance: false,
          directUrl: pair.dataverseUrl,
        },
        {
          targetType: "AX",
          name: host,
          displayName: host,
          id: powerAppsEnvironment,
          isDevInstance: false,
          directUrl: pair.financeOperationsUrl,
        },
      ],
      legalEntities: ["DAT"],
    });
    const res = await call(link);
    expect(res.status, res.text).to.be.at.least(200).and.below(300);
    const [env] = await eventually(async () => {
      const envs = await read<DWEnvironmentView[]>(tool.environments(host), EnvironmentList);
      return envs.length > 0 ? envs : undefined;
    }, "the link to appear in Environments");
    cname = env!.cname!;
  });

  it("resolves the environment by its host as List<DWEnvironment> (DWEnvCalls.cs:24-37)", async () => {
    const envs = await read<DWEnvironmentView[]>(tool.environments(host), EnvironmentList);
    expect(envs).to.have.length(1);
    const env = envs[0]!;
    expect(env.cid).to.equal(cid);
    expect(env.cname).to.be.a("string").and.not.equal("");
    expect(env.targetType).to.equal("AX");
    expect(env.detail.isSolutionAware).to.equal(true);
    // The Power Platform environment id, not a URL (ResetLinkEngine.cs:131,141 uses it as an id).
    expect(env.powerAppsEnvironment).to.equal(powerAppsEnvironment);
  });

  it("renews the delegated token exactly as TokenRefresh.cs:126-176 does", async () => {
    expect(refreshToken, "the password grant with offline_access gives a refresh token").to.be.a(
      "string",
    );
    const renewed = await refreshGrant(emu.url, refreshToken!);
    const res = await call(tool.environments(host), renewed.access_token);
    expect(res.status, res.text).to.equal(200);
    if (renewed.refresh_token !== undefined) refreshToken = renewed.refresh_token;
  });

  it("reads the connection set as DWConnectionSet: environments by name, schemas as a list", async () => {
    const set = await connectionSet();
    expect(set.id).to.equal(cid);
    expect(set.name).to.equal(cname);
    const ce = connectionSetEnvironment(set, "CE");
    const fo = connectionSetEnvironment(set, "FO");
    expect(ce, "a CRM environment (DWCommonEngine.cs:136-142)").to.not.equal(undefined);
    expect(fo, "an AX environment (DWCommonEngine.cs:144-148)").to.not.equal(undefined);
    for (const env of [ce!, fo!]) {
      expect(env.connectionSetName).to.equal(cname);
      expect(env.name).to.be.a("string").and.not.equal("");
      expect(set.environments![env.name!], "keyed by environment name").to.equal(env);
      expect(env.powerAppsEnvironment).to.equal(powerAppsEnvironment);
    }
    expect(ce!.directUrl!.replace(/\/$/, "")).to.equal(pair.dataverseUrl);
    expect(fo!.directUrl!.replace(/\/$/, "")).to.equal(pair.financeOperationsUrl);
    expect(
      (set.dualWriteDetail.legalEntityMappings.mappings ?? []).map((m) => m.left.name),
    ).to.deep.equal(["DAT"]);
  });

  it('lists solutions and applies ONE per call, polled to state "2" (DWSolutionEngine.cs:47-173)', async () => {
    const solutions = await read<DWSolutionView[]>(tool.solutions(cid), SolutionList);
    const core = solutions.find((s) => s.uniquename === CORE_SOLUTION);
    expect(
      core,
      `${CORE_SOLUTION} among ${solutions.map((s) => s.uniquename).join(", ")}`,
    ).to.not.equal(undefined);
    expect(core!.version).to.be.a("string");
    const { requestId } = await read<{ requestId: string | null }>(
      tool.restoreTemplates(cid, CORE_SOLUTION),
      SolutionRequestResponse,
    );
    expect(requestId).to.be.a("string").and.not.equal("");
    const result = await eventually(async () => {
      const r = await read<SolutionResultView>(
        tool.solutionStatus(cid, requestId!),
        SolutionResult,
      );
      return r.state === "2" || r.state === "3" ? r : undefined;
    }, `solution request ${requestId}`);
    expect(result.state, String(result.result.message)).to.equal("2");
    expect(result.requestId).to.equal(requestId);
    expect(result.action).to.equal("2");
  });

  it('lists the maps as List<DWMap> and initializes those without pid with "8" (DWMapEngine.cs:480-512,1351-1370)', async () => {
    for (const name of [LEGAL_ENTITIES, CUSTOMER_GROUPS]) {
      const m = await map(name);
      expect(m.detail.tid, `${name}: tid is the active template id`).to.equal(m.detail.template.id);
      expect(m.detail.pid, `${name}: never initialized, so no pid`).to.equal(null);
      expect(mapStatusOf(m)).to.be.oneOf([Status.None, Status.Stopped]);
      const { outcome } = await startStop("8", [{ tid: m.detail.template.id!, cid }]);
      expect(outcome[0]!.state, String(outcome[0]!.errorMessage)).to.equal("2");
      const after = await map(name);
      expect(after.detail.pid, `${name}: pid after "8"`).to.match(GUID);
    }
  });

  it("parses every Entities item with the fields of toolbAX's live capture", async () => {
    // tests/FoToolbox.Tests/DualWriteResponseParserTests.cs (toolbAX): string state, tid ==
    // template.id, bare GUID pid, actions as strings, versions as objects, tName "<right> - <left>".
    const res = await call(tool.entities(cid));
    expect(res.status, res.text).to.equal(200);
    const items = JSON.parse(res.text) as unknown[];
    expect(items.length).to.be.greaterThan(2);
    for (const raw of items) {
      const item = objectAt(raw, "item");
      const d = objectAt(item.detail, "detail");
      const where = String(d.tName);
      const left = objectAt(item.leftEntity, `${where}: leftEntity`);
      const right = objectAt(item.rightEntity, `${where}: rightEntity`);
      for (const [side, e] of [
        ["leftEntity", left],
        ["rightEntity", right],
      ] as const) {
        for (const f of ["targetType", "name", "displayName", "singletonName"]) {
          expect(e[f], `${where}: ${side}.${f}`).to.be.a("string");
        }
      }
      expect(left.targetType).to.equal("AX");
      expect(right.targetType).to.equal("CRM");
      expect(d.tName).to.equal(`${String(right.name)} - ${String(left.name)}`);
      expect(d.state, `${where}: state is a string`)
        .to.be.a("string")
        .and.match(/^[0-6]$/);
      const template = objectAt(d.template, `${where}: template`);
      expect(d.tid, `${where}: tid`).to.be.a("string").and.equal(template.id);
      if (d.pid !== undefined && d.pid !== null) expect(d.pid, `${where}: pid`).to.match(GUID);
      expect(d.actions, `${where}: actions`).to.be.an("array");
      for (const a of d.actions as unknown[]) expect(a).to.be.oneOf(["1", "4", "5", "6", "8"]);
      expect(d.templates, `${where}: templates`).to.be.an("array");
      const templates = (d.templates as unknown[]).map((t) => objectAt(t, `${where}: templates[]`));
      for (const t of [template, ...templates]) {
        expect(t.id, where).to.be.a("string");
        expect(t.name, `${where}: template name "<prefix>_[<tName>]"`)
          .to.be.a("string")
          .and.satisfy((n: string) => n.endsWith(`_[${where}]`));
        expect(t.author, where).to.be.a("string");
        const version = objectAt(t.version, `${where}: version`);
        for (const part of ["major", "minor", "build", "revision"]) {
          expect(version[part], `${where}: version.${part}`).to.be.a("number");
        }
      }
      expect(templates.map((t) => t.id)).to.include(template.id);
      for (const r of (d.lastRequests ?? []) as unknown[]) {
        const request = objectAt(r, `${where}: lastRequests[]`);
        expect(request.state, `${where}: lastRequests[].state`).to.be.a("string");
        expect(request.action, `${where}: lastRequests[].action`).to.be.a("string");
      }
      expect(d, `${where}: keys come from the connection set`).to.not.have.property(
        "integrationKeys",
      );
    }
  });

  it("answers prerequisites as List<List<string>> of active template ids (DWMapEngine.cs:1541-1591)", async () => {
    const all = await maps();
    const groups = all.find((m) => m.detail.tName === CUSTOMER_GROUPS)!;
    const templateId = groups.detail.template.id!;
    const dependency = await read<string[][]>(
      tool.prerequisites(cid, templateId),
      PrerequisiteSequences,
    );
    expect(dependency, "dependecy[0] is read (1572)").to.have.length.at.least(1);
    const prerequisites = dependency[0]!
      .filter((id) => id !== templateId)
      .map((id) => all.find((m) => m.detail.tid === id));
    expect(prerequisites, "every id names a map's detail.tid (1576)").to.not.include(undefined);
    expect(prerequisites.map((m) => m!.detail.tName)).to.include(LEGAL_ENTITIES);
  });

  it('answers field mappings with name and id; Refresh takes {"tokens":[""]} (DWMapEngine.cs:1423-1476)', async () => {
    const groups = await map(CUSTOMER_GROUPS);
    const fm = await read<FieldMappingsView>(
      tool.fieldMappings(groups.detail.pid!),
      FieldMappingsDto,
    );
    expect(fm.id, "the tool retries until id is set (DWCommonEngine.cs:265)")
      .to.be.a("string")
      .and.not.equal("");
    expect(fm.name, "needed for the Refresh URL (1431)").to.be.a("string").and.not.equal("");
    const leg = fm.entityMappingTasks?.[0]?.legs?.[0];
    expect(leg, "entityMappingTasks[0].legs[0] (DWCommonEngine.cs:414-430)").to.not.equal(
      undefined,
    );
    expect(leg!.fieldMappings).to.have.length.greaterThan(0);
    expect(leg!.sourceSchema).to.be.a("string");
    expect(leg!.destinationSchema).to.be.a("string");
    const refreshed = await call(tool.refresh(fm.name!));
    expect(refreshed.status, refreshed.text).to.be.at.least(200).and.below(300);
    const again = await read<FieldMappingsView>(
      tool.fieldMappings(groups.detail.pid!),
      FieldMappingsDto,
    );
    expect(again.name).to.equal(fm.name);
  });

  it("writes integration keys on the CRM dataset and reads them back from the connection set (DWMapEngine.cs:1480-1533)", async () => {
    const accounts = await map(ACCOUNTS);
    const before = await connectionSet();
    const ce = connectionSetEnvironment(before, "CE")!;
    const keys = ["accountnumber"];
    expect(currentKeyList(before, accounts)).to.not.deep.equal(keys);
    const res = await call(tool.integrationKeys(ce.name!, accounts.rightEntity.name!, keys));
    expect(res.status, res.text).to.be.at.least(200).and.below(300);
    // applyAllIntegrationKeysIfDifferent re-reads the set first (738-740).
    const after = await connectionSet();
    expect(currentKeyList(after, accounts)).to.deep.equal(keys);
  });

  it("switches the active version with the raw template id and re-reads the maps (DWMapEngine.cs:1940-1982)", async () => {
    const before = await map(LEGAL_ENTITIES);
    expect(mapStatusOf(before)).to.be.oneOf([Status.None, Status.Stopped, 6]);
    const active = before.detail.template.id!;
    const other = (before.detail.templates ?? []).find((t) => t.id !== active);
    expect(other, "a second version to switch to").to.not.equal(undefined);
    for (const target of [other!.id!, active]) {
      const res = await call(tool.switchActive(cid, target, before.detail.pid!));
      expect(res.status, res.text).to.be.at.least(200).and.below(300);
      const after = await map(LEGAL_ENTITIES);
      expect(after.detail.template.id).to.equal(target);
      expect(after.detail.tid).to.equal(target);
    }
  });

  it('starts with "1" (skipInitialSync true) and follows Status to "2" (DWMapEngine.cs:1789-1850)', async () => {
    for (const name of [LEGAL_ENTITIES, CUSTOMER_GROUPS]) {
      const m = await map(name);
      const { outcome } = await startStop("1", [
        {
          tid: m.detail.template.id!,
          pid: m.detail.pid!,
          cid,
          parameters: tool.startParameters(true, "CRM"),
        },
      ]);
      expect(outcome[0]!.state, String(outcome[0]!.errorMessage)).to.equal("2");
      expect(outcome[0]!.action).to.equal("1");
      expect(mapStatusOf(await map(name))).to.equal(Status.Running);
    }
  });

  it('pauses with "5" and resumes with "6", all maps in one call (DWMapEngine.cs:664-735,1740-1788)', async () => {
    const names = [LEGAL_ENTITIES, CUSTOMER_GROUPS];
    const bulkDetails = async (): Promise<tool.StartDetail[]> =>
      Promise.all(
        names.map(async (n) => {
          const m = await map(n);
          return { tid: m.detail.template.id!, pid: m.detail.pid!, cid };
        }),
      );
    const paused = await startStop("5", await bulkDetails(), true);
    expect(paused.outcome.map((o) => o.state)).to.deep.equal(["2", "2"]);
    for (const n of names) await waitForStatus(n, (s) => s === Status.Paused);
    const resumed = await startStop("6", await bulkDetails(), true);
    expect(resumed.outcome.map((o) => o.state)).to.deep.equal(["2", "2"]);
    for (const n of names) {
      const m = await waitForStatus(n, (s) => s !== Status.CatchUp && s !== Status.Paused);
      expect(mapStatusOf(m)).to.equal(Status.Running);
    }
  });

  it('stops with "4", carrying the start parameters as the tool does (DWMapEngine.cs:1715-1717,1804-1815)', async () => {
    const m = await map(CUSTOMER_GROUPS);
    const { outcome } = await startStop("4", [
      {
        tid: m.detail.template.id!,
        pid: m.detail.pid!,
        cid,
        parameters: tool.startParameters(true),
      },
    ]);
    expect(outcome[0]!.state, String(outcome[0]!.errorMessage)).to.equal("2");
    expect(mapStatusOf(await map(CUSTOMER_GROUPS))).to.equal(Status.Stopped);
  });

  it('runs an initial sync as "1" with skipInitialSync false after a refresh (DWMapEngine.cs:1182-1297)', async () => {
    let m = await map(CUSTOMER_GROUPS);
    expect(mapStatusOf(m), "the tool only syncs a Stopped map (1212)").to.equal(Status.Stopped);
    // refreshTable (1423-1476): field mappings, Refresh, field mappings again.
    const fm = await read<FieldMappingsView>(tool.fieldMappings(m.detail.pid!), FieldMappingsDto);
    const refreshed = await call(tool.refresh(fm.name!));
    expect(refreshed.status, refreshed.text).to.be.at.least(200).and.below(300);
    await read<FieldMappingsView>(tool.fieldMappings(m.detail.pid!), FieldMappingsDto);
    // getDependencyForCurrentTemplate (1536-1539).
    await read<string[][]>(tool.prerequisites(cid, m.detail.template.id!), PrerequisiteSequences);
    const { requestId, outcome } = await startStop("1", [
      {
        tid: m.detail.template.id!,
        pid: m.detail.pid!,
        cid,
        parameters: tool.startParameters(false, "AX"),
      },
    ]);
    expect(outcome[0]!.state, String(outcome[0]!.errorMessage)).to.equal("2");
    // The tool then waits for the map to leave InitialSync and reads its request (1240-1252).
    m = await waitForStatus(CUSTOMER_GROUPS, (s) => s !== Status.InitialSync);
    const req = (m.detail.lastRequests ?? []).find((r) => r.requestId === requestId);
    expect(req?.state, String(req?.errorMessage)).to.equal("2");
    expect(mapStatusOf(m)).to.equal(Status.Running);

    const fnoGroups = (await emu.control.rows("fno", pair.name, "CustomerGroups"))
      .filter((r) => String(r.dataAreaId).toUpperCase() === "DAT")
      .map((r) => String(r.CustomerGroupId));
    const dvGroups = (await emu.control.rows("dataverse", pair.name, "msdyn_customergroups")).map(
      (r) => String(r.msdyn_groupid),
    );
    expect(fnoGroups).to.have.length.greaterThan(0);
    expect(dvGroups).to.include.members(fnoGroups);
  });

  it("reports initial-sync results grouped by the first response's initialSyncRequestId (DWMapEngine.cs:1118-1161,1593-1631)", async () => {
    const m = await map(CUSTOMER_GROUPS);
    const details = await read<InitialSyncDetailsView>(
      tool.projectExecutions(m.detail.pid!),
      InitialSyncDetails,
    );
    const responses = details.projectExecutionResponses ?? [];
    expect(responses).to.have.length.greaterThan(0);
    const first = responses[0]!;
    expect(first.initialSyncRequestId).to.be.a("string").and.not.equal("");
    const run = responses.filter((r) => r.initialSyncRequestId === first.initialSyncRequestId);
    expect(run.map((r) => r.legalEntityName)).to.deep.equal(["DAT"]);
    const dat = run[0]!;
    expect(dat.errorCount).to.equal(0);
    const fnoGroups = (await emu.control.rows("fno", pair.name, "CustomerGroups")).filter(
      (r) => String(r.dataAreaId).toUpperCase() === "DAT",
    );
    expect(dat.upsertCount).to.equal(fnoGroups.length);
    const legs = dat.taskExecutionStatuses?.[0]?.legs ?? [];
    expect(legs, "taskExecutionStatuses[0].legs (1136)").to.have.length.greaterThan(0);
    for (const leg of legs) {
      expect(leg.status).to.be.a("string");
      expect((leg.status ?? "").toUpperCase()).to.not.be.oneOf(["ERROR", "WARNING"]);
    }
  });

  it("refuses what the tool never sends: a URL as identifier resolves to [] like an unknown host", async () => {
    const envs = await read<DWEnvironmentView[]>(
      tool.environments(encodeURIComponent(pair.financeOperationsUrl)),
      EnvironmentList,
    );
    expect(envs).to.deep.equal([]);
  });

  it("refuses what the tool never sends: numeric, unknown and old action codes, and a tid that is no template id, answer 400", async () => {
    const m = await map(LEGAL_ENTITIES);
    const detail = { tid: m.detail.template.id!, pid: m.detail.pid!, cid };
    const bodies: unknown[] = [
      { action: 1, details: [detail] },
      { action: "2", details: [detail] },
      { action: "3", details: [detail] },
      { action: "1", details: [{ ...detail, tid: cid }] },
      { action: "1", details: [{ tid: detail.tid, cid }] },
    ];
    for (const body of bodies) {
      const res = await call({
        source: "not the tool",
        method: "POST",
        pathAndQuery: `${tool.DWM}Start`,
        body: JSON.stringify(body),
      });
      expect(res.status, `${JSON.stringify(body)} → ${res.text}`).to.equal(400);
    }
  });

  it("refuses what the tool never sends: several solutions in one RestoreTemplates answer 400", async () => {
    const res = await call({
      source: "not the tool",
      method: "POST",
      pathAndQuery: `${tool.DWM}SolutionAware/${cid}/RestoreTemplates`,
      body: JSON.stringify({
        action: "2",
        solutions: [
          { criteria: { uniquename: CORE_SOLUTION } },
          { criteria: { uniquename: "Dynamics365GABDualWriteEntityMaps" } },
        ],
      }),
    });
    expect(res.status, res.text).to.equal(400);
  });

  it("refuses what the tool never sends: an app-only token answers 401 at the gateway", async () => {
    const { tenantId, clientId, clientSecret } = emu.credentials;
    const appToken = await clientCredentialsGrant(
      emu.url,
      tenantId,
      clientId,
      clientSecret,
      "https://IntegratorApp.com",
    );
    const res = await call(tool.entities(cid), appToken);
    expect(res.status, res.text).to.equal(401);
  });

  it("answers Reset with the tool's payload built from the connection set (ResetLinkEngine.cs:29-147)", async () => {
    const set = await connectionSet();
    const payload = tool.resetPayloadFrom(set);
    expect(payload.powerAppsEnvironmentName).to.equal(powerAppsEnvironment);
    expect(payload.environments.map((e) => e.targetType)).to.deep.equal(["CRM", "AX"]);
    expect(payload.environments.map((e) => e.directUrl?.replace(/\/$/, ""))).to.deep.equal([
      pair.dataverseUrl,
      pair.financeOperationsUrl,
    ]);
    expect(payload.legalEntities).to.deep.equal(["DAT"]);

    // Maps are running: without force the emulator refuses (choice: 409, docs/wire-contract.md 3).
    const refused = await call(tool.reset(cid, false, payload));
    expect(refused.status, refused.text).to.equal(409);
    const forced = await call(tool.reset(cid, true, payload));
    expect(forced.status, forced.text).to.be.at.least(200).and.below(300);
    const relinked = await eventually(async () => {
      const envs = await read<DWEnvironmentView[]>(tool.environments(host), EnvironmentList);
      if (envs.length === 0) return undefined;
      // Between the two reads the relink may replace the link: a 404 here means "not yet".
      const res = await call(tool.connectionSet(envs[0]!.cname!));
      if (res.status === 404) return undefined;
      expect(res.status, res.text).to.equal(200);
      const again = deserialize<ConnectionSetView>(ConnectionSet, res.text);
      const codes = (again.dualWriteDetail.legalEntityMappings.mappings ?? []).map(
        (x) => x.left.name,
      );
      return codes.includes("DAT") ? again : undefined;
    }, "the relink to complete");
    expect(relinked.id).to.equal(cid);
  });
});
