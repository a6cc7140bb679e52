/**
 * "Faults (429, 5xx, dropped connections, a killed `pulumi up`) lose nothing and the next
 * `pulumi up` converges" — proved with the real Pulumi CLI and examples/existing-existing against
 * an in-process emulator:
 *
 * 1. **Faults during `pulumi up`**: throttling, 5xx at a seeded rate, dropped connections and a
 *    map start whose answer is lost after it took effect. The faulted `up` succeeds or fails with
 *    a clear error; once the faults are gone the next `up` converges, a preview has nothing to do,
 *    and no map got the same action twice in the faulted `up` (the lost answer was looked up, not
 *    repeated).
 * 2. **A killed `pulumi up`**: `up` runs in a child process that is SIGKILLed (with the CLI and
 *    the plugins it started) while a map start is under way. Then what a person would do with a
 *    `file://` backend — `pulumi cancel` to remove the lock, then `pulumi refresh
 *    --clear-pending-creates` (docs/scenarios.md, "If a `pulumi up` is interrupted") — and the next
 *    `up` converges.
 *
 * Either way nothing is lost: every seeded row is still there, no row exists twice, both sides
 * hold the same customers, and every map runs once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import type { FaultRuleInput } from "../../emulator/core/faults";
import type { TestEmulator } from "../support/emulator";
import type { EngineStack } from "../support/engine";
import {
  emulatorProcessEnv,
  exampleProjectName,
  scenarioExampleConfig,
  SEED_COMPANIES,
} from "../../tools/examples";
import { loadToolchain } from "../../tools/toolchain";
import {
  businessRowKeys,
  changes,
  expectConverged,
  exampleStack,
  OutputBuffer,
  previewSteps,
  printOutputOnFailure,
  seedPair,
  startScenarioEmulator,
  type ConvergedExpectation,
} from "./scenarioSupport";
import type { UpInChildSpec } from "./upInChild";

const EXAMPLE = "existing-existing";

/** Customers per company: small, the point is the faults, not the volume. */
const SIZE = 8;

const CONVERGED: ConvergedExpectation = {
  legalEntities: ["DAT", "USMF", "USRT", "DEMF"],
  maps: [
    "cdm_companies - Legal entities",
    "transactioncurrencies - Currencies",
    "msdyn_customergroups - Customer groups",
    "accounts - Customers V3",
    "contacts - Customers V3",
  ].map((name) => ({ name, version: "latest" })),
  parityCompanies: ["DAT", "USMF", "USRT", "DEMF"],
  bootstrapped: [SEED_COMPANIES.USMF, SEED_COMPANIES.DEMF].map((c) => ({
    tables: ["accounts", "contacts"],
    owningBusinessUnit: c.owningBusinessUnit,
  })),
};

/** `lastRequests` of one map, as the gateway lists them (newest first). */
interface MapRequest {
  readonly requestId: string;
  readonly action: number;
  readonly state: number;
}

/** Every map's recent gateway requests (`GET DWM/Entities`, five per map), by map name. */
async function mapRequests(
  emulator: TestEmulator,
  pair: string,
): Promise<Map<string, MapRequest[]>> {
  const links = await emulator.control.call<Array<{ fnoEnv: string; cid: string }>>("GET", "links");
  const link = links.find((l) => l.fnoEnv === pair);
  if (!link) throw new Error(`pair ${pair} is not linked`);
  const answer = await emulator.request(
    "GET",
    `${emulator.gatewayUrl}/api/DualWriteManagement/1.0/Entities?targetType=AX&cid=${encodeURIComponent(link.cid)}`,
    { token: await emulator.token("https://IntegratorApp.com") },
  );
  expect(answer.status, answer.text).to.equal(200);
  const items = answer.json as Array<{ detail: { tName: string; lastRequests: MapRequest[] } }>;
  return new Map(items.map((i) => [i.detail.tName, i.detail.lastRequests]));
}

/** "<map>: action <n> × <count>" for every map and action requested more than once. */
function repeatedActions(
  requests: Map<string, MapRequest[]>,
  since: Map<string, MapRequest[]> = new Map(),
): string[] {
  const repeated: string[] = [];
  for (const [map, list] of requests) {
    const earlier = new Set((since.get(map) ?? []).map((r) => r.requestId));
    const counts = new Map<number, number>();
    for (const r of list.filter((r) => !earlier.has(r.requestId))) {
      counts.set(r.action, (counts.get(r.action) ?? 0) + 1);
    }
    for (const [action, n] of counts) if (n > 1) repeated.push(`${map}: action ${action} × ${n}`);
  }
  return repeated.sort();
}

/** Business rows that exist more than once under their natural key, e.g. "accounts USMF/US-001 × 2". */
async function duplicateRows(emulator: TestEmulator, pair: string): Promise<string[]> {
  const rows = (
    store: "dataverse" | "fno",
    table: string,
  ): Promise<Array<Record<string, unknown>>> => emulator.control.rows(store, pair, table);
  const companies = await rows("dataverse", "cdm_companies");
  const codeOf = new Map(companies.map((c) => [c.cdm_companyid, String(c.cdm_companycode)]));
  const keyed: Array<
    [string, Array<Record<string, unknown>>, (r: Record<string, unknown>) => string]
  > = [
    ["cdm_companies", companies, (r) => String(r.cdm_companycode)],
    ["businessunits", await rows("dataverse", "businessunits"), (r) => String(r.name)],
    ["teams", await rows("dataverse", "teams"), (r) => String(r.name)],
    [
      "msdyn_customergroups",
      await rows("dataverse", "msdyn_customergroups"),
      (r) => `${codeOf.get(r._msdyn_company_value) ?? "-"}/${String(r.msdyn_groupid)}`,
    ],
    [
      "accounts",
      (await rows("dataverse", "accounts")).filter((r) => r.accountnumber != null),
      (r) => `${codeOf.get(r._msdyn_company_value) ?? "-"}/${String(r.accountnumber)}`,
    ],
    [
      "contacts",
      (await rows("dataverse", "contacts")).filter((r) => r.msdyn_contactpersonid != null),
      (r) => `${codeOf.get(r._msdyn_company_value) ?? "-"}/${String(r.msdyn_contactpersonid)}`,
    ],
  ];
  const found: string[] = [];
  for (const [table, list, key] of keyed) {
    const counts = new Map<string, number>();
    for (const row of list) counts.set(key(row), (counts.get(key(row)) ?? 0) + 1);
    for (const [k, n] of counts) if (n > 1) found.push(`${table} ${k} × ${n}`);
  }
  return found.sort();
}

/** Asserts that every key of `before` is still there (rows may be added, never removed). */
function expectNothingLost(
  before: Record<string, string[]>,
  after: Record<string, string[]>,
): void {
  for (const [table, keys] of Object.entries(before)) {
    const now = new Set(after[table] ?? []);
    expect(
      keys.filter((k) => !now.has(k)),
      `${table} rows lost`,
    ).to.deep.equal([]);
  }
}

/** The ids of a process's descendants (children, grandchildren, …), read from /proc. */
function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // ended meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * SIGKILLs a child started with `detached: true` (its own process group) and every process it
 * started, including those in process groups of their own (the CLI puts plugins in new groups).
 */
async function killTree(child: ChildProcess): Promise<void> {
  const pid = child.pid!;
  const tree = descendantsOf(pid);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  for (const target of [-pid, pid, ...tree]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await exited;
}

/** Whether a process exists (zombies included, until they are reaped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `condition` holds, polling; throws with `what` after `timeoutMs`. */
async function waitUntil(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("e2e: faults and a killed pulumi up lose nothing (real Pulumi CLI)", function () {
  let emulator: TestEmulator;
  const output = new OutputBuffer();

  before(async function () {
    emulator = await startScenarioEmulator();
  });

  after(async function () {
    await emulator?.close();
  });

  afterEach(async function () {
    await emulator?.control.clearFaults();
  });
  afterEach(printOutputOnFailure(output));

  async function scenarioStack(pair: string): Promise<EngineStack> {
    const env = await seedPair(emulator, EXAMPLE, pair, SIZE);
    return exampleStack({
      emulator,
      example: EXAMPLE,
      config: scenarioExampleConfig(EXAMPLE, env),
      output,
    });
  }

  it("faults during pulumi up: the next up converges, no map start is repeated", async function () {
    const pair = "resilience-faults";
    const stack = await scenarioStack(pair);
    try {
      const seeded = await businessRowKeys(emulator, pair);
      const faults: FaultRuleInput[] = [
        // Service protection: refusals before any work, with Retry-After.
        { kind: "throttle", surface: "dataverse", count: 2, retryAfterSeconds: 1 },
        { kind: "throttle", surface: "gateway", method: "GET", count: 1, retryAfterSeconds: 1 },
        { kind: "throttle", surface: "fno", count: 1, retryAfterSeconds: 1 },
        // Connections cut before anything was read.
        { kind: "drop", surface: "dataverse", method: "GET", count: 1 },
        { kind: "drop", surface: "gateway", method: "GET", count: 1 },
        // 5xx at seeded rates: the same rules give the same draws on every run.
        { kind: "error", surface: "fno", rate: 0.1, seed: 7, status: 503 },
        { kind: "error", surface: "gateway", method: "GET", rate: 0.05, seed: 13, status: 500 },
        { kind: "error", surface: "dataverse", method: "GET", rate: 0.03, seed: 11, status: 502 },
        // The ambiguous answer: the first map action takes effect, its answer is lost.
        { kind: "dropAfterCommit", surface: "gateway", method: "POST", path: "/Start$", count: 1 },
      ];
      await emulator.control.setFaults(faults);

      let failure: Error | undefined;
      try {
        const result = await stack.up();
        expect(result.summary.result).to.equal("succeeded");
      } catch (error: unknown) {
        // A failed up must say what went wrong, not just "exit code 255".
        failure = error as Error;
        expect(failure.message).to.match(/error/i);
      }
      const fired = await emulator.control.faults();
      const hits = (kind: string): number =>
        fired.filter((r) => r.kind === kind).reduce((sum, r) => sum + r.hits, 0);
      expect(hits("throttle"), "throttles fired").to.be.greaterThan(0);
      expect(hits("drop"), "drops fired").to.be.greaterThan(0);
      // Every map start is reached unless the up failed before (then a clear error was checked).
      expect(hits("dropAfterCommit"), "map starts whose answer was lost").to.equal(
        failure ? Math.min(1, hits("dropAfterCommit")) : 1,
      );

      // Faults off before the test's own reads: a seeded 5xx must not land on them.
      await emulator.control.clearFaults();
      const afterFaults = await mapRequests(emulator, pair);
      expect(repeatedActions(afterFaults), "map actions requested twice").to.deep.equal([]);

      const result = await stack.up();
      expect(result.summary.result).to.equal("succeeded");
      const { steps } = await previewSteps(stack, output, { expectNoChanges: true });
      expect(changes(steps)).to.deep.equal([]);

      await expectConverged(emulator, pair, CONVERGED);
      expect(
        repeatedActions(await mapRequests(emulator, pair), afterFaults),
        "map actions requested twice by the converging up",
      ).to.deep.equal([]);
      expect(await duplicateRows(emulator, pair)).to.deep.equal([]);
      expectNothingLost(seeded, await businessRowKeys(emulator, pair));
      if (failure)
        process.stdout.write(`      (the faulted up failed: ${failure.message.split("\n")[0]})\n`);
    } finally {
      await stack.dispose();
    }
  });

  it("a killed pulumi up: cancel, refresh --clear-pending-creates, and the next up converges", async function () {
    const pair = "resilience-kill";
    const stack = await scenarioStack(pair);
    let child: ChildProcess | undefined;
    try {
      const seeded = await businessRowKeys(emulator, pair);
      // Hold the first map start for a while, so that the kill lands while it is under way.
      await emulator.control.setFaults([
        {
          kind: "latency",
          surface: "gateway",
          method: "POST",
          path: "/Start$",
          count: 1,
          latencyMs: 1500,
        },
      ]);
      const since = await emulator.control.lastRequestSeq();
      const spec: UpInChildSpec = {
        workDir: stack.stack.workspace.workDir,
        projectName: exampleProjectName(EXAMPLE),
        stackName: stack.name,
        backendDir: stack.backendDir,
        example: EXAMPLE,
        env: emulatorProcessEnv(emulator),
      };
      child = spawn(
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
      const ended = new Promise<number | null>((resolve) => child?.once("exit", resolve));

      let exitedEarly = false;
      void ended.then(() => (exitedEarly = true));
      await waitUntil("the first map start", async () => {
        if (exitedEarly) throw new Error("pulumi up ended before it started a map");
        const log = await emulator.control.requests(since);
        return log.some(
          (r) => r.surface === "gateway" && r.method === "POST" && r.path.endsWith("/Start"),
        );
      });
      const tree = [child.pid!, ...descendantsOf(child.pid!)];
      expect(tree.length, "the child, the CLI and its plugins").to.be.greaterThan(2);
      await killTree(child);
      await waitUntil(
        "the killed processes to be gone",
        () => Promise.resolve(!tree.some(alive)),
        10_000,
      );
      output.sink("\n--- pulumi up killed ---\n");
      await emulator.control.clearFaults();

      // What the CLI says next, and what a person does about it (docs/scenarios.md).
      let blocked: Error | undefined;
      try {
        await stack.up();
      } catch (error: unknown) {
        blocked = error as Error;
      }
      expect(blocked, "up right after a kill").to.not.equal(undefined);
      expect(blocked?.message).to.match(/locked/i);
      // 1. The lock of the killed CLI: `pulumi cancel` removes it (file backends too).
      await stack.stack.cancel();
      // 2. The interrupted creates are pending operations in the checkpoint.
      const deployment = (await stack.stack.exportStack()).deployment as {
        pending_operations?: Array<{ type: string }>;
      };
      const pending = deployment.pending_operations ?? [];
      expect(pending.length, "pending operations after the kill").to.be.greaterThan(0);
      expect(pending.map((p) => p.type)).to.include("creating");
      // 3. `pulumi refresh --clear-pending-creates` drops them (non-interactive; otherwise refresh
      //    asks about each), reading the rest back from both environments.
      await stack.stack.refresh({
        clearPendingCreates: true,
        onOutput: output.sink,
        color: "never",
      });
      const refreshed = (await stack.stack.exportStack()).deployment as {
        pending_operations?: unknown[];
      };
      expect(refreshed.pending_operations ?? [], "pending operations after refresh").to.deep.equal(
        [],
      );
      // 4. `pulumi up` creates what was dropped: the creates adopt what the killed run did.
      const result = await stack.up();
      expect(result.summary.result).to.equal("succeeded");
      const { steps } = await previewSteps(stack, output, { expectNoChanges: true });
      expect(changes(steps)).to.deep.equal([]);

      await expectConverged(emulator, pair, CONVERGED);
      expect(
        repeatedActions(await mapRequests(emulator, pair)),
        "map actions requested twice",
      ).to.deep.equal([]);
      expect(await duplicateRows(emulator, pair)).to.deep.equal([]);
      expectNothingLost(seeded, await businessRowKeys(emulator, pair));
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) await killTree(child);
      await stack.dispose();
    }
  });
});
