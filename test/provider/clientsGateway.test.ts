/**
 * The gateway client against the in-process emulator: environment lookup, link, solutions, maps,
 * actions and their status, prerequisites, versions, integration keys; an ambiguous start that is
 * looked up rather than repeated; a start refused before processing that is sent once more; and
 * shared reads (many concurrent `listMaps` → one request).
 *
 * The tests run in order on one linked environment, like a `pulumi up` would.
 */
import { expect } from "chai";
import {
  createClients,
  resetClientCache,
  type Clients,
  type GatewayMap,
} from "../../provider/clients/index";
import { MapAction, MapState, RequestState } from "../../provider/clients/gateway";
import { DualWriteError, TimeoutError } from "../../provider/errors";
import { recordingSleep, startClientHarness, type ClientHarness } from "./clientsHarness";

const LEGAL_ENTITIES_MAP = "cdm_companies - Legal entities";
const ACCOUNTS_MAP = "accounts - Customers V3";

describe("clients: gateway (emulator)", () => {
  let h: ClientHarness;
  let clients: Clients;
  let cid: string;
  let company: string;

  before(async () => {
    h = await startClientHarness({ clock: { speed: 20 } });
    clients = h.clients();
  });
  after(() => h?.close());
  afterEach(() => h.emulator.control.clearFaults());

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

  it("finds the environment by its F&O URL, and nothing for an unknown one", async () => {
    const env = await clients.gateway.findEnvironment(h.env.financeOperationsUrl);
    expect(env?.cid).to.equal(h.env.cid);
    expect(env?.linked).to.equal(false);
    cid = h.env.cid;
    expect(await clients.gateway.findEnvironment(`${h.emulator.url}/fno/not-there`)).to.equal(
      undefined,
    );
  });

  it("links the environments and reads the connection set", async () => {
    const les = await clients.fno.legalEntities();
    company = les[0]?.code ?? "";
    expect(company).to.not.equal("");
    const requestId = await clients.gateway.link(cid, {
      dataverseUrl: h.env.dataverseUrl,
      financeOperationsUrl: h.env.financeOperationsUrl,
      legalEntities: [company],
      skipInitialWrites: true,
      forceReset: false,
    });
    expect(requestId).to.be.a("string");
    const env = await clients.gateway.findEnvironment(h.env.financeOperationsUrl);
    expect([env?.linked, env?.linkedDataverseUrl]).to.deep.equal([true, h.env.dataverseUrl]);
    const set = await clients.gateway.getConnectionSet(env?.cname ?? "");
    expect(set?.legalEntities).to.deep.equal([company]);
    expect(set?.dataverseUrl).to.equal(h.env.dataverseUrl);
  });

  it("sees the link from Dataverse (RetrieveFinanceAndOperationsIntegrationDetails)", async () => {
    const details = await clients.dataverse.integrationDetails();
    expect(details?.Url).to.equal(h.env.financeOperationsUrl);
  });

  it("applies the orchestration solutions and waits for them", async () => {
    const solutions = await clients.gateway.listSolutions(cid);
    const pending = solutions.filter((s) => s.installed && !s.applied).map((s) => s.uniqueName);
    expect(pending.length).to.be.greaterThan(0);
    await clients.gateway.applySolutions(cid, pending);
    expect(
      (await clients.gateway.listSolutions(cid))
        .filter((s) => pending.includes(s.uniqueName))
        .every((s) => s.applied),
    ).to.equal(true);
    const maps = await clients.gateway.listMaps(cid);
    expect(maps.map((m) => m.tName)).to.include.members([LEGAL_ENTITIES_MAP, ACCOUNTS_MAP]);
    const accounts = maps.find((m) => m.tName === ACCOUNTS_MAP);
    expect(accounts?.activeTemplate?.version).to.match(/^\d+\.\d+\.\d+\.\d+$/);
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

  it("lists prerequisite maps in start order", async () => {
    const accounts = await mapNamed(ACCOUNTS_MAP);
    const legal = await mapNamed(LEGAL_ENTITIES_MAP);
    const [sequence] = await clients.gateway.prerequisiteSequences(cid, [accounts.tid]);
    expect(sequence).to.include(legal.tid);
    expect(sequence).to.not.include(accounts.tid);
  });

  it("reports a failed request with the gateway's message", async () => {
    const accounts = await mapNamed(ACCOUNTS_MAP);
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
      503, 202,
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

  it("switches the active version of a stopped map", async () => {
    const accounts = await mapNamed(ACCOUNTS_MAP);
    expect(accounts.state).to.be.oneOf([MapState.Stopped, MapState.NotRunning, MapState.None]);
    const other = accounts.templates.find((t) => t.id !== accounts.activeTemplate?.id);
    if (!other) throw new Error(`${ACCOUNTS_MAP} has a single version in the emulator's catalog`);
    const result = await clients.gateway.switchActive(cid, other.id, accounts.pid);
    expect(result.template).to.deep.equal(other);
    expect((await mapNamed(ACCOUNTS_MAP, false)).activeTemplate).to.deep.equal(other);
  });

  it("sets and reads integration keys", async () => {
    const org = h.env.name;
    const keys = await clients.gateway.setIntegrationKeys(org, "accounts", [
      "accountnumber",
      "msdyn_company.cdm_companycode",
    ]);
    expect(keys.accounts).to.deep.equal(["accountnumber", "msdyn_company.cdm_companycode"]);
    expect((await clients.gateway.getIntegrationKeys(org)).accounts).to.deep.equal([
      "accountnumber",
      "msdyn_company.cdm_companycode",
    ]);
  });

  it("reports initial sync as not started for a map that never ran one", async () => {
    const accounts = await mapNamed(ACCOUNTS_MAP);
    const results = await clients.gateway.initialSyncResults(accounts.pid);
    expect(results.map((r) => r.legalEntity)).to.deep.equal([company]);
    expect(
      results.map((r) => [r.status, r.upserted, r.errors, r.firstErrors.length]),
    ).to.deep.equal([["NotStarted", 0, 0, 0]]);
  });

  it("confirms a link whose answer was lost instead of resetting it twice", async () => {
    const env = await clients.gateway.findEnvironment(h.env.financeOperationsUrl);
    await h.emulator.control.addFault({
      kind: "dropAfterCommit",
      surface: "gateway",
      method: "POST",
      path: "/Reset$",
      count: 1,
    });
    const since = await h.mark();
    const result = await h.clients({ sleep: recordingSleep().sleep }).gateway.link(cid, {
      dataverseUrl: h.env.dataverseUrl,
      financeOperationsUrl: h.env.financeOperationsUrl,
      legalEntities: [company],
      skipInitialWrites: true,
      forceReset: true,
    });
    expect(result).to.equal(undefined);
    expect((await gatewayCalls(since, "POST", "/Reset")).map((p) => p.outcome)).to.deep.equal([
      "droppedAfterCommit",
    ]);
    expect(
      (await clients.gateway.getConnectionSet(env?.cname ?? "", { fresh: true }))?.legalEntities,
    ).to.deep.equal([company]);
  });

  it("unlinks", async () => {
    await clients.gateway.unlink(cid, { forceReset: true });
    const env = await clients.gateway.findEnvironment(h.env.financeOperationsUrl);
    expect(env?.linked).to.equal(false);
    expect(await clients.gateway.getConnectionSet(env?.cname ?? "")).to.equal(undefined);
  });
});
