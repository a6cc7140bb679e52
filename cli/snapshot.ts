/**
 * One environment pair's dual-write setup as observed, read-only, for `export` and `compare`:
 * the link, its legal entities, the orchestration solutions applied on it, and every map with its
 * state, active version and author, and the integration keys of its Dataverse table — each map
 * also as the declaration `pulumi import` would give it (`importedMapInputs`), so that what
 * `export` writes and what `read` imports cannot drift apart.
 *
 * | read                      | HTTP                                                                |
 * |---------------------------|---------------------------------------------------------------------|
 * | the link                  | GET DWM/Environments?targetType=AX&identifier=<F&O host>; GET /api/ConnectionSet/<cname> |
 * | maps                      | GET DWM/Entities?targetType=AX&cid=<cid>                           |
 * | solutions applied         | GET DWM/SolutionAware/<cid>/Solutions/; Dataverse GET solutions, GET msdyn_dualwriteentitymaps |
 *
 * Nothing else is sent (token requests to Entra ID aside). In particular not the prerequisite
 * sequence, which the gateway serves as a POST.
 */
import type { Clients, GatewayMap } from "../provider/clients";
import { stateName, STOPPED_LIKE } from "../provider/resources/common/maps";
import { solutionStates } from "../provider/resources/common/solutions";
import {
  environmentUrl,
  importedConnectionInputs,
} from "../provider/resources/dualWriteConnection/connectionImport";
import type { DualWriteConnectionInputs } from "../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entitySetOf } from "../provider/resources/entityMapBinding/entityMapBinding.handler";
import type { EntityMapBindingInputs } from "../provider/resources/entityMapBinding/entityMapBinding.schema";
import { importedMapInputs } from "../provider/resources/entityMapBinding/mapImport";
import { withDataverse } from "./session";

/** One map as observed. */
export interface MapSnapshot {
  /** The map's name, e.g. `accounts - Customers V3`. */
  readonly name: string;
  /** The state's name as the gateway reports it, e.g. `Running`. */
  readonly state: string;
  /** The active version, e.g. `1.0.0.5`; undefined when the gateway names none. */
  readonly version: string | undefined;
  /** The active version's publisher; undefined when none is named. */
  readonly author: string | undefined;
  /** The integration keys of its Dataverse table, in order; empty when the link has none. */
  readonly integrationKeys: readonly string[];
  readonly dataverseEntitySet: string;
  /** Whether it has a runtime project (was initialized or started at some point). */
  readonly initialized: boolean;
  /** Whether it is in use: not stopped, or initialized (what `export` declares by default). */
  readonly inUse: boolean;
  /** Its declaration as `pulumi import` gives it. */
  readonly declaration: EntityMapBindingInputs;
}

/** An environment pair's setup as observed. */
export interface PairSnapshot {
  readonly financeOperationsUrl: string;
  /** The Dataverse URL given, else the link's; undefined when neither is known. */
  readonly dataverseUrl: string | undefined;
  /** Undefined when the gateway lists no link for the F&O environment. */
  readonly link:
    | {
        /** The F&O environment id (`cid`). */
        readonly environmentId: string;
        readonly connectionSetName: string;
        /** Codes, upper case, sorted. */
        readonly legalEntities: readonly string[];
        /** Unique names of the solutions applied on the link, sorted. */
        readonly solutions: readonly string[];
        /** Every map on the link, by name. */
        readonly maps: readonly MapSnapshot[];
        /** The link's declaration as `pulumi import` gives it. */
        readonly declaration: DualWriteConnectionInputs;
      }
    | undefined;
}

/** The link's Dataverse is not the one given. */
export class OtherDataverseError extends Error {
  constructor(
    readonly financeOperationsUrl: string,
    readonly linkedDataverseUrl: string | undefined,
    readonly givenDataverseUrl: string,
  ) {
    super(
      `F&O ${financeOperationsUrl} is linked to Dataverse ${linkedDataverseUrl ?? "(unknown)"}, not ${givenDataverseUrl}. Give --dataverse-url ${linkedDataverseUrl ?? "<the linked environment>"}, or leave it out.`,
    );
    this.name = "OtherDataverseError";
  }
}

/**
 * Reads a pair's setup (see the file comment for the calls).
 * @param urls normalized URLs (`environmentUrl`); `dataverseUrl` undefined = the link's
 * @throws OtherDataverseError when the link joins another Dataverse than `urls.dataverseUrl`
 */
export async function readPairSnapshot(
  clients: Clients,
  urls: { readonly financeOperationsUrl: string; readonly dataverseUrl?: string | undefined },
): Promise<PairSnapshot> {
  const fo = urls.financeOperationsUrl;
  const link = await clients.gateway.findLink(fo, { fresh: true });
  if (!link?.set)
    return { financeOperationsUrl: fo, dataverseUrl: urls.dataverseUrl, link: undefined };
  const linked = link.dataverseUrl === undefined ? undefined : environmentUrl(link.dataverseUrl);
  if (urls.dataverseUrl !== undefined && linked !== undefined && linked !== urls.dataverseUrl)
    throw new OtherDataverseError(fo, link.dataverseUrl, urls.dataverseUrl);
  const dv = urls.dataverseUrl ?? linked;
  if (dv === undefined)
    throw new Error(
      `The connection set of F&O ${fo} names no Dataverse URL; give --dataverse-url.`,
    );
  const gatewayMaps = await clients.gateway.listMaps(link.cid, { fresh: true });
  const solutions = await solutionStates(withDataverse(clients, dv), link.cid, {
    fresh: true,
    maps: gatewayMaps,
  });
  const legalEntities = [...new Set(link.legalEntities.map((c) => c.toUpperCase()))].sort();
  const applied = solutions
    .filter((s) => s.applied)
    .map((s) => s.uniqueName)
    .sort();
  const maps = gatewayMaps
    .map((m) => mapSnapshot(m, link.set?.integrationKeys ?? {}, { cid: link.cid, fo, dv }))
    .sort((a, b) => compareText(a.name, b.name));
  return {
    financeOperationsUrl: fo,
    dataverseUrl: dv,
    link: {
      environmentId: link.cid,
      connectionSetName: link.cname,
      legalEntities,
      solutions: applied,
      maps,
      declaration: importedConnectionInputs({
        financeOperationsUrl: fo,
        dataverseUrl: dv,
        linkedLegalEntities: legalEntities,
        appliedSolutions: applied,
      }),
    },
  };
}

function mapSnapshot(
  map: GatewayMap,
  keysBySet: Readonly<Record<string, readonly string[]>>,
  where: { readonly cid: string; readonly fo: string; readonly dv: string },
): MapSnapshot {
  const entitySet = entitySetOf(map);
  const integrationKeys = [...(keysBySet[entitySet] ?? [])];
  return {
    name: map.tName,
    state: stateName(map.state),
    version: map.activeTemplate?.version,
    author: map.activeTemplate?.author || undefined,
    integrationKeys,
    dataverseEntitySet: entitySet,
    initialized: map.pid !== undefined,
    inUse: !STOPPED_LIKE.includes(map.state) || map.pid !== undefined,
    declaration: importedMapInputs({
      environmentId: where.cid,
      financeOperationsUrl: where.fo,
      dataverseUrl: where.dv,
      map,
      integrationKeys,
    }),
  };
}

/** Code-point order, the same on every machine (no locale). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
