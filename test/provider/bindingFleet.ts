/**
 * A fleet of EntityMapBindings of one link, driven through the lifecycles as one engine operation
 * drives them (one set of clients, as one provider process has; steps run concurrently up to the
 * engine's `--parallel`, a binding after the bindings of its prerequisite maps), with the
 * emulator's request log counting what each operation sent. Used by the request-budget test and
 * to measure request counts (`FLEET_REPORT=1`).
 */
import { createClients, type ClientOptions } from "../../provider/clients/index";
import { DEFAULT_OPTIONS, type HandlerContext } from "../../provider/resources/common/handler";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type { DualWriteConnectionOutputs } from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type {
  EntityMapBindingInputs,
  EntityMapBindingOutputs,
} from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import type { RequestLogEntry } from "../../emulator/index";
import { CATALOG_SOLUTIONS } from "../../facts/mapCatalog";
import type { ResourceHarness } from "./harness";

/** Requests per surface of one operation. */
export interface SurfaceCounts {
  readonly identity: number;
  readonly gateway: number;
  readonly dataverse: number;
  readonly fno: number;
  /** Gateway requests by route (`GET Entities`, `POST Start`, …). */
  readonly gatewayRoutes: Readonly<Record<string, number>>;
}

/** An operation's context: one provider process's clients. */
export interface Operation {
  readonly ctx: HandlerContext;
  close(): void;
}

/** A new "provider process": private clients, closed by `close`. */
export function operation(h: ResourceHarness, options: ClientOptions = {}): Operation {
  const opened: ReturnType<typeof createClients>[] = [];
  const byKey = new Map<string, ReturnType<typeof createClients>>();
  const ctx: HandlerContext = {
    clients(envs) {
      const key = `${envs.financeOperationsUrl}|${envs.dataverseUrl}`;
      let c = byKey.get(key);
      if (!c) {
        c = createClients(h.config, envs, { private: true, ...options });
        byKey.set(key, c);
        opened.push(c);
      }
      return c;
    },
    log: (line) => h.logs.push(line),
    options: { ...DEFAULT_OPTIONS, mapActionTimeoutMs: 120_000 },
  };
  return { ctx, close: () => opened.forEach((c) => c.http.close()) };
}

/** The route of a gateway request, ids left out: `GET Entities`, `POST Start`, `GET Status`. */
export function routeOf(e: RequestLogEntry): string {
  const path = e.path
    .replace(/^\/api\/DualWriteManagement\/1\.0\//, "")
    .replace(/^\/api\//, "")
    .split("/")[0];
  return `${e.method} ${path}`;
}

/** Counts requests per surface (and gateway requests per route). */
export function countRequests(entries: readonly RequestLogEntry[]): SurfaceCounts {
  const routes: Record<string, number> = {};
  const by = (s: string) => entries.filter((e) => e.surface === s).length;
  for (const e of entries.filter((x) => x.surface === "gateway"))
    routes[routeOf(e)] = (routes[routeOf(e)] ?? 0) + 1;
  return {
    identity: by("identity"),
    gateway: by("gateway"),
    dataverse: by("dataverse"),
    fno: by("fno"),
    gatewayRoutes: routes,
  };
}

/** Runs `work` over `items` at most `parallel` at a time. */
export async function pool<T>(
  items: readonly T[],
  parallel: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(parallel, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}

/** A link and the maps a fleet binds, in an order where prerequisites come first. */
export interface Fleet {
  readonly link: DualWriteConnectionOutputs;
  /** Map names, prerequisites before the maps that need them. */
  readonly maps: readonly string[];
  /** Each map's prerequisite maps (among `maps`). */
  readonly prerequisites: ReadonlyMap<string, readonly string[]>;
  inputs(mapName: string): EntityMapBindingInputs;
}

/**
 * Links environment pair `env` (existing-existing) and picks `count` maps of the link that are
 * closed under their prerequisites. Set-up requests are not counted by callers (take a mark after).
 */
export async function makeFleet(h: ResourceHarness, env: string, count: number): Promise<Fleet> {
  const setup = operation(h);
  try {
    const link = (
      await connection.create(
        {
          scenario: "existing-existing",
          financeOperationsUrl: h.env(env).financeOperationsUrl,
          dataverseUrl: h.env(env).dataverseUrl,
          legalEntities: ["USMF", "DEMF"],
          solutions: [...CATALOG_SOLUTIONS],
        },
        setup.ctx,
      )
    ).outs;
    const gateway = setup.ctx.clients(link).gateway;
    const all = await gateway.listMaps(link.environmentId);
    const byTid = new Map(all.map((m) => [m.tid, m.tName]));
    const prerequisites = new Map<string, string[]>();
    const chosen: string[] = [];
    const add = async (name: string): Promise<void> => {
      if (chosen.includes(name) || chosen.length >= count) return;
      const map = all.find((m) => m.tName === name);
      if (!map) return;
      const pre = (await gateway.prerequisiteSequence(link.environmentId, map.tid)).flatMap(
        (tid) => byTid.get(tid) ?? [],
      );
      for (const p of pre) await add(p);
      if (chosen.length >= count) return;
      prerequisites.set(name, pre);
      chosen.push(name);
    };
    for (const m of all) await add(m.tName);
    return {
      link,
      maps: chosen,
      prerequisites,
      inputs: (mapName) => ({
        environmentId: link.environmentId,
        financeOperationsUrl: link.financeOperationsUrl,
        dataverseUrl: link.dataverseUrl,
        mapName,
      }),
    };
  } finally {
    setup.close();
  }
}

/**
 * `pulumi up` from scratch of the fleet's bindings: each create after its prerequisites' creates,
 * `parallel` at a time. Returns the outputs by map name.
 */
export async function createFleet(
  fleet: Fleet,
  ctx: HandlerContext,
  parallel: number,
  maps: readonly string[] = fleet.maps,
): Promise<Map<string, EntityMapBindingOutputs>> {
  const done = new Map<string, Promise<EntityMapBindingOutputs>>();
  const outs = new Map<string, EntityMapBindingOutputs>();
  const ready = new Map<string, () => void>();
  const started = new Map(maps.map((m) => [m, new Promise<void>((r) => ready.set(m, r))]));
  // The engine registers every resource at once and starts a step when its dependencies are done.
  for (const m of maps) {
    done.set(
      m,
      (async () => {
        await started.get(m);
        // The engine checks the inputs first (in the preview of `up`, then again before create).
        const failures = await binding.check({}, fleet.inputs(m), ctx);
        if (failures.length > 0) throw new Error(`check of ${m}: ${JSON.stringify(failures)}`);
        const { outs: o } = await binding.create(fleet.inputs(m), ctx);
        outs.set(m, o);
        return o;
      })(),
    );
  }
  const waiting = [...maps];
  let running = 0;
  await new Promise<void>((resolve, reject) => {
    const tick = (): void => {
      if (waiting.length === 0 && running === 0) return resolve();
      for (let i = 0; i < waiting.length && running < parallel;) {
        const m = waiting[i] as string;
        const pre = (fleet.prerequisites.get(m) ?? []).filter((p) => maps.includes(p));
        if (pre.every((p) => outs.has(p))) {
          waiting.splice(i, 1);
          running++;
          ready.get(m)?.();
          (done.get(m) as Promise<EntityMapBindingOutputs>).then(() => {
            running--;
            tick();
          }, reject);
        } else i++;
      }
    };
    tick();
  });
  return outs;
}

/** A steady preview of the fleet: check (unchanged: no reads) and diff of every binding. */
export async function previewFleet(
  fleet: Fleet,
  made: ReadonlyMap<string, EntityMapBindingOutputs>,
  ctx: HandlerContext,
  parallel: number,
  maps: readonly string[] = fleet.maps,
): Promise<boolean> {
  let changes = false;
  await pool(maps, parallel, async (m) => {
    const olds = made.get(m) as EntityMapBindingOutputs;
    await binding.check(olds, fleet.inputs(m), ctx);
    const d = await binding.diff(`${fleet.link.environmentId}/${m}`, olds, fleet.inputs(m), ctx);
    if (d.changes) changes = true;
  });
  return changes;
}

/** A refresh of the fleet: read of every binding; returns the observed states. */
export async function refreshFleet(
  fleet: Fleet,
  made: ReadonlyMap<string, EntityMapBindingOutputs>,
  ctx: HandlerContext,
  parallel: number,
  maps: readonly string[] = fleet.maps,
): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  await pool(maps, parallel, async (m) => {
    const olds = made.get(m) as EntityMapBindingOutputs;
    const r = await binding.read(`${fleet.link.environmentId}/${m}`, olds, ctx);
    states.set(m, r?.props.observedState ?? "gone");
  });
  return states;
}
