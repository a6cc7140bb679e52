/**
 * The gateway client against answers of the shapes Microsoft's tool reads, served by a small
 * loopback HTTP server with fixed answers: the live `Entities` capture of toolbAX
 * (tests/FoToolbox.Tests/DualWriteResponseParserTests.cs: string states, `actions`, `tid` ==
 * `template.id`), numeric states, `Status/<id>` as an ARRAY of map items whose `lastRequests`
 * entry is the outcome (DWLibary/Engines/DWMapEngine.cs:1881-1917), the connection set with its
 * environments object and schema list (Struct/DWConnectionSet.cs, DWCommonEngine.cs:168-208),
 * initial-sync results grouped by the first response's run (DWMapEngine.cs:1125-1128) — and what
 * the client sends: string action codes, bodies, headers, the Reset query, the raw SwitchActive
 * body.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import {
  GATEWAY_ORIGIN,
  GatewayClient,
  MapAction,
  MapState,
  RequestState,
  startBody,
} from "../../provider/clients/gateway";
import { HttpClient } from "../../provider/clients/http";
import { DualWriteError } from "../../provider/errors";

/** One request as the server saw it. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

/** An answer: a status and a JSON body, or a dropped connection. */
type Answer = { status: number; json?: unknown } | "drop";

/** A fixture gateway: answers by "METHOD path" (query excluded), in order when a list is given. */
class FixtureGateway {
  readonly seen: Seen[] = [];
  private readonly answers = new Map<string, Answer[]>();
  private server: Server | undefined;
  url = "";

  on(method: string, path: string, ...answers: Answer[]): void {
    this.answers.set(`${method} ${path}`, answers);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const url = req.url ?? "";
        this.seen.push({
          method: req.method ?? "",
          url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        const key = `${req.method ?? ""} ${url.split("?")[0] ?? ""}`;
        const list = this.answers.get(key) ?? [];
        // The last answer repeats, so a poll can be given "waiting, then done".
        const answer = list.length > 1 ? list.shift() : list[0];
        if (answer === undefined) {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { code: "NotFound", message: key } }));
        } else if (answer === "drop") {
          req.socket.destroy();
        } else {
          res.writeHead(answer.status, { "content-type": "application/json" });
          res.end(answer.json === undefined ? "" : JSON.stringify(answer.json));
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const DWM = "/api/DualWriteManagement/1.0/";
const CID = "0f8fad5b-d9cb-469f-a165-70867728950e";

// Trimmed from toolbAX's live capture of `GET Entities` (DualWriteResponseParserTests.cs).
const LIVE_ENTITIES = [
  {
    leftEntity: { targetType: "AX", name: "Customers V3", displayName: "Customers V3" },
    rightEntity: { targetType: "CRM", name: "accounts", displayName: "accounts" },
    detail: {
      tid: "78f8df1b-b02c-414e-85a5-6ce51f030d02",
      tName: "accounts - Customers V3",
      templates: [
        {
          id: "78f8df1b-b02c-414e-85a5-6ce51f030d02",
          name: "fus_[accounts - Customers V3]",
          author: "Fusion5",
          version: { major: 2, minor: 0, build: 1, revision: 0 },
        },
        {
          id: "643d0f02-5c3c-4e81-b30d-af08a693bd24",
          name: "fus_[accounts - Customers V3]",
          author: "Fusion5",
          version: { major: 2, minor: 0, build: 0, revision: 0 },
        },
      ],
      template: {
        id: "78f8df1b-b02c-414e-85a5-6ce51f030d02",
        name: "fus_[accounts - Customers V3]",
        author: "Fusion5",
        version: { major: 2, minor: 0, build: 1, revision: 0 },
      },
      pid: "50265db7-466d-4fc6-abd0-b40ea065b511",
      state: "4",
      actions: ["4", "5"],
    },
  },
  {
    leftEntity: { targetType: "AX", name: "Customers V3" },
    rightEntity: { targetType: "CRM", name: "contacts" },
    detail: {
      tid: "e5feddfb-131b-490b-9927-5ec9e686b02c",
      tName: "contacts - Customers V3",
      templates: [],
      template: {
        id: "e5feddfb-131b-490b-9927-5ec9e686b02c",
        author: "Fusion5",
        version: { major: 1, minor: 0, build: 0, revision: 0 },
      },
      state: "1",
    },
  },
];

/** A map item whose `lastRequests` holds one entry. */
function mapWithRequest(
  tName: string,
  requestId: string,
  state: string | number,
  errorMessage?: string,
): unknown {
  return {
    leftEntity: { name: "E" },
    rightEntity: { name: tName.split(" - ")[0] },
    detail: {
      tid: `t-${tName}`,
      tName,
      pid: `p-${tName}`,
      state: "1",
      lastRequests: [
        { requestId: "older", action: "4", state: "2" },
        { requestId, action: "1", state, ...(errorMessage && { errorMessage }) },
      ],
    },
  };
}

describe("gateway client: the tool's dialect (fixture answers)", () => {
  let gw: FixtureGateway;
  let http: HttpClient;
  let client: GatewayClient;

  beforeEach(async () => {
    gw = new FixtureGateway();
    await gw.start();
    http = new HttpClient({
      tokens: { getToken: () => Promise.resolve("token"), invalidate: () => undefined },
      sleep: () => Promise.resolve(),
      retry: { maxAttempts: 1 },
    });
    client = new GatewayClient(gw.url, http, { sleep: () => Promise.resolve(), pollMs: 1 });
  });
  afterEach(async () => {
    http.close();
    await gw.close();
  });

  it("reads the live Entities capture: string states, actions, pid, tid = active template id", async () => {
    gw.on("GET", `${DWM}Entities`, { status: 200, json: LIVE_ENTITIES });
    const [accounts, contacts] = await client.listMaps(CID);
    expect(accounts).to.deep.include({
      tid: "78f8df1b-b02c-414e-85a5-6ce51f030d02",
      tName: "accounts - Customers V3",
      pid: "50265db7-466d-4fc6-abd0-b40ea065b511",
      state: MapState.Running,
      financeOperationsEntity: "Customers V3",
      dataverseEntitySet: "accounts",
      actions: ["4", "5"],
    });
    expect(accounts?.activeTemplate).to.deep.equal({
      id: accounts?.tid,
      author: "Fusion5",
      version: "2.0.1.0",
    });
    expect(accounts?.templates.map((t) => t.version)).to.deep.equal(["2.0.1.0", "2.0.0.0"]);
    // No pid: a map that was never initialized.
    expect([contacts?.state, contacts?.pid, contacts?.lastRequests]).to.deep.equal([
      MapState.Stopped,
      undefined,
      [],
    ]);
    expect(gw.seen[0]?.url).to.equal(`${DWM}Entities?targetType=AX&cid=${CID}`);
  });

  it("reads numeric states and action codes as well as strings", async () => {
    const item = mapWithRequest("accounts - Customers V3", "r1", 2) as {
      detail: { state: unknown; lastRequests: { action: unknown }[] };
    };
    item.detail.state = 5;
    item.detail.lastRequests[1]!.action = 1;
    gw.on("GET", `${DWM}Entities`, { status: 200, json: [item] });
    const [map] = await client.listMaps(CID);
    expect(map?.state).to.equal(MapState.Paused);
    expect(map?.lastRequests[1]).to.deep.include({
      requestId: "r1",
      action: "1",
      state: RequestState.Completed,
    });
  });

  it("reads a request's outcome from the Status array: the lastRequests entry with its id", async () => {
    gw.on("GET", `${DWM}Status/r1`, { status: 200, json: [mapWithRequest("a - A", "r1", "2")] });
    gw.on("GET", `${DWM}Status/r2`, {
      status: 200,
      json: [mapWithRequest("a - A", "r2", "3", "Unable to build dual-write lookup metadata.")],
    });
    // Bulk pause/resume: done only when every map's entry is done (DWMapEngine.cs:1884-1901).
    gw.on("GET", `${DWM}Status/r3`, {
      status: 200,
      json: [mapWithRequest("a - A", "r3", "2"), mapWithRequest("b - B", "r3", "1")],
    });
    gw.on("GET", `${DWM}Status/r4`, { status: 200, json: [] });
    const done = await client.getRequestStatus("r1");
    expect([done?.state, done?.action, done?.maps.map((m) => m.tName)]).to.deep.equal([
      RequestState.Completed,
      "1",
      ["a - A"],
    ]);
    const failed = await client.getRequestStatus("r2");
    expect([failed?.state, failed?.errorMessage]).to.deep.equal([
      RequestState.Error,
      "Unable to build dual-write lookup metadata.",
    ]);
    expect((await client.getRequestStatus("r3"))?.state).to.equal(RequestState.Waiting);
    // Not registered on any map yet: still waiting.
    expect((await client.getRequestStatus("r4"))?.state).to.equal(RequestState.Waiting);
    expect(await client.getRequestStatus("unknown")).to.equal(undefined);
  });

  it("waits on Status until the entry is done, and raises the entry's error message", async () => {
    gw.on(
      "GET",
      `${DWM}Status/r1`,
      { status: 200, json: [mapWithRequest("a - A", "r1", "1")] },
      { status: 200, json: [mapWithRequest("a - A", "r1", "2")] },
    );
    const seen: number[] = [];
    const status = await client.waitForRequest("r1", { onProgress: (s) => seen.push(s.state) });
    expect(status.state).to.equal(RequestState.Completed);
    expect(seen).to.deep.equal([RequestState.Waiting, RequestState.Completed]);
    gw.on("GET", `${DWM}Status/r2`, {
      status: 200,
      json: [mapWithRequest("a - A", "r2", "3", "Initial sync failed: lookups missing")],
    });
    const error = await client.waitForRequest("r2").catch((e: unknown) => e);
    expect(error).to.be.instanceOf(DualWriteError);
    expect((error as DualWriteError).code).to.equal("RequestFailed");
    expect((error as Error).message).to.include("Initial sync failed: lookups missing");
  });

  it("sends string action codes with the tool's details, Accept and Origin", async () => {
    gw.on("GET", `${DWM}Entities`, { status: 200, json: [] });
    gw.on("POST", `${DWM}Start`, { status: 200, json: { requestId: "r9" } });
    const id = await client.startAction(MapAction.Start, [
      { tid: "t1", pid: "p1", cid: CID, skipInitialSync: false, master: "FinanceOperations" },
    ]);
    expect(id).to.equal("r9");
    const post = gw.seen.find((s) => s.method === "POST");
    expect(JSON.parse(post?.body ?? "")).to.deep.equal({
      action: "1",
      details: [
        {
          tid: "t1",
          pid: "p1",
          cid: CID,
          parameters: {
            skipInitialSync: false,
            conflictResolution: { option: "1", master: "AX" },
          },
        },
      ],
    });
    expect(post?.headers.origin).to.equal(GATEWAY_ORIGIN);
    expect(post?.headers.accept).to.equal("application/json");
  });

  it("builds every action's body as the tool does", () => {
    expect(startBody(MapAction.Initialize, [{ tid: "t", cid: "c", pid: "ignored" }])).to.deep.equal(
      { action: "8", details: [{ tid: "t", cid: "c" }] },
    );
    expect(startBody(MapAction.Stop, [{ tid: "t", cid: "c", pid: "p" }])).to.deep.equal({
      action: "4",
      details: [
        {
          tid: "t",
          pid: "p",
          cid: "c",
          parameters: { skipInitialSync: true, conflictResolution: { option: "1", master: "CRM" } },
        },
      ],
    });
    // Pause and resume go in bulk, without parameters (DWMapEngine.cs:1740-1788).
    expect(
      startBody(MapAction.Resume, [
        { tid: "t1", cid: "c", pid: "p1" },
        { tid: "t2", cid: "c", pid: "p2" },
      ]),
    ).to.deep.equal({
      action: "6",
      details: [
        { tid: "t1", pid: "p1", cid: "c" },
        { tid: "t2", pid: "p2", cid: "c" },
      ],
    });
    expect(() => startBody(MapAction.Pause, [{ tid: "t", cid: "c" }])).to.throw(/pid/);
    expect(() => startBody(MapAction.Start, [])).to.throw(/at least one map/);
  });

  it("asks for prerequisites one template id at a time and drops the template's own id", async () => {
    gw.on("POST", `${DWM}GetTemplatePrerequisiteSequences/${CID}`, {
      status: 200,
      json: [["legal", "currencies", "t1"]],
    });
    expect(await client.prerequisiteSequence(CID, "t1")).to.deep.equal(["legal", "currencies"]);
    expect(gw.seen[0]?.body).to.equal('["t1"]');
  });

  it("looks environments up by host name and reads the connection set's keys and legal entities", async () => {
    gw.on("GET", `${DWM}Environments`, {
      status: 200,
      json: [
        {
          cid: CID,
          cname: "dw-1",
          targetType: "AX",
          detail: { isSolutionAware: true },
          powerAppsEnvironment: "pp-1",
        },
      ],
    });
    gw.on("GET", "/api/ConnectionSet/dw-1", {
      status: 200,
      json: {
        id: CID,
        name: "dw-1",
        environments: {
          "contoso.operations.dynamics.com": {
            name: "contoso.operations.dynamics.com",
            targetType: "AX",
            directUrl: "https://contoso.operations.dynamics.com",
            powerAppsEnvironment: "pp-1",
            schemas: [],
          },
          contosocrm: {
            name: "contosocrm",
            targetType: "CRM",
            directUrl: "https://contoso.crm.dynamics.com",
            powerAppsEnvironment: "pp-1",
            isDevInstance: false,
            schemas: [
              {
                id: "s1",
                name: "accounts",
                keys: [
                  { name: "primary", fields: ["accountid"] },
                  { name: "userKeys", displayName: "User keys", fields: ["accountnumber", "x"] },
                ],
              },
              { id: "s2", name: "contacts", keys: [{ name: "userKey", fields: ["msdyn_number"] }] },
              { id: "s3", name: "uoms", keys: [] },
            ],
          },
        },
        dualWriteDetail: {
          legalEntityMappings: {
            mappings: [
              { left: { name: "USMF", id: "1" }, right: { name: "USMF", id: "a" } },
              { left: { name: "DEMF", id: "2" }, right: { name: "DEMF", id: "b" } },
            ],
          },
        },
      },
    });
    const link = await client.findLink("https://contoso.operations.dynamics.com/namespaces/x");
    expect(gw.seen[0]?.url).to.equal(
      `${DWM}Environments?targetType=AX&identifier=contoso.operations.dynamics.com`,
    );
    expect(link).to.deep.include({
      cid: CID,
      cname: "dw-1",
      powerAppsEnvironment: "pp-1",
      dataverseUrl: "https://contoso.crm.dynamics.com",
      legalEntities: ["USMF", "DEMF"],
    });
    expect(link?.set?.dataverse?.name).to.equal("contosocrm");
    expect(link?.set?.integrationKeys).to.deep.equal({
      accounts: ["accountnumber", "x"],
      contacts: ["msdyn_number"],
    });
  });

  it("answers nothing for an environment the gateway lists not (unknown, or not linked)", async () => {
    gw.on("GET", `${DWM}Environments`, { status: 200, json: [] });
    expect(await client.findLink("https://fabrikam.operations.dynamics.com")).to.equal(undefined);
  });

  it("sends SwitchActive with the raw template id as the body, and ignores the answer", async () => {
    gw.on("POST", `${DWM}SolutionAware/${CID}/SwitchActive/tpl-2`, { status: 200, json: "ok" });
    await client.switchActive(CID, "tpl-2", "p1");
    expect(gw.seen[0]).to.deep.include({
      url: `${DWM}SolutionAware/${CID}/SwitchActive/tpl-2?pid=p1`,
      body: "tpl-2",
    });
    expect(gw.seen[0]?.headers["content-type"]).to.match(/^application\/json/);
  });

  it("sets integration keys on the dataset named by the connection set", async () => {
    gw.on("POST", "/api/dataset/contosocrm/IntegrationKeys", { status: 200, json: {} });
    await client.setIntegrationKeys("contosocrm", "accounts", ["accountnumber"]);
    expect(JSON.parse(gw.seen[0]?.body ?? "")).to.deep.equal({
      integrationKeys: { accounts: ["accountnumber"] },
      datasetName: "contosocrm",
    });
  });

  it("applies one solution per request and polls its status (string states, result message)", async () => {
    gw.on("POST", `${DWM}SolutionAware/${CID}/RestoreTemplates`, {
      status: 200,
      json: { requestId: "s1" },
    });
    gw.on(
      "GET",
      `${DWM}SolutionAware/${CID}/Status/s1`,
      { status: 200, json: { requestId: "s1", action: "2", state: "1" } },
      { status: 200, json: { requestId: "s1", action: "2", state: "2", result: { status: "ok" } } },
    );
    await client.applySolution(CID, "msdyn_DualWriteAppCoreMaps", {
      isApplied: () => Promise.resolve(false),
    });
    expect(JSON.parse(gw.seen[0]?.body ?? "")).to.deep.equal({
      action: "2",
      solutions: [{ criteria: { uniquename: "msdyn_DualWriteAppCoreMaps" } }],
    });
    gw.on("POST", `${DWM}SolutionAware/${CID}/RestoreTemplates`, {
      status: 200,
      json: { requestId: "s2" },
    });
    gw.on("GET", `${DWM}SolutionAware/${CID}/Status/s2`, {
      status: 200,
      json: { requestId: "s2", state: "3", result: { message: "missing Dynamics365Company" } },
    });
    const error = await client
      .applySolution(CID, "Other", { isApplied: () => Promise.resolve(false) })
      .catch((e: unknown) => e);
    expect((error as Error).message).to.include("missing Dynamics365Company");
  });

  it("groups initial-sync results by the first response's run id and reads no executionStatus", async () => {
    const response = (le: string, run: string, upserts: number, status: string) => ({
      legalEntityName: le,
      executionStatus: status,
      initialSyncRequestId: run,
      upsertCount: upserts,
      errorCount: le === "DEMF" ? 1 : 0,
      taskExecutionStatuses: [
        {
          legs: [
            {
              status: "Completed",
              exportRecordCount: upserts + 1,
              importErrors:
                le === "DEMF"
                  ? [{ recordId: "C-1", sourceField: "CUSTGROUP", errorMessage: "lookup" }]
                  : [],
            },
          ],
        },
      ],
    });
    gw.on("GET", "/api/ProjectExecutionWithCompanies/p1", {
      status: 200,
      json: {
        projectName: "proj",
        projectExecutionResponses: [
          response("USMF", "run-2", 10, "Something new"),
          response("DEMF", "run-2", 3, "Whatever"),
          response("USMF", "run-1", 99, "Succeeded"),
        ],
      },
    });
    const results = await client.initialSyncResults("p1");
    expect(results.map((r) => [r.legalEntity, r.runId, r.upserted, r.total])).to.deep.equal([
      ["USMF", "run-2", 10, 11],
      ["DEMF", "run-2", 3, 4],
    ]);
    expect(results[1]?.firstErrors).to.deep.equal([
      { recordId: "C-1", field: "CUSTGROUP", message: "lookup" },
    ]);
    expect(results[0]?.executionStatus).to.equal("Something new");
  });

  it("reads the project name from field mappings and refreshes its tables with the tool's body", async () => {
    gw.on("GET", `${DWM}p1/FieldMappings`, {
      status: 200,
      json: {
        name: "proj-1",
        id: "fm-1",
        entityMappingTasks: [
          {
            name: "t",
            legs: [
              {
                sourceSchema: "CustomersV3",
                destinationSchema: "accounts",
                fieldMappings: [{ syncDirection: 1, sourceField: "A", destinationField: "b.c" }],
              },
            ],
          },
        ],
      },
    });
    gw.on("POST", "/api/Project/proj-1/Refresh", { status: 200 });
    const fm = await client.fieldMappings("p1");
    expect([fm.name, fm.id, fm.legs[0]?.fieldMappings[0]?.syncDirection]).to.deep.equal([
      "proj-1",
      "fm-1",
      "1",
    ]);
    await client.refreshTables(fm.name);
    expect(gw.seen[1]?.body).to.equal('{"tokens":[""]}');
  });

  it("sends Reset once with the tool's body and query; after a lost answer it reads the link instead of resending", async () => {
    gw.on("POST", `/api/ConnectionSet/${CID}/Reset`, "drop");
    gw.on(
      "GET",
      `${DWM}Environments`,
      { status: 200, json: [] },
      { status: 200, json: [{ cid: CID, cname: "dw-1", powerAppsEnvironment: "pp-1" }] },
    );
    gw.on("GET", "/api/ConnectionSet/dw-1", {
      status: 200,
      json: {
        id: CID,
        name: "dw-1",
        environments: {
          crm: { name: "crm", targetType: "CRM", directUrl: "https://contoso.crm.dynamics.com" },
        },
        dualWriteDetail: { legalEntityMappings: { mappings: [{ left: { name: "USMF" } }] } },
      },
    });
    const environments = [
      {
        targetType: "CRM" as const,
        name: "contoso.crm.dynamics.com",
        displayName: "Contoso",
        id: "pp-1",
        isDevInstance: false,
        directUrl: "https://contoso.crm.dynamics.com",
      },
      {
        targetType: "AX" as const,
        name: "contoso.operations.dynamics.com",
        displayName: "contoso.operations.dynamics.com",
        id: "pp-1",
        isDevInstance: false,
        directUrl: "https://contoso.operations.dynamics.com",
      },
    ];
    const link = await client.link(
      {
        cid: CID,
        payload: { powerAppsEnvironmentName: "pp-1", environments, legalEntities: ["USMF"] },
      },
      { forceReset: true },
    );
    expect(link.legalEntities).to.deep.equal(["USMF"]);
    const resets = gw.seen.filter((s) => s.method === "POST");
    expect(resets).to.have.length(1);
    expect(resets[0]?.url).to.equal(
      `/api/ConnectionSet/${CID}/Reset?targetType=AX&forceReset=True`,
    );
    expect(JSON.parse(resets[0]?.body ?? "")).to.deep.equal({
      powerAppsEnvironmentName: "pp-1",
      environments,
      legalEntities: ["USMF"],
    });
  });
});
