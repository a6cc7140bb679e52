/**
 * The one adapter between a resource {@link Lifecycle} and Pulumi's dynamic-provider protocol.
 *
 * Two halves, because a dynamic provider lives in two processes:
 * - {@link dynamicProvider} runs in the program. It returns the object Pulumi closure-serializes
 *   into every resource's state (`__provider`). That object captures four strings and nothing
 *   else — the resource kind, and where the provider runtime is: the file the program itself
 *   loaded, the same file's place inside `node_modules`, and the package's module name — and each
 *   method `require`s the runtime *inside the provider process* and delegates to it. No client,
 *   token, configuration or module is captured, so the serialized text holds no secret
 *   (docs/adr/0004-dynamic-provider-runtime.md).
 * - {@link toResourceProvider} runs in the provider process (`provider/dynamic/runtime.ts`): it
 *   strips the engine's `__provider` key, calls the lifecycle, merges inputs into outputs (the
 *   protocol stores only what `create`/`update` return) and prints the reasons of a diff.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { HandlerContext, Lifecycle } from "../resources/common/handler";
import {
  checkTimeouts,
  deadlineOf,
  optionsUnderDeadline,
  underDeclaredTimeout,
  splitTimeouts,
  TIMEOUTS_PROPERTY,
  type ResourceTimeouts,
  type TimedOperation,
} from "../resources/common/timeouts";

/** The four custom resources, by their public type names. */
export type ResourceKind =
  "DualWriteConnection" | "CompanyBootstrap" | "EntityMapBinding" | "InitialSyncRun";

/**
 * The runtime's public module name (package.json `exports`): the last place the serialized
 * provider looks, from the provider process's working directory (the program's folder).
 */
export const RUNTIME_MODULE = "pulumi-dualwrite/dynamic-runtime";

/**
 * The absolute path of the provider runtime of this copy of the package (beside this file),
 * resolved where the program runs, symlinks resolved (Node loads modules by their real path).
 * The serialized provider loads this very file when it exists, so the provider process runs the
 * copy the program used — a direct or a transitive dependency, hoisted or not, npm or pnpm —
 * without resolving a name from its working directory.
 */
export function runtimePath(): string {
  return require.resolve("./runtime");
}

/**
 * The part of `file` after its first `node_modules` folder, with `/` separators, or `""` when
 * `file` is not inside one (a linked checkout). The same install elsewhere — the project moved,
 * or the state used on another machine with the same lockfile — has the runtime at that place
 * below a `node_modules` folder at or above the program's folder.
 * @example pathWithinNodeModules("/p/node_modules/.pnpm/a@1/node_modules/a/x.js") // ".pnpm/a@1/node_modules/a/x.js"
 */
export function pathWithinNodeModules(file: string): string {
  const parts = file.split(/[\\/]/);
  const at = parts.indexOf("node_modules");
  return at < 0 ? "" : parts.slice(at + 1).join("/");
}

/** The runtime's surface, as the serialized provider calls it. */
export interface ProviderRuntime {
  /** Stores the stack-config reader; credentials stay in the provider process. */
  configure(get: (key: string) => string | undefined): void;
  /** The provider-process implementation of one resource kind. */
  provider(kind: ResourceKind): pulumi.dynamic.ResourceProvider;
}

// One provider object per resource type: the SDK caches serializations per object (a WeakMap),
// so a singleton is serialized once per program, not once per resource.
const providers = new Map<ResourceKind, pulumi.dynamic.ResourceProvider>();

/** The serializable provider of one resource kind (a singleton). */
export function dynamicProvider(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  let provider = providers.get(kind);
  if (!provider) {
    const file = runtimePath();
    provider = delegatingProvider(kind, file, pathWithinNodeModules(file), RUNTIME_MODULE);
    providers.set(kind, provider);
  }
  return provider;
}

/**
 * A provider whose methods each load the runtime and delegate. Everything a method refers to is
 * a parameter of this function (four strings), the local `runtime` (itself only parameters and
 * globals) or a global (`require`, `process`), which is what keeps the closure serializer from
 * pulling in anything else.
 *
 * The runtime is loaded from the first of: `runtimeFile`, when it exists; `withinNodeModules`
 * below the nearest `node_modules` folder at or above the working directory that has it; the
 * module `runtimeModule` resolved from the working directory or from pnpm's hoisting folders
 * above it. When none works, the error names the places and says what to do.
 */
export function delegatingProvider(
  kind: ResourceKind,
  runtimeFile: string,
  withinNodeModules: string,
  runtimeModule: string,
): pulumi.dynamic.ResourceProvider {
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded in the provider process, never captured */
  const runtime = (): ProviderRuntime => {
    const fs = require("node:fs") as typeof import("node:fs");
    const path = require("node:path") as typeof import("node:path");
    // Existence first: a MODULE_NOT_FOUND from inside an existing runtime (a missing dependency)
    // must surface as itself, not turn into a search elsewhere.
    if (fs.existsSync(runtimeFile)) return require(runtimeFile) as ProviderRuntime;
    const folders: string[] = [];
    for (let dir = process.cwd(); !folders.includes(dir); dir = path.dirname(dir)) {
      folders.push(dir);
    }
    for (const folder of withinNodeModules === "" ? [] : folders) {
      const candidate = path.join(folder, "node_modules", withinNodeModules);
      if (fs.existsSync(candidate)) return require(candidate) as ProviderRuntime;
    }
    try {
      // pnpm links every package of its store into node_modules/.pnpm/node_modules (its private
      // hoisting), where a transitive dependency is found whatever its version.
      const paths = [process.cwd(), ...folders.map((f) => path.join(f, "node_modules", ".pnpm"))];
      return require(require.resolve(runtimeModule, { paths })) as ProviderRuntime;
    } catch (error) {
      const below =
        withinNodeModules === ""
          ? ""
          : `, not at node_modules/${withinNodeModules} in or above ${process.cwd()}`;
      throw new Error(
        `pulumi-dualwrite: the provider runtime is not at ${runtimeFile} (where the program that ` +
          `wrote this state loaded it)${below}, and ${runtimeModule} does not resolve from ` +
          `${process.cwd()}. Install pulumi-dualwrite in the program's project (npm install ` +
          `pulumi-dualwrite) and run the command from its folder.`,
        { cause: error },
      );
    }
  };
  return {
    configure(req) {
      // Through a promise, so that a runtime that cannot be loaded rejects rather than throws.
      return Promise.resolve().then(() => runtime().configure((key) => req.config.get(key)));
    },
    async check(olds, news) {
      return runtime().provider(kind).check!(olds, news);
    },
    async diff(id, olds, news) {
      return runtime().provider(kind).diff!(id, olds, news);
    },
    async create(inputs) {
      return runtime().provider(kind).create(inputs);
    },
    async read(id, props) {
      return runtime().provider(kind).read!(id, props);
    },
    async update(id, olds, news) {
      return runtime().provider(kind).update!(id, olds, news);
    },
    async delete(id, props) {
      return runtime().provider(kind).delete!(id, props);
    },
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

type Props = Record<string, unknown>;

/** The engine's key for the serialized provider; never a resource property. */
const PROVIDER_KEY = "__provider";

/** Drops the engine's `__provider` key. */
export function withoutProviderKey(props: Props | undefined): Props {
  return Object.fromEntries(Object.entries(props ?? {}).filter(([key]) => key !== PROVIDER_KEY));
}

/**
 * Adapts a lifecycle to the dynamic-provider interface (provider-process side). `context`
 * is called per operation, so a configuration change between calls is seen.
 *
 * The `timeouts` input (`resources/common/timeouts.ts`) is the adapter's: it is checked here, kept
 * out of the lifecycle's inputs, stored with the outputs (so that a delete finds it in the state),
 * and turned into the deadline of each create, update and delete — the engine's `customTimeouts`
 * never reach a dynamic provider.
 */
export function toResourceProvider<I extends object, O extends I>(
  lifecycle: Lifecycle<I, O>,
  context: () => HandlerContext,
  now: () => number = Date.now,
): pulumi.dynamic.ResourceProvider {
  /** The context of one operation, its waits under the operation's deadline. */
  const timed = (timeouts: ResourceTimeouts | undefined, operation: TimedOperation) => {
    const ctx = context();
    const deadline = deadlineOf(timeouts, operation, now());
    return deadline === undefined
      ? ctx
      : { ...ctx, options: optionsUnderDeadline(ctx.options, deadline, now) };
  };
  /** The engine's `__provider` and the adapter's `timeouts` taken off. */
  const split = (props: Props | undefined) => splitTimeouts(withoutProviderKey(props));
  const withTimeouts = (outs: Props, timeouts: ResourceTimeouts | undefined): Props =>
    timeouts === undefined ? outs : { ...outs, [TIMEOUTS_PROPERTY]: timeouts };
  return {
    async check(olds: Props, news: Props) {
      const ctx = context();
      const failures = [
        ...checkTimeouts(news[TIMEOUTS_PROPERTY]),
        ...(await lifecycle.check(split(olds).inputs, split(news).inputs, ctx)),
      ];
      // Inputs the provider resolves (e.g. the version `latest` stands for) are kept in the state
      // with the declared ones, so a preview shows their change.
      const resolved =
        failures.length === 0 && lifecycle.resolveInputs
          ? await lifecycle.resolveInputs(split(olds).inputs, split(news).inputs, ctx)
          : {};
      return { inputs: { ...news, ...resolved }, failures };
    },
    async diff(id: string, olds: Props, news: Props) {
      const ctx = context();
      const outcome = await lifecycle.diff(
        id,
        split(olds).inputs as O,
        split(news).inputs as I,
        ctx,
      );
      // Each reason names the link or map it is about; the gateway id would say nothing more.
      for (const reason of outcome.reasons) ctx.log(`${lifecycle.resource}: ${reason}`);
      // `changes` is always a boolean: left undefined, the engine would diff the inputs itself,
      // `__provider` included (pulumi-notes §1).
      return {
        changes: outcome.changes,
        replaces: outcome.replaces,
        deleteBeforeReplace: outcome.deleteBeforeReplace ?? false,
      };
    },
    async create(inputs: Props) {
      const { inputs: plain, timeouts } = split(inputs);
      const { id, outs } = await underDeclaredTimeout(timeouts, "create", () =>
        lifecycle.create(plain as I, timed(timeouts, "create")),
      );
      return { id, outs: withTimeouts({ ...plain, ...outs }, timeouts) };
    },
    async read(id: string, props?: Props) {
      const { inputs: plain, timeouts } = split(props);
      const outcome = await lifecycle.read(id, plain as O, context());
      // No id tells the engine the object is gone.
      if (!outcome) return { id: undefined, props: {} };
      // Drift the read recorded in the declared properties goes to the inputs too, as other
      // providers' refresh does, so the next preview shows it (observed → declared).
      return {
        id: outcome.id,
        props: withTimeouts({ ...(outcome.props as Props) }, timeouts),
        ...(outcome.inputs && { inputs: withTimeouts({ ...outcome.inputs }, timeouts) }),
      };
    },
    async update(id: string, olds: Props, news: Props) {
      const { inputs: plain, timeouts } = split(news);
      const outs = await underDeclaredTimeout(timeouts, "update", () =>
        lifecycle.update(id, split(olds).inputs as O, plain as I, timed(timeouts, "update")),
      );
      return { outs: withTimeouts({ ...plain, ...outs }, timeouts) };
    },
    async delete(id: string, props: Props) {
      const { inputs: plain, timeouts } = split(props);
      await underDeclaredTimeout(timeouts, "delete", () =>
        lifecycle.delete(id, plain as O, timed(timeouts, "delete")),
      );
    },
  };
}
