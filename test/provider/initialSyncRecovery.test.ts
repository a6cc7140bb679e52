/**
 * Initial syncs that never repeat by accident, waits with the program's timeouts, and cancellation,
 * against the in-process emulator (issue 10, points 4, 7 and 8):
 *
 * - a job that an interrupted `up` started — still running, or ended before the state was written
 *   — is adopted by the next `up`, never started again (the emulator's job list proves one job);
 * - `waitForCompletion: false` returns once the job has started; a later `up` (update) or
 *   `refresh` (read) collects and records the result;
 * - the `timeouts` input (through the dynamic adapter, as the engine never passes `customTimeouts`
 *   to a dynamic provider) ends an initial-sync wait and a link or unlink wait; the job (or the
 *   reset) goes on at the gateway, and the next `up` adopts it;
 * - the provider's cancellation signal stops a wait at once, leaving the job running.
 *
 * The kill of a real `pulumi up` at several points of an initial sync is in
 * test/e2e/initialSyncRecovery.test.ts.
 */
import { expect } from "chai";
import { MapAction, MapState } from "../../provider/clients/gateway";
import { toResourceProvider } from "../../provider/dynamic/adapter";
import { CancelledError, TimeoutError } from "../../provider/errors";
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

const GROUPS = "msdyn_customergroups - Customer groups";
const CURRENCIES = "transactioncurrencies - Currencies";
const LEGAL_ENTITIES = "cdm_companies - Legal entities";
const ACCOUNTS = "accounts - Customers V3";

/** An initial-sync job as `GET /_emulator/jobs` lists it. */
interface Job {
  readonly requestId: string;
  readonly map: string;
  readonly fnoEnv: string;
  readonly kind: string;
  readonly state: string;
}

describe("Initial sync recovery, timeouts and cancellation (provider, emulator)", function () {
  this.timeout(120_000);
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
    for (const name of [LEGAL_ENTITIES, CURRENCIES, GROUPS, ACCOUNTS]) {
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
  afterEach(() => slowJobs(false));

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

  /** Initial-sync jobs move a row every few emulated seconds: each job takes several seconds. */
  const slowJobs = async (slow: boolean): Promise<void> => {
    await h.emulator.control.call("PUT", "settings", { jobRowsPerSecond: slow ? 0.002 : 2000 });
  };
  /** The emulator's initial-sync jobs of `mapName` on this link. */
  const jobsOf = async (mapName: string): Promise<Job[]> =>
    (await h.emulator.control.call<Job[]>("GET", "jobs")).filter(
      (j) => j.map === mapName && j.kind === "initialSync" && j.fnoEnv === "ee",
    );
  /** Waits until `condition` holds (polling), or fails after `ms`. */
  const until = async (what: string, condition: () => Promise<boolean>, ms = 60_000) => {
    const deadline = Date.now() + ms;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /**
   * What a `pulumi up` killed right after its start request leaves behind: the map stopped, and
   * one `Start` "1" with `skipInitialSync:false` at the gateway. Returns its request id.
   */
  const startAsAKilledUpDid = async (mapName: string): Promise<string> => {
    const gateway = h.ctx().clients(link).gateway;
    let map = (await gateway.listMaps(link.environmentId, { fresh: true })).find(
      (m) => m.tName === mapName,
    )!;
    if (map.state === MapState.Running) {
      await gateway.waitForRequest(
        await gateway.startAction(MapAction.Stop, [
          { tid: map.tid, pid: map.pid, cid: link.environmentId },
        ]),
      );
      map = (await gateway.listMaps(link.environmentId, { fresh: true })).find(
        (m) => m.tName === mapName,
      )!;
    }
    return gateway.startAction(MapAction.Start, [
      {
        tid: map.tid,
        pid: map.pid,
        cid: link.environmentId,
        skipInitialSync: false,
        master: "FinanceOperations",
      },
    ]);
  };
  /**
   * The newest job of a map: what a map's binding would have recorded. A new run declared after
   * it must start a job of its own (an older one, e.g. of an earlier run, is not adopted).
   */
  const latestJob = async (mapName: string): Promise<string | undefined> =>
    (await jobsOf(mapName)).at(-1)?.requestId;
  const startsSince = async (mark: number): Promise<number> =>
    (await h.writesSince(mark)).filter((w) => w.path.endsWith("/Start")).length;

  describe("a job an interrupted up started is adopted, never started again", () => {
    it("still running: the next create waits for it and records it", async () => {
      await slowJobs(true);
      const before = (await jobsOf(GROUPS)).length;
      const started = await startAsAKilledUpDid(GROUPS);
      await until("the job to run", async () =>
        (await jobsOf(GROUPS)).some((j) => j.requestId === started && j.state === "Running"),
      );
      await slowJobs(false);
      const mark = await h.mark();
      const { outs } = await run.create(inputs(GROUPS), h.ctx());
      expect(outs.requestId).to.equal(started);
      expect(outs.adopted).to.equal(true);
      expect(outs.status).to.equal("Succeeded");
      expect(outs.results.map((r) => r.legalEntity).sort()).to.deep.equal(["DEMF", "USMF"]);
      expect(await startsSince(mark), "starts sent by the create").to.equal(0);
      expect((await jobsOf(GROUPS)).length - before, "jobs").to.equal(1);
    });

    it("ended before the state was written: the next create records it, sends nothing", async () => {
      const before = (await jobsOf(CURRENCIES)).length;
      const started = await startAsAKilledUpDid(CURRENCIES);
      await h.ctx().clients(link).gateway.waitForRequest(started);
      const mark = await h.mark();
      const { outs } = await run.create(inputs(CURRENCIES), h.ctx());
      expect(outs.requestId).to.equal(started);
      expect(outs.adopted).to.equal(true);
      expect(outs.results.length).to.be.greaterThan(0);
      expect(await h.writesSince(mark), "writes of the create").to.deep.equal([]);
      expect((await jobsOf(CURRENCIES)).length - before, "jobs").to.equal(1);
    });

    it("a run declared later on purpose (newer than its binding's sync) starts a new job", async () => {
      const latest = (await jobsOf(CURRENCIES)).at(-1)!.requestId;
      const mark = await h.mark();
      const { outs } = await run.create(
        inputs(CURRENCIES, { bindingSyncRequestId: latest, trigger: "again" }),
        h.ctx(),
      );
      expect(outs.adopted).to.equal(false);
      expect(outs.requestId).to.not.equal(latest);
      expect(await startsSince(mark), "stop, then the start with initial sync").to.equal(2);
    });

    it("a new trigger runs again as an update; after a kill the next update adopts its job", async () => {
      const first = (await run.create(inputs(LEGAL_ENTITIES), h.ctx())).outs;
      // The update of a new trigger is killed after its start: the state keeps the first run.
      const started = await startAsAKilledUpDid(LEGAL_ENTITIES);
      const mark = await h.mark();
      const after = await run.update(
        first.requestId,
        first,
        inputs(LEGAL_ENTITIES, { trigger: "2026-12-01" }),
        h.ctx(),
      );
      expect(after.requestId).to.equal(started);
      expect(after.adopted).to.equal(true);
      expect(await startsSince(mark)).to.equal(0);
    });
  });

  describe("waitForCompletion: false", () => {
    let started: InitialSyncRunOutputs;

    it("create returns once the job has started (Running, no results); preview shows an update; refresh keeps it Running", async () => {
      await slowJobs(true);
      const t0 = Date.now();
      started = (
        await run.create(
          inputs(GROUPS, {
            trigger: "no-wait",
            waitForCompletion: false,
            bindingSyncRequestId: await latestJob(GROUPS),
          }),
          h.ctx(),
        )
      ).outs;
      expect(Date.now() - t0).to.be.lessThan(5_000);
      expect(started.status).to.equal("Running");
      expect(started.results).to.deep.equal([]);
      expect(started.finishedAt).to.equal(undefined);
      expect((await jobsOf(GROUPS)).find((j) => j.requestId === started.requestId)?.state).to.equal(
        "Running",
      );
      // Preview shows it as an update; refresh records it as it stands (still running).
      const same = inputs(GROUPS, {
        trigger: "no-wait",
        waitForCompletion: false,
        bindingSyncRequestId: started.bindingSyncRequestId,
      });
      const d = await run.diff(started.requestId, started, same, h.ctx());
      expect(d).to.deep.include({ changes: true, replaces: [] });
      expect(d.reasons[0]).to.match(/not collected yet/);
      const read = await run.read(started.requestId, started, h.ctx());
      expect(read?.props.status).to.equal("Running");
    });

    it("the next up (update) collects the result without starting anything", async () => {
      await slowJobs(false);
      await until("the job to end", async () =>
        (await jobsOf(GROUPS)).some(
          (j) => j.requestId === started.requestId && j.state !== "Running",
        ),
      );
      const mark = await h.mark();
      const same = inputs(GROUPS, {
        trigger: "no-wait",
        waitForCompletion: false,
        bindingSyncRequestId: started.bindingSyncRequestId,
      });
      const collected = await run.update(started.requestId, started, same, h.ctx());
      expect(collected.status).to.equal("Succeeded");
      expect(collected.requestId).to.equal(started.requestId);
      expect(collected.results.map((r) => r.legalEntity).sort()).to.deep.equal(["DEMF", "USMF"]);
      expect(await h.writesSince(mark)).to.deep.equal([]);
      // And a refresh would have recorded the same.
      const read = await run.read(started.requestId, started, h.ctx());
      expect(read?.props.status).to.equal("Succeeded");
      expect(
        (await run.diff(started.requestId, collected, same, h.ctx())).changes,
        "nothing left to do",
      ).to.equal(false);
    });

    it("a binding's sync not waited for is collected by its next update", async () => {
      await slowJobs(true);
      const news = {
        environmentId: link.environmentId,
        financeOperationsUrl: link.financeOperationsUrl,
        dataverseUrl: link.dataverseUrl,
        mapName: ACCOUNTS,
        startPrerequisites: true,
        initialSync: {
          master: "FinanceOperations" as const,
          trigger: "no-wait",
          waitForCompletion: false,
        },
      };
      const was = { ...maps[ACCOUNTS]!, initialSync: { master: "FinanceOperations" as const } };
      const started = await binding.update("x", was, news, h.ctx());
      expect(started.lastInitialSync?.status).to.equal("Running");
      expect(started.observedState).to.equal("InitialSync");
      const d = await binding.diff("x", started, news, h.ctx());
      expect(d.changes).to.equal(true);
      await slowJobs(false);
      const mark = await h.mark();
      const collected = await binding.update("x", started, news, h.ctx());
      expect(collected.lastInitialSync?.status).to.equal("Succeeded");
      expect(collected.lastInitialSync?.requestId).to.equal(started.lastInitialSync?.requestId);
      expect(collected.observedState).to.equal("Running");
      expect(await startsSince(mark)).to.equal(0);
    });
  });

  describe("timeouts and cancellation", () => {
    it("the program's timeout ends the wait; the job runs on; the next create adopts it", async () => {
      await slowJobs(true);
      const provider = toResourceProvider(run, () => h.ctx());
      const before = (await jobsOf(CURRENCIES)).length;
      const baseline = await latestJob(CURRENCIES);
      const t0 = Date.now();
      let error: unknown;
      try {
        await provider.create({
          ...inputs(CURRENCIES, { trigger: "t", bindingSyncRequestId: baseline }),
          timeouts: { create: "2s" },
        });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(TimeoutError);
      expect((error as Error).message).to.match(/2 s/);
      expect(Date.now() - t0).to.be.lessThan(10_000);
      const jobs = await jobsOf(CURRENCIES);
      expect(jobs.length - before).to.equal(1);
      expect(jobs.at(-1)?.state, "the job after the timeout").to.equal("Running");
      await slowJobs(false);
      const { outs } = (await provider.create({
        ...inputs(CURRENCIES, { trigger: "t", bindingSyncRequestId: baseline }),
      })) as { outs: InitialSyncRunOutputs };
      expect(outs.requestId).to.equal(jobs.at(-1)?.requestId);
      expect(outs.adopted).to.equal(true);
      expect((await jobsOf(CURRENCIES)).length - before, "jobs").to.equal(1);
    });

    it("a bad timeouts input is refused in check, naming the property", async () => {
      const provider = toResourceProvider(run, () => h.ctx());
      const checked = await provider.check!(
        {},
        { ...inputs(GROUPS), timeouts: { create: "soon" } },
      );
      expect(checked.failures?.map((f) => f.property)).to.deep.equal(["timeouts"]);
      expect(checked.failures?.[0]?.reason).to.match(/timeouts\.create .*"30m"/);
    });

    it("cancellation stops the wait at once; the job runs on; the next create adopts it", async () => {
      await slowJobs(true);
      const cancel = new AbortController();
      const before = (await jobsOf(GROUPS)).length;
      const baseline = await latestJob(GROUPS);
      const creating = run.create(
        inputs(GROUPS, { trigger: "cancel", bindingSyncRequestId: baseline }),
        h.ctx({}, { signal: cancel.signal }),
      );
      const outcome = creating.then(
        () => undefined,
        (e: unknown) => e,
      );
      await until("the job to start", async () => (await jobsOf(GROUPS)).length > before);
      const t0 = Date.now();
      cancel.abort(new Error("SIGINT"));
      const error = await outcome;
      expect(Date.now() - t0, "ms from the signal to the end of the wait").to.be.lessThan(1_000);
      expect(error).to.be.instanceOf(CancelledError);
      expect((error as Error).message)
        .to.match(/SIGINT/)
        .and.to.match(/next pulumi up/);
      const job = (await jobsOf(GROUPS)).at(-1)!;
      expect(job.state, "the job after the cancellation").to.equal("Running");
      await slowJobs(false);
      const { outs } = await run.create(
        inputs(GROUPS, { trigger: "cancel", bindingSyncRequestId: baseline }),
        h.ctx(),
      );
      expect(outs.requestId).to.equal(job.requestId);
      expect(outs.adopted).to.equal(true);
      expect((await jobsOf(GROUPS)).length - before, "jobs").to.equal(1);
    });
  });

  describe("link and unlink wait with the program's timeout", () => {
    let pair: { financeOperationsUrl: string; dataverseUrl: string };
    const provider = () => toResourceProvider(connection, () => h.ctx());
    const declared = () => ({
      scenario: "existing-existing",
      financeOperationsUrl: pair.financeOperationsUrl,
      dataverseUrl: pair.dataverseUrl,
      legalEntities: ["USMF"],
    });

    before(async () => {
      pair = await h.emulator.control.seed({ scenario: "existing-existing", name: "lt", size: 2 });
    });
    afterEach(() => h.emulator.control.call("PUT", "settings", { transitionMs: 200 }));

    let linked: Record<string, unknown>;
    const linksNow = () => h.emulator.control.call<Array<{ fnoEnv: string }>>("GET", "links");

    it("a link that takes longer than timeouts.create fails with that timeout; the next up finds it", async () => {
      // A Reset takes 5 emulated minutes (6 s here): longer than the 2 s the program gives.
      await h.emulator.control.call("PUT", "settings", { transitionMs: 300_000 });
      const t0 = Date.now();
      let error: unknown;
      try {
        await provider().create({ ...declared(), timeouts: { create: "2s" } });
      } catch (e) {
        error = e;
      }
      expect(error, String(error)).to.be.instanceOf(TimeoutError);
      expect((error as Error).message).to.match(/did not show within 2 s/);
      expect(Date.now() - t0).to.be.lessThan(5_500);
      // The reset goes on at the gateway; once it shows, the next up adopts it without a Reset.
      await until("the link to show", async () =>
        (await linksNow()).some((l) => l.fnoEnv === "lt"),
      );
      await h.emulator.control.call("PUT", "settings", { transitionMs: 200 });
      const mark = await h.mark();
      const { outs } = (await provider().create({
        ...declared(),
        timeouts: { create: "2m" },
      })) as { outs: Record<string, unknown> };
      expect(outs.linkedLegalEntities).to.deep.equal(["USMF"]);
      const resets = (await h.writesSince(mark)).filter((w) => w.path.endsWith("/Reset"));
      expect(resets, "Resets sent by the second create").to.deep.equal([]);
      expect(outs.timeouts, "kept in the state, for delete").to.deep.equal({ create: "2m" });
      linked = outs;
    });

    it("an unlink that takes longer than timeouts.delete fails with that timeout", async () => {
      await h.emulator.control.call("PUT", "settings", { transitionMs: 300_000 });
      const t0 = Date.now();
      let error: unknown;
      try {
        await provider().delete!("x", { ...linked, onDelete: "reset", timeouts: { delete: "2s" } });
      } catch (e) {
        error = e;
      }
      expect(error, String(error)).to.be.instanceOf(TimeoutError);
      expect((error as Error).message).to.match(/within 2 s/);
      expect(Date.now() - t0).to.be.lessThan(5_500);
      await until(
        "the link to be gone",
        async () => !(await linksNow()).some((l) => l.fnoEnv === "lt"),
      );
    });
  });
});
