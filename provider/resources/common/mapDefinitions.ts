/**
 * What the environments publish about a map before any link exists: its definitions in Dataverse.
 *
 * Dual-write maps are solution components: an orchestration solution installs one
 * `msdyn_dualwriteentitymaps` row per map version, stamped with the `solutionid` of the solution
 * that carries it (see `solutions.ts`). A row names the map (`msdyn_name`), its version and
 * publisher, and its mapping (`msdyn_mapping`, JSON: `legs[].fieldMappings[].destinationField`,
 * the Dataverse columns the map writes). CHOICE: the columns `msdyn_version`, `msdyn_author` and
 * `msdyn_mapping` are read as the emulator models the table (docs/emulator.md, "Maps"); Microsoft
 * documents no column reference for it, and the tool never reads it. A row that lacks them gives
 * the map's name only.
 *
 * The gateway is the authority once the link exists (`GET DWM/Entities` lists each map's
 * templates); before, these rows are; when Dataverse has none for a map, the catalog
 * (`facts/mapCatalog.ts`) knows its name and default keys but no version. {@link MapDefinition}
 * says which source answered, so that messages can say it too.
 */
import { HttpError } from "../../errors";
import { findCatalogMap } from "../../scenario/catalog";
import { columnText } from "./companies";
import type { Clients } from "./handler";
import { compareVersions } from "./maps";

/** One published version of a map. */
export interface PublishedVersion {
  readonly version: string;
  /** Publisher, e.g. `Microsoft`; empty when not given. */
  readonly author: string;
  /** The Dataverse columns (and lookup paths) this version maps; undefined when not given. */
  readonly columns: readonly string[] | undefined;
}

/** What the environments publish about a map, and where that came from. */
export interface MapDefinition {
  readonly name: string;
  /**
   * `dataverse`: the map's `msdyn_dualwriteentitymaps` rows; `catalog`: only the shipped catalog
   * knows the name; `none`: neither.
   */
  readonly source: "dataverse" | "catalog" | "none";
  /** The unique name of the installed solution that carries it (Dataverse only). */
  readonly solution: string | undefined;
  /** Published versions, oldest first (empty for the catalog). */
  readonly versions: readonly PublishedVersion[];
}

/** How messages name a definition's source. */
export function sourceText(definition: MapDefinition, dataverseUrl: string): string {
  switch (definition.source) {
    case "dataverse":
      return `the map definitions in Dataverse ${dataverseUrl} (msdyn_dualwriteentitymaps${definition.solution ? `, solution ${definition.solution}` : ""})`;
    case "catalog":
      return "the dual-write map catalog (Dataverse has no definition of this map)";
    case "none":
      return "nothing (neither Dataverse nor the catalog knows this map)";
  }
}

interface Row {
  readonly name: string;
  readonly version: string;
  readonly author: string;
  readonly solutionId: string;
  readonly columns: readonly string[] | undefined;
}

/** The destination columns of a row's mapping, or undefined when it has none to read. */
function mappedColumns(mapping: string): string[] | undefined {
  if (mapping.trim() === "") return undefined;
  try {
    const parsed = JSON.parse(mapping) as {
      legs?: { fieldMappings?: { destinationField?: unknown }[] }[];
    };
    const columns = (parsed.legs ?? []).flatMap((leg) =>
      (leg.fieldMappings ?? []).flatMap((f) =>
        typeof f.destinationField === "string" && f.destinationField !== ""
          ? [f.destinationField]
          : [],
      ),
    );
    return columns.length > 0 ? [...new Set(columns)] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The map rows, with the columns the CHOICE above reads; an org whose table lacks them answers
 * 400 to such a `$select`, and is then read for names and solutions only (no version is checked
 * before the link exists, as with the catalog).
 */
async function listEntityMaps(c: Clients): Promise<Record<string, unknown>[]> {
  try {
    return await c.dataverse.list("msdyn_dualwriteentitymaps", {
      select: ["msdyn_name", "msdyn_version", "msdyn_author", "msdyn_mapping", "solutionid"],
    });
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 400)) throw error;
    return c.dataverse.list("msdyn_dualwriteentitymaps", { select: ["msdyn_name", "solutionid"] });
  }
}

async function readRows(c: Clients): Promise<{ rows: Row[]; solutions: Map<string, string> }> {
  const [entityMaps, solutions] = await Promise.all([
    listEntityMaps(c),
    // The same shared read as the link's solution states (`solutions.ts`).
    c.dataverse.listShared("solutions", { select: ["uniquename", "solutionid"] }),
  ]);
  return {
    rows: entityMaps.map((r) => ({
      name: columnText(r, "msdyn_name"),
      version: columnText(r, "msdyn_version"),
      author: columnText(r, "msdyn_author"),
      solutionId: columnText(r, "solutionid").toLowerCase(),
      columns: mappedColumns(columnText(r, "msdyn_mapping")),
    })),
    solutions: new Map(
      solutions.map((s) => [
        columnText(s, "solutionid").toLowerCase(),
        columnText(s, "uniquename"),
      ]),
    ),
  };
}

/**
 * The definition of map `name` as the environments publish it: Dataverse's rows, else the
 * catalog's name. Reads only; the rows are shared by every resource of one provider process for a
 * few seconds (the gateway client's shared reads).
 */
export async function mapDefinition(
  c: Clients,
  dataverseUrl: string,
  name: string,
): Promise<MapDefinition> {
  const { rows, solutions } = await c.gateway.shared.read(`mapDefinitions:${dataverseUrl}`, () =>
    readRows(c),
  );
  const own = rows.filter((r) => r.name === name);
  if (own.length > 0) {
    const versions = own
      .filter((r) => r.version !== "")
      .map((r) => ({ version: r.version, author: r.author, columns: r.columns }))
      .sort((a, b) => compareVersions(a.version, b.version));
    return {
      name,
      source: "dataverse",
      solution: solutions.get(own[0]?.solutionId ?? ""),
      versions,
    };
  }
  return {
    name,
    source: findCatalogMap(name) ? "catalog" : "none",
    solution: undefined,
    versions: [],
  };
}

/**
 * The published version a declaration selects: `latest` (the highest, of `author` if given) or
 * an exact version. Undefined when none matches (or none is known).
 */
export function selectPublished(
  definition: MapDefinition,
  version: string,
  author: string | undefined,
): PublishedVersion | undefined {
  const candidates = definition.versions.filter(
    (v) => author === undefined || v.author.toLowerCase() === author.toLowerCase(),
  );
  if (version === "latest") return candidates[candidates.length - 1];
  return candidates.find((v) => v.version === version);
}

/** "1.0.0.4 (Microsoft), 1.0.0.5 (Microsoft)" for messages. */
export function describePublished(definition: MapDefinition): string {
  return (
    definition.versions.map((v) => `${v.version}${v.author ? ` (${v.author})` : ""}`).join(", ") ||
    "none"
  );
}
