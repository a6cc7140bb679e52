/**
 * `pulumi-resource-dualwrite`: the provider plugin. The engine starts it (`bin/pulumi-resource-
 * dualwrite` runs this file with Node), it prints its port and serves `schema.json`'s resources and
 * component over gRPC with `@pulumi/pulumi/provider`'s `main()`.
 *
 * Configuration is the provider's (`dualwrite:*` stack config, or a provider resource's arguments),
 * handed over in `Configure` with secrets decrypted; it stays in this process's memory and is read
 * into a {@link ProviderConfig} (secrets boxed) when a resource first needs clients. Nothing of it
 * is logged or written to the state. Keys missing there fall back to the Azure environment
 * variables, as for the dynamic provider.
 *
 * | piece            | where                                             |
 * |------------------|---------------------------------------------------|
 * | the lifecycles   | provider/resources/<name>/<name>.handler.ts       |
 * | the adapter      | provider/plugin/adapter.ts (+ references.ts, wire.ts) |
 * | the component    | provider/plugin/construct.ts                      |
 * | what the SDK's server drops (config, timeouts, detailed diff) | provider/plugin/server.ts |
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { main as serve } from "@pulumi/pulumi/provider";
import type * as provider from "@pulumi/pulumi/provider";
import { cancelProvider, providerSignal, stopOnSignals } from "../cancellation";
import { createClients } from "../clients";
import { readProviderConfig, type ProviderConfig } from "../config";
import type { ResourceKind } from "../dynamic/adapter";
import type { HandlerContext, HandlerOptions, Lifecycle } from "../resources/common/handler";
import { companyBootstrapLifecycle } from "../resources/companyBootstrap/companyBootstrap.handler";
import { dualWriteConnectionLifecycle } from "../resources/dualWriteConnection/dualWriteConnection.handler";
import { entityMapBindingLifecycle } from "../resources/entityMapBinding/entityMapBinding.handler";
import { initialSyncRunLifecycle } from "../resources/initialSyncRun/initialSyncRun.handler";
import { Claims } from "../resources/common/spec";
import { toPluginProvider, tokenOf, type PluginResource } from "./adapter";
import { constructComponent } from "./construct";
import { engineLogger, type EngineLog } from "./engineLog";
import { SeenResources } from "./references";
import { extendProviderServer } from "./server";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a table of differently typed lifecycles
const LIFECYCLES: Readonly<Record<ResourceKind, Lifecycle<any, any>>> = {
  DualWriteConnection: dualWriteConnectionLifecycle,
  CompanyBootstrap: companyBootstrapLifecycle,
  EntityMapBinding: entityMapBindingLifecycle,
  InitialSyncRun: initialSyncRunLifecycle,
};

/** The package schema this plugin serves (`schema.json` at the package root). */
export function schemaPath(): string {
  return path.resolve(__dirname, "..", "..", "..", "schema.json");
}

interface SchemaResource {
  readonly inputProperties?: Record<string, unknown>;
  readonly properties?: Record<string, unknown>;
}

/** The resources of the schema, with their lifecycles. */
export function pluginResources(schema: {
  resources: Record<string, SchemaResource>;
}): PluginResource[] {
  return (Object.keys(LIFECYCLES) as ResourceKind[]).map((kind) => {
    const resource = schema.resources[tokenOf(kind)];
    if (!resource) throw new Error(`schema.json has no resource ${tokenOf(kind)}`);
    return {
      kind,
      lifecycle: LIFECYCLES[kind],
      shape: {
        inputs: Object.keys(resource.inputProperties ?? {}),
        outputs: Object.keys(resource.properties ?? {}),
      },
    };
  });
}

/** The schema's output property names of a resource kind. */
function outputNames(
  schema: { resources: Record<string, SchemaResource> },
  kind: ResourceKind,
): string[] {
  return Object.keys(schema.resources[tokenOf(kind)]?.properties ?? {});
}

/** The provider's configuration as `Configure` gave it; read into a config on first use. */
class PluginConfig {
  private variables: ReadonlyMap<string, string> = new Map();
  private resolved: ProviderConfig | undefined;

  /** Keeps the configuration of this provider instance (keys `dualwrite:<name>`). */
  set(variables: ReadonlyMap<string, string>): void {
    this.variables = variables;
    this.resolved = undefined;
  }

  /** The configuration; throws the ConfigError that names the missing or bad setting. */
  get(): ProviderConfig {
    this.resolved ??= readProviderConfig((key) => this.variables.get(key));
    return this.resolved;
  }
}

/** The plugin's `Provider`: the four resources, the component and the schema. */
export function pluginProvider(options: {
  readonly schemaText: string;
  readonly config: PluginConfig;
  readonly log: EngineLog;
}): provider.Provider {
  const schema = JSON.parse(options.schemaText) as {
    version: string;
    resources: Record<string, SchemaResource>;
  };
  // What creates of this deployment adopted: one plugin process serves one provider instance.
  const claims = new Claims();
  const context = (urn: string, handlerOptions: HandlerOptions): HandlerContext => ({
    claims,
    clients: (envs) => createClients(options.config.get(), envs, { signal: providerSignal() }),
    log: (message) => options.log("info", message, urn),
    options: handlerOptions,
  });
  const seen = new SeenResources();
  return {
    version: schema.version,
    getSchema: () => Promise.resolve(options.schemaText),
    ...toPluginProvider(pluginResources(schema), context, seen),
    construct: (name, type, inputs, opts) =>
      constructComponent(name, type, inputs, opts, (kind) => outputNames(schema, kind)),
    // The engine's `Cancel` (the first Ctrl-C of an `up`): every wait ends now, so the operations
    // under way fail with a clear error instead of holding the `up` until the job ends; the jobs
    // keep running at the gateway (provider/cancellation.ts).
    cancel: () => {
      cancelProvider("the pulumi operation was cancelled");
      return Promise.resolve();
    },
  };
}

/** Starts the plugin: `args` are the engine's (its address first). */
export async function run(args: readonly string[]): Promise<void> {
  const config = new PluginConfig();
  stopOnSignals();
  extendProviderServer((variables) => config.set(variables));
  const engineAddress = args.find((a) => !a.startsWith("-"));
  await serve(
    pluginProvider({
      schemaText: fs.readFileSync(schemaPath(), "utf8"),
      config,
      log: engineLogger(engineAddress),
    }),
    [...args],
  );
}

if (require.main === module) {
  run(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`pulumi-resource-dualwrite: ${String(error)}\n`);
    process.exit(1);
  });
}
