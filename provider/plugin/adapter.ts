/**
 * The second adapter of the resource lifecycles: a provider plugin (`@pulumi/pulumi/provider`'s
 * `Provider`) serving the tokens of `schema.json` (`dualwrite:index:<Type>`). The first adapter,
 * `provider/dynamic/adapter.ts`, serves the same lifecycles as dynamic resources; neither holds
 * resource logic.
 *
 * | Provider call | what this adapter adds around the lifecycle                                         |
 * |---------------|--------------------------------------------------------------------------------------|
 * | check         | unwraps secrets; resolves `connection`/`entityMap` references (`references.ts`) into the lifecycle's inputs and returns them beside the declared ones |
 * | diff          | the properties that differ, with replace kinds from the lifecycle's replace-on-change list, as a detailed diff; drift reasons logged under the resource |
 * | create/update | the operation's `customTimeouts` as a deadline on every wait; outputs are exactly the schema's, secret where their input was |
 * | read          | refresh: the observed outputs; import (no state): also the inputs that declare them |
 * | delete        | the lifecycle's delete                                                              |
 */
import type * as provider from "@pulumi/pulumi/provider";
import type { ResourceKind } from "../dynamic/adapter";
import {
  DEFAULT_OPTIONS,
  type HandlerContext,
  type HandlerOptions,
  type Lifecycle,
} from "../resources/common/handler";
import { deepEqual } from "../resources/common/diff";
import {
  checkTimeouts,
  deadlineOf,
  earlier,
  optionsUnderDeadline,
  splitTimeouts,
  TIMEOUTS_PROPERTY,
  type ResourceTimeouts,
} from "../resources/common/timeouts";
import { UNKNOWN } from "../resources/common/check";
import {
  DERIVED_INPUTS,
  REFERENCE_INPUTS,
  resolveReferences,
  SeenResources,
  shownBy,
} from "./references";
import { currentRequest, type PropertyDiffKind, type RequestScope } from "./server";
import { jsonSafe, toPlain, withSecrets } from "./wire";

type Values = Record<string, unknown>;

/** The schema's view of one resource: its input and output property names. */
export interface ResourceShape {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** What the plugin serves for one resource type. */
export interface PluginResource {
  readonly kind: ResourceKind;
  /** The resource's lifecycle, seen on untyped values (the schema's shapes are checked by it). */
  readonly lifecycle: Lifecycle<Values, Values>;
  readonly shape: ResourceShape;
}

/** The per-operation context of one resource (URN), built by the plugin's runtime. */
export type ContextFactory = (urn: string, options: HandlerOptions) => HandlerContext;

/** The token of a resource kind, e.g. `dualwrite:index:DualWriteConnection`. */
export function tokenOf(kind: ResourceKind): string {
  return `dualwrite:index:${kind}`;
}

/** The resource kind of a URN (its type is the last `$`-separated part of the 3rd `::` field). */
export function kindOfUrn(urn: string): string {
  const type = urn.split("::")[2] ?? "";
  const token = type.split("$").pop() ?? "";
  return token.startsWith("dualwrite:index:") ? token.slice("dualwrite:index:".length) : token;
}

/**
 * The lifecycle timeouts under the operation's deadline: the engine's (`customTimeouts`) or the
 * resource's `timeouts` input, whichever ends first (`resources/common/timeouts.ts`). Each wait may
 * last at most what is left of the operation's time when the wait starts, and never longer than
 * its default. Without a deadline, the defaults.
 */
export function optionsUnder(
  scope: RequestScope | undefined,
  now: () => number = Date.now,
  timeouts?: ResourceTimeouts,
): HandlerOptions {
  const engine =
    scope && scope.timeoutSeconds > 0 ? scope.startedAt + scope.timeoutSeconds * 1000 : undefined;
  const operation = scope?.method;
  const declared =
    operation === "create" || operation === "update" || operation === "delete"
      ? deadlineOf(timeouts, operation, scope?.startedAt ?? now())
      : undefined;
  return optionsUnderDeadline(DEFAULT_OPTIONS, earlier(engine, declared), now);
}

function pick(values: Readonly<Values>, keys: readonly string[]): Values {
  const picked: Values = {};
  for (const key of keys) if (values[key] !== undefined) picked[key] = values[key];
  return picked;
}

function omit(values: Readonly<Values>, keys: readonly string[]): Values {
  return Object.fromEntries(Object.entries(values).filter(([k]) => !keys.includes(k)));
}

/**
 * The provider plugin over `resources`. `context` builds the lifecycle context of one operation
 * (clients from the provider configuration, a log under the resource's URN, timeouts); `seen`
 * is the process's memory of referenced resources.
 */
export function toPluginProvider(
  resources: readonly PluginResource[],
  context: ContextFactory,
  seen: SeenResources = new SeenResources(),
): Required<Pick<provider.Provider, "check" | "diff" | "create" | "read" | "update" | "delete">> {
  const byKind = new Map(resources.map((r) => [r.kind as string, r]));
  const resourceOf = (urn: string): PluginResource => {
    const found = byKind.get(kindOfUrn(urn));
    if (!found) throw new Error(`pulumi-resource-dualwrite does not serve the type of ${urn}`);
    return found;
  };
  const contextFor = (urn: string, values: Readonly<Values> = {}): HandlerContext =>
    context(urn, optionsUnder(currentRequest(), Date.now, splitTimeouts(values).timeouts));
  /** The lifecycle inputs of a checked (or stored) input set: reference inputs and `timeouts` dropped. */
  const lifecycleInputs = (r: PluginResource, values: Readonly<Values>): Values =>
    omit(values, [...Object.keys(REFERENCE_INPUTS[r.kind]), TIMEOUTS_PROPERTY]);
  /** Exactly the schema's outputs, secret where their input was. */
  const outputsOf = (
    r: PluginResource,
    values: Readonly<Values>,
    secretKeys: ReadonlySet<string>,
  ) => jsonSafe(withSecrets(pick(values, r.shape.outputs), secretKeys));

  return {
    async check(urn, olds: Values, news: Values) {
      const r = resourceOf(urn);
      const plainNews = toPlain(news).values;
      const plainOlds = toPlain(olds).values;
      const references = Object.keys(REFERENCE_INPUTS[r.kind]);
      const unknownKeys = Object.keys(plainNews).filter(
        (k) => !r.shape.inputs.includes(k) && !DERIVED_INPUTS[r.kind].includes(k),
      );
      // `pulumi import` checks the inputs its read gave (olds equal news): they name no resource,
      // which only a program can (I2: an import is not a program that forgot `connection`).
      const imported =
        references.length > 0 &&
        Object.keys(plainOlds).length > 0 &&
        references.every((k) => plainNews[k] === undefined) &&
        deepEqual(plainOlds, plainNews);
      const resolved = imported
        ? { values: {}, failures: [] }
        : resolveReferences(r.kind, plainNews, seen);
      const lifecycleNews = {
        ...omit(plainNews, [...references, ...unknownKeys]),
        ...resolved.values,
      };
      const failures = [
        ...checkTimeouts(plainNews[TIMEOUTS_PROPERTY]),
        ...unknownKeys.map((property) => ({
          property,
          reason: `${r.kind} has no input "${property}"; remove it (inputs are ${r.shape.inputs.join(", ")}).`,
        })),
        ...resolved.failures,
      ];
      if (resolved.failures.length === 0 && !imported) {
        failures.push(
          ...(await r.lifecycle.check(
            lifecycleInputs(r, plainOlds),
            lifecycleNews,
            contextFor(urn),
          )),
        );
      }
      // Remembered whatever the check found, so that a dependent reports its own problem, not ours.
      seen.remember(urn, {
        ...shownBy(r.kind, lifecycleNews, plainNews),
        // Known only once the link is made (create, update, read) or diffed unchanged.
        ...(r.kind === "DualWriteConnection" && { linkedLegalEntities: UNKNOWN }),
      });
      // Inputs the lifecycle resolves (e.g. the version `latest` stands for) are kept in the state
      // with the declared ones, so a preview shows their change.
      const added =
        failures.length === 0 && !imported && r.lifecycle.resolveInputs
          ? await r.lifecycle.resolveInputs(
              lifecycleInputs(r, plainOlds),
              lifecycleNews,
              contextFor(urn),
            )
          : {};
      // The declared inputs as given (secrets stay wrapped) plus what the references resolved to.
      return { inputs: { ...news, ...resolved.values, ...added }, failures };
    },

    async diff(id, urn, olds: Values, news: Values) {
      const r = resourceOf(urn);
      // A change of `timeouts` alone changes nothing (as `customTimeouts`): not the lifecycle's.
      const oldOutputs = omit(toPlain(olds).values, [TIMEOUTS_PROPERTY]);
      const newInputs = lifecycleInputs(r, toPlain(news).values);
      const ctx = contextFor(urn);
      const outcome = await r.lifecycle.diff(id, oldOutputs, newInputs, ctx);
      for (const reason of outcome.reasons) ctx.log(reason);
      if (r.kind === "DualWriteConnection") {
        seen.remember(urn, {
          linkedLegalEntities: outcome.changes ? UNKNOWN : oldOutputs.linkedLegalEntities,
        });
      }
      const replaces = schemaNames(r, outcome.replaces);
      const detailed = detailedDiff(r, oldOutputs, newInputs, replaces);
      // Properties the lifecycle reports beyond the schema's inputs (e.g. `resolvedVersion`).
      for (const property of schemaNames(r, outcome.properties ?? []))
        detailed[property] ??= replaces.includes(property) ? "updateReplace" : "update";
      const scope = currentRequest();
      if (scope && Object.keys(detailed).length > 0) scope.detailedDiff = detailed;
      return {
        changes: outcome.changes,
        replaces,
        deleteBeforeReplace: outcome.deleteBeforeReplace ?? false,
      };
    },

    async create(urn, news: Values) {
      const r = resourceOf(urn);
      const { values, secretKeys } = toPlain(news);
      const inputs = lifecycleInputs(r, values);
      const { id, outs } = await r.lifecycle.create(inputs, contextFor(urn, values));
      const outputs = { ...inputs, ...outs, ...pick(values, [TIMEOUTS_PROPERTY]) };
      seen.remember(urn, shownBy(r.kind, outputs, values));
      return { id, outs: outputsOf(r, outputs, secretKeys) };
    },

    async read(id, urn, props?: Values) {
      const r = resourceOf(urn);
      const { values, secretKeys } = toPlain(props);
      // No state is `pulumi import`: the lifecycle reads the object its import id names.
      const importing = Object.keys(values).length === 0;
      const outcome = await r.lifecycle.read(id, values, contextFor(urn));
      if (!outcome) return { id: undefined, props: {} };
      const outputs = outcome.props;
      seen.remember(urn, shownBy(r.kind, outputs, {}));
      return {
        id: outcome.id,
        props: outputsOf(r, outputs, secretKeys),
        // Import needs the inputs that declare what was read; a refresh keeps the stored ones.
        ...(importing && { inputs: jsonSafe(pick(outputs, r.shape.inputs)) }),
      };
    },

    async update(id, urn, olds: Values, news: Values) {
      const r = resourceOf(urn);
      const { values, secretKeys } = toPlain(news);
      const inputs = lifecycleInputs(r, values);
      const outs = await r.lifecycle.update(
        id,
        lifecycleInputs(r, toPlain(olds).values),
        inputs,
        contextFor(urn, values),
      );
      const outputs = { ...inputs, ...outs, ...pick(values, [TIMEOUTS_PROPERTY]) };
      seen.remember(urn, shownBy(r.kind, outputs, values));
      return { outs: outputsOf(r, outputs, secretKeys) };
    },

    async delete(id, urn, props: Values) {
      const r = resourceOf(urn);
      const values = toPlain(props).values;
      await r.lifecycle.delete(id, lifecycleInputs(r, values), contextFor(urn, values));
    },
  };
}

/**
 * Lifecycle property names in the schema's terms: an input the lifecycle takes from a referenced
 * resource (an EntityMapBinding's `financeOperationsUrl`) is the reference input (`connection`).
 */
function schemaNames(r: PluginResource, names: readonly string[]): string[] {
  const reference = Object.keys(REFERENCE_INPUTS[r.kind])[0];
  const mapped = names.map((n) =>
    reference !== undefined && DERIVED_INPUTS[r.kind].includes(n) ? reference : n,
  );
  return [...new Set(mapped)];
}

/**
 * The declared properties that differ between the old state and the new inputs, each with its
 * kind: a replace when the lifecycle's replace-on-change list names it. A reference input differs
 * when what it resolves to differs.
 */
export function detailedDiff(
  r: PluginResource,
  oldOutputs: Readonly<Values>,
  newInputs: Readonly<Values>,
  replaces: readonly string[],
): Record<string, PropertyDiffKind> {
  const detailed: Record<string, PropertyDiffKind> = {};
  const kindOf = (property: string, before: unknown, after: unknown): PropertyDiffKind => {
    const replace = replaces.includes(property);
    if (before === undefined) return replace ? "addReplace" : "add";
    if (after === undefined) return replace ? "deleteReplace" : "delete";
    return replace ? "updateReplace" : "update";
  };
  const references = REFERENCE_INPUTS[r.kind];
  for (const property of r.shape.inputs) {
    if (property in references) {
      const changed = DERIVED_INPUTS[r.kind].some(
        (k) => oldOutputs[k] !== undefined && !deepEqual(oldOutputs[k], newInputs[k]),
      );
      if (changed) detailed[property] = replaces.includes(property) ? "updateReplace" : "update";
      continue;
    }
    const before = oldOutputs[property];
    const after = newInputs[property];
    if (!deepEqual(before, after)) detailed[property] = kindOf(property, before, after);
  }
  // A replacement the lifecycle decided on a property the inputs do not show still shows.
  for (const property of replaces) detailed[property] ??= "updateReplace";
  return detailed;
}
