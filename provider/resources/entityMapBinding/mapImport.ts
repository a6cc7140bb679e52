/**
 * Bringing an existing table map under management (`pulumi import`): the import id a person
 * types, and the declaration that a map's observed state amounts to. The lifecycle's `read` uses
 * both for an import; `pulumi-dualwrite export` writes the same declaration and ids.
 *
 * Import id: `<financeOperationsUrl>|<dataverseUrl>|<map name>`, or
 * `<financeOperationsUrl>|<map name>` (the link's Dataverse), e.g.
 * `https://contoso.operations.dynamics.com|https://contoso.crm.dynamics.com|accounts - Customers V3`.
 * The resource's own id, `<cid>/<map name>`, cannot be imported: the gateway finds a link only by
 * its F&O host (DWLibary/DWEnvCalls.cs:24-38), and the integration keys are read from the link's
 * connection set. After the import the state holds `<cid>/<map name>`, as after a `create`.
 */
import { MapState, type GatewayMap } from "../../clients/gateway";
import {
  environmentUrl,
  IMPORT_ID_SEPARATOR,
  invalidImportId,
} from "../dualWriteConnection/connectionImport";
import type { DesiredState, EntityMapBindingInputs } from "./entityMapBinding.schema";

/** What an EntityMapBinding's import id names. */
export interface MapImportId {
  readonly financeOperationsUrl: string;
  /** Undefined when the id leaves it out: the link's Dataverse is taken. */
  readonly dataverseUrl: string | undefined;
  readonly mapName: string;
}

/** How an EntityMapBinding's import id reads, for messages. */
export const MAP_ID_FORMAT =
  "<financeOperationsUrl>|<dataverseUrl>|<map name> or <financeOperationsUrl>|<map name>, e.g. https://contoso.operations.dynamics.com|https://contoso.crm.dynamics.com|accounts - Customers V3";

/** The import id of a map of the link between two environments. */
export function formatMapImportId(
  financeOperationsUrl: string,
  dataverseUrl: string,
  mapName: string,
): string {
  return [financeOperationsUrl, dataverseUrl, mapName].join(IMPORT_ID_SEPARATOR);
}

/**
 * Reads an import id of an EntityMapBinding: with three parts (or more: a `|` inside a map name)
 * the second is the Dataverse URL; with two, the second is the map name.
 * @throws DualWriteError code `InvalidImportId` saying which formats are accepted
 */
export function parseMapImportId(id: string): MapImportId {
  const [first, second, ...rest] = id.split(IMPORT_ID_SEPARATOR);
  const fo = environmentUrl(first ?? "");
  if (fo === undefined || second === undefined)
    throw invalidImportId("EntityMapBinding", id, MAP_ID_FORMAT);
  const dv = rest.length > 0 ? environmentUrl(second) : undefined;
  if (rest.length > 0 && dv === undefined)
    throw invalidImportId("EntityMapBinding", id, MAP_ID_FORMAT);
  const mapName = rest.length > 0 ? rest.join(IMPORT_ID_SEPARATOR) : second;
  // `<F&O>|<Dataverse>` is a connection's id: the map name is missing.
  if (mapName.trim() === "" || /^https:\/\//i.test(mapName))
    throw invalidImportId("EntityMapBinding", id, MAP_ID_FORMAT);
  return { financeOperationsUrl: fo, dataverseUrl: dv, mapName };
}

/**
 * The state to declare for an observed one: the declared state it satisfies. Running, initial
 * sync and catch-up all count as Running (the last two end in it); Stopped, NotRunning and None as
 * Stopped.
 */
export function declaredStateOf(state: number): DesiredState {
  switch (state) {
    case MapState.Running:
    case MapState.InitialSync:
    case MapState.CatchUp:
      return "Running";
    case MapState.Paused:
      return "Paused";
    default:
      return "Stopped";
  }
}

/**
 * The declaration (inputs) of an observed map: the exact active version and its author (not
 * "latest", which would move when a new version is published), the integration keys in effect
 * (left out when there are none: the keys are then not managed), and the state it is in.
 */
export function importedMapInputs(observed: {
  readonly environmentId: string;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly map: GatewayMap;
  readonly integrationKeys: readonly string[];
}): EntityMapBindingInputs {
  const active = observed.map.activeTemplate;
  return {
    environmentId: observed.environmentId,
    financeOperationsUrl: observed.financeOperationsUrl,
    dataverseUrl: observed.dataverseUrl,
    mapName: observed.map.tName,
    ...(active && { version: active.version }),
    ...(active?.author && { author: active.author }),
    ...(observed.integrationKeys.length > 0 && { integrationKeys: [...observed.integrationKeys] }),
    state: declaredStateOf(observed.map.state),
  };
}
