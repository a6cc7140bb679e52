/**
 * Map helpers shared by EntityMapBinding, InitialSyncRun and their checks: state names, version
 * choice, starting and stopping with a wait, and one lock per map so that two resources of one
 * deployment never act on the same map at once (e.g. two bindings starting a shared prerequisite).
 */
import { DualWriteError } from "../../errors";
import { MapAction, MapState, type GatewayMap, type MapTemplate } from "../../clients/gateway";
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

const locks = new Map<string, Promise<unknown>>();

/**
 * Runs `work` when no other work on the same map (`cid`, `tid`) of this process is running. The
 * provider process serves every resource of a deployment, so this orders them.
 */
export async function withMapLock<T>(cid: string, tid: string, work: () => Promise<T>): Promise<T> {
  const key = `${cid}/${tid}`;
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
export function nextAction(from: number, to: "Running" | "Paused" | "Stopped"): number | undefined {
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

const ACTION_VERB: Readonly<Record<number, string>> = {
  [MapAction.Start]: "Starting",
  [MapAction.Stop]: "Stopping",
  [MapAction.Pause]: "Pausing",
  [MapAction.Resume]: "Resuming",
  [MapAction.InitialSync]: "Running initial sync of",
};

/**
 * Runs one map action and waits for it; returns the map as the gateway shows it afterwards.
 * Starts always skip initial sync (that is InitialSyncRun's job).
 */
export async function actOnMap(
  c: Clients,
  ctx: HandlerContext,
  cid: string,
  map: GatewayMap,
  action: number,
): Promise<GatewayMap> {
  ctx.log(`${ACTION_VERB[action] ?? `Action ${action} on`} map ${map.tName}`);
  const requestId = await c.gateway.startAction(action as MapAction, [
    { tid: map.tid, cid, ...(map.pid ? { pid: map.pid } : {}) },
  ]);
  try {
    await c.gateway.waitForRequest(requestId, { timeoutMs: ctx.options.mapActionTimeoutMs });
  } catch (error) {
    if (error instanceof DualWriteError && error.code === "RequestFailed") {
      throw new DualWriteError(
        `${ACTION_VERB[action] ?? "Acting on"} map ${map.tName} failed: ${error.message}`,
        "MapActionFailed",
        { cause: error },
      );
    }
    throw error;
  }
  const after = (await c.gateway.listMaps(cid, { fresh: true })).find((m) => m.tid === map.tid);
  if (!after)
    throw new DualWriteError(
      `Map ${map.tName} disappeared from the link while it was being changed.`,
      "MapGone",
    );
  return after;
}

/** The Dataverse dataset (org) name the gateway keys integration keys by. */
export function dataverseDatasetName(dataverseUrl: string): string {
  const url = new URL(dataverseUrl);
  // The emulator serves every org under one host: https://127.0.0.1:<port>/dataverse/<org>.
  const inPath = /\/dataverse\/([^/]+)/.exec(url.pathname)?.[1];
  if (inPath) return decodeURIComponent(inPath);
  // Dynamics 365: https://<org>.crm<n>.dynamics.com
  return url.hostname.split(".")[0] ?? url.hostname;
}
