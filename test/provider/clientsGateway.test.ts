/**
 * The gateway client against the in-process emulator, in the dialect of Microsoft's tool:
 * environments by host, a link made through Reset and waited for, solutions applied one per
 * request, a map initialized ("8"), prerequisites by template id, string action codes and the
 * Status array, an ambiguous start that is looked up rather than repeated, a start refused before
 * processing that is sent once more, versions switched by template id, integration keys set on
 * the connection set's CRM dataset and read back from it, an initial sync as a start with
 * `skipInitialSync:false`, a relink whose answer was lost (not sent twice), and an unlink; plus
 * shared reads (many concurrent `listMaps` → one request).
 *
 * The tests run in order on one environment pair, like a `pulumi up` would.
 */
import { expect } from "chai";
import {
  createClients,
  resetClientCache,
  type Clients,
  type GatewayLink,
  type GatewayMap,
  type LinkRequest,
} from "../../provider/clients/index";
import { MapAction, MapState, RequestState } from "../../provider/clients/gateway";
import { DualWriteError, TimeoutError } from "../../provider/errors";
import { newLinkRequest } from "../../provider/resources/dualWriteConnection/newLinkRequest";
import { recordingSleep, startClientHarness, type ClientHarness } from "./clientsHarness";

const LEGAL_ENTITIES_MAP = "cdm_companies - Legal entities";
const ACCOUNTS_MAP = "accounts - Customers V3";
const CORE_SOLUTION = "msdyn_DualWriteAppCoreMaps";

describe("clients: gateway (emulator)", () => {
  let h: ClientHarness;
  let clients: Clients;
  let cid: string;
  let company: string;
  let link: GatewayLink;

  before(async () => {
    h = await startClientHarness({ clock: { speed: 20 } });
    clients = h.clients();
    cid = h.env.cid;
  });
  after(() => h?.close());
  afterEach(() => h.emulator.control.clearFaults());

  const host = (url: string) => new URL(url).hostname;
  const mapNamed = async (name: string, fresh = true): Promise<GatewayMap> => {
    const map = (await clients.gateway.listMaps(cid, { fresh })).find((m) => m.tName === name);
    if (!map) throw new Error(`no map named ${name}`);
    return map;
  };
  const gatewayCalls = (since: number, method: string, suffix: string) =>
    h.requestsSince(
      since,
      (e) => e.surface === "gateway" && e.method === method && e.path.endsWith(suffix),
    );

  it("looks environments up by host name: not linked yet, an unknown host and a full URL all answer nothing", async () => {
    const since = await h.mark();
    expect(await clients.gateway.findEnvironment(h.env.financeOperationsUrl)).to.equal(undefined);
    expect(await clients.gateway.findLink("https://127.0.0.250/")).to.equal(undefined);
    const lookups = await gatewayCalls(since, "GET", "/Environments");
    expect(lookups.map((e) => new URLSearchParams(e.query).get("identifier"))).to.deep.equal([
      host(h.env.financeOperationsUrl),
      "127.0.0.250",
    ]);
  });

  it("reads the Power Platform pairing and the environment id from Dataverse", async () => {
    const pairing = await clients.dataverse.integrationDetails();
    expect([pairing?.Id, pairing?.Url]).to.deep.equal([cid, h.env.financeOperationsUrl]);
    const org = await clients.dataverse.currentOrganization();
    expect(org.EnvironmentId).to.match(/^[0-9a-f-]{36}$/i);
  });

  it("links through Reset with the tool's body, waits for the link, and reads the connection set", async () => {
    // USMF: the seeded company with business data (the initial sync below moves some).
    company = "USMF";
    expect((await clients.fno.legalEntities()).map((le) => le.code)).to.include(company);
    const request = await newLinkRequest(clients, {
      financeOperationsUrl: h.env.financeOperationsUrl,
      dataverseUrl: h.env.dataverseUrl,
      cid,
      legalEntities: [company],
      skipInitialWrites: false,
    });
    const since = await h.mark();
    link = await clients.gateway.link(request, { forceReset: false });
    expect(link).to.deep.include({
      cid,
      dataverseUrl: h.env.dataverseUrl,
      legalEntities: [company],
      powerAppsEnvironment: request.payload.powerAppsEnvironmentName,
    });
    const resets = await gatewayCalls(since, "POST", `/api/ConnectionSet/${cid}/Reset`);
    expect(resets.map((r) => [r.query, r.status])).to.deep.equal([
      ["targetType=AX&forceReset=False", 200],
    ]);
    const set = await clients.gateway.getConnectionSet(link.cname, { fresh: true });
    expect(set?.dataverse?.name).to.equal(host(h.env.dataverseUrl));
    expect(set?.financeOperations?.directUrl).to.equal(h.env.financeOperationsUrl);
    expect(set?.legalEntities).to.deep.equal([company]);
  });

  it("applies an orchestration solution (one per request) and waits for it; its maps appear", async () => {
    const listed = (await clients.gateway.listSolutions(cid)).map((s) => s.uniqueName);
    expect(listed).to.include(CORE_SOLUTION);
    expect(await clients.gateway.listMaps(cid, { fresh: true })).to.deep.equal([]);
    const since = await h.mark();
    await clients.gateway.applySolution(cid, CORE_SOLUTION, {
      isApplied: () => Promise.resolve(false),
    });
    expect(await gatewayCalls(since, "POST", "/RestoreTemplates")).to.have.length(1);
    const maps = await clients.gateway.listMaps(cid);
    expect(maps.map((m) => m.tName)).to.include.members([LEGAL_ENTITIES_MAP, ACCOUNTS_MAP]);
    const accounts = maps.find((m) => m.tName === ACCOUNTS_MAP);
    expect(accounts?.activeTemplate?.version).to.match(/^\d+\.\d+\.\d+\.\d+$/);
    // The tid is the active template's id (toolbAX live capture).
    expect(accounts?.tid).to.equal(accounts?.activeTemplate?.id);
  });

  it("shares one listMaps request among concurrent readers", async () => {
    const fresh = h.clients(); // nothing cached yet
    await fresh.gateway.findEnvironment(h.env.financeOperationsUrl); // its token first
    const since = await h.mark();
    const results = await Promise.all(
      Array.from({ length: 25 }, () => fresh.gateway.listMaps(cid)),
    );
    expect(results.every((r) => r.length === results[0]?.length)).to.equal(true);
    expect(await gatewayCalls(since, "GET", "/Entities")).to.have.length(1);
  });

  it("shares reads across createClients calls with the same configuration in one process", async () => {
    try {
      const cfg = h.config();
      const urls = {
        dataverseUrl: h.env.dataverseUrl,
        financeOperationsUrl: h.env.financeOperationsUrl,
      };
      const a = createClients(cfg, urls);
      const b = createClients(h.config(), urls);
      expect(b.gateway).to.equal(a.gateway);
      expect(b.fno).to.equal(a.fno);
      const since = await h.mark();
      await Promise.all([
        a.gateway.listMaps(cid),
        b.gateway.listMaps(cid),
        a.fno.legalEntities(),
        b.fno.legalEntities(),
      ]);
      expect(await gatewayCalls(since, "GET", "/Entities")).to.have.length(1);
      expect(
        await h.requestsSince(
          since,
          (e) => e.surface === "fno" && e.path.endsWith("/LegalEntities"),
        ),
      ).to.have.length(1);
    } finally {
      resetClientCache();
    }
  });

  it("initializes a map that has no project (action 8), then finds its pid", async () => {
    const legal = await mapNamed(LEGAL_ENTITIES_MAP);
    expect(legal.pid).to.equal(undefined);
    const since = await h.mark();
    const ready = await clients.gateway.initialize(cid, legal);
    expect(ready.pid).to.be.a("string").and.not.equal("");
    expect(await gatewayCalls(since, "POST", "/Start")).to.have.length(1);
    expect(ready.lastRequests.some((r) => r.action === MapAction.Initialize)).to.equal(true);
  });

  it("lists the prerequisites of a template in start order, as active template ids", async () => {
    const accounts = await mapNamed(ACCOUNTS_MAP);
    const legal = await mapNamed(LEGAL_ENTITIES_MAP);
    const sequence = await clients.gateway.prerequisiteSequence(cid, accounts.tid);
    expect(sequence).to.include(legal.tid);
    expect(sequence).to.not.include(accounts.tid);
  });

  it("reports a failed request with the gateway's message", async () => {
    const accounts = await clients.gateway.initialize(cid, await mapNamed(ACCOUNTS_MAP));
    const requestId = await clients.gateway.startAction(MapAction.Start, [
      { tid: accounts.tid, pid: accounts.pid, cid },
    ]);
    const error = await clients.gateway.waitForRequest(requestId).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(DualWriteError);
    expect((error as DualWriteError).code).to.equal("RequestFailed");
    expect((error as Error).message).to.include(
      "Unable to build dual-write lookup metadata. Missing:",
    );
  });

  it("starts a map once although the answer to the start was lost (looked up, not repeated)", async () => {
    const legal = await mapNamed(LEGAL_ENTITIES_MAP);
    await h.emulator.control.addFault({
      kind: "dropAfterCommit",
      surface: "gateway",
      method: "POST",
      path: "/Start$",
      count: 1,
    });
    const since = await h.mark();
    const requestId = await clients.gateway.startAction(MapAction.Start, [
      { tid: legal.tid, pid: legal.pid, cid },
    ]);
    const posts = await gatewayCalls(since, "POST", "/Start");
    expect(posts.map((p) => p.outcome)).to.deep.equal(["droppedAfterCommit"]);
    const progress: number[] = [];
    const status = await clients.gateway.waitForRequest(requestId, {
      onProgress: (s) => progress.push(s.state),
    });
    expect(status.state).to.equal(RequestState.Completed);
    expect(progress[progress.length - 1]).to.equal(RequestState.Completed);
    const after = await mapNamed(LEGAL_ENTITIES_MAP);
    expect(after.state).to.equal(MapState.Running);
    expect(after.lastRequests.filter((r) => r.requestId === requestId)).to.have.length(1);
  });

  it("reads a request's outcome from the Status array: the maps, with its lastRequests entry", async () => {
    const legal = await mapNamed(LEGAL_ENTITIES_MAP);
    const last = legal.lastRequests.find((r) => r.action === MapAction.Start);
    if (!last) throw new Error("the start is not in the map's lastRequests");
    const status = await clients.gateway.getRequestStatus(last.requestId);
    expect(status?.maps.map((m) => m.tName)).to.deep.equal([LEGAL_ENTITIES_MAP]);
    expect([status?.state, status?.action]).to.deep.equal([RequestState.Completed, "1"]);
  });

  it("sends a start once more when the gateway refused it before acting (5xx, no record)", async () => {
    const legal = await mapNamed(LEGAL_ENTITIES_MAP);
    const before = new Set(legal.lastRequests.map((r) => r.requestId));
    const { sleep } = recordingSleep();
    const fast = h.clients({ sleep });
    await fast.gateway.listMaps(cid);
    await h.emulator.control.addFault({
      kind: "error",
      surface: "gateway",
      method: "POST",
      path: "/Start$",
      status: 503,
      count: 1,
    });
    const since = await h.mark();
    const requestId = await fast.gateway.startAction(MapAction.Pause, [
      { tid: legal.tid, pid: legal.pid, cid },
    ]);
    expect((await gatewayCalls(since, "POST", "/Start")).map((p) => p.status)).to.deep.equal([
      503, 200,
    ]);
    await fast.gateway.waitForRequest(requestId);
    const after = await mapNamed(LEGAL_ENTITIES_MAP);
    expect(after.state).to.equal(MapState.Paused);
    expect(
      after.lastRequests.filter((r) => !before.has(r.requestId)).map((r) => r.requestId),
    ).to.deep.equal([requestId]);
  });

  it("times out waiting with a clear error, leaving the request running", async () => {
    const legal = await mapNamed(LEGAL_ENTITIES_MAP);
    const settings = await h.emulator.control.settings();
    await h.emulator.control.updateSettings({ transitionMs: 3_600_000 });
    try {
      const requestId = await clients.gateway.startAction(MapAction.Resume, [
        { tid: legal.tid, pid: legal.pid, cid },
      ]);
      const error = await clients.gateway
        .waitForRequest(requestId, { timeoutMs: 300 })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(TimeoutError);
      expect((error as Error).message).to.match(
        /was still running after 300 ms \(state 1\); it goes on on the server/,
      );
      expect((await clients.gateway.getRequestStatus(requestId))?.state).to.equal(
        RequestState.Waiting,
      );
    } finally {
      await h.emulator.control.updateSettings({ transitionMs: settings.transitionMs });
    }
  });

  it("switches the active version of a stopped map by template id; its tid follows", async () => {
    const accounts = await mapNamed(ACCOUNTS_MAP);
    expect(accounts.state).to.be.oneOf([MapState.Stopped, MapState.NotRunning, MapState.None]);
    const other = accounts.templates.find((t) => t.id !== accounts.activeTemplate?.id);
    if (!other) throw new Error(`${ACCOUNTS_MAP} has a single version in the emulator's catalog`);
    const since = await h.mark();
    await clients.gateway.switchActive(cid, other.id, accounts.pid ?? "");
    const [call] = await gatewayCalls(since, "POST", `/SwitchActive/${other.id}`);
    expect(call?.query).to.equal(`pid=${accounts.pid ?? ""}`);
    const after = await mapNamed(ACCOUNTS_MAP);
    expect(after.activeTemplate).to.deep.equal(other);
    expect(after.tid).to.equal(other.id);
  });

  it("sets integration keys on the connection set's CRM dataset and reads them back from the set", async () => {
    const dataset = link.set?.dataverse?.name ?? "";
    const keys = ["accountnumber", "msdyn_company.cdm_companycode"];
    const since = await h.mark();
    await clients.gateway.setIntegrationKeys(dataset, "accounts", keys);
    expect(
      await gatewayCalls(since, "POST", `/api/dataset/${dataset}/IntegrationKeys`),
    ).to.have.length(1);
    const set = await clients.gateway.getConnectionSet(link.cname, { fresh: true });
    expect(set?.integrationKeys.accounts).to.deep.equal(keys);
  });

  it("runs an initial sync as a start with skipInitialSync:false after a table refresh, and reads its results", async () => {
    const groupsName = "msdyn_customergroups - Customer groups";
    const currencies = await clients.gateway.initialize(
      cid,
      await mapNamed("transactioncurrencies - Currencies"),
    );
    // The legal-entities map is paused by an earlier test; resume it, and start what groups need.
    const legal = await mapNamed(LEGAL_ENTITIES_MAP);
    if (legal.state === MapState.Paused) {
      await clients.gateway.waitForRequest(
        await clients.gateway.startAction(MapAction.Resume, [
          { tid: legal.tid, pid: legal.pid, cid },
        ]),
      );
    }
    await clients.gateway.waitForRequest(
      await clients.gateway.startAction(MapAction.Start, [
        { tid: currencies.tid, pid: currencies.pid, cid },
      ]),
    );
    const groups = await clients.gateway.initialize(cid, await mapNamed(groupsName));
    const fm = await clients.gateway.fieldMappings(groups.pid ?? "");
    expect(fm.name).to.not.equal("");
    const since = await h.mark();
    await clients.gateway.refreshTables(fm.name);
    const requestId = await clients.gateway.startAction(MapAction.Start, [
      {
        tid: groups.tid,
        pid: groups.pid,
        cid,
        skipInitialSync: false,
        master: "FinanceOperations",
      },
    ]);
    const states: number[] = [];
    await clients.gateway.waitForRequest(requestId, {
      onProgress: (s) => {
        const state = s.maps.find((m) => m.tName === groupsName)?.state;
        if (state !== undefined) states.push(state);
      },
    });
    expect(
      (await h.requestsSince(since, (e) => e.surface === "gateway" && e.method === "POST")).map(
        (e) => e.path,
      ),
    ).to.deep.equal([`/api/Project/${fm.name}/Refresh`, "/api/DualWriteManagement/1.0/Start"]);
    expect((await mapNamed(groupsName)).state).to.be.oneOf([MapState.Running, MapState.CatchUp]);
    const results = await clients.gateway.initialSyncResults(groups.pid ?? "");
    expect(results.map((r) => r.legalEntity)).to.deep.equal([company]);
    expect(results[0]?.runId).to.be.a("string");
    expect(results[0]?.upserted).to.be.greaterThan(0);
  });

  it("confirms a relink whose answer was lost instead of resetting it twice", async () => {
    // A relink as the tool makes it: the connection set's own environments sent back
    // (ResetLinkEngine.cs:118-147), here with one more legal entity.
    const set = await clients.gateway.getConnectionSet(link.cname, { fresh: true });
    const second = (await clients.fno.legalEntities()).find((le) => le.code !== company)?.code;
    if (!set?.dataverse || !set.financeOperations || !second)
      throw new Error("the connection set lacks an environment, or F&O has one legal entity");
    const env = (e: NonNullable<typeof set.dataverse>, targetType: "CRM" | "AX") => ({
      targetType,
      name: e.name,
      displayName: e.displayName ?? e.name,
      id: e.powerAppsEnvironment ?? "",
      isDevInstance: e.isDevInstance,
      directUrl: e.directUrl ?? "",
    });
    const request: LinkRequest = {
      cid,
      payload: {
        powerAppsEnvironmentName: set.dataverse.powerAppsEnvironment ?? "",
        environments: [env(set.dataverse, "CRM"), env(set.financeOperations, "AX")],
        legalEntities: [company, second],
      },
    };
    await h.emulator.control.addFault({
      kind: "dropAfterCommit",
      surface: "gateway",
      method: "POST",
      path: "/Reset$",
      count: 1,
    });
    const since = await h.mark();
    const relinked = await clients.gateway.link(request, { forceReset: true });
    expect([...relinked.legalEntities].sort()).to.deep.equal([company, second].sort());
    expect((await gatewayCalls(since, "POST", "/Reset")).map((p) => p.outcome)).to.deep.equal([
      "droppedAfterCommit",
    ]);
    link = relinked;
  });

  it("unlinks (CHOICE: Reset with no environments) and waits until the gateway lists nothing", async () => {
    await clients.gateway.unlink(link, h.env.financeOperationsUrl, { forceReset: true });
    expect(await clients.gateway.findEnvironment(h.env.financeOperationsUrl)).to.equal(undefined);
    expect(await clients.gateway.getConnectionSet(link.cname)).to.equal(undefined);
  });
});
