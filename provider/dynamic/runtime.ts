/**
 * The provider-process side of the dynamic provider: the module every serialized provider
 * `require`s (as `pulumi-dualwrite/dynamic-runtime`). It holds the stack-config reader given to
 * `configure`, builds clients from it on demand and serves each resource kind through the one
 * adapter. Nothing here is ever serialized; credentials live in this process's memory only.
 */
import type * as pulumi from "@pulumi/pulumi";
import { isDynamicProviderHost, operation, providerSignal, stopOnSignals } from "../cancellation";
import { createClients } from "../clients";
import { readProviderConfig, type ConfigGetter, type ProviderConfig } from "../config";
import { DEFAULT_OPTIONS, type HandlerContext, type Lifecycle } from "../resources/common/handler";
import { Claims } from "../resources/common/spec";
import { companyBootstrapLifecycle } from "../resources/companyBootstrap/companyBootstrap.handler";
import { dualWriteConnectionLifecycle } from "../resources/dualWriteConnection/dualWriteConnection.handler";
import { entityMapBindingLifecycle } from "../resources/entityMapBinding/entityMapBinding.handler";
import { initialSyncRunLifecycle } from "../resources/initialSyncRun/initialSyncRun.handler";
import { toResourceProvider, type ResourceKind } from "./adapter";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a table of differently typed lifecycles
const LIFECYCLES: Readonly<Record<ResourceKind, Lifecycle<any, any>>> = {
  DualWriteConnection: dualWriteConnectionLifecycle,
  CompanyBootstrap: companyBootstrapLifecycle,
  EntityMapBinding: entityMapBindingLifecycle,
  InitialSyncRun: initialSyncRunLifecycle,
};

let getConfig: ConfigGetter = () => undefined;
let resolved: ProviderConfig | undefined;

/**
 * Stores how to read stack config. Keys are full (`dualwrite:tenantId`); the engine hands the
 * provider the whole stack config with secrets decrypted. A key missing there is looked up in
 * `PULUMI_CONFIG` (the engine's JSON of the stack config, when set) before the Azure environment
 * variables that `readProviderConfig` falls back to.
 */
export function configure(get: (key: string) => string | undefined): void {
  getConfig = (key) => get(key) ?? fromPulumiConfigEnv(key);
  resolved = undefined;
  // The host that the CLI starts gets SIGINT when a cancelled `up` is terminated (and SIGTERM from
  // CI runners): stop polling, leave the gateway's jobs running (provider/cancellation.ts).
  if (isDynamicProviderHost()) stopOnSignals();
}

function fromPulumiConfigEnv(key: string): string | undefined {
  const raw = process.env.PULUMI_CONFIG;
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    const value = parsed[key];
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

function config(): ProviderConfig {
  // Read lazily: a stack without credentials can still have its inputs checked.
  resolved ??= readProviderConfig(getConfig);
  return resolved;
}

// What creates of this deployment adopted: one provider process serves one deployment.
const claims = new Claims();

/** The context every operation runs in. */
export function context(): HandlerContext {
  return {
    claims,
    clients: (envs) => createClients(config(), envs, { signal: providerSignal() }),
    log: (message) => console.log(message),
    options: DEFAULT_OPTIONS,
  };
}

const providers = new Map<ResourceKind, pulumi.dynamic.ResourceProvider>();

/** The provider-process implementation of one resource kind. */
export function provider(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  let p = providers.get(kind);
  if (!p) {
    p = counted(toResourceProvider(LIFECYCLES[kind], context));
    providers.set(kind, p);
  }
  return p;
}

/** The provider with each of its calls counted as an operation under way (`cancellation.ts`). */
function counted(p: pulumi.dynamic.ResourceProvider): pulumi.dynamic.ResourceProvider {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(p)) {
    wrapped[name] =
      typeof method === "function"
        ? (...args: unknown[]) =>
            operation(() => (method as (...a: unknown[]) => Promise<unknown>).apply(p, args))
        : method;
  }
  return wrapped as unknown as pulumi.dynamic.ResourceProvider;
}
