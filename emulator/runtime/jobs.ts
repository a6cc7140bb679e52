/**
 * Initial-sync jobs: a step that starts a map (or adds legal entities) copies the existing rows
 * in a job that moves `jobRowsPerSecond` rows on the emulator's clock, one run per legal entity,
 * then sets the map's state from the outcome.
 */
import { adapters } from "./adapters";
import { guidFrom } from "./ids";
import { advanceRun, planRun } from "./initialSync";
import { replayQueue } from "./liveSync";
import { mapSpec, type MapSpec } from "./maps";
import { normalizeCodes } from "./names";
import { configure, persistSoon, sidesOf, type RuntimeCore } from "./runtimeCore";
import {
  MapState,
  type JobRecord,
  type LinkState,
  type MapRuntime,
  type Master,
  type RequestRecord,
  type RequestStep,
} from "./state";

/** Legal entities with initial writes or initial sync (DW/initial-sync-guidance.md). */
export const maxLegalEntitiesWithInitialWrites = 40;
/** Emulated milliseconds between two steps of an initial-sync job. */
const jobTickMs = 100;

/** Runs an initial-sync job for a step to its end; returns the step's error text, or null. */
export async function runInitialSync(
  core: RuntimeCore,
  request: RequestRecord,
  step: RequestStep,
  link: LinkState,
  map: MapRuntime,
  kind: JobRecord["kind"],
): Promise<string | null> {
  const spec = mapSpec(map.name) as MapSpec;
  let job = step.jobId ? core.state.jobs[step.jobId] : undefined;
  if (!job) {
    const requested = step.parameters.legalEntities
      ? normalizeCodes(step.parameters.legalEntities)
      : [...link.legalEntities];
    const unknown = requested.filter((c) => !link.legalEntities.includes(c));
    if (unknown.length > 0)
      return `Legal entities ${unknown.join(", ")} are not in the link; add them first.`;
    if (requested.length === 0 && spec.companySpecific)
      return `The link has no legal entity to synchronize for map '${map.name}'.`;
    if (requested.length > maxLegalEntitiesWithInitialWrites) {
      return `Initial sync supports at most ${maxLegalEntitiesWithInitialWrites} legal entities; this run has ${requested.length}. Run it in groups of at most ${maxLegalEntitiesWithInitialWrites}.`;
    }
    const companies = spec.companySpecific ? requested : requested.slice(0, 1);
    job = startJob(
      core,
      request,
      link,
      map,
      spec,
      kind,
      step.parameters.master,
      companies.length > 0 ? companies : [""],
    );
    step.jobId = job.jobId;
    persistSoon(core);
  }
  await runJob(core, job, link, map, spec);
  if (core.closed) return null;
  if (job.state === "Cancelled") return "The link was reset while the initial sync was running.";
  if (job.state === "Succeeded") return null;
  const failures = job.legalEntities
    .map((le) => map.executions[le])
    .filter(
      (r) => r && r.executionStatus === "Failed" && r.initialSyncRequestId === request.requestId,
    )
    .map((r) => {
      const first = r?.legs.flatMap((l) => l.importErrors)[0];
      return `${r?.legalEntityName || "(global)"}: ${r?.errorCount} error(s)${first ? `, first: ${first.errorMessage}` : ""}`;
    });
  return `Initial sync of '${map.name}' failed for ${failures.join("; ")}`;
}

/** Records a running initial-sync job for a map and plans a run per legal entity. */
export function startJob(
  core: RuntimeCore,
  request: RequestRecord,
  link: LinkState,
  map: MapRuntime,
  spec: MapSpec,
  kind: JobRecord["kind"],
  master: Master,
  companies: string[],
): JobRecord {
  const now = core.ctx.clock.now();
  const job: JobRecord = {
    jobId: guidFrom("job", link.cid, core.state.counter++),
    requestId: request.requestId,
    fnoEnv: link.fnoEnv,
    generation: link.generation,
    map: map.name,
    kind,
    master,
    legalEntities: companies,
    state: "Running",
    startedAt: now,
    finishedAt: null,
    lastTick: now,
    resumeState: kind === "initialWrites" ? map.state : null,
  };
  core.state.jobs[job.jobId] = job;
  map.state = MapState.InitialSync;
  const sides = sidesOf(core, link);
  for (const company of companies) {
    if (sides)
      map.executions[company] = planRun(
        spec,
        adapters.get(map.name),
        sides,
        company,
        request.requestId,
      );
  }
  return job;
}

/** Advances a job on the clock until every legal entity is done, then sets the map's state. */
export async function runJob(
  core: RuntimeCore,
  job: JobRecord,
  link: LinkState,
  map: MapRuntime,
  spec: MapSpec,
): Promise<void> {
  const adapter = adapters.get(map.name);
  while (job.state === "Running") {
    const runs = job.legalEntities.map((le) => map.executions[le]).filter((r) => r !== undefined);
    if (runs.every((r) => r.executionStatus !== "Running")) break;
    await core.ctx.clock.sleep(jobTickMs);
    if (core.closed) return;
    const current = core.state.links[job.fnoEnv];
    if (!current || current.generation !== job.generation || job.state !== "Running") {
      if (job.state === "Running") job.state = "Cancelled";
      job.finishedAt = core.ctx.clock.now();
      return;
    }
    const sides = sidesOf(core, link);
    if (!sides) continue;
    const now = core.ctx.clock.now();
    const elapsed = Math.max(0, now - job.lastTick);
    job.lastTick = now;
    for (const run of runs) {
      if (run.executionStatus !== "Running") continue;
      run.budget += (elapsed * core.ctx.settings.jobRowsPerSecond) / 1000;
      const allowed = Math.floor(run.budget);
      const used = advanceRun(run, spec, adapter, job.master, sides, allowed);
      run.budget -= used;
    }
  }
  const runs = job.legalEntities.map((le) => map.executions[le]);
  job.state = runs.every((r) => r?.executionStatus === "Succeeded") ? "Succeeded" : "Failed";
  job.finishedAt = core.ctx.clock.now();
  const sides = sidesOf(core, link);
  if (job.kind === "initialWrites") {
    map.state = job.resumeState ?? MapState.Running;
    if (map.state === MapState.Running && sides) replayQueue(map, adapter, sides);
  } else if (job.state === "Succeeded") {
    if (sides) replayQueue(map, adapter, sides);
    map.state = MapState.Running;
    configure(core, link, map.name);
  } else {
    // A failed initial sync leaves the map Not running (DW/dual-write-troubleshooting-initial-sync.md).
    map.state = MapState.NotRunning;
    map.queue = [];
  }
  persistSoon(core);
}
