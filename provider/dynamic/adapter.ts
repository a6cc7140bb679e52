/**
 * The one adapter between a resource {@link Lifecycle} and Pulumi's dynamic-provider protocol.
 *
 * Two halves, because a dynamic provider lives in two processes:
 * - {@link dynamicProvider} runs in the program. It returns the object Pulumi closure-serializes
 *   into every resource's state (`__provider`). That object captures two strings and nothing
 *   else: each method `require`s the provider runtime from the installed package *inside the
 *   provider process* and delegates to it. No client, token, configuration or module is
 *   captured, so the serialized text holds no secret and does not change with the code.
 * - {@link toResourceProvider} runs in the provider process (`provider/dynamic/runtime.ts`): it
 *   strips the engine's `__provider` key, calls the lifecycle, merges inputs into outputs (the
 *   protocol stores only what `create`/`update` return) and prints the reasons of a diff.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { HandlerContext, Lifecycle } from "../resources/common/handler";

/** The four custom resources, by their public type names. */
export type ResourceKind =
  "DualWriteConnection" | "CompanyBootstrap" | "EntityMapBinding" | "InitialSyncRun";

/**
 * What the serialized provider requires in the provider process. It resolves from the program's
 * directory, where the package is installed (`node_modules/pulumi-dualwrite`); the package's
 * `exports` map names it.
 */
export const RUNTIME_MODULE = "pulumi-dualwrite/dynamic-runtime";

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
    provider = delegatingProvider(kind, RUNTIME_MODULE);
    providers.set(kind, provider);
  }
  return provider;
}

/**
 * A provider whose methods each load the runtime and delegate. Everything a method refers to is
 * a parameter of this function (two strings) or a global (`require`), which is what keeps the
 * closure serializer from pulling in anything else.
 */
export function delegatingProvider(
  kind: ResourceKind,
  runtimeModule: string,
): pulumi.dynamic.ResourceProvider {
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded in the provider process, never captured */
  return {
    configure(req) {
      (require(runtimeModule) as ProviderRuntime).configure((key) => req.config.get(key));
      return Promise.resolve();
    },
    async check(olds, news) {
      return (require(runtimeModule) as ProviderRuntime).provider(kind).check!(olds, news);
    },
    async diff(id, olds, news) {
      return (require(runtimeModule) as ProviderRuntime).provider(kind).diff!(id, olds, news);
    },
    async create(inputs) {
      return (require(runtimeModule) as ProviderRuntime).provider(kind).create(inputs);
    },
    async read(id, props) {
      return (require(runtimeModule) as ProviderRuntime).provider(kind).read!(id, props);
    },
    async update(id, olds, news) {
      return (require(runtimeModule) as ProviderRuntime).provider(kind).update!(id, olds, news);
    },
    async delete(id, props) {
      return (require(runtimeModule) as ProviderRuntime).provider(kind).delete!(id, props);
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
 */
export function toResourceProvider<I extends object, O extends I>(
  lifecycle: Lifecycle<I, O>,
  context: () => HandlerContext,
): pulumi.dynamic.ResourceProvider {
  return {
    async check(olds: Props, news: Props) {
      const failures = await lifecycle.check(
        withoutProviderKey(olds),
        withoutProviderKey(news),
        context(),
      );
      return { inputs: news, failures };
    },
    async diff(id: string, olds: Props, news: Props) {
      const ctx = context();
      const outcome = await lifecycle.diff(
        id,
        withoutProviderKey(olds) as O,
        withoutProviderKey(news) as I,
        ctx,
      );
      for (const reason of outcome.reasons) ctx.log(`${lifecycle.resource} ${id}: ${reason}`);
      // `changes` is always a boolean: left undefined, the engine would diff the inputs itself,
      // `__provider` included (pulumi-notes §1).
      return {
        changes: outcome.changes,
        replaces: outcome.replaces,
        deleteBeforeReplace: outcome.deleteBeforeReplace ?? false,
      };
    },
    async create(inputs: Props) {
      const plain = withoutProviderKey(inputs) as I;
      const { id, outs } = await lifecycle.create(plain, context());
      return { id, outs: { ...plain, ...outs } };
    },
    async read(id: string, props?: Props) {
      const outcome = await lifecycle.read(id, withoutProviderKey(props) as O, context());
      // No id tells the engine the object is gone.
      return outcome
        ? { id: outcome.id, props: { ...outcome.props } }
        : { id: undefined, props: {} };
    },
    async update(id: string, olds: Props, news: Props) {
      const plain = withoutProviderKey(news) as I;
      const outs = await lifecycle.update(id, withoutProviderKey(olds) as O, plain, context());
      return { outs: { ...plain, ...outs } };
    },
    async delete(id: string, props: Props) {
      await lifecycle.delete(id, withoutProviderKey(props) as O, context());
    },
  };
}
