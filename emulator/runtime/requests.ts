/**
 * The request engine: requests that the gateway accepts run on the server in the background, one
 * step per map, sleeping `transitionMs` on the emulator's clock per transition. A request whose
 * link is reset or relinked meanwhile ends with an error; after `close()` nothing finishes.
 *
 * Each map of a request lists it in `detail.lastRequests` with its own state, which is how the
 * tool reads the outcome (DWLibary/Engines/DWMapEngine.cs:1880-1912). A start with initial sync
 * stays Waiting until the map leaves InitialSync (~1237-1297).
 */
import type { EnvironmentPair } from "../core/context";
import { adapters } from "./adapters";
import { guidFrom } from "./ids";
import { runInitialSync } from "./jobs";
import { maxCatchUpErrors, replayQueue } from "./liveSync";
import { runReset } from "./links";
import { cellText } from "./names";
import { prerequisiteSequence } from "./maps";
import { configure, persistSoon, sidesOf, type RuntimeCore } from "./runtimeCore";
import { applySolutionMaps, checkSolutionsInstalled } from "./solutions";
import {
  MapAction,
  mapStateName,
  MapState,
  RequestState,
  stoppedStates,
  type LinkState,
  type MapRuntime,
  type RequestKind,
  type RequestRecord,
  type RequestStep,
  type StepAction,
  type StepParameters,
} from "./state";
import { newPidOf } from "./views";

/** Requests remembered (older ones are forgotten). */
const maxRequests = 1000;
/** `lastRequests` entries per map. */
const maxLastRequests = 5;

/** Records a new waiting request (forgetting the oldest finished ones past `maxRequests`). */
export function newRequest(
  core: RuntimeCore,
  kind: RequestKind,
  env: EnvironmentPair,
  generation: number,
  action: string,
): RequestRecord {
  const requestId = guidFrom("request", env.cid, core.state.counter++);
  const request: RequestRecord = {
    requestId,
    kind,
    cid: env.cid,
    fnoEnv: env.name,
    generation,
    action,
    state: RequestState.Waiting,
    errorMessage: null,
    createdAt: core.ctx.clock.now(),
    completedAt: null,
    steps: [],
    solutions: [],
    reset: null,
  };
  core.state.requests[requestId] = request;
  core.state.requestOrder.push(requestId);
  while (core.state.requestOrder.length > maxRequests) {
    const old = core.state.requestOrder.shift() as string;
    if (core.state.requests[old]?.state !== RequestState.Waiting) delete core.state.requests[old];
  }
  return request;
}

/** A waiting step of a request for one map. */
export function newStep(map: string, action: StepAction, parameters: StepParameters): RequestStep {
  return {
    map,
    action,
    parameters,
    state: RequestState.Waiting,
    errorMessage: null,
    jobId: null,
  };
}

/** Puts a request at the head of a map's `lastRequests`. */
export function noteRequest(map: MapRuntime, request: RequestRecord): void {
  map.lastRequests.unshift({
    requestId: request.requestId,
    action: request.action,
    state: RequestState.Waiting,
    errorMessage: null,
    createdAt: request.createdAt,
    modifiedAt: request.createdAt,
  });
  map.lastRequests.splice(maxLastRequests);
}

/** Ends a request: Completed when `errorMessage` is null, else Error. */
export function complete(
  core: RuntimeCore,
  request: RequestRecord,
  errorMessage: string | null,
): void {
  request.state = errorMessage === null ? RequestState.Completed : RequestState.Error;
  request.errorMessage = errorMessage;
  request.completedAt = core.ctx.clock.now();
}

/** Runs a request in the background, once per process; failures end the request with an error. */
export function launch(core: RuntimeCore, request: RequestRecord): void {
  if (core.running.has(request.requestId)) return;
  core.running.add(request.requestId);
  runRequest(core, request)
    .catch((e: unknown) => {
      if (request.state === RequestState.Waiting) {
        complete(
          core,
          request,
          `Internal emulator error: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    })
    .finally(() => {
      core.running.delete(request.requestId);
      if (!core.closed) persistSoon(core);
    });
}

/** Launches every request still waiting (after restore). */
export function resumeBackground(core: RuntimeCore): void {
  if (core.closed) return;
  for (const id of core.state.requestOrder) {
    const request = core.state.requests[id];
    if (request?.state === RequestState.Waiting) launch(core, request);
  }
}

/** Sleeps the transition time; false when the emulator closed or the link changed meanwhile. */
export async function transition(core: RuntimeCore, request: RequestRecord): Promise<boolean> {
  await core.ctx.clock.sleep(core.ctx.settings.transitionMs);
  return !core.closed && currentLink(core, request) !== undefined;
}

/** The request's link, when it is still the same generation. */
export function currentLink(core: RuntimeCore, request: RequestRecord): LinkState | undefined {
  const link = core.state.links[request.fnoEnv];
  return link && link.generation === request.generation ? link : undefined;
}

/** Runs the steps of a request (or applies its solutions) and completes it. */
export async function runRequest(core: RuntimeCore, request: RequestRecord): Promise<void> {
  if (request.kind === "reset") return runReset(core, request);
  if (request.kind === "solution") {
    if (!(await transition(core, request))) return abandon(core, request);
    const link = currentLink(core, request) as LinkState;
    const error = checkSolutionsInstalled(
      core.ctx.dataverse.get(link.org),
      link.org,
      request.solutions,
    );
    if (error === null) applySolutionMaps(link, request.solutions);
    complete(core, request, error);
    return;
  }
  for (const step of request.steps) {
    if (step.state !== RequestState.Waiting) continue;
    let error: string | null;
    try {
      error = await runStep(core, request, step);
    } catch (e) {
      error = `Internal emulator error: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (core.closed) return;
    finishStep(core, request, step, error);
  }
  const errors = request.steps
    .filter((s) => s.errorMessage !== null)
    .map((s) => s.errorMessage as string);
  complete(core, request, errors.length > 0 ? errors.join(" ") : null);
}

/** Ends a request whose link changed under it (nothing after close). */
export function abandon(core: RuntimeCore, request: RequestRecord): void {
  if (core.closed) return;
  complete(core, request, "The link was reset while the request was running.");
}

/** Records a step's outcome on the step, the map's busy marker and `lastRequests`. */
export function finishStep(
  core: RuntimeCore,
  request: RequestRecord,
  step: RequestStep,
  error: string | null,
): void {
  step.state = error === null ? RequestState.Completed : RequestState.Error;
  step.errorMessage = error;
  const link = currentLink(core, request);
  const map = link?.maps[step.map];
  if (!map) return;
  if (map.busyRequestId === request.requestId) map.busyRequestId = null;
  const ref = map.lastRequests.find((r) => r.requestId === request.requestId);
  if (ref) {
    ref.state = step.state;
    ref.errorMessage = error;
    ref.modifiedAt = core.ctx.clock.now();
  }
  persistSoon(core);
}

/**
 * What a resume does with the queue (DWLibary/DWEnums.cs:33-41): replay it in order (default);
 * `preserve` skips to live sync and keeps every queued change as a catch-up error for retry;
 * `discard` skips to live sync and drops the queue.
 */
function catchUp(
  map: MapRuntime,
  option: StepParameters["catchUp"],
  sides: ReturnType<typeof sidesOf>,
  now: number,
): void {
  if (option === "replay") {
    if (sides) replayQueue(map, adapters.get(map.name), sides);
    return;
  }
  if (option === "preserve") {
    const adapter = adapters.get(map.name);
    for (const change of map.queue) {
      const key = adapter ? (change.side === "fno" ? adapter.fnoKey : adapter.dvIdColumn) : "";
      map.catchUpErrors.push({
        at: now,
        side: change.side,
        op: change.op,
        recordId: key ? cellText(change.row[key]) : "",
        errorMessage: "Skipped by the catch-up option; the change is kept here for retry.",
      });
    }
    map.catchUpErrors.splice(0, Math.max(0, map.catchUpErrors.length - maxCatchUpErrors));
  }
  map.queue = [];
}

/** Runs one map's part of a request; returns its error text, or null. */
export async function runStep(
  core: RuntimeCore,
  request: RequestRecord,
  step: RequestStep,
): Promise<string | null> {
  const gone = "The link was reset while the request was running.";
  const link = currentLink(core, request);
  const map = link?.maps[step.map];
  if (!link || !map) return gone;
  const name = map.name;
  const stateText = (): string => mapStateName(map.state);
  const jobKind = request.kind === "legalEntities" ? "initialWrites" : "initialSync";
  // A restored request whose job had started: carry on with the job.
  if (step.jobId !== null) return runInitialSync(core, request, step, link, map, jobKind);

  switch (step.action) {
    case MapAction.Init: {
      // Initializing creates the map's project (DWLibary/Engines/DWMapEngine.cs:1351-1358); a
      // map that has one already is done.
      if (map.pid !== null) return null;
      if (!(await transition(core, request))) return gone;
      map.pid = newPidOf(link, name);
      return null;
    }
    case MapAction.Start: {
      const initialSync = !step.parameters.skipInitialSync;
      if (map.state === MapState.Running && !initialSync) return null;
      if (!stoppedStates.includes(map.state)) {
        const hint =
          map.state === MapState.Paused
            ? "; resume it instead"
            : initialSync && map.state === MapState.Running
              ? "; an initial sync starts a stopped map: stop it first"
              : "";
        return `Map '${name}' is ${stateText()} and cannot be started${hint}.`;
      }
      if (!(await transition(core, request))) return gone;
      // The lookup metadata needs the prerequisite maps live: Running, or on their way back to
      // Running (catching up, or in an initial sync).
      const live: readonly number[] = [MapState.Running, MapState.CatchUp, MapState.InitialSync];
      const missing = prerequisiteSequence(name).filter(
        (p) => !live.includes(link.maps[p]?.state ?? MapState.None),
      );
      if (missing.length > 0) {
        return `Unable to build dual-write lookup metadata. Missing: ${missing.join(", ")}. Start the prerequisite maps first (they must be Running).`;
      }
      // Initial sync is a start with skipInitialSync:false (DWLibary/Engines/DWMapEngine.cs:1212-1230).
      if (initialSync) return runInitialSync(core, request, step, link, map, "initialSync");
      map.state = MapState.Running;
      configure(core, link, name);
      return null;
    }
    case MapAction.Stop: {
      if (stoppedStates.includes(map.state)) return null;
      if (map.state === MapState.InitialSync)
        return `Map '${name}' is initializing; no action is possible until initial sync ends.`;
      if (!(await transition(core, request))) return gone;
      map.state = MapState.Stopped;
      map.queue = [];
      return null;
    }
    case MapAction.Pause: {
      if (map.state === MapState.Paused) return null;
      if (map.state !== MapState.Running)
        return `Map '${name}' is ${stateText()}; only a Running map can be paused.`;
      if (!(await transition(core, request))) return gone;
      map.state = MapState.Paused;
      return null;
    }
    case MapAction.Resume: {
      if (map.state === MapState.Running) return null;
      // A restored request may find its map half-way, catching up already.
      const resuming = map.state === MapState.CatchUp && map.busyRequestId === request.requestId;
      if (map.state !== MapState.Paused && !resuming)
        return `Map '${name}' is ${stateText()}; only a Paused map can be resumed.`;
      map.state = MapState.CatchUp;
      persistSoon(core);
      if (!(await transition(core, request))) return gone;
      const sides = sidesOf(core, link);
      catchUp(map, step.parameters.catchUp, sides, core.ctx.clock.now());
      map.state = MapState.Running;
      configure(core, link, name);
      return null;
    }
    case "initialWrites": {
      // Initial writes for added legal entities also run on paused maps (DW/edit-legal-entity.md).
      if (map.state !== MapState.Running && map.state !== MapState.Paused) {
        return `Map '${name}' is ${stateText()}; initial writes need a Running or Paused map.`;
      }
      return runInitialSync(core, request, step, link, map, jobKind);
    }
    default:
      // A persisted step of an action this runtime no longer knows.
      return `Unknown action ${String(step.action)}.`;
  }
}
