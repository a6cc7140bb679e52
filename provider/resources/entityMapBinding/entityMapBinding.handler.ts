/**
 * EntityMapBinding's lifecycle: one table map of a link — which version, which integration keys,
 * which state. Starting always skips initial sync (InitialSyncRun's job).
 *
 * | step   | HTTP calls                                                                                  |
 * |--------|----------------------------------------------------------------------------------------------|
 * | check  | (new or changed only) GET DWM/Environments; GET DWM/Entities?cid=…; GET DWM/SolutionAware/<cid>/Solutions/ |
 * | diff   | GET DWM/Entities?cid=… (shared); GET /api/dataset/<org>/IntegrationKeys when keys are declared |
 * | create | GET DWM/Entities; POST DWM/GetTemplatePrerequisiteSequences/<cid>; (startPrerequisites) POST DWM/Start + GET DWM/Status/<id> per prerequisite; if version/keys differ: POST DWM/Start (stop), POST …/SwitchActive/<templateId>?pid=…, POST /api/dataset/<org>/IntegrationKeys; POST DWM/Start (start/pause/resume/stop) + GET DWM/Status/<id> |
 * | read   | GET DWM/Environments; GET DWM/Entities; GET /api/dataset/<org>/IntegrationKeys               |
 * | update | as create                                                                                    |
 * | delete | GET DWM/Environments; GET DWM/Entities; POST DWM/Start (stop) + GET DWM/Status/<id>           |
 *
 * Never deleted: business rows; the map itself stays in the link (stopped).
 */
import { DualWriteError } from "../../errors";
import { MapAction, MapState, type GatewayMap } from "../../clients/gateway";
import { closestMapNames, findCatalogMap } from "../../scenario/catalog";
import {
  containsUnknown,
  normalizeUrl,
  settleDerived,
  UNKNOWN,
  type CheckFailure,
} from "../common/check";
import { deepEqual, diffDeclared } from "../common/diff";
import {
  collectPropertyFailures,
  FailureList,
  InvalidInputError,
  throwUnlessValid,
} from "../common/failures";
import type {
  Clients,
  DiffOutcome,
  HandlerContext,
  Lifecycle,
  ReadOutcome,
} from "../common/handler";
import {
  actOnMap,
  dataverseDatasetName,
  describeTemplates,
  nextAction,
  RUNNING_LIKE,
  selectTemplate,
  stateName,
  STOPPED_LIKE,
  withMapLock,
} from "../common/maps";
import { sameUrl } from "../dualWriteConnection/dualWriteConnection.schema";
import {
  entityMapBindingSchemas,
  type DesiredState,
  type EntityMapBindingInputs,
  type EntityMapBindingOutputs,
} from "./entityMapBinding.schema";

const RESOURCE = "EntityMapBinding";

/** Inputs whose change makes this a different map binding. */
const REPLACE_ON_CHANGE = ["mapName", "financeOperationsUrl", "dataverseUrl"] as const;
/**
 * Inputs the connection computes. They are unknown in a preview in which the connection is
 * updated (the engine knows only its inputs then); the F&O URL already identifies the link, so
 * an unknown value here stands for the previous one rather than forcing a replacement.
 */
const DERIVED = ["environmentId"] as const;
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
] as const satisfies readonly (keyof EntityMapBindingInputs)[];

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
  };
}

function validInputs(inputs: EntityMapBindingInputs): Desired {
  const { list, unknown } = collectPropertyFailures(
    RESOURCE,
    entityMapBindingSchemas,
    inputs as unknown as Record<string, unknown>,
  );
  throwUnlessValid(RESOURCE, list, unknown, "before the map is changed");
  return desired(inputs);
}

/** Finds the declared map among the link's maps. */
function findMap(maps: readonly GatewayMap[], name: string): GatewayMap | undefined {
  return maps.find((m) => m.tName === name);
}

/** Why a map name is not found, with the likeliest fixes. */
function unknownMapReason(name: string, known: readonly string[], where: string): string {
  const hints = closestMapNames(name, known.length > 0 ? known : undefined);
  return `No map named ${JSON.stringify(name)} ${where}. Map names are "<Dataverse table> - <F&O entity>" as the dual-write workspace shows them${hints.length > 0 ? `; did you mean ${hints.map((h) => JSON.stringify(h)).join(" or ")}?` : "."}`;
}

/** Checks against the environments (reads only). */
async function observedCheck(
  d: Desired,
  cidKnown: boolean,
  c: Clients,
  failures: FailureList,
): Promise<void> {
  const env = await c.gateway.findEnvironment(d.financeOperationsUrl);
  if (!env) {
    failures.add(
      "financeOperationsUrl",
      `The dual-write gateway knows no F&O environment at ${d.financeOperationsUrl}; check the connection's URL.`,
    );
    return;
  }
  const cid = cidKnown ? d.cid : env.cid;
  const maps = env.linked ? await c.gateway.listMaps(cid) : [];
  const map = findMap(maps, d.mapName);
  if (!map) {
    // The gateway lists solutions (and the maps they bring) only for a linked environment.
    const solutions = env.linked ? await c.gateway.listSolutions(cid) : [];
    const inSolution = solutions.find((s) => s.maps.includes(d.mapName));
    if (inSolution && !inSolution.installed) {
      failures.add(
        "mapName",
        `Map ${JSON.stringify(d.mapName)} belongs to solution ${inSolution.uniqueName}, which is not installed in Dataverse ${d.dataverseUrl}. Install that orchestration package, then add it to the connection's solutions.`,
      );
    } else if (!inSolution && !findCatalogMap(d.mapName)) {
      const known = [...maps.map((m) => m.tName), ...solutions.flatMap((s) => s.maps)];
      failures.add(
        "mapName",
        unknownMapReason(
          d.mapName,
          known,
          `exists in F&O ${d.financeOperationsUrl} or in the dual-write catalog`,
        ),
      );
    }
    return;
  }
  if (!selectTemplate(map, d.version, d.author)) {
    const property = d.version === "latest" ? "author" : "version";
    failures.add(
      property,
      `Map ${d.mapName} has no version ${d.version === "latest" ? "" : `${d.version} `}${d.author ? `by ${d.author}` : ""}; available: ${describeTemplates(map)}. Declare one of those, or "latest".`,
    );
  }
}

/** The maps `map` needs Running first, in start order, as the gateway reports them. */
async function prerequisitesOf(
  c: Clients,
  cid: string,
  map: GatewayMap,
  maps: readonly GatewayMap[],
): Promise<GatewayMap[]> {
  const [sequence = []] = await c.gateway.prerequisiteSequences(cid, [map.tid]);
  return sequence.flatMap((tid) => maps.filter((m) => m.tid === tid && m.tid !== map.tid));
}

/** Makes the map match the declaration; returns the observed outputs. */
async function converge(d: Desired, c: Clients, ctx: HandlerContext): Promise<Observed> {
  const maps = await c.gateway.listMaps(d.cid, { fresh: true });
  const found = findMap(maps, d.mapName);
  if (!found) {
    const solutions = await c.gateway.listSolutions(d.cid, { fresh: true });
    const inSolution = solutions.find((s) => s.maps.includes(d.mapName));
    throw new DualWriteError(
      inSolution
        ? `Map ${JSON.stringify(d.mapName)} belongs to solution ${inSolution.uniqueName}, which is not applied on this link. Add "${inSolution.uniqueName}" to the DualWriteConnection's solutions.`
        : unknownMapReason(
            d.mapName,
            maps.map((m) => m.tName),
            `is on the link of F&O ${d.financeOperationsUrl}`,
          ),
      "MapNotFound",
    );
  }
  const template = selectTemplate(found, d.version, d.author);
  if (!template) {
    throw new DualWriteError(
      `Map ${d.mapName} has no version ${d.version}${d.author ? ` by ${d.author}` : ""}; available: ${describeTemplates(found)}.`,
      "VersionNotFound",
    );
  }

  const prerequisites = await prerequisitesOf(c, d.cid, found, maps);
  if (d.state !== "Stopped") {
    const missing = prerequisites.filter((p) => !RUNNING_LIKE.includes(p.state));
    if (missing.length > 0 && !d.startPrerequisites) {
      throw new DualWriteError(
        `Map ${d.mapName} needs ${missing.length === 1 ? "this map" : "these maps"} Running first: ${missing.map((m) => `${m.tName} (${stateName(m.state)})`).join(", ")}. Declare an EntityMapBinding for each (and list them in dependsOn), or set startPrerequisites: true.`,
        "PrerequisitesNotRunning",
      );
    }
    for (const pre of missing) {
      await withMapLock(d.cid, pre.tid, async () => {
        const current =
          (await c.gateway.listMaps(d.cid, { fresh: true })).find((m) => m.tid === pre.tid) ?? pre;
        const action = nextAction(current.state, "Running");
        if (action !== undefined) {
          ctx.log(`Map ${pre.tName} is a prerequisite of ${d.mapName}`);
          await actOnMap(c, ctx, d.cid, current, action);
        }
      });
    }
  }

  const dataset = dataverseDatasetName(d.dataverseUrl);
  await withMapLock(d.cid, found.tid, async () => {
    let map = findMap(await c.gateway.listMaps(d.cid, { fresh: true }), d.mapName) ?? found;
    const versionDiffers = map.activeTemplate?.id !== template.id;
    const entitySet = entitySetOf(map);
    const keysDiffer =
      d.integrationKeys !== undefined &&
      !deepEqual(
        [...((await c.gateway.getIntegrationKeys(dataset))[entitySet] ?? [])],
        [...d.integrationKeys],
      );
    if (versionDiffers || keysDiffer) {
      if (map.state === MapState.InitialSync) {
        throw new DualWriteError(
          `Map ${d.mapName} is in initial sync; its version and keys can change only when it ends. Run pulumi up again then.`,
          "MapInitializing",
        );
      }
      // A map must be stopped before its version or keys change (DW/app-lifecycle-management.md).
      if (!STOPPED_LIKE.includes(map.state))
        map = await actOnMap(c, ctx, d.cid, map, MapAction.Stop);
      if (versionDiffers) {
        ctx.log(
          `Switching map ${d.mapName} to version ${template.version}${template.author ? ` (${template.author})` : ""}`,
        );
        await c.gateway.switchActive(d.cid, template.id, map.pid);
      }
      if (keysDiffer && d.integrationKeys) {
        ctx.log(`Setting the integration keys of ${entitySet} to ${d.integrationKeys.join(", ")}`);
        await c.gateway.setIntegrationKeys(dataset, entitySet, d.integrationKeys);
      }
      map = findMap(await c.gateway.listMaps(d.cid, { fresh: true }), d.mapName) ?? map;
    }
    for (let step = 0; step < 3; step++) {
      const action = nextAction(map.state, d.state);
      if (action === undefined) break;
      map = await actOnMap(c, ctx, d.cid, map, action);
    }
    if (nextAction(map.state, d.state) !== undefined) {
      const last = map.lastRequests[0];
      throw new DualWriteError(
        `Map ${d.mapName} is ${stateName(map.state)} after the provider asked for ${d.state}${last?.errorMessage ? `: ${last.errorMessage}` : ""}.`,
        "MapStateNotReached",
      );
    }
  });
  const observed = await observe(d, c, true);
  if (!observed)
    throw new DualWriteError(
      `Map ${d.mapName} is not visible on the link after it was changed.`,
      "MapGone",
    );
  return observed;
}

type Observed = Omit<EntityMapBindingOutputs, keyof EntityMapBindingInputs>;

/** The Dataverse entity set of a map: from the gateway, else from its name. */
function entitySetOf(map: GatewayMap): string {
  return map.dataverseEntitySet || (map.tName.split(" - ")[0] ?? map.tName);
}

/** The map as observed, or undefined when the link or the map is gone. */
async function observe(d: Desired, c: Clients, fresh: boolean): Promise<Observed | undefined> {
  const env = await c.gateway.findEnvironment(d.financeOperationsUrl, { fresh });
  if (
    !env?.linked ||
    (env.linkedDataverseUrl !== undefined && !sameUrl(env.linkedDataverseUrl, d.dataverseUrl))
  )
    return undefined;
  const maps = await c.gateway.listMaps(env.cid, { fresh });
  const map = findMap(maps, d.mapName);
  if (!map) return undefined;
  const entitySet = entitySetOf(map);
  const keys =
    d.integrationKeys !== undefined
      ? ((await c.gateway.getIntegrationKeys(dataverseDatasetName(d.dataverseUrl)))[entitySet] ??
        [])
      : [...map.integrationKeys];
  const prerequisites =
    map.state === MapState.None ? [] : await prerequisitesOf(c, env.cid, map, maps);
  return {
    mapId: map.tid,
    projectId: map.pid,
    observedState: stateName(map.state),
    activeVersion: map.activeTemplate?.version ?? "",
    activeAuthor: map.activeTemplate?.author ?? "",
    integrationKeysInEffect: [...keys],
    dataverseEntitySet: entitySet,
    financeOperationsEntity: map.financeOperationsEntity,
    prerequisiteMaps: prerequisites.map((p) => p.tName),
  };
}

/** Whether an observed state satisfies a declared one. */
function stateMatches(observed: number, wanted: DesiredState): boolean {
  return nextAction(observed, wanted) === undefined;
}

/** EntityMapBinding's lifecycle. */
export const entityMapBindingLifecycle: Lifecycle<EntityMapBindingInputs, EntityMapBindingOutputs> =
  {
    resource: RESOURCE,

    async check(oldInputs, newInputs, ctx): Promise<CheckFailure[]> {
      const olds = oldInputs as Readonly<Record<string, unknown>>;
      const news = newInputs as Readonly<Record<string, unknown>>;
      const { list, unknown } = collectPropertyFailures(RESOURCE, entityMapBindingSchemas, news);
      if (!list.empty) return list.toArray();
      const inputs = news as unknown as EntityMapBindingInputs;
      const previous = olds as Partial<EntityMapBindingInputs>;
      const isNew = previous.mapName === undefined;
      if (!isNew && DECLARED.every((k) => deepEqual(previous[k], inputs[k]))) return [];
      // The environment id is unknown while the connection is being created; the URLs and the
      // map name are enough to look the map up.
      if (
        unknown.has("financeOperationsUrl") ||
        unknown.has("dataverseUrl") ||
        unknown.has("mapName")
      )
        return [];
      const d = desired(inputs);
      await observedCheck(d, !unknown.has("environmentId"), ctx.clients(d), list);
      return list.toArray();
    },

    async diff(_id, olds, declared, ctx): Promise<DiffOutcome> {
      const news = settleDerived(olds, declared, DERIVED);
      const replaces = REPLACE_ON_CHANGE.filter((k) => {
        if (news[k] === UNKNOWN) return true;
        return k.endsWith("Url") ? !sameUrl(String(olds[k]), String(news[k])) : olds[k] !== news[k];
      });
      if (replaces.length > 0) {
        return {
          changes: true,
          replaces: [...replaces],
          reasons: replaces.map((k) => `${k} changes: the map binding is replaced`),
        };
      }
      const reasons = diffDeclared<EntityMapBindingInputs>(olds, news, DECLARED, []).changed.map(
        (k) => `${k} changes`,
      );
      if (containsUnknown(news))
        return {
          changes: true,
          replaces: [],
          reasons: [...reasons, "some inputs are not known yet"],
        };

      const d = desired(news);
      const c = ctx.clients(d);
      const maps = await c.gateway.listMaps(d.cid);
      const map = findMap(maps, d.mapName);
      if (!map) {
        reasons.push(`map ${d.mapName} is no longer on the link (link reset or solution removed)`);
      } else {
        if (!stateMatches(map.state, d.state))
          reasons.push(`map ${d.mapName} is ${stateName(map.state)}; declared ${d.state}`);
        const template = selectTemplate(map, d.version, d.author);
        if (template && map.activeTemplate?.id !== template.id) {
          reasons.push(
            `map ${d.mapName} runs version ${map.activeTemplate?.version ?? "none"}; declared ${d.version === "latest" ? `latest (${template.version})` : d.version}`,
          );
        }
        if (d.integrationKeys !== undefined) {
          const keys =
            (await c.gateway.getIntegrationKeys(dataverseDatasetName(d.dataverseUrl)))[
              entitySetOf(map)
            ] ?? [];
          if (!deepEqual([...keys], [...d.integrationKeys]))
            reasons.push(
              `integration keys are ${keys.join(", ") || "none"}; declared ${d.integrationKeys.join(", ")}`,
            );
        }
      }
      return { changes: reasons.length > 0, replaces: [], reasons };
    },

    async create(inputs, ctx) {
      const d = validInputs(inputs);
      const c = ctx.clients(d);
      const failures = new FailureList();
      await observedCheck(d, true, c, failures);
      if (!failures.empty) throw new InvalidInputError(RESOURCE, failures.toArray());
      const observed = await converge(d, c, ctx);
      return { id: `${d.cid}/${observed.mapId}`, outs: { ...inputs, ...observed } };
    },

    async read(id, props, ctx): Promise<ReadOutcome<EntityMapBindingOutputs>> {
      const d = desired(props);
      const observed = await observe(d, ctx.clients(d), true);
      return observed ? { id, props: { ...props, ...observed } } : undefined;
    },

    async update(_id, _olds, news, ctx) {
      const d = validInputs(news);
      const observed = await converge(d, ctx.clients(d), ctx);
      return { ...news, ...observed };
    },

    async delete(_id, props, ctx) {
      const d = desired(props);
      const c = ctx.clients(d);
      const env = await c.gateway.findEnvironment(d.financeOperationsUrl, { fresh: true });
      if (!env?.linked) return; // the link is gone, and its maps with it
      const map = findMap(await c.gateway.listMaps(env.cid, { fresh: true }), d.mapName);
      if (!map || STOPPED_LIKE.includes(map.state)) return;
      await withMapLock(env.cid, map.tid, async () => {
        const current = findMap(await c.gateway.listMaps(env.cid, { fresh: true }), d.mapName);
        if (current && !STOPPED_LIKE.includes(current.state))
          await actOnMap(c, ctx, env.cid, current, MapAction.Stop);
      });
    },
  };
