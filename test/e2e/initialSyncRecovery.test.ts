/**
 * "Initial sync never repeats by accident" and "SIGINT/SIGTERM stop polling promptly" — with the
 * real Pulumi CLI against an in-process emulator (issue 10, points 4 and 8), on the program of
 * test/e2e/programs/initialSyncRecovery.ts: a link and three maps whose starts are their initial
 * syncs.
 *
 * `pulumi up` runs in a child process (`upInChild.ts`) that is SIGKILLed — with the CLI and the
 * provider process — at a point of an initial sync:
 *
 * | point | when the up is killed                                            | path                      |
 * |-------|------------------------------------------------------------------|---------------------------|
 * | 1     | right after the gateway received the first map's sync start       | create (first up)         |
 * | 2     | after the refresh of the customer groups' tables, before the start | update (new trigger)      |
 * | 3     | while the start request is held at the gateway (answer not sent)  | update                    |
 * | 4     | during InitialSync, at a seeded random moment                     | update                    |
 * | 5     | right after the job ended, before the state was written           | update                    |
 *
 * After each: `pulumi cancel`, `pulumi refresh --clear-pending-creates`, `pulumi up` — which must
 * converge (a preview then has nothing to do) without copying twice: per map and trigger, exactly
 * one `Start` "1" (the map's gateway history) and exactly one initial-sync job (the runtime's job
 * list), and the state records that job.
 *
 * Then `initialSync.waitForCompletion: false` (an `up` that returns once the job has started, a
 * `refresh` that collects it), and a cancelled `up`: SIGINT twice to the CLI (cancel, then
 * terminate) during a long sync — the provider process exits promptly, the job keeps running in
 * the emulator, and the next `up` adopts it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { expect } from "chai";
import type { TestEmulator } from "../support/emulator";
import { EngineStack } from "../support/engine";
import { alive, descendantsOf, ended, killTree, processes, waitUntil } from "../support/processes";
import {
  emulatorProcessEnv,
  emulatorProviderConfig,
  programFromModule,
} from "../../tools/examples";
import { loadToolchain } from "../../tools/toolchain";
import {
  changes,
  OutputBuffer,
  previewSteps,
  printOutputOnFailure,
  seedPair,
  startScenarioEmulator,
} from "./scenarioSupport";
import { MAPS } from "./programs/initialSyncRecovery";
import type { UpInChildSpec } from "./upInChild";

const PROGRAM = path.join(__dirname, "programs", "initialSyncRecovery.js");
const PROJECT = "initial-sync-recovery";
const PAIR = "isr";
const START_PATH = "/api/DualWriteManagement/1.0/Start";

/** An initial-sync job as `GET /_emulator/jobs` lists it. */
interface Job {
  readonly requestId: string;
  readonly map: string;
  readonly fnoEnv: string;
  readonly kind: string;
  readonly state: string;
}

/** One entry of a map's gateway history (`lastRequests`). */
interface MapRequest {
  readonly requestId: string;
  readonly action: string;
  readonly state: string;
}

/** What the state records of a binding's last sync (a stack output). */
interface SyncRecord {
  readonly requestId: string;
  readonly status: string;
  readonly trigger?: string;
  readonly adopted: boolean;
}

/** A tiny seeded generator (mulberry32): the same "random" moments on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("e2e: an interrupted initial sync is adopted, never repeated (real Pulumi CLI)", function () {
  let emulator: TestEmulator;
  let stack: EngineStack;
  let cid: string;
  const output = new OutputBuffer();
  const random = seeded(20261127);
  /** Every trigger the groups' sync has been declared with so far, the first one `undefined`. */
  const triggers: Array<string | undefined> = [undefined];

  before(async function () {
    emulator = await startScenarioEmulator();
    const env = await seedPair(emulator, "existing-existing", PAIR, 8);
    const provider = emulatorProviderConfig(emulator);
    stack = await EngineStack.create({
      projectName: PROJECT,
      program: programFromModule(PROGRAM),
      env: emulatorProcessEnv(emulator),
      output: output.sink,
    });
    await stack.setConfig({
      [`${PROJECT}:financeOperationsUrl`]: env.financeOperationsUrl,
      [`${PROJECT}:dataverseUrl`]: env.dataverseUrl,
      ...provider.config,
    });
    await stack.setConfig(provider.secrets, { secret: true });
  });

  after(async function () {
    await stack?.dispose();
    await emulator?.close();
  });
  afterEach(printOutputOnFailure(output));
  afterEach(async function () {
    await emulator?.control.clearFaults();
    await jobSpeed("fast");
  });

  /** Initial-sync jobs: `slow` ones take several seconds (rows move one by one). */
  async function jobSpeed(speed: "fast" | "slow" | "crawl"): Promise<void> {
    // Emulated time runs 20 times faster: `slow` moves about 2 rows a second, `crawl` one in 10 s.
    const rate = { fast: 2000, slow: 0.1, crawl: 0.005 }[speed];
    await emulator.control.call("PUT", "settings", { jobRowsPerSecond: rate });
  }

  async function jobsOf(map: string): Promise<Job[]> {
    return (await emulator.control.call<Job[]>("GET", "jobs")).filter(
      (j) => j.map === map && j.fnoEnv === PAIR && j.kind === "initialSync",
    );
  }

  /** The maps' gateway histories (newest first), by map name. */
  async function histories(): Promise<Map<string, MapRequest[]>> {
    cid ??= (
      (await emulator.control.call<Array<{ fnoEnv: string; cid: string }>>("GET", "links")).find(
        (l) => l.fnoEnv === PAIR,
      ) ?? { cid: "" }
    ).cid;
    const answer = await emulator.request(
      "GET",
      `${emulator.gatewayUrl}/api/DualWriteManagement/1.0/Entities?targetType=AX&cid=${encodeURIComponent(cid)}`,
      { token: await emulator.token("https://IntegratorApp.com") },
    );
    expect(answer.status, answer.text).to.equal(200);
    const items = answer.json as Array<{ detail: { tName: string; lastRequests: MapRequest[] } }>;
    return new Map(items.map((i) => [i.detail.tName, i.detail.lastRequests]));
  }

  /** The `Start` requests ("1") of a map that the gateway has not listed in `before`. */
  async function startsSince(map: string, before: Map<string, MapRequest[]>): Promise<string[]> {
    const known = new Set((before.get(map) ?? []).map((r) => r.requestId));
    return ((await histories()).get(map) ?? [])
      .filter((r) => String(r.action) === "1" && !known.has(r.requestId))
      .map((r) => r.requestId);
  }

  /** The `seq` of the emulator's latest logged request. */
  const mark = (): Promise<number> => emulator.control.lastRequestSeq();
  /** Whether the request log holds, since `since`, `n` requests matching. */
  async function logged(
    since: number,
    match: (r: { method: string; path: string }) => boolean,
    n = 1,
  ): Promise<boolean> {
    return (await emulator.control.requests(since)).filter(match).length >= n;
  }
  const isStart = (r: { method: string; path: string }) =>
    r.method === "POST" && r.path === START_PATH;
  const isRefresh = (r: { method: string; path: string }) =>
    r.method === "POST" && /^\/api\/Project\/.+\/Refresh$/.test(r.path);

  /** `pulumi up` of the program in a child process, to be killed; with the current stack config. */
  function upInChild(): { child: ChildProcess; exited: () => boolean } {
    const spec: UpInChildSpec = {
      workDir: stack.stack.workspace.workDir,
      projectName: PROJECT,
      stackName: stack.name,
      backendDir: stack.backendDir,
      module: PROGRAM,
      env: emulatorProcessEnv(emulator),
    };
    const child = spawn(
      process.execPath,
      [path.join(__dirname, "upInChild.js"), JSON.stringify(spec)],
      {
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...loadToolchain().env },
      },
    );
    child.stdout?.on("data", (chunk: Buffer) => output.sink(chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => output.sink(chunk.toString()));
    let done = false;
    child.once("exit", () => (done = true));
    return { child, exited: () => done };
  }

  /** Kills `up` (the child, the CLI, the provider) once `when` holds; fails if it ended first. */
  async function killWhen(
    what: string,
    when: () => Promise<boolean>,
    setUp: () => Promise<void> = () => Promise.resolve(),
  ): Promise<void> {
    await setUp();
    const { child, exited } = upInChild();
    try {
      await waitUntil(
        what,
        async () => {
          if (exited()) throw new Error(`pulumi up ended before ${what}`);
          return when();
        },
        120_000,
      );
      const tree = [child.pid ?? -1, ...descendantsOf(child.pid ?? -1).map((p) => p.pid)];
      await killTree(child);
      await waitUntil("the killed processes to be gone", () => !tree.some(alive), 10_000);
      output.sink(`\n--- pulumi up killed: ${what} ---\n`);
    } finally {
      if (!exited()) await killTree(child);
      await emulator.control.clearFaults();
    }
  }

  /** What a person does after a killed up (docs/scenarios.md), then `up` and a no-change preview. */
  async function recover(): Promise<void> {
    await jobSpeed("fast");
    try {
      await stack.stack.cancel();
    } catch {
      // not locked (the dead run's lock was released)
    }
    await stack.stack.refresh({ clearPendingCreates: true, onOutput: output.sink, color: "never" });
    const result = await stack.up();
    expect(result.summary.result).to.equal("succeeded");
    const { steps } = await previewSteps(stack, output, { expectNoChanges: true });
    expect(changes(steps)).to.deep.equal([]);
  }

  /** One sync per map and trigger: one `Start` "1" and one job since `before`, recorded in the state. */
  async function expectSyncedOnce(
    map: string,
    before: Map<string, MapRequest[]>,
    jobsBefore: number,
    output_: string,
  ): Promise<void> {
    const starts = await startsSince(map, before);
    expect(starts, `Start "1" requests of ${map}`).to.have.length(1);
    const jobs = await jobsOf(map);
    expect(jobs.length - jobsBefore, `initial-sync jobs of ${map}`).to.equal(1);
    const job = jobs.at(-1);
    expect(job?.requestId).to.equal(starts[0]);
    expect(job?.state).to.equal("Succeeded");
    const recorded = (await stack.outputs())[output_]?.value as SyncRecord | undefined;
    expect(recorded?.requestId, `${output_} in the state`).to.equal(job?.requestId);
    expect(recorded?.status).to.equal("Succeeded");
  }

  /** Declares a new trigger of the groups' sync (the next up syncs them again). */
  async function newTrigger(): Promise<string> {
    const trigger = `t${triggers.length + 1}`;
    triggers.push(trigger);
    await stack.setConfig({ [`${PROJECT}:groupsTrigger`]: trigger });
    return trigger;
  }

  it("point 1: killed right after the first map's sync start; the next up adopts it", async function () {
    const before = new Map<string, MapRequest[]>();
    const since = await mark();
    // The first refresh of tables comes right before the first sync start (legal entities).
    await killWhen("the first sync start at the gateway", async () => {
      const log = (await emulator.control.requests(since)).filter(
        (r) => isRefresh(r) || isStart(r),
      );
      const refresh = log.findIndex(isRefresh);
      return refresh >= 0 && log.slice(refresh + 1).some(isStart);
    });
    expect((await jobsOf(MAPS.legalEntities)).length, "the job the killed up started").to.equal(
      (await startsSince(MAPS.legalEntities, before)).length,
    );
    await recover();
    await expectSyncedOnce(MAPS.legalEntities, before, 0, "legalEntitiesSync");
    await expectSyncedOnce(MAPS.currencies, before, 0, "currenciesSync");
    await expectSyncedOnce(MAPS.groups, before, 0, "groupsSync");
  });

  it("point 2: killed after the refresh, before the start; the next up starts it once", async function () {
    await newTrigger();
    const before = await histories();
    const jobs = (await jobsOf(MAPS.groups)).length;
    const since = await mark();
    await killWhen("the refresh of the groups' tables", () => logged(since, isRefresh));
    await recover();
    await expectSyncedOnce(MAPS.groups, before, jobs, "groupsSync");
  });

  it("point 3: killed while the start request is held at the gateway", async function () {
    await newTrigger();
    const before = await histories();
    const jobs = (await jobsOf(MAPS.groups)).length;
    const since = await mark();
    await killWhen(
      "the held sync start",
      // The stop ("4") and the start ("1"): the start is the second POST Start.
      () => logged(since, isStart, 2),
      () =>
        emulator.control
          .setFaults([
            {
              kind: "latency",
              surface: "gateway",
              method: "POST",
              path: "/Start$",
              latencyMs: 4000,
            },
          ])
          .then(() => undefined),
    );
    // The gateway handles a held request whose client went away once its latency has passed; the
    // next up reads what it did then (a start it never registered cannot be found by anyone).
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await recover();
    await expectSyncedOnce(MAPS.groups, before, jobs, "groupsSync");
  });

  it("point 4: killed during InitialSync, at a random moment; the next up waits for it", async function () {
    await newTrigger();
    const before = await histories();
    const jobs = (await jobsOf(MAPS.groups)).length;
    const delay = 300 + Math.floor(random() * 2000);
    let runningSince: number | undefined;
    await killWhen(
      `${delay} ms into the groups' InitialSync`,
      async () => {
        const running = (await jobsOf(MAPS.groups)).slice(jobs).some((j) => j.state === "Running");
        if (running) runningSince ??= Date.now();
        return runningSince !== undefined && Date.now() - runningSince >= delay;
      },
      // Crawling, so that the job is still running when the kill lands on a loaded machine (at
      // `slow` it could end between the decision to kill and the kill); recover() speeds it up.
      () => jobSpeed("crawl"),
    );
    expect((await jobsOf(MAPS.groups)).at(-1)?.state, "the job after the kill").to.equal("Running");
    await recover();
    await expectSyncedOnce(MAPS.groups, before, jobs, "groupsSync");
  });

  it("point 5: killed right after the job ended, before the state was written", async function () {
    const trigger = await newTrigger();
    const before = await histories();
    const jobs = (await jobsOf(MAPS.groups)).length;
    await killWhen(
      "the end of the groups' job",
      async () => (await jobsOf(MAPS.groups)).slice(jobs).some((j) => j.state !== "Running"),
      async () => {
        await jobSpeed("slow");
        // Status reads answer slowly: the provider learns of the end well after the kill lands.
        await emulator.control.setFaults([
          { kind: "latency", surface: "gateway", method: "GET", path: "/Status/", latencyMs: 1500 },
        ]);
      },
    );
    // The point is real: the state does not know the new sync yet.
    const stale = (await stack.outputs()).groupsSync?.value as SyncRecord | undefined;
    expect(stale?.trigger, "the trigger recorded before the recovery").to.not.equal(trigger);
    await recover();
    await expectSyncedOnce(MAPS.groups, before, jobs, "groupsSync");
    const adopted = (await stack.outputs()).groupsSync?.value as SyncRecord;
    expect(adopted.adopted, "recorded as adopted").to.equal(true);
    expect(adopted.trigger).to.equal(trigger);
  });

  it("waitForCompletion: false returns once the job started; refresh collects it", async function () {
    await newTrigger();
    await stack.setConfig({ [`${PROJECT}:groupsWait`]: "false" });
    try {
      const before = await histories();
      const jobs = (await jobsOf(MAPS.groups)).length;
      await jobSpeed("crawl");
      const result = await stack.up();
      expect(result.summary.result).to.equal("succeeded");
      const started = (await stack.outputs()).groupsSync?.value as SyncRecord;
      expect(started.status, "recorded when up returned").to.equal("Running");
      expect((await jobsOf(MAPS.groups)).at(-1)?.state, "the job when up returned").to.equal(
        "Running",
      );
      // The next preview says the result is to be collected.
      const { steps } = await previewSteps(stack, output);
      expect(changes(steps).map((s) => s.name)).to.deep.equal(["groups"]);
      await jobSpeed("fast");
      await waitUntil("the job to end", async () =>
        (await jobsOf(MAPS.groups)).slice(jobs).every((j) => j.state !== "Running"),
      );
      await stack.refresh();
      const collected = (await stack.outputs()).groupsSync?.value as SyncRecord | undefined;
      expect(collected?.requestId).to.equal(started.requestId);
      const refreshed = await stack.stack.exportStack();
      const groups = (
        refreshed.deployment as {
          resources?: Array<{ urn: string; outputs?: Record<string, unknown> }>;
        }
      ).resources?.find((r) => r.urn.endsWith("::groups"));
      expect((groups?.outputs?.lastInitialSync as SyncRecord | undefined)?.status).to.equal(
        "Succeeded",
      );
      // The next up has nothing left to do for it, and syncs nothing.
      await stack.up();
      const { steps: after } = await previewSteps(stack, output, { expectNoChanges: true });
      expect(changes(after)).to.deep.equal([]);
      await expectSyncedOnce(MAPS.groups, before, jobs, "groupsSync");
    } finally {
      await stack.setConfig({ [`${PROJECT}:groupsWait`]: "true" });
    }
  });

  it("a cancelled up (SIGINT twice): the provider exits promptly, the job runs on, the next up adopts it", async function () {
    await newTrigger();
    const before = await histories();
    const jobs = (await jobsOf(MAPS.groups)).length;
    await jobSpeed("crawl");
    const { child, exited } = upInChild();
    try {
      await waitUntil(
        "the groups' InitialSync",
        async () => {
          if (exited()) throw new Error("pulumi up ended before the sync started");
          return (await jobsOf(MAPS.groups)).slice(jobs).some((j) => j.state === "Running");
        },
        120_000,
      );
      const tree = descendantsOf(child.pid ?? -1);
      const cli = tree.find((p) => p.comm === "pulumi");
      const provider = tree.find((p) => /dynamic-provider/.test(p.cmdline));
      expect(cli, "the CLI process").to.not.equal(undefined);
      expect(provider, "the dynamic-provider process").to.not.equal(undefined);
      // Ctrl-C: the engine cancels and waits for the operations under way; Ctrl-C again:
      // it terminates, and the plugin host sends the provider SIGINT (SIGKILL only 5 s later).
      process.kill(cli?.pid ?? -1, "SIGINT");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const terminated = Date.now();
      process.kill(cli?.pid ?? -1, "SIGINT");
      await waitUntil("the provider to exit", () => ended(provider?.pid ?? -1), 10_000);
      const exitMs = Date.now() - terminated;
      expect(exitMs, "ms from the terminate to the provider's exit").to.be.lessThan(4_000);
      await waitUntil("the up to end", () => exited(), 30_000);
      expect(
        processes().some((p) => p.pid === provider?.pid && !ended(p.pid)),
        "provider still running",
      ).to.equal(false);
      // The job runs on at the gateway.
      const job = (await jobsOf(MAPS.groups)).at(-1);
      expect(job?.state, "the job after the cancellation").to.equal("Running");
    } finally {
      if (!exited()) await killTree(child);
    }
    await recover();
    await expectSyncedOnce(MAPS.groups, before, jobs, "groupsSync");
    const adopted = (await stack.outputs()).groupsSync?.value as SyncRecord;
    expect(adopted.adopted).to.equal(true);
  });
});
