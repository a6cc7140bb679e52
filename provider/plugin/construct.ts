/**
 * The component `dualwrite:index:DualWriteScenario` through the plugin's `construct`: the same
 * plan and order as the TypeScript component (provider/scenario/dualWriteScenario.ts,
 * `buildScenario`), made of the plugin's own custom resources (`dualwrite:index:<Type>`) instead of
 * the dynamic ones. The engine registers them under the component with the component's provider,
 * so they are served by this same plugin process, which resolves their `connection` references
 * (references.ts) as it does for resources a program declares.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import type { ResourceKind } from "../dynamic/adapter";
import {
  buildScenario,
  DUALWRITE_SCENARIO_TYPE,
  type DualWriteScenarioArgs,
  type ScenarioChildren,
} from "../scenario/dualWriteScenario";
import type { LegalEntityRunResult } from "../resources/initialSyncRun/initialSyncRun.schema";
import { tokenOf } from "./adapter";

/** The schema's output property names of a resource kind (they become the resource's fields). */
export type OutputNames = (kind: ResourceKind) => readonly string[];

/**
 * Inputs that decide which resources the component makes, and the settings it passes on to them
 * (validated at construction): they must be known when it runs.
 */
const PLAN_INPUTS = [
  "scenario",
  "legalEntities",
  "bootstrapCompanies",
  "maps",
  "solutions",
  "skipInitialWritesForNewLegalEntities",
  "forceReset",
  "initialSyncTrigger",
  "waitForCompletion",
  "timeouts",
  "onDelete",
  "adoptWithChanges",
] as const;

/** A plugin resource: its outputs are declared (undefined) so the SDK fills them in. */
class PluginResource extends pulumi.CustomResource {
  constructor(
    kind: ResourceKind,
    name: string,
    args: Record<string, unknown>,
    outputs: readonly string[],
    opts: pulumi.CustomResourceOptions,
  ) {
    const props: pulumi.Inputs = Object.fromEntries(outputs.map((o) => [o, undefined]));
    super(tokenOf(kind), name, { ...props, ...args }, opts);
  }
}

class PluginConnection extends PluginResource {
  declare readonly linkedLegalEntities: pulumi.Output<string[]>;
}

class PluginBinding extends PluginResource {
  declare readonly observedState: pulumi.Output<string>;
  declare readonly lastInitialSync: pulumi.Output<{ results?: LegalEntityRunResult[] } | undefined>;
}

/** The plugin's resources as the component's children. */
export function pluginChildren(
  outputs: OutputNames,
): ScenarioChildren<PluginConnection, PluginResource, PluginBinding> {
  return {
    connection: (name, args, opts) =>
      new PluginConnection(
        "DualWriteConnection",
        name,
        { ...args },
        outputs("DualWriteConnection"),
        opts,
      ),
    bootstrap: (name, args, opts) =>
      new PluginResource("CompanyBootstrap", name, { ...args }, outputs("CompanyBootstrap"), opts),
    binding: (name, args, opts) =>
      new PluginBinding("EntityMapBinding", name, { ...args }, outputs("EntityMapBinding"), opts),
  };
}

/** The component as the plugin constructs it. */
class PluginDualWriteScenario extends pulumi.ComponentResource {
  readonly outputs: ReturnType<typeof buildScenario>["outputs"];

  constructor(
    name: string,
    args: DualWriteScenarioArgs,
    outputs: OutputNames,
    opts: pulumi.ComponentResourceOptions,
  ) {
    super(DUALWRITE_SCENARIO_TYPE, name, {}, opts);
    this.outputs = buildScenario(this, name, args, pluginChildren(outputs)).outputs;
    this.registerOutputs(this.outputs);
  }
}

/**
 * The engine's `Construct`. The inputs that shape the plan (which maps, companies, legal entities)
 * must be plain values — literals in the program — as they are for the TypeScript component;
 * the environments' URLs may be outputs of other resources.
 */
export function constructComponent(
  name: string,
  type: string,
  inputs: pulumi.Inputs,
  options: pulumi.ComponentResourceOptions,
  outputs: OutputNames,
): Promise<provider.ConstructResult> {
  if (type !== DUALWRITE_SCENARIO_TYPE) {
    return Promise.reject(new Error(`pulumi-resource-dualwrite: unknown component type ${type}`));
  }
  const computed = PLAN_INPUTS.filter((k) => pulumi.Output.isInstance(inputs[k]));
  if (computed.length > 0) {
    return Promise.reject(
      new Error(
        `DualWriteScenario ${name}: ${computed.join(", ")} must be known when the program runs ` +
          "(plain values, not secrets or other resources' outputs): they decide which resources " +
          "the component makes, and with which settings.",
      ),
    );
  }
  const component = new PluginDualWriteScenario(
    name,
    inputs as unknown as DualWriteScenarioArgs,
    outputs,
    options,
  );
  return Promise.resolve({ urn: component.urn, state: component.outputs });
}
