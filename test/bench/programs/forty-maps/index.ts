/**
 * The benchmark's candidate: one link, three company bootstraps and forty map bindings on an
 * existing-existing pair — a tenant of a realistic size, with the same 44 custom resources as the
 * floor program (../floor). It is wired as `DualWriteScenario` wires its children: every binding
 * after the bootstraps and after the bindings of its prerequisite maps, prerequisites started by
 * the binding when the catalog does not know them.
 *
 * The forty maps are those of the core, Finance and Operations and party (GAB) solutions and the
 * first of the Finance extended solution, taken from the neutral catalog (facts/mapCatalog.ts) in
 * export order, which puts prerequisites first.
 */
import { MAP_CATALOG } from "../../../../facts/mapCatalog";
import {
  CompanyBootstrap,
  DualWriteConnection,
  EntityMapBinding,
} from "../../../../provider/index";
import { knownPrerequisites } from "../../../../provider/scenario/catalog";
import { slug } from "../../../../provider/scenario/dualWriteScenario";

/** Map bindings in the program. */
export const MAP_COUNT = 40;

/** The orchestration solutions that ship the forty maps (the link applies them). */
export const FORTY_MAP_SOLUTIONS: readonly string[] = [
  "msdyn_DualWriteAppCoreMaps",
  "Dynamics365FinanceAndOperationsDualWriteMaps",
  "Dynamics365GABDualWriteEntityMaps",
  "msdyn_Dynamics365FinanceExtendedMaps",
];

/** The companies bootstrapped: two by their business unit in the existing Dataverse seed, one by code. */
export const BOOTSTRAP_COMPANIES: ReadonlyArray<{ code: string; owningBusinessUnit?: string }> = [
  { code: "USMF", owningBusinessUnit: "Contoso US" },
  { code: "DEMF", owningBusinessUnit: "Contoso Germany" },
  { code: "USRT" },
];

/**
 * The forty map names in start order, given which maps each solution ships (the caller reads it
 * from the emulator's catalog: which solution ships a map is the gateway's fact, not the catalog's).
 */
export function fortyMaps(shippedBy: (solution: string) => readonly string[]): string[] {
  // Every map of the solutions before the last, then the last one's first maps up to forty: the
  // core solution's customer maps (the longest prerequisite chain) are always in.
  const inExportOrder = (names: readonly string[]): string[] =>
    MAP_CATALOG.filter((m) => names.includes(m.name)).map((m) => m.name);
  const whole = inExportOrder(FORTY_MAP_SOLUTIONS.slice(0, -1).flatMap((s) => shippedBy(s)));
  const last = inExportOrder(shippedBy(FORTY_MAP_SOLUTIONS[FORTY_MAP_SOLUTIONS.length - 1]!));
  const names = inExportOrder([...whole, ...last.slice(0, Math.max(0, MAP_COUNT - whole.length))]);
  // Start order: every map after the maps it needs, the rest in export order.
  const ordered: string[] = [];
  for (const name of names) {
    for (const pre of [...knownPrerequisites(name), name]) {
      if (names.includes(pre) && !ordered.includes(pre)) ordered.push(pre);
    }
  }
  return ordered.slice(0, MAP_COUNT);
}

/** The pair the program runs against and the maps it binds. */
export interface FortyMapsSettings {
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly maps: readonly string[];
}

/** The candidate program: 1 connection, 3 bootstraps, 40 bindings. */
export function fortyMapsProgram(settings: FortyMapsSettings): Record<string, unknown> {
  const connection = new DualWriteConnection("link", {
    scenario: "existing-existing",
    financeOperationsUrl: settings.financeOperationsUrl,
    dataverseUrl: settings.dataverseUrl,
    solutions: [...FORTY_MAP_SOLUTIONS],
  });
  const bootstraps = BOOTSTRAP_COMPANIES.map(
    (c) =>
      new CompanyBootstrap(`bootstrap-${slug(c.code)}`, {
        connection,
        companyCode: c.code,
        ...(c.owningBusinessUnit !== undefined && { owningBusinessUnit: c.owningBusinessUnit }),
      }),
  );
  const bindings = new Map<string, EntityMapBinding>();
  for (const name of settings.maps) {
    const prerequisites = knownPrerequisites(name).flatMap((p) => bindings.get(p) ?? []);
    bindings.set(
      name,
      new EntityMapBinding(
        `map-${slug(name)}`,
        { connection, mapName: name, state: "Running", startPrerequisites: true },
        { dependsOn: [...prerequisites, ...bootstraps] },
      ),
    );
  }
  return { linkedLegalEntities: connection.linkedLegalEntities, maps: bindings.size };
}

/** The longest chain of prerequisites among `maps` (a map with none is a chain of 1). */
export function longestChain(maps: readonly string[]): number {
  const depth = new Map<string, number>();
  for (const name of maps) {
    const pres = knownPrerequisites(name).filter((p) => maps.includes(p));
    depth.set(name, 1 + Math.max(0, ...pres.map((p) => depth.get(p) ?? 1)));
  }
  return Math.max(0, ...depth.values());
}

/**
 * The most maps that can be starting at once when every map starts as soon as its prerequisites
 * run: the largest level of the prerequisite graph (level = length of the chain ending there).
 */
export function widestLevel(maps: readonly string[]): number {
  const depth = new Map<string, number>();
  for (const name of maps) {
    const pres = knownPrerequisites(name).filter((p) => maps.includes(p));
    depth.set(name, 1 + Math.max(0, ...pres.map((p) => depth.get(p) ?? 1)));
  }
  const perLevel = new Map<number, number>();
  for (const d of depth.values()) perLevel.set(d, (perLevel.get(d) ?? 0) + 1);
  return Math.max(0, ...perLevel.values());
}
