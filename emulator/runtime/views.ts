/**
 * Identifiers and wire views of maps: template ids (one per version; the active one is the map's
 * `tid`), project ids (`pid`, set by action `"8"`), the allowed actions and the `Entities` item.
 *
 * Shapes follow DWLibary/Struct/DWMaps.cs (the tool's DTO) and the live `Entities` capture in
 * toolbAX `tests/FoToolbox.Tests/DualWriteResponseParserTests.cs`: `detail.tid` equals
 * `detail.template.id`, every version in `templates[]` has its own id, `state` and the codes of
 * `actions` are strings, and `pid` is a bare GUID.
 */
import { guidFrom } from "./ids";
import { mapSpec, versionText, type MapSpec, type TemplateSpec } from "./maps";
import { MapAction, MapState, mapStateCode, type LinkState, type MapRuntime } from "./state";

/** A gateway template (map version) as the wire shows it (DWLibary/Struct/DWMaps.cs:37-48). */
export interface TemplateView {
  id: string;
  /** `<prefix>_[<map name>]`, as in the live capture (`fus_[accounts - Customers V3]`). */
  name: string;
  readOnly: boolean;
  displayName: string;
  author: string;
  version: { major: number; minor: number; build: number; revision: number };
  createdDateTime: string;
}

/**
 * The template-name prefix of an author. The capture shows `fus_` for the partner Fusion5; the
 * prefixes here are the emulator's choice (Microsoft's maps ship in `msdyn_` solutions).
 */
function authorPrefix(author: string): string {
  if (author === "Microsoft") return "msdyn";
  return (
    author
      .toLowerCase()
      .replace(/[^a-z0-9]/g, "")
      .slice(0, 3) || "usr"
  );
}

/** The template id of one version of a map in an environment (stable per cid, map and version). */
export function templateIdOf(cid: string, mapName: string, t: TemplateSpec): string {
  return guidFrom("template", cid, mapName, t.author, versionText(t.version));
}

/** Every version of a map, oldest first, with ids. */
export function templatesOf(cid: string, mapName: string): TemplateView[] {
  const spec = mapSpec(mapName);
  return (spec?.templates ?? []).map((t: TemplateSpec) => ({
    id: templateIdOf(cid, mapName, t),
    name: `${authorPrefix(t.author)}_[${mapName}]`,
    // [choice] Microsoft's versions are read-only, partners' are their own to edit.
    readOnly: t.author === "Microsoft",
    displayName: mapName,
    author: t.author,
    version: {
      major: t.version[0],
      minor: t.version[1],
      build: t.version[2],
      revision: t.version[3],
    },
    // [choice] A fixed date per version, so that two emulators agree.
    createdDateTime: new Date(Date.UTC(2024, 0, 1 + t.version[3])).toISOString(),
  }));
}

/** `1.0.0.5` of a template view. */
export function versionTextOf(t: TemplateView): string {
  return `${t.version.major}.${t.version.minor}.${t.version.build}.${t.version.revision}`;
}

/** The active version of a map (the newest one if the recorded one no longer exists). */
export function activeTemplateOf(link: LinkState, map: MapRuntime): TemplateView {
  const templates = templatesOf(link.cid, map.name);
  const active =
    templates.find(
      (t) =>
        t.author === map.activeTemplate.author && versionTextOf(t) === map.activeTemplate.version,
    ) ?? templates[templates.length - 1];
  if (!active) throw new Error(`Map '${map.name}' has no template.`);
  return active;
}

/** The map's `tid`: the id of its active version (it changes with `SwitchActive`). */
export function tidOf(link: LinkState, map: MapRuntime): string {
  return activeTemplateOf(link, map).id;
}

/** A new project id for a map being initialized; a new link gives new project ids. */
export function newPidOf(link: LinkState, mapName: string): string {
  return guidFrom("pid", link.cid, link.generation, mapName);
}

/**
 * The project's name, which `FieldMappings` reports and `api/Project/<name>/Refresh` takes
 * (DWLibary/Engines/DWMapEngine.cs:1423-1441). [choice] `DWM-<cid-derived guid>-<pid>`, the form
 * the runtime-configuration rows of real orgs carry.
 */
export function projectNameOf(link: LinkState, pid: string): string {
  return `DWM-${guidFrom("project", link.cid, link.org)}-${pid}`;
}

/**
 * The action codes a map accepts in its state. Running → `["4","5"]` is the live capture; the
 * others are the emulator's reading of the state machine [choice]: a map without a project can
 * only be initialized, a stopped one started, a paused one resumed or stopped, and a map in
 * InitialSync or CatchUp takes no action.
 */
export function actionsOf(map: MapRuntime): string[] {
  if (map.pid === null) return [MapAction.Init];
  switch (map.state) {
    case MapState.Running:
      return [MapAction.Stop, MapAction.Pause];
    case MapState.Paused:
      return [MapAction.Stop, MapAction.Resume];
    case MapState.InitialSync:
    case MapState.CatchUp:
      return [];
    default:
      return [MapAction.Start];
  }
}

/** The integration keys of a map: set through the gateway, else the catalog's. */
export function keysOf(link: LinkState, spec: MapSpec): string[] {
  return [...(link.integrationKeys[spec.dataverseEntitySet] ?? spec.integrationKeys)];
}

/** The maps of a link in export order. */
export function sortedMaps(link: LinkState): MapRuntime[] {
  return Object.values(link.maps).sort(
    (a, b) => (mapSpec(a.name)?.exportOrder ?? 0) - (mapSpec(b.name)?.exportOrder ?? 0),
  );
}

/**
 * The singular name of a Dataverse entity set (`accounts` → `account`). [choice] The catalog has
 * no logical names; English plural rules cover every set in it.
 */
export function singularOf(entitySet: string): string {
  if (entitySet.endsWith("ies")) return `${entitySet.slice(0, -3)}y`;
  if (/(ss|x|ch|sh)es$/.test(entitySet)) return entitySet.slice(0, -2);
  return entitySet.endsWith("s") ? entitySet.slice(0, -1) : entitySet;
}

/** An ISO time of emulated milliseconds. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

/** An `Entities` item (DWLibary/Struct/DWMaps.cs:13-102). */
export function mapView(link: LinkState, map: MapRuntime): unknown {
  const spec = mapSpec(map.name) as MapSpec;
  const templates = templatesOf(link.cid, map.name);
  const active = activeTemplateOf(link, map);
  const lastRequests = map.lastRequests.map((r) => ({
    requestId: r.requestId,
    action: r.action,
    createdOn: isoOf(r.createdAt),
    modifiedOn: isoOf(r.modifiedAt),
    state: String(r.state),
    errorMessage: r.errorMessage,
    // [choice] The emulator has no activity tracing; the request id stands in.
    rootActivityId: r.requestId,
  }));
  return {
    leftEntity: {
      targetType: "AX",
      name: spec.financeOperationsEntity,
      displayName: spec.financeOperationsEntity,
      singletonName: spec.financeOperationsEntity,
    },
    rightEntity: {
      targetType: "CRM",
      name: spec.dataverseEntitySet,
      displayName: spec.dataverseEntitySet,
      singletonName: singularOf(spec.dataverseEntitySet),
    },
    detail: {
      tid: active.id,
      tName: map.name,
      tags: [],
      ...(map.pid === null ? {} : { pid: map.pid }),
      state: mapStateCode(map.state),
      template: active,
      templates,
      actions: actionsOf(map),
      ...(lastRequests[0] ? { lastRequest: lastRequests[0] } : {}),
      lastRequests,
      isProjectDeleted: false,
    },
  };
}
