/**
 * The provider-process side of the dynamic provider: the module every serialized provider
 * `require`s (as `pulumi-dualwrite/dynamic-runtime`). It holds the stack-config reader given to
 * `configure`, builds clients from it on demand and serves each resource kind through the one
 * adapter. Nothing here is ever serialized; credentials live in this process's memory only.
 *
 * The CLI starts this process afresh for every operation, so loading is on its critical path.
 * `configure` loads nothing heavy; a resource kind's lifecycle is loaded when the engine first
 * asks for that kind, and the clients (with `@azure/identity`) when an operation first needs
 * them; compiled code is cached on disk (`compileCache.ts`, imported first on purpose).
 */
import "./compileCache";
import type * as pulumi from "@pulumi/pulumi";
import { isDynamicProviderHost, operation, providerSignal, stopOnSignals } from "../cancellation";
import type { createClients as CreateClients } from "../clients";
import { readProviderConfig, type ConfigGetter, type ProviderConfig } from "../config";
import { DEFAULT_OPTIONS, type HandlerContext, type Lifecycle } from "../resources/common/handler";
import type { Claims } from "../resources/common/spec";
import { toResourceProvider, type ResourceKind } from "./adapter";

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use (see above) */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a table of differently typed lifecycles
type AnyLifecycle = Lifecycle<any, any>;

/** Each kind's lifecycle, loaded on first use: a stack of bindings never loads the others. */
const LIFECYCLES: Readonly<Record<ResourceKind, () => AnyLifecycle>> = {
  DualWriteConnection: () =>
    (
      require("../resources/dualWriteConnection/dualWriteConnection.handler") as typeof import("../resources/dualWriteConnection/dualWriteConnection.handler")
    ).dualWriteConnectionLifecycle,
  CompanyBootstrap: () =>
    (
      require("../resources/companyBootstrap/companyBootstrap.handler") as typeof import("../resources/companyBootstrap/companyBootstrap.handler")
    ).companyBootstrapLifecycle,
  EntityMapBinding: () =>
    (
      require("../resources/entityMapBinding/entityMapBinding.handler") as typeof import("../resources/entityMapBinding/entityMapBinding.handler")
    ).entityMapBindingLifecycle,
  InitialSyncRun: () =>
    (
      require("../resources/initialSyncRun/initialSyncRun.handler") as typeof import("../resources/initialSyncRun/initialSyncRun.handler")
    ).initialSyncRunLifecycle,
};

let createClientsOnce: typeof CreateClients | undefined;

/** `createClients`, loaded when an operation first needs clients. */
function clientsModule(): typeof CreateClients {
  createClientsOnce ??= (require("../clients") as typeof import("../clients")).createClients;
  return createClientsOnce;
}
/** A new record of adoptions (the module comes with the first lifecycle anyway). */
function newClaims(): Claims {
  return new (
    require("../resources/common/spec") as typeof import("../resources/common/spec")
  ).Claims();
}
/* eslint-enable @typescript-eslint/no-require-imports */

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
let claims: Claims | undefined;

/** The context every operation runs in. */
export function context(): HandlerContext {
  claims ??= newClaims();
  return {
    claims,
    clients: (envs) => clientsModule()(config(), envs, { signal: providerSignal() }),
    log: (message) => console.log(message),
    options: DEFAULT_OPTIONS,
  };
}

const providers = new Map<ResourceKind, pulumi.dynamic.ResourceProvider>();

/** The provider-process implementation of one resource kind. */
export function provider(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  let p = providers.get(kind);
  if (!p) {
    p = counted(toResourceProvider(LIFECYCLES[kind](), context));
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
