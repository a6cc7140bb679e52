/**
 * EntityMapBinding's spec, from which its lifecycle is derived (`common/spec.ts`): one table map of
 * a link — which version, which integration keys, which state. A start skips initial sync, unless
 * `initialSync` is declared: then a start from Stopped IS the initial sync — refresh, `Start` "1"
 * with `skipInitialSync:false` and the master, waited for until the map leaves InitialSync — as
 * Microsoft's tool starts a map configured with initial sync (DWMapEngine.cs:1182-1297; ADR 0006).
 * A map found Running is adopted as it is (the tool skips it, DWMapEngine.cs:1212-1216); what
 * adopting it would change shows in preview, and a change that stops or pauses it is refused
 * unless `adoptWithChanges` (ADR 0011).
 *
 * | step   | HTTP calls                                                                                  |
 * |--------|----------------------------------------------------------------------------------------------|
 * | check  | (new or changed only) GET DWM/Environments (+ GET /api/ConnectionSet/<cname>); GET DWM/Entities?cid=…; Dataverse solutions + msdyn_dualwriteentitymaps (the map's published versions and mapped columns, also before any link exists); with a new `initialSync`: the data-volume counts (as InitialSyncRun's check); a new binding whose map runs: what adopting it changes. After every check, for `version: "latest"`: the version it stands for now (`resolvedVersion`, the same reads) |
 * | diff   | GET DWM/Environments + GET /api/ConnectionSet/<cname> (the link, its keys); GET DWM/Entities?cid=… (shared) |
 * | create | GET DWM/Entities; POST DWM/GetTemplatePrerequisiteSequences/<cid> `["<active template id>"]`; (startPrerequisites) POST DWM/Start "1" + GET DWM/Status/<id> per prerequisite; a map without pid: POST DWM/Start "8" + GET DWM/Status/<id> + GET DWM/Entities until it has one; if version/keys differ: POST DWM/Start "4" (stop), POST …/SwitchActive/<templateId>?pid=…, POST /api/dataset/<CRM environment name>/IntegrationKeys, GET DWM/<pid>/FieldMappings + POST /api/Project/<name>/Refresh; POST DWM/Start ("1" start, "4" stop, "5" pause, "6" resume) + GET DWM/Status/<id>; with `initialSync`, the start from Stopped: the data-volume counts, GET DWM/<pid>/FieldMappings + POST /api/Project/<name>/Refresh, POST DWM/Start "1" `skipInitialSync:false` once, GET DWM/Status/<id> until the map leaves InitialSync, GET /api/ProjectExecutionWithCompanies/<pid> (progress, results) |
 * | read   | GET DWM/Environments; GET /api/ConnectionSet/<cname>; GET DWM/Entities; POST DWM/GetTemplatePrerequisiteSequences/<cid> (also with no state, `pulumi import`: for the F&O URL of the import id, mapImport.ts) |
 * | update | as create; a new `initialSync` master or trigger on a running map: POST DWM/Start "4" + status, then the start with initial sync |
 * | delete | a map it brought into service (or `onDelete: "stop"`): GET DWM/Environments; GET /api/ConnectionSet/<cname>; GET DWM/Entities; POST DWM/Start "4" (stop) + GET DWM/Status/<id>. An adopted map: none (left as it runs) |
 *
 * Request economy: every read is shared by the bindings of one operation (a refresh reads the link
 * and its map list once); a map action is waited for by one poller of the link's map list that
 * serves every binding (`GatewayClient.waitForMapRequest`, where the table says GET DWM/Status),
 * and the list that shows it done is the map afterwards; prerequisites are asked once per
 * template, several templates in one call (CHOICE, `GatewayClient.prerequisiteLists`).
 *
 * A map is identified by its name: the resource id is `<environment id>/<map name>` (the import id
 * names the F&O environment instead, see `mapImport.ts`), and the `tid` the gateway calls for is
 * read afresh (it is the ACTIVE template id, which a version switch changes). Never deleted:
 * business rows; the map itself stays in the link (stopped).
 */
import { DualWriteError } from "../../errors";
import {
  MapAction,
  MapState,
  type GatewayLink,
  type GatewayMap,
  type MapTemplate,
} from "../../clients/gateway";
import { closestMapNames } from "../../scenario/catalog";
import { normalizeUrl, UNKNOWN } from "../common/check";
import { deepEqual } from "../common/diff";
import { FailureList, InvalidInputError } from "../common/failures";
import type { Clients, HandlerContext, Lifecycle, ReadOutcome } from "../common/handler";
import { linkBetween, linkedElsewhere, relationOf } from "../common/link";
import {
  describePublished,
  mapDefinition,
  selectPublished,
  sourceText,
  type MapDefinition,
} from "../common/mapDefinitions";
import {
  actOnMap,
  describeTemplates,
  ensureInitialized,
  findMap,
  nextAction,
  reread,
  RUNNING_LIKE,
  selectTemplate,
  stateName,
  STOPPED_LIKE,
  withMapLock,
} from "../common/maps";
import {
  adoptInitialSync,
  describeResults,
  peekRecordedSync,
  preflight,
  startInitialSync,
  type PreflightWording,
  type SyncOutcome,
  type SyncSpec,
} from "../common/initialSync";
import { installedMapNames, solutionOfMap } from "../common/solutions";
import {
  exactly,
  lifecycleOf,
  sameEnvironment,
  type PlannedChange,
  type ResourceSpec,
} from "../common/spec";
import { environmentUrl } from "../dualWriteConnection/connectionImport";
import type { MeasuredCounts } from "../initialSyncRun/initialSyncRun.schema";
import {
  entityMapBindingSchemas,
  type BindingInitialSync,
  type BindingSyncRecord,
  type DesiredState,
  type EntityMapBindingInputs,
  type EntityMapBindingOutputs,
} from "./entityMapBinding.schema";
import { importedMapInputs, parseMapImportId } from "./mapImport";

const RESOURCE = "EntityMapBinding";

/**
 * The declared inputs whose change is an update. `connectionLegalEntities` is not one (it only
 * informs the check), nor is `adoptWithChanges` (it matters only at create).
 */
const DECLARED = [
  "environmentId",
  "financeOperationsUrl",
  "dataverseUrl",
  "mapName",
  "version",
  "author",
  "integrationKeys",
  "state",
  "startPrerequisites",
  "initialSync",
  "resolvedVersion",
  "onDelete",
] as const satisfies readonly (keyof EntityMapBindingInputs)[];

/** How the binding's data-volume pre-flight names its inputs. */
const WORDING: PreflightWording = {
  legalEntitiesProperty: "initialSync",
  volumeProperty: "initialSync",
  howToSkip: 'leave out initialSync (in DualWriteScenario: initialSync: "skip")',
};

interface Desired {
  readonly cid: string;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly mapName: string;
  readonly version: string;
  readonly author: string | undefined;
  readonly integrationKeys: readonly string[] | undefined;
  readonly state: DesiredState;
  readonly startPrerequisites: boolean;
  readonly initialSync: BindingInitialSync | undefined;
  /** The legal entities the connection declares (upper case); undefined: every one of F&O. */
  readonly connectionLegalEntities: readonly string[] | undefined;
  /** The concrete version the check resolved `version` to; undefined when it could not. */
  readonly resolvedVersion: string | undefined;
}

function desired(inputs: EntityMapBindingInputs): Desired {
  return {
    cid: inputs.environmentId,
    financeOperationsUrl: normalizeUrl(inputs.financeOperationsUrl),
    dataverseUrl: normalizeUrl(inputs.dataverseUrl),
    mapName: inputs.mapName,
    version: inputs.version ?? "latest",
    author: inputs.author,
    integrationKeys: inputs.integrationKeys,
    state: inputs.state ?? "Running",
    startPrerequisites: inputs.startPrerequisites ?? false,
    initialSync: inputs.initialSync,
    // Unknown in a preview in which the connection changes (or declares no legal entities: an
    // output absent from the state is unknown in a preview): then it is not known here either.
    connectionLegalEntities: Array.isArray(inputs.connectionLegalEntities)
      ? inputs.connectionLegalEntities.map((c) => c.toUpperCase())
      : undefined,
    resolvedVersion: inputs.resolvedVersion === UNKNOWN ? undefined : inputs.resolvedVersion,
  };
}

/** The initial sync a declaration asks for, as the shared pre-flight and start take it. */
function syncSpec(d: Desired, sync: BindingInitialSync): SyncSpec {
  return {
    cid: d.cid,
    financeOperationsUrl: d.financeOperationsUrl,
    dataverseUrl: d.dataverseUrl,
    mapName: d.mapName,
    master: sync.master,
    reported: sync.legalEntities?.map((code) => code.toUpperCase()),
    // The connection's declared legal entities, when it declares them; else the link's, read at
    // the gateway (before the link exists, F&O's, the most a link can cover).
    linked: d.connectionLegalEntities,
  };
}

/**
 * Whether an update asks to sync a running map again: a new master or trigger of a declared
 * initial sync. Declaring one where there was none applies to the next start only, as a map
 * configured with initial sync that already runs is skipped by the tool (DWMapEngine.cs:1212-1216).
 */
function syncsAgain(
  before: BindingInitialSync | undefined,
  after: BindingInitialSync | undefined,
): boolean {
  return (
    before !== undefined &&
    after !== undefined &&
    (before.master !== after.master || before.trigger !== after.trigger)
  );
}

/** Why a map name is not found, with the likeliest fixes. */
function unknownMapReason(name: string, known: readonly string[], where: string): string {
  const hints = closestMapNames(name, known.length > 0 ? known : undefined);
  return `No map named ${JSON.stringify(name)} ${where}. Map names are "<Dataverse table> - <F&O entity>" as the dual-write workspace shows them${hints.length > 0 ? `; did you mean ${hints.map((h) => JSON.stringify(h)).join(" or ")}?` : "."}`;
}

/**
 * The version converging runs: the one the check resolved (`resolvedVersion`), else the one the
 * declaration selects now (`latest`: the highest, of `author` if given).
 */
function targetTemplate(d: Desired, map: GatewayMap): MapTemplate | undefined {
  if (d.resolvedVersion !== undefined) {
    const resolved = selectTemplate(map, d.resolvedVersion, d.author);
    if (resolved) return resolved;
    // Resolved from Dataverse's definitions but not on the link (yet): the declaration decides.
  }
  return selectTemplate(map, d.version, d.author);
}

/** "version 9.9.9.9 by Contoso" / "version by Contoso" (after "has no") for messages. */
function wantedVersion(d: Desired): string {
  const version = d.version === "latest" ? "version" : `version ${d.version}`;
  return `${version}${d.author ? ` by ${d.author}` : ""}`;
}

/** The property a missing version is reported on: `author` when only the author narrows it. */
function versionProperty(d: Desired): "version" | "author" {
  return d.version === "latest" ? "author" : "version";
}

/**
 * Checks against what the environments publish (reads only): the map's name, versions and
 * mapped columns — on the link when it exists, else in Dataverse's map definitions, else in the
 * catalog (names only) — and the initial sync's legal entities against the connection's.
 */
async function verify(
  d: Desired,
  ctx: HandlerContext,
  failures: FailureList,
  phase: "check" | "create" | "update",
): Promise<void> {
  const c = ctx.clients(d);
  // Independent reads at once: the link (gateway) and the map's definition (Dataverse).
  const [link, definition] = await Promise.all([
    linkBetween(c, d.financeOperationsUrl, d.dataverseUrl),
    mapDefinition(c, d.dataverseUrl, d.mapName),
  ]);
  const maps = link ? await c.gateway.listMaps(link.cid, { current: [d.mapName] }) : [];
  const map = findMap(maps, d.mapName);
  if (!map && definition.source === "none") {
    const known = [...maps.map((m) => m.tName), ...(await installedMapNames(c))];
    failures.add(
      "mapName",
      unknownMapReason(
        d.mapName,
        known,
        `exists in Dataverse ${d.dataverseUrl}, on the link of F&O ${d.financeOperationsUrl} or in the dual-write catalog`,
      ),
    );
    return;
  }

  if (map) {
    if (!targetTemplate(d, map))
      failures.add(
        versionProperty(d),
        `Map ${d.mapName} has no ${wantedVersion(d)} on the link of F&O ${d.financeOperationsUrl}; available: ${describeTemplates(map)}. Declare one of those, or "latest".`,
      );
  } else if (definition.source === "dataverse") {
    if (!selectPublished(definition, d.version, d.author))
      failures.add(
        versionProperty(d),
        `Map ${d.mapName} has no ${wantedVersion(d)}: ${sourceText(definition, d.dataverseUrl)} publish ${describePublished(definition)}. Declare one of those, or "latest".`,
      );
  } else if (phase === "check" && (d.version !== "latest" || d.author !== undefined)) {
    ctx.log(
      `EntityMapBinding ${d.mapName}: ${wantedVersion(d)} was checked against ${sourceText(definition, d.dataverseUrl)} only; it is checked when the link exists`,
    );
  }

  if (d.integrationKeys !== undefined) checkKeys(d, definition, failures, ctx, phase);

  const reported = d.initialSync?.legalEntities?.map((code) => code.toUpperCase()) ?? [];
  const declared = d.connectionLegalEntities;
  const outside = declared ? reported.filter((code) => !declared.includes(code)) : [];
  if (outside.length > 0)
    failures.add(
      "initialSync",
      `initialSync.legalEntities ${outside.join(", ")} ${outside.length === 1 ? "is" : "are"} not among the legal entities the connection declares (${declared?.join(", ") || "none"}). An initial sync covers the link's legal entities, and legalEntities here only selects whose results are reported: add ${outside.length === 1 ? "it" : "them"} to the DualWriteConnection's legalEntities, or remove ${outside.length === 1 ? "it" : "them"} here.`,
    );
}

/**
 * Integration keys must be columns the map writes: dual-write matches rows on their values, which
 * come from the F&O side through the map (CHOICE: the map's mapped Dataverse columns, from its
 * definition in Dataverse, are the columns a key may use; a lookup path such as
 * `msdyn_company.cdm_companycode` counts as the column it maps).
 */
function checkKeys(
  d: Desired,
  definition: MapDefinition,
  failures: FailureList,
  ctx: HandlerContext,
  phase: "check" | "create" | "update",
): void {
  const keys = d.integrationKeys ?? [];
  const version =
    selectPublished(definition, d.resolvedVersion ?? d.version, d.author) ??
    selectPublished(definition, "latest", d.author);
  const columns = version?.columns;
  if (!columns) {
    if (phase === "check")
      ctx.log(
        `EntityMapBinding ${d.mapName}: the integration keys were checked against ${sourceText(definition, d.dataverseUrl)}, which names no mapped columns; the gateway checks them when they are set`,
      );
    return;
  }
  const missing = keys.filter((k) => !columns.includes(k));
  if (missing.length > 0)
    failures.add(
      "integrationKeys",
      `${missing.map((k) => JSON.stringify(k)).join(", ")} ${missing.length === 1 ? "is not a column" : "are not columns"} that map ${d.mapName} ${version ? `${version.version} ` : ""}writes (per ${sourceText(definition, d.dataverseUrl)}), so dual-write could not match rows on ${missing.length === 1 ? "it" : "them"}. Its columns are ${columns.join(", ")}.`,
    );
}

/**
 * The maps `map` needs Running first, in start order, as the gateway reports them: its ACTIVE
 * template id goes in, active template ids come out (DWMapEngine.cs:1538-1580).
 */
async function prerequisitesOf(
  c: Clients,
  cid: string,
  map: GatewayMap,
  maps: readonly GatewayMap[],
): Promise<GatewayMap[]> {
  const sequence = await c.gateway.prerequisiteSequence(cid, map.tid);
  return sequence.flatMap((tid) => maps.filter((m) => m.tid === tid && m.tName !== map.tName));
}

/** The integration keys in effect for `entitySet`, from the link's connection set. */
function keysOf(link: GatewayLink | undefined, entitySet: string): string[] {
  return [...(link?.set?.integrationKeys[entitySet] ?? [])];
}

/**
 * Refreshes the tables of a map's project, as the tool does after changing a version or keys
 * and before starting (DWMapEngine.cs:1398-1400).
 */
async function refreshTables(c: Clients, map: GatewayMap): Promise<void> {
  if (!map.pid) return;
  const { name } = await c.gateway.fieldMappings(map.pid);
  if (name) await c.gateway.refreshTables(name);
}

/** The binding's record of an initial sync. */
function syncRecord(
  sync: BindingInitialSync,
  run: SyncOutcome,
  measuredCounts: MeasuredCounts,
): BindingSyncRecord {
  return {
    requestId: run.requestId,
    master: sync.master,
    ...(sync.trigger !== undefined && { trigger: sync.trigger }),
    status: run.status,
    adopted: run.adopted,
    results: run.results,
    measuredCounts,
    ...(run.finishedAt !== undefined && { finishedAt: run.finishedAt }),
  };
}

/**
 * Starts a stopped map with its declared initial sync: the data-volume rules first (the counts
 * may have grown since the preview), then the shared start (refresh, `Start` "1" with
 * `skipInitialSync:false`, wait until the map leaves InitialSync unless `waitForCompletion` is
 * false). Returns the record of the sync.
 */
async function startWithInitialSync(
  d: Desired,
  sync: BindingInitialSync,
  c: Clients,
  ctx: HandlerContext,
  map: GatewayMap,
): Promise<BindingSyncRecord> {
  const spec = syncSpec(d, sync);
  const failures = new FailureList();
  const measuredCounts = await preflight(spec, c, failures, ctx, WORDING);
  if (!failures.empty) throw new InvalidInputError(RESOURCE, failures.toArray());
  const run = await startInitialSync(spec, c, ctx, map, sync.waitForCompletion ?? true);
  return syncRecord(sync, run, measuredCounts);
}

/**
 * A sync already at the gateway that starting one would repeat (`adoptInitialSync`): the one this
 * binding recorded `Running` (collected), one running — started by a `pulumi up` that was killed,
 * cancelled or timed out — or one that ended after the binding's recorded sync. The record of it,
 * or undefined.
 */
async function adoptedSync(
  d: Desired,
  sync: BindingInitialSync,
  c: Clients,
  ctx: HandlerContext,
  map: GatewayMap,
  recorded: BindingSyncRecord | undefined,
): Promise<BindingSyncRecord | undefined> {
  const run = await adoptInitialSync(syncSpec(d, sync), c, ctx, map, {
    recorded,
    wait: sync.waitForCompletion ?? true,
  });
  // The counts of a sync adopted are those it was started with, when this binding recorded them.
  return run && syncRecord(sync, run, recorded?.measuredCounts ?? EMPTY_COUNTS);
}

const EMPTY_COUNTS: MeasuredCounts = { financeOperations: {}, dataverse: {} };

/**
 * Makes the map match the declaration; returns the version it runs and the initial sync it
 * started, if any. `syncAgain` (an update with a new initial-sync master or trigger) stops a
 * running map so that its start is the sync.
 */
async function converge(
  d: Desired,
  c: Clients,
  ctx: HandlerContext,
  syncAgain: boolean,
  recorded?: BindingSyncRecord,
): Promise<{ version: string; sync?: BindingSyncRecord }> {
  // Shared: the list this process read after its latest write on the link, or after the latest
  // request it waited for (GatewayClient), else read now.
  let maps = await c.gateway.listMaps(d.cid, { current: [d.mapName] });
  const found = findMap(maps, d.mapName);
  if (!found) {
    const solution = await solutionOfMap(c, d.mapName);
    throw new DualWriteError(
      solution
        ? `Map ${JSON.stringify(d.mapName)} belongs to solution ${solution}, which is not applied on this link. Add "${solution}" to the DualWriteConnection's solutions.`
        : unknownMapReason(
            d.mapName,
            maps.map((m) => m.tName),
            `is on the link of F&O ${d.financeOperationsUrl}`,
          ),
      "MapNotFound",
    );
  }
  const template = targetTemplate(d, found);
  if (!template) {
    throw new DualWriteError(
      `Map ${d.mapName} has no ${wantedVersion(d)}; available: ${describeTemplates(found)}.`,
      "VersionNotFound",
    );
  }

  let prerequisites = await prerequisitesOf(c, d.cid, found, maps);
  if (prerequisites.length > 0) {
    // Their states decide: read again if this process acted on one since the list was read.
    maps = await c.gateway.listMaps(d.cid, {
      current: [d.mapName, ...prerequisites.map((p) => p.tName)],
    });
    prerequisites = prerequisites.map((p) => findMap(maps, p.tName) ?? p);
  }
  if (d.state !== "Stopped") {
    const missing = prerequisites.filter((p) => !RUNNING_LIKE.includes(p.state));
    if (missing.length > 0 && !d.startPrerequisites) {
      throw new DualWriteError(
        `Map ${d.mapName} needs ${missing.length === 1 ? "this map" : "these maps"} Running first: ${missing.map((m) => `${m.tName} (${stateName(m.state)})`).join(", ")}. Declare an EntityMapBinding for each (and list them in dependsOn), or set startPrerequisites: true.`,
        "PrerequisitesNotRunning",
      );
    }
    for (const pre of missing) {
      await withMapLock(d.cid, pre.tName, async () => {
        const current =
          findMap(await c.gateway.listMaps(d.cid, { current: [pre.tName] }), pre.tName) ?? pre;
        const action = nextAction(current.state, "Running");
        if (action !== undefined) {
          ctx.log(`Map ${pre.tName} is a prerequisite of ${d.mapName}`);
          await actOnMap(c, ctx, d.cid, current, action);
        }
      });
    }
  }

  let sync: BindingSyncRecord | undefined;
  await withMapLock(d.cid, d.mapName, async () => {
    let map =
      findMap(await c.gateway.listMaps(d.cid, { current: [d.mapName] }), d.mapName) ?? found;
    const versionDiffers = map.activeTemplate?.id !== template.id;
    const entitySet = entitySetOf(map);
    const link =
      d.integrationKeys !== undefined
        ? await c.gateway.findLink(d.financeOperationsUrl, { fresh: true })
        : undefined;
    const keysDiffer =
      d.integrationKeys !== undefined &&
      !deepEqual(keysOf(link, entitySet), [...d.integrationKeys]);
    if (versionDiffers || keysDiffer) {
      if (map.state === MapState.InitialSync) {
        throw new DualWriteError(
          `Map ${d.mapName} is in initial sync; its version and keys can change only when it ends. Run pulumi up again then.`,
          "MapInitializing",
        );
      }
      // A map must be stopped before its version or keys change (DW/app-lifecycle-management.md;
      // DWMapEngine.cs:1383-1388).
      if (!STOPPED_LIKE.includes(map.state))
        map = await actOnMap(c, ctx, d.cid, map, MapAction.Stop);
      map = await ensureInitialized(c, ctx, d.cid, map);
      if (versionDiffers && map.pid) {
        ctx.log(
          `Switching map ${d.mapName} to version ${template.version}${template.author ? ` (${template.author})` : ""}`,
        );
        await c.gateway.switchActive(d.cid, template.id, map.pid);
      }
      if (keysDiffer && d.integrationKeys) {
        const dataset = link?.set?.dataverse?.name;
        if (!dataset)
          throw new DualWriteError(
            `The connection set of F&O ${d.financeOperationsUrl} names no Dataverse (CRM) environment, so the integration keys of ${entitySet} cannot be set.`,
            "LinkIncomplete",
          );
        ctx.log(`Setting the integration keys of ${entitySet} to ${d.integrationKeys.join(", ")}`);
        await c.gateway.setIntegrationKeys(dataset, entitySet, d.integrationKeys);
      }
      map = await reread(c, d.cid, map);
      await refreshTables(c, map);
    }
    if (d.initialSync) {
      // A start is looked up, not repeated: a sync an interrupted `up` started is adopted.
      sync = await adoptedSync(d, d.initialSync, c, ctx, map, recorded);
      if (sync) map = await reread(c, d.cid, map);
      // A new master or trigger asks for a sync after the recorded one, not the recorded one.
      if (syncAgain && sync && sync.requestId === recorded?.requestId) {
        if (sync.status === "Running")
          throw new DualWriteError(
            `Map ${d.mapName}: the initial sync recorded earlier (request ${sync.requestId}) is still running; the new one can start only when it ends. Run pulumi up again then.`,
            "MapInitializing",
          );
        sync = undefined;
      }
    }
    if (
      syncAgain &&
      !sync &&
      d.initialSync &&
      d.state !== "Stopped" &&
      !STOPPED_LIKE.includes(map.state)
    ) {
      ctx.log(`Map ${d.mapName}: a new initial sync is declared; the map is stopped for it`);
      map = await actOnMap(c, ctx, d.cid, map, MapAction.Stop);
    }
    // A sync not waited for runs on: the map is left in InitialSync until a later `up` collects it.
    for (let step = 0; step < 3 && sync?.status !== "Running"; step++) {
      const action = nextAction(map.state, d.state);
      if (action === undefined) break;
      if (action === MapAction.Start && d.initialSync) {
        // The start of a map configured with initial sync is the sync (DWMapEngine.cs:1212-1230).
        sync = await startWithInitialSync(d, d.initialSync, c, ctx, map);
        map = await reread(c, d.cid, map);
      } else {
        map = await actOnMap(c, ctx, d.cid, map, action);
      }
    }
    if (sync?.status !== "Running" && nextAction(map.state, d.state) !== undefined) {
      const last = map.lastRequests[0];
      throw new DualWriteError(
        `Map ${d.mapName} is ${stateName(map.state)} after the provider asked for ${d.state}${last?.errorMessage ? `: ${last.errorMessage}` : ""}.`,
        "MapStateNotReached",
      );
    }
  });
  return { version: template.version, ...(sync && { sync }) };
}

/** The Dataverse entity set of a map: from the gateway, else from its name. */
export function entitySetOf(map: GatewayMap): string {
  return map.dataverseEntitySet || (map.tName.split(" - ")[0] ?? map.tName);
}

/** The map as found: on the link that joins the declared environments. */
interface Found {
  readonly link: GatewayLink;
  readonly maps: readonly GatewayMap[];
  readonly map: GatewayMap;
}

/**
 * The declared map as the gateway shows it now, or undefined when the link or the map is gone.
 * The reads are shared by every binding of the operation, `fresh` or not (a refresh reads the
 * link and its map list once for all its bindings): a shared read is never older than this
 * process's latest write to it, nor than the latest request it waited for (GatewayClient), and
 * within one operation what others change may show a few seconds late (`SharedReads`). The
 * link and the map list of the declared environment id are read at once.
 */
async function find(d: Desired, c: Clients, _fresh: boolean): Promise<Found | undefined> {
  const current = { current: [d.mapName] };
  const declared = d.cid === UNKNOWN ? undefined : c.gateway.listMaps(d.cid, current);
  // Read by the link's own id below when that differs; a failure here then does not matter.
  declared?.catch(() => undefined);
  const link = await linkBetween(c, d.financeOperationsUrl, d.dataverseUrl);
  if (!link) return undefined;
  const maps =
    declared && sameCid(link.cid, d.cid)
      ? await declared
      : await c.gateway.listMaps(link.cid, current);
  const map = findMap(maps, d.mapName);
  return map ? { link, maps, map } : undefined;
}

function sameCid(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

type Observed = Omit<
  EntityMapBindingOutputs,
  keyof EntityMapBindingInputs | "lastInitialSync" | "ownership"
>;

/** The observed outputs of a found map. */
async function observedOf(c: Clients, found: Found): Promise<Observed> {
  const { link, maps, map } = found;
  const entitySet = entitySetOf(map);
  const prerequisites =
    map.state === MapState.None ? [] : await prerequisitesOf(c, link.cid, map, maps);
  return {
    mapId: map.tid,
    projectId: map.pid ?? "",
    observedState: stateName(map.state),
    activeVersion: map.activeTemplate?.version ?? "",
    activeAuthor: map.activeTemplate?.author ?? "",
    integrationKeysInEffect: keysOf(link, entitySet),
    dataverseEntitySet: entitySet,
    financeOperationsEntity: map.financeOperationsEntity,
    prerequisiteMaps: prerequisites.map((p) => p.tName),
  };
}

/** Whether a map is live (syncing, about to, or paused): creating a binding adopts it then. */
function isLive(map: GatewayMap): boolean {
  return !STOPPED_LIKE.includes(map.state);
}

const ACTION_EFFECT: Readonly<Record<string, string>> = {
  [MapAction.Start]: "starts it",
  [MapAction.Stop]: "stops it",
  [MapAction.Pause]: "pauses it",
  [MapAction.Resume]: "resumes it",
};

/**
 * What converging the found map would change, in the order converging does it. A change that stops
 * or pauses a live map disturbs what runs.
 */
function plan(
  d: Desired,
  found: Found,
  previous: Partial<EntityMapBindingOutputs> | undefined,
): PlannedChange[] {
  const { link, map } = found;
  const live = isLive(map);
  const changes: PlannedChange[] = [];

  const action = nextAction(map.state, d.state);
  if (action !== undefined) {
    const effect =
      action === MapAction.Start && d.initialSync
        ? "starts it with its initial sync"
        : (ACTION_EFFECT[action] ?? "acts on it");
    changes.push({
      property: "state",
      effect: `map ${d.mapName} is ${stateName(map.state)}; declared ${d.state}: ${effect}`,
      disruptive: live && (action === MapAction.Stop || action === MapAction.Pause),
      observed: { state: stateName(map.state) },
    });
  }

  const template = targetTemplate(d, map);
  const active = map.activeTemplate;
  if (!template) {
    changes.push({
      property: versionProperty(d),
      effect: `map ${d.mapName} has no ${wantedVersion(d)} any more (available: ${describeTemplates(map)}): pulumi up fails until the declaration names one`,
      disruptive: false,
    });
  } else if (active?.id !== template.id) {
    const from = active?.version ?? "none";
    const declared = d.version === "latest" ? `latest (${template.version})` : d.version;
    changes.push({
      property: "version",
      effect: `map ${d.mapName} runs version ${from}; declared ${declared}: switch ${from} → ${template.version}${live ? " (stops the map for the switch)" : ""}`,
      disruptive: live,
      observed:
        d.version === "latest"
          ? { resolvedVersion: from }
          : { version: from, ...(d.author !== undefined && { author: active?.author ?? "" }) },
    });
  }

  if (d.integrationKeys !== undefined) {
    const keys = keysOf(link, entitySetOf(map));
    if (!deepEqual(keys, [...d.integrationKeys]))
      changes.push({
        property: "integrationKeys",
        effect: `integration keys are ${keys.join(", ") || "none"}; declared ${d.integrationKeys.join(", ")}: set them${live ? " (stops the map to set them)" : ""}`,
        disruptive: live,
        observed: { integrationKeys: keys },
      });
  }

  if (
    previous !== undefined &&
    syncsAgain(previous.initialSync, d.initialSync) &&
    d.state !== "Stopped" &&
    live
  )
    changes.push({
      property: "initialSync",
      effect: `a new initial sync is declared (master or trigger): stops map ${d.mapName} and starts it with an initial sync`,
      disruptive: true,
    });
  const recorded = previous?.lastInitialSync;
  if (d.initialSync && recorded?.status === "Running")
    changes.push({
      property: "initialSync",
      effect: `the initial sync started earlier (request ${recorded.requestId}) is not collected yet: this up ${d.initialSync.waitForCompletion === false ? "looks at it" : "waits for it"} and records its result`,
      disruptive: false,
    });
  if (
    d.initialSync &&
    recorded?.status === "Failed" &&
    !syncsAgain(previous?.initialSync, d.initialSync)
  )
    changes.push({
      property: "initialSync",
      effect: `the initial sync (request ${recorded.requestId}) failed; change initialSync.trigger to run it again`,
      disruptive: false,
    });
  return changes;
}

/**
 * Stops the map (the binding's clean-up); a map already stopped, or gone, is done. The reads are
 * shared by the deletes of one `destroy` (never older than this process's latest write or wait).
 */
async function release(d: Desired, c: Clients, ctx: HandlerContext): Promise<void> {
  const link = await linkBetween(c, d.financeOperationsUrl, d.dataverseUrl);
  if (!link) return; // the link is gone (or is another Dataverse's), and its maps with it
  const mine = { current: [d.mapName] };
  const map = findMap(await c.gateway.listMaps(link.cid, mine), d.mapName);
  if (!map || STOPPED_LIKE.includes(map.state)) return;
  await withMapLock(link.cid, d.mapName, async () => {
    const current = findMap(await c.gateway.listMaps(link.cid, mine), d.mapName);
    if (current && !STOPPED_LIKE.includes(current.state))
      await actOnMap(c, ctx, link.cid, current, MapAction.Stop);
  });
}

/**
 * `read` for `pulumi import`: the map named by the import id, declared as observed
 * (`importedMapInputs`), with `<cid>/<map name>` as its id, as `create` gives it. Undefined when
 * the F&O environment is not linked or the link has no such map; an error when it is linked to
 * another Dataverse than the id names.
 */
async function readImported(
  importId: string,
  ctx: HandlerContext,
): Promise<ReadOutcome<EntityMapBindingOutputs>> {
  const named = parseMapImportId(importId);
  const fo = named.financeOperationsUrl;
  const gateway = ctx.clients({
    financeOperationsUrl: fo,
    dataverseUrl: named.dataverseUrl ?? "",
  }).gateway;
  const link = await gateway.findLink(fo, { fresh: true });
  if (!link) return undefined;
  const dv = named.dataverseUrl ?? environmentUrl(link.dataverseUrl ?? "");
  if (dv === undefined || relationOf(link, dv) !== "here")
    throw new DualWriteError(
      `${linkedElsewhere(link, fo)}${named.dataverseUrl ? `, not ${named.dataverseUrl}` : ""}: import the map as ${fo}|<that Dataverse URL>|${named.mapName}.`,
      "LinkConflict",
    );
  const map = findMap(await gateway.listMaps(link.cid, { fresh: true }), named.mapName);
  if (!map) return undefined;
  const inputs = importedMapInputs({
    environmentId: link.cid,
    financeOperationsUrl: fo,
    dataverseUrl: dv,
    map,
    integrationKeys: keysOf(link, entitySetOf(map)),
  });
  const d = desired(inputs);
  const c = ctx.clients(inputs);
  const found = await find(d, c, true);
  return found
    ? {
        id: `${link.cid}/${map.tName}`,
        props: { ...inputs, ...(await observedOf(c, found)), ownership: "adopted" },
      }
    : undefined;
}

/** EntityMapBinding, said once (`common/spec.ts` derives the lifecycle). */
export const entityMapBindingSpec: ResourceSpec<
  EntityMapBindingInputs,
  EntityMapBindingOutputs,
  Desired,
  Found,
  true
> = {
  resource: RESOURCE,
  schemas: entityMapBindingSchemas,
  references: {
    connection: {
      target: "DualWriteConnection",
      inputs: ["environmentId", "financeOperationsUrl", "dataverseUrl"],
    },
  },
  // The connection computes these. In a preview in which it is updated they are unknown; the
  // F&O URL already identifies the link, so an unknown value stands for the previous one.
  settled: ["environmentId", "connectionLegalEntities"],
  declared: DECLARED,
  resolved: ["resolvedVersion"],
  identity: ["financeOperationsUrl", "dataverseUrl", "mapName"],
  replaceOnChange: {
    mapName: exactly,
    financeOperationsUrl: sameEnvironment,
    dataverseUrl: sameEnvironment,
  },
  deleteBeforeReplace: false,
  before: "before the map is changed",
  cleanup: "stop",
  desired,
  describe: (d) => `map ${d.mapName} of F&O ${d.financeOperationsUrl}`,
  claimKey: (d) => `map:${d.financeOperationsUrl.toLowerCase()}/${d.mapName}`,

  async verify(d, ctx, failures, how) {
    await verify(d, ctx, failures, how.phase);
    // A declared initial sync that may start now is held to the data-volume rules in the preview
    // already: on a new binding, or when a new master or trigger syncs again.
    if (
      how.phase === "check" &&
      failures.empty &&
      d.initialSync &&
      !how.unknown.has("initialSync") &&
      (how.previous === undefined || syncsAgain(how.previous.initialSync, d.initialSync))
    )
      await preflight(syncSpec(d, d.initialSync), ctx.clients(d), failures, ctx, WORDING);
    return true;
  },

  find: (d, ctx, fresh) => find(d, ctx.clients(d), fresh),

  async absent(d, ctx) {
    const link = await ctx.clients(d).gateway.findLink(d.financeOperationsUrl);
    return relationOf(link, d.dataverseUrl) === "elsewhere" && link
      ? `${linkedElsewhere(link, d.financeOperationsUrl)} now, so map ${d.mapName} is no longer on this binding's link`
      : `map ${d.mapName} is no longer on the link (link reset or solution removed)`;
  },

  isLive: (found) => isLive(found.map),
  plan: (d, found, _ctx, previous) => Promise.resolve(plan(d, found, previous)),

  async converge(d, _pre, ctx, how) {
    const c = ctx.clients(d);
    const previous = how.previous;
    const again = previous !== undefined && syncsAgain(previous.initialSync, d.initialSync);
    const recorded = previous?.lastInitialSync;
    if (recorded?.status === "Failed" && !again && d.initialSync)
      throw new DualWriteError(
        `The initial sync of ${d.mapName} (request ${recorded.requestId}) failed${recorded.results.length > 0 ? `: ${describeResults(recorded.results)}` : ""}. It is not run again by itself: fix the errors, then change initialSync.trigger to run it again.`,
        "InitialSyncFailed",
      );
    const { version, sync } = await converge(d, c, ctx, again, recorded);
    const found = await find(d, c, true);
    if (!found)
      throw new DualWriteError(
        `Map ${d.mapName} is not visible on the link after it was changed.`,
        "MapGone",
      );
    // The last sync is history: kept until another one replaces it.
    const last = sync ?? recorded;
    return {
      // The map name, not the tid: the tid is the active version's id and changes with it.
      id: `${d.cid}/${d.mapName}`,
      outs: {
        ...(await observedOf(c, found)),
        resolvedVersion: version,
        ...(last && { lastInitialSync: last }),
      },
    };
  },

  async observe(d, found, ctx, props) {
    const c = ctx.clients(d);
    const observed = await observedOf(c, found);
    // A sync not waited for is looked at once, and recorded as it stands.
    const last = props.lastInitialSync;
    if (last?.status !== "Running" || !props.initialSync) return observed;
    const seen = await peekRecordedSync(
      syncSpec(d, props.initialSync),
      c,
      last.requestId,
      observed.projectId,
    );
    if (seen.error) ctx.log(`EntityMapBinding ${d.mapName}: ${seen.error}`);
    const lastInitialSync: BindingSyncRecord =
      seen.status === "Running"
        ? last
        : {
            ...last,
            status: seen.status,
            results: seen.results,
            finishedAt: new Date().toISOString(),
          };
    return { ...observed, lastInitialSync };
  },
  release: (d, _props, ctx) => release(d, ctx.clients(d), ctx),
  readImported,

  async resolve(d, ctx, unknown) {
    if (d.version !== "latest") return { resolvedVersion: d.version };
    if (unknown.has("author")) return {};
    const c = ctx.clients(d);
    const found = await find(d, c, false);
    const version = found
      ? selectTemplate(found.map, "latest", d.author)?.version
      : selectPublished(await mapDefinition(c, d.dataverseUrl, d.mapName), "latest", d.author)
          ?.version;
    return version !== undefined ? { resolvedVersion: version } : {};
  },
};

/** EntityMapBinding's lifecycle. */
export const entityMapBindingLifecycle: Lifecycle<EntityMapBindingInputs, EntityMapBindingOutputs> =
  lifecycleOf(entityMapBindingSpec);
