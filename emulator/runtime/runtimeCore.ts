/**
 * The shared state of the dual-write runtime and the lookups every part of it needs: environments
 * by cid, links by environment or org, maps by tid or pid, table sets, URLs, persistence and the
 * runtime configuration row of a running map.
 *
 * `DualWriteRuntime` owns one `RuntimeCore`; the request engine (`requests.ts`), initial-sync jobs
 * (`jobs.ts`), link management (`links.ts`) and the control views (`controlViews.ts`) are functions
 * over it, so they share one mutable state without holding a reference to the class.
 */
import type { EmulatorContext, EnvironmentPair } from "../core/context";
import type { TableSet } from "../store/tables";
import type { LinkSides } from "./adapters";
import { gatewayErrors } from "./errors";
import { mapSpec, type MapSpec } from "./maps";
import { parseInstance } from "./names";
import { writeRuntimeConfig } from "./runtimeConfigs";
import type { LinkState, MapRuntime, RuntimeState } from "./state";
import { pidOf, tidOf } from "./views";

/** The mutable state of one runtime, shared by its modules. */
export interface RuntimeCore {
  /** The emulator: environments, table sets, clock, settings, persistence. */
  readonly ctx: EmulatorContext;
  /** Links, requests, jobs and virtual rows; replaced as a whole by `restore`. */
  state: RuntimeState;
  /** True after `close()`: background work stops for good. */
  closed: boolean;
  /** Requests whose background loop runs in this process. */
  readonly running: Set<string>;
}

/** The environment pair of a connection-set id (case-insensitive); throws when unknown. */
export function envByCid(core: RuntimeCore, cid: string): EnvironmentPair {
  const env = [...core.ctx.environments.values()].find(
    (e) => e.cid.toLowerCase() === cid.toLowerCase(),
  );
  if (!env) throw gatewayErrors.environmentNotFound(`with cid ${cid}`);
  return env;
}

/** An environment's link; throws `environmentNotFound` or `notLinked`. */
export function requireLink(core: RuntimeCore, envName: string): LinkState {
  const link = core.state.links[envName];
  if (!link) {
    if (!core.ctx.environments.has(envName))
      throw gatewayErrors.environmentNotFound(`'${envName}'`);
    throw gatewayErrors.notLinked(envName);
  }
  return link;
}

/** The link of a Dataverse org, or undefined when it is not linked. */
export function linkByOrg(core: RuntimeCore, org: string): LinkState | undefined {
  return Object.values(core.state.links).find((l) => l.org === org);
}

/** The link of a Dataverse org (name or URL); throws when unknown or not linked. */
export function linkForDataset(core: RuntimeCore, orgOrUrl: string): LinkState {
  const org = parseInstance(orgOrUrl, "dataverse") ?? orgOrUrl;
  const link = linkByOrg(core, org);
  if (!link) {
    if (!core.ctx.dataverse.has(org)) throw gatewayErrors.dataverseNotFound(`'${orgOrUrl}'`);
    throw gatewayErrors.dataverseNotLinked(org);
  }
  return link;
}

/** The map of a link whose template id is `tid`. */
export function mapByTid(link: LinkState, tid: string): MapRuntime | undefined {
  return Object.values(link.maps).find((m) => tidOf(link.cid, m.name) === tid);
}

/** The link, map and spec of a project id; throws `mapNotFound` when no link has it. */
export function mapByPid(
  core: RuntimeCore,
  pid: string,
): { link: LinkState; map: MapRuntime; spec: MapSpec } {
  for (const link of Object.values(core.state.links)) {
    for (const map of Object.values(link.maps)) {
      if (pidOf(link, map.name) === pid) return { link, map, spec: mapSpec(map.name) as MapSpec };
    }
  }
  throw gatewayErrors.mapNotFound(`with pid ${pid}`);
}

/** Both table sets and the context of a link, or undefined when one side is missing. */
export function sidesOf(core: RuntimeCore, link: LinkState): LinkSides | undefined {
  const fno = core.ctx.fno.get(link.fnoEnv);
  const dv = core.ctx.dataverse.get(link.org);
  if (!fno || !dv) return undefined;
  return {
    fno,
    dv,
    fnoEnv: link.fnoEnv,
    org: link.org,
    baseUrl: core.ctx.baseUrl,
    companies: new Set(link.legalEntities),
    now: core.ctx.clock.now(),
  };
}

/** An F&O environment's table set; throws `environmentNotFound`. */
export function fnoSet(core: RuntimeCore, name: string): TableSet {
  const set = core.ctx.fno.get(name);
  if (!set) throw gatewayErrors.environmentNotFound(`'${name}'`);
  return set;
}

/** A Dataverse org's table set; throws `dataverseNotFound`. */
export function dvSet(core: RuntimeCore, org: string): TableSet {
  const set = core.ctx.dataverse.get(org);
  if (!set) throw gatewayErrors.dataverseNotFound(`'${org}'`);
  return set;
}

/** The Dataverse table set of a link, if it exists. */
export function dvOf(core: RuntimeCore, link: LinkState): TableSet | undefined {
  return core.ctx.dataverse.get(link.org);
}

/** The emulated URL of an F&O environment. */
export function fnoUrl(core: RuntimeCore, env: string): string {
  return `${core.ctx.baseUrl}/fno/${env}`;
}

/** The emulated URL of a Dataverse org. */
export function dvUrl(core: RuntimeCore, org: string): string {
  return `${core.ctx.baseUrl}/dataverse/${org}`;
}

/** Writes the runtime configuration row of a map that runs. */
export function configure(core: RuntimeCore, link: LinkState, mapName: string): void {
  const dv = core.ctx.dataverse.get(link.org);
  const spec = mapSpec(mapName);
  const map = link.maps[mapName];
  if (dv && spec && map)
    writeRuntimeConfig(
      dv,
      link.org,
      pidOf(link, mapName),
      spec,
      map.activeTemplate.version,
      core.ctx.clock.now(),
    );
}

/** Saves the emulator state in the background (nothing after close). */
export function persistSoon(core: RuntimeCore): void {
  if (core.closed) return;
  core.ctx.persist().catch(() => {
    // Persistence reports its own failures; a background save must not crash the emulator.
  });
}
