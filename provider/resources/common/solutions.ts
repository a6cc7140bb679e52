/**
 * Which orchestration solutions are applied on a link, and which solution carries a map.
 *
 * The gateway's solution list has no "applied" flag (DWLibary/Struct/SolutionList.cs: uniquename,
 * version, friendlyname, ismanaged, solutionid, id, description), and the tool never asks: it
 * applies what its configuration names. The provider needs to know, so that `pulumi up` applies
 * only what is missing and `preview` shows a solution removed by hand. That decision is one
 * function here, {@link solutionStates}, marked CHOICE.
 */
import type { GatewayMap } from "../../clients/gateway";
import { columnText } from "./companies";
import type { Clients } from "./handler";

/** A solution of a link and whether the provider counts it applied. */
export interface SolutionState {
  readonly uniqueName: string;
  readonly version: string | undefined;
  /** Names of the maps it carries (its `msdyn_dualwriteentitymaps` rows in Dataverse). */
  readonly maps: readonly string[];
  readonly applied: boolean;
}

/** Dataverse's view: per solution (by lower-case unique name), the maps it carries. */
interface DataverseSolutions {
  readonly byName: ReadonlyMap<string, { uniqueName: string; maps: readonly string[] }>;
}

/**
 * The maps each installed solution carries, from Dataverse: dual-write maps are solution
 * components (`msdyn_dualwriteentitymap` rows, one per map version, stamped with the `solutionid`
 * of the solution that installed them), and `solutions` names each solution id.
 */
async function dataverseSolutions(c: Clients): Promise<DataverseSolutions> {
  // Shared reads, at once: applying a solution on the link (a gateway call) installs nothing in
  // Dataverse, so the link's checks after each apply, and the maps' definitions, ask no more;
  // a write to this Dataverse through the provider forgets them.
  const [solutions, rows] = await Promise.all([
    c.dataverse.listShared("solutions", { select: ["uniquename", "solutionid"] }),
    c.dataverse.listShared("msdyn_dualwriteentitymaps", { select: ["msdyn_name", "solutionid"] }),
  ]);
  const mapsById = new Map<string, Set<string>>();
  for (const row of rows) {
    const id = columnText(row, "solutionid").toLowerCase();
    const name = columnText(row, "msdyn_name");
    if (!id || !name) continue;
    const set = mapsById.get(id) ?? new Set<string>();
    set.add(name);
    mapsById.set(id, set);
  }
  const byName = new Map<string, { uniqueName: string; maps: readonly string[] }>();
  for (const s of solutions) {
    const uniqueName = columnText(s, "uniquename");
    const maps = [...(mapsById.get(columnText(s, "solutionid").toLowerCase()) ?? [])].sort();
    byName.set(uniqueName.toLowerCase(), { uniqueName, maps });
  }
  return { byName };
}

/**
 * CHOICE — when is a solution "applied"? The provider counts a solution applied when every map
 * it carries (per Dataverse, see `dataverseSolutions`) is among the link's maps (`GET Entities`
 * lists only the maps of applied solutions). A solution that carries no map has nothing to
 * apply and counts as applied. Solutions are those the gateway lists for the environment.
 */
export async function solutionStates(
  c: Clients,
  cid: string,
  options: { fresh?: boolean; maps?: readonly GatewayMap[] } = {},
): Promise<SolutionState[]> {
  const fresh = options.fresh === undefined ? {} : { fresh: options.fresh };
  // Independent reads, at once: the gateway's solutions and maps, Dataverse's solutions.
  const [listed, maps, known] = await Promise.all([
    c.gateway.listSolutions(cid, fresh),
    options.maps ?? c.gateway.listMaps(cid, fresh),
    dataverseSolutions(c),
  ]);
  const onLink = new Set(maps.map((m) => m.tName));
  return listed.map((s) => {
    const carried = known.byName.get(s.uniqueName.toLowerCase())?.maps ?? [];
    return {
      uniqueName: s.uniqueName,
      version: s.version,
      maps: carried,
      applied: carried.every((m) => onLink.has(m)),
    };
  });
}

/** The unique name of the installed solution that carries map `mapName`, per Dataverse. */
export async function solutionOfMap(c: Clients, mapName: string): Promise<string | undefined> {
  const known = await dataverseSolutions(c);
  for (const s of known.byName.values()) if (s.maps.includes(mapName)) return s.uniqueName;
  return undefined;
}

/** Every map name some installed solution carries, per Dataverse (for "did you mean" hints). */
export async function installedMapNames(c: Clients): Promise<string[]> {
  const known = await dataverseSolutions(c);
  return [...new Set([...known.byName.values()].flatMap((s) => s.maps))];
}
