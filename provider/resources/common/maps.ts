/**
 * Map helpers shared by EntityMapBinding, InitialSyncRun and their checks: state names, version
 * choice, acting on a map with a wait, and one lock per map so that two resources of one
 * deployment never act on the same map at once (e.g. two bindings starting a shared prerequisite).
 *
 * A map is identified by its name (`tName`): its `tid` is the ACTIVE template id and changes when
 * another version is made active.
 */
import { DualWriteError } from "../../errors";
import {
  MapAction,
  MapState,
  type GatewayMap,
  type MapTemplate,
  type SyncMaster,
} from "../../clients/gateway";
import type { Clients, HandlerContext } from "./handler";

/** The gateway's name of a map state number. */
export function stateName(state: number): string {
  return Object.entries(MapState).find(([, n]) => n === state)?.[0] ?? `state ${state}`;
}

/** States in which a map syncs live (or is about to, when an initial sync or catch-up ends). */
export const RUNNING_LIKE: readonly number[] = [
  MapState.Running,
  MapState.InitialSync,
  MapState.CatchUp,
];
/** States in which a map does nothing. */
export const STOPPED_LIKE: readonly number[] = [
  MapState.Stopped,
  MapState.NotRunning,
  MapState.None,
];

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The version a declaration selects: `latest` (the highest, of `author` if given) or an exact
 * version. Undefined when none matches.
 */
export function selectTemplate(
  map: GatewayMap,
  version: string,
  author: string | undefined,
): MapTemplate | undefined {
  const candidates = map.templates.filter(
    (t) => author === undefined || t.author.toLowerCase() === author.toLowerCase(),
  );
  if (version === "latest") {
    return [...candidates].sort((a, b) => compareVersions(b.version, a.version))[0];
  }
  return candidates.find((t) => t.version === version);
}

/** "1.0.0.5 (Microsoft), 1.0.0.6 (Contoso)" for messages. */
export function describeTemplates(map: GatewayMap): string {
  return (
    map.templates.map((t) => `${t.version}${t.author ? ` (${t.author})` : ""}`).join(", ") || "none"
  );
}

/** The map named `name` among `maps`. */
export function findMap(maps: readonly GatewayMap[], name: string): GatewayMap | undefined {
  return maps.find((m) => m.tName === name);
}

const locks = new Map<string, Promise<unknown>>();

/**
 * Runs `work` when no other work on the same map (`cid`, map name) of this process is running.
 * The provider process serves every resource of a deployment, so this orders them.
 */
export async function withMapLock<T>(
  cid: string,
  mapName: string,
  work: () => Promise<T>,
): Promise<T> {
  const key = `${cid}/${mapName}`;
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(work, work);
  const settled = run.catch(() => undefined);
  locks.set(key, settled);
  try {
    return await run;
  } finally {
    if (locks.get(key) === settled) locks.delete(key);
  }
}

/** The action that moves a map from `from` one step towards `to`, or undefined when there. */
export function nextAction(
  from: number,
  to: "Running" | "Paused" | "Stopped",
): MapAction | undefined {
  switch (to) {
    case "Running":
      if (RUNNING_LIKE.includes(from)) return undefined;
      return from === MapState.Paused ? MapAction.Resume : MapAction.Start;
    case "Paused":
      if (from === MapState.Paused) return undefined;
      return from === MapState.Running || from === MapState.CatchUp
        ? MapAction.Pause
        : MapAction.Start;
    case "Stopped":
      return STOPPED_LIKE.includes(from) ? undefined : MapAction.Stop;
  }
}

const ACTION_VERB: Readonly<Record<MapAction, string>> = {
  [MapAction.Start]: "Starting",
  [MapAction.Stop]: "Stopping",
  [MapAction.Pause]: "Pausing",
  [MapAction.Resume]: "Resuming",
  [MapAction.Initialize]: "Initializing",
};

/** What a start carries besides the map. */
export interface StartOptions {
  /** `false` starts with an initial sync. @default true */
  readonly skipInitialSync?: boolean;
  /** Which side wins conflicts. @default "Dataverse" */
  readonly master?: SyncMaster;
}

/**
 * Gives a map its project (action "8") when it has none yet: every other action needs the pid.
 * Returns the map with its pid.
 */
export async function ensureInitialized(
  c: Clients,
  ctx: HandlerContext,
  cid: string,
  map: GatewayMap,
): Promise<GatewayMap> {
  if (map.pid) return map;
  ctx.log(`${ACTION_VERB[MapAction.Initialize]} map ${map.tName}`);
  try {
    return await c.gateway.initialize(cid, map, { timeoutMs: ctx.options.mapActionTimeoutMs });
  } catch (error) {
    throw actionFailed(MapAction.Initialize, map, error);
  }
}

/**
 * Runs one map action and waits for it; returns the map as the gateway shows it afterwards.
 * A map without a project is initialized first. Starts skip initial sync unless told otherwise
 * (initial sync is InitialSyncRun's job).
 */
export async function actOnMap(
  c: Clients,
  ctx: HandlerContext,
  cid: string,
  map: GatewayMap,
  action: MapAction,
  start: StartOptions = {},
): Promise<GatewayMap> {
  const ready = await ensureInitialized(c, ctx, cid, map);
  ctx.log(`${ACTION_VERB[action]} map ${map.tName}`);
  const requestId = await c.gateway.startAction(action, [
    { tid: ready.tid, cid, pid: ready.pid, ...start },
  ]);
  let done;
  try {
    // One poller of the link's map list serves every map waiting on it (GatewayClient).
    done = await c.gateway.waitForMapRequest(cid, requestId, {
      timeoutMs: ctx.options.mapActionTimeoutMs,
    });
  } catch (error) {
    throw actionFailed(action, map, error);
  }
  // The read that showed the request done shows the map after it.
  return findMap(done.maps, map.tName) ?? reread(c, cid, map);
}

/** The map as the gateway shows it now (fresh), by name. */
export async function reread(c: Clients, cid: string, map: GatewayMap): Promise<GatewayMap> {
  const after = findMap(await c.gateway.listMaps(cid, { fresh: true }), map.tName);
  if (!after)
    throw new DualWriteError(
      `Map ${map.tName} disappeared from the link while it was being changed.`,
      "MapGone",
    );
  return after;
}

function actionFailed(action: MapAction, map: GatewayMap, error: unknown): unknown {
  if (error instanceof DualWriteError && error.code === "RequestFailed") {
    return new DualWriteError(
      `${ACTION_VERB[action]} map ${map.tName} failed: ${error.message}`,
      "MapActionFailed",
      { cause: error },
    );
  }
  return error;
}
