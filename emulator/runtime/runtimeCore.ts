/**
 * The shared state of the dual-write runtime and the lookups every part of it needs: environments
 * by cid or host, links by environment, org or dataset name, maps by template id or pid, table
 * sets, URLs, persistence and the runtime configuration row of a running map.
 *
 * `DualWriteRuntime` owns one `RuntimeCore`; the request engine (`requests.ts`), initial-sync jobs
 * (`jobs.ts`), link management (`links.ts`) and the control views (`controlViews.ts`) are functions
 * over it, so they share one mutable state without holding a reference to the class.
 */
import type { EmulatorContext, EnvironmentPair } from "../core/context";
import type { TableSet } from "../store/tables";
import type { LinkSides } from "./adapters";
import { gatewayErrors } from "./errors";
import { powerPlatformEnvironmentId } from "./ids";
import { mapSpec, type MapSpec } from "./maps";
import { writeRuntimeConfig } from "./runtimeConfigs";
import type { LinkState, MapRuntime, RuntimeState } from "./state";
import { projectNameOf, templatesOf } from "./views";

export { powerPlatformEnvironmentId } from "./ids";

/** The mutable state of one runtime, shared by its modules. */
export interface RuntimeCore {
  /** The emulator: environments, table sets, clock, settings, persistence. */
  readonly ctx: EmulatorContext;
  /** Links, requests and jobs; replaced as a whole by `restore`. */
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

/**
 * The link whose CRM environment (in the connection set) has the dataset name `name`
 * (DWLibary/Engines/DWMapEngine.cs:1499-1503 posts keys to `api/dataset/<CRM environment name>`).
 * Throws 404 when no link has it.
 */
export function linkByDatasetName(core: RuntimeCore, name: string): LinkState {
  const wanted = name.trim().toLowerCase();
  const link = Object.values(core.state.links).find(
    (l) => l.environments.crm.name.toLowerCase() === wanted,
  );
  if (!link) throw gatewayErrors.datasetNotFound(name);
  return link;
}

/** The map of a link one of whose versions has the template id `templateId`. */
export function mapByTemplateId(link: LinkState, templateId: string): MapRuntime | undefined {
  const wanted = templateId.trim().toLowerCase();
  return Object.values(link.maps).find((m) =>
    templatesOf(link.cid, m.name).some((t) => t.id === wanted),
  );
}

/** The link, map and spec of a project id; throws `mapNotFound` when no link has it. */
export function mapByPid(
  core: RuntimeCore,
  pid: string,
): { link: LinkState; map: MapRuntime; spec: MapSpec; pid: string } {
  const wanted = pid.trim().toLowerCase();
  for (const link of Object.values(core.state.links)) {
    for (const map of Object.values(link.maps)) {
      if (map.pid !== null && map.pid === wanted)
        return { link, map, spec: mapSpec(map.name) as MapSpec, pid: map.pid };
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
    dataverseUrl: dvUrl(core, link.org),
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

/** The URL of an F&O environment, as the address plan gives it (`https://<host>:<port>`). */
export function fnoUrl(core: RuntimeCore, env: string): string {
  return core.ctx.hosts.fnoUrl(env);
}

/** The URL of a Dataverse org, as the address plan gives it. */
export function dvUrl(core: RuntimeCore, org: string): string {
  return core.ctx.hosts.dataverseUrl(org);
}

/**
 * The host name of a URL, lower-cased (`https://127.0.0.11:8443/` → `127.0.0.11`): how the
 * gateway names environments (DWLibary/ArgsHandler.cs:76-100 keeps only `Uri.Host`).
 */
export function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The F&O environment whose URL has the host name `host`, if any. */
export function fnoEnvByHost(core: RuntimeCore, host: string): EnvironmentPair | undefined {
  const wanted = host.trim().toLowerCase();
  return [...core.ctx.environments.values()].find(
    (e) => core.ctx.fno.has(e.name) && hostOf(fnoUrl(core, e.name)) === wanted,
  );
}

/** The Dataverse org whose URL has the host name `host`, if any. */
export function dvOrgByHost(core: RuntimeCore, host: string): string | undefined {
  const wanted = host.trim().toLowerCase();
  return [...core.ctx.dataverse.keys()].find((org) => hostOf(dvUrl(core, org)) === wanted);
}

/** The Dataverse org whose Power Platform environment id is `id`, if any. */
export function dvOrgByEnvironmentId(core: RuntimeCore, id: string): string | undefined {
  const wanted = id.trim().toLowerCase();
  return [...core.ctx.dataverse.keys()].find((org) => powerPlatformEnvironmentId(org) === wanted);
}

/** Writes the runtime configuration row of a map that runs. */
export function configure(core: RuntimeCore, link: LinkState, mapName: string): void {
  const dv = core.ctx.dataverse.get(link.org);
  const spec = mapSpec(mapName);
  const map = link.maps[mapName];
  if (dv && spec && map?.pid)
    writeRuntimeConfig(
      dv,
      link.org,
      map.pid,
      projectNameOf(link, map.pid),
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
