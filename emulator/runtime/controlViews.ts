/**
 * Views and by-hand edits of the control API (`GET /_emulator/links`, `/maps`, `/jobs`, and
 * drift such as "stopped in the UI"). By-hand edits skip the gateway's guards on purpose.
 */
import { gatewayErrors } from "./errors";
import { runView } from "./initialSync";
import { mapSpec, versionText } from "./maps";
import { configure, requireLink, type RuntimeCore } from "./runtimeCore";
import { mapStateName, MapState, stoppedStates } from "./state";
import { mapView, sortedMaps, tidOf } from "./views";

/** Every link, for `GET /_emulator/links`. */
export function linksView(core: RuntimeCore): unknown[] {
  return Object.values(core.state.links).map((l) => ({
    fnoEnv: l.fnoEnv,
    org: l.org,
    cid: l.cid,
    cname: l.cname,
    generation: l.generation,
    legalEntities: [...l.legalEntities],
    skipInitialWritesForNewLegalEntities: l.skipInitialWritesForNewLegalEntities,
    appliedSolutions: [...l.appliedSolutions],
    tenantId: l.tenantId,
  }));
}

/** Runtime state of the maps of an environment's link, for `GET /_emulator/maps?env=`. */
export function mapsView(core: RuntimeCore, envName: string): unknown[] {
  const link = requireLink(core, envName);
  return sortedMaps(link).map((m) => ({
    name: m.name,
    tid: tidOf(link, m),
    pid: m.pid,
    state: m.state,
    stateName: mapStateName(m.state),
    activeTemplate: { ...m.activeTemplate },
    queueLength: m.queue.length,
    catchUpErrors: m.catchUpErrors.map((e) => ({ ...e })),
    busyRequestId: m.busyRequestId,
    executions: Object.values(m.executions).map(runView),
  }));
}

/** Sets a map's state by hand (drift: "stopped in the UI"); no transition, no request. */
export function setMapStateByHand(
  core: RuntimeCore,
  envName: string,
  mapName: string,
  state: number,
): unknown {
  const link = requireLink(core, envName);
  const map = link.maps[mapName];
  if (!map) throw gatewayErrors.mapNotFound(`'${mapName}' in environment '${envName}'`);
  if (!Object.values(MapState).includes(state as never)) {
    throw gatewayErrors.badRequest(`state must be one of 0–6 (or a state name); got ${state}.`);
  }
  map.state = state;
  if (stoppedStates.includes(state)) map.queue = [];
  if (state === MapState.Running) configure(core, link, map.name);
  return mapView(link, map);
}

/** Makes a version active by hand, ignoring the map's state (drift: "version switched in the UI"). */
export function setActiveTemplateByHand(
  core: RuntimeCore,
  envName: string,
  mapName: string,
  version: string,
  author?: string,
): unknown {
  const link = requireLink(core, envName);
  const map = link.maps[mapName];
  const spec = mapSpec(mapName);
  if (!map || !spec) throw gatewayErrors.mapNotFound(`'${mapName}' in environment '${envName}'`);
  const t = spec.templates.find(
    (x) => versionText(x.version) === version && (author === undefined || x.author === author),
  );
  if (!t)
    throw gatewayErrors.badRequest(
      `Map '${mapName}' has no version ${version}${author ? ` by ${author}` : ""}.`,
    );
  map.activeTemplate = { author: t.author, version };
  return mapView(link, map);
}

/** Removes a legal entity from a link by hand, without the guards (drift). */
export function removeLegalEntityByHand(
  core: RuntimeCore,
  envName: string,
  code: string,
): { legalEntities: string[] } {
  const link = requireLink(core, envName);
  const upper = code.toUpperCase();
  if (!link.legalEntities.includes(upper)) {
    throw gatewayErrors.badRequest(`Legal entity '${upper}' is not in the link of '${envName}'.`);
  }
  link.legalEntities = link.legalEntities.filter((c) => c !== upper);
  return { legalEntities: [...link.legalEntities] };
}

/** Every initial-sync job with its progress, for `GET /_emulator/jobs`. */
export function jobsView(core: RuntimeCore): unknown[] {
  return Object.values(core.state.jobs).map((j) => {
    const map = core.state.links[j.fnoEnv]?.maps[j.map];
    return {
      ...j,
      runs: j.legalEntities.flatMap((le) => {
        const run = map?.executions[le];
        return run && run.initialSyncRequestId === j.requestId ? [runView(run)] : [];
      }),
    };
  });
}

/**
 * Removes or restores the Power Platform integration of a pair's Dataverse org with its F&O
 * environment (drift: "unlinked in the Power Platform admin center"). Without it,
 * `RetrieveFinanceAndOperationsIntegrationDetails` answers `0x80048d0b`. The dual-write link is
 * not touched.
 */
export function setIntegratedByHand(
  core: RuntimeCore,
  org: string,
  integrated: boolean,
): { org: string; integrated: boolean } {
  if (!core.ctx.dataverse.has(org)) throw gatewayErrors.dataverseNotFound(`'${org}'`);
  const others = core.state.unintegrated.filter((o) => o !== org);
  core.state.unintegrated = integrated ? others : [...others, org];
  return { org, integrated };
}
