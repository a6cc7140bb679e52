/**
 * The provider-process side of the dynamic provider: the module every serialized provider
 * `require`s (as `pulumi-dualwrite/dynamic-runtime`). It holds the stack-config reader given to
 * `configure`, builds clients from it on demand and serves each resource kind through the one
 * adapter. Nothing here is ever serialized; credentials live in this process's memory only.
 */
import type * as pulumi from "@pulumi/pulumi";
import { createClients } from "../clients";
import { readProviderConfig, type ConfigGetter, type ProviderConfig } from "../config";
import { DEFAULT_OPTIONS, type HandlerContext, type Lifecycle } from "../resources/common/handler";
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

/** The context every operation runs in. */
export function context(): HandlerContext {
  return {
    clients: (envs) => createClients(config(), envs),
    log: (message) => console.log(message),
    options: DEFAULT_OPTIONS,
  };
}

const providers = new Map<ResourceKind, pulumi.dynamic.ResourceProvider>();

/** The provider-process implementation of one resource kind. */
export function provider(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  let p = providers.get(kind);
  if (!p) {
    p = toResourceProvider(LIFECYCLES[kind], context);
    providers.set(kind, p);
  }
  return p;
}
