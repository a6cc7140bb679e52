/**
 * Identifiers and wire views of maps (docs/wire-contract.md): `tid` (stable per map name and
 * environment), template ids (per version), `pid` (`DWM-<guid>-<guid>`, stable per map while
 * linked) and the `Entities` item.
 */
import { guidFrom } from "./ids";
import { mapSpec, versionText, type MapSpec, type TemplateSpec } from "./maps";
import type { LinkState, MapRuntime } from "./state";

/** A gateway template (map version) as the wire shows it. */
export interface TemplateView {
  id: string;
  author: string;
  version: { major: number; minor: number; build: number; revision: number };
}

/** The map (template family) id of a map in an environment. */
export function tidOf(cid: string, mapName: string): string {
  return guidFrom("tid", cid, mapName);
}

/** The runtime project id of a map of a link; a new link gives new project ids. */
export function pidOf(link: LinkState, mapName: string): string {
  return `DWM-${guidFrom("pid", link.cid, link.generation, mapName)}-${guidFrom("pid", link.org, mapName)}`;
}

/** Every version of a map, oldest first, with ids. */
export function templatesOf(cid: string, mapName: string): TemplateView[] {
  const spec = mapSpec(mapName);
  return (spec?.templates ?? []).map((t: TemplateSpec) => ({
    id: guidFrom("template", cid, mapName, t.author, versionText(t.version)),
    author: t.author,
    version: {
      major: t.version[0],
      minor: t.version[1],
      build: t.version[2],
      revision: t.version[3],
    },
  }));
}

/** `1.0.0.5` of a template view. */
export function versionTextOf(t: TemplateView): string {
  return `${t.version.major}.${t.version.minor}.${t.version.build}.${t.version.revision}`;
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

/** An `Entities` item. */
export function mapView(link: LinkState, map: MapRuntime): unknown {
  const spec = mapSpec(map.name) as MapSpec;
  const templates = templatesOf(link.cid, map.name);
  const active =
    templates.find(
      (t) =>
        t.author === map.activeTemplate.author && versionTextOf(t) === map.activeTemplate.version,
    ) ?? templates[templates.length - 1];
  return {
    leftEntity: { targetType: "AX", name: spec.financeOperationsEntity },
    rightEntity: { targetType: "CRM", name: spec.dataverseEntitySet },
    detail: {
      tid: tidOf(link.cid, map.name),
      tName: map.name,
      pid: pidOf(link, map.name),
      state: map.state,
      template: active,
      templates,
      integrationKeys: keysOf(link, spec),
      lastRequests: map.lastRequests.map((r) => ({ ...r })),
    },
  };
}
