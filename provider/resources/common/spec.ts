/**
 * One resource spec per resource, and the lifecycle derived from it.
 *
 * A spec says, once: which inputs a resource has and how each is validated; which inputs identify
 * the object (and how two values of them compare, for replace-on-change); how to find the object
 * as it exists now, what converging it would change (as sentences, each saying whether it disturbs
 * what runs), how to converge it, what to observe, and how to clean it up. {@link lifecycleOf}
 * derives check, diff, create, read, update and delete from that, so that the rules below live in
 * one place and both adapters (`provider/dynamic/adapter.ts`, `provider/plugin/adapter.ts`) stay
 * thin:
 *
 * | step   | derived as                                                                                   |
 * |--------|-----------------------------------------------------------------------------------------------|
 * | check  | schemas, rules between properties, missing references named (pure); `verify` (reads only); for a new resource that finds its object: the adoption's effects — refused when they disturb what runs, unless `adoptWithChanges` |
 * | diff   | replace-on-change comparators; declared changes (deep equality); `find` + `plan`: what `up` would change now; `remarks` (optional): lines said that are no change |
 * | create | `verify`; `find` (ownership: `adopted` when the object was live, else `created`; the adoption's effects refused as in check); `converge` |
 * | read   | `find` + `observe`; drift folded into the declared properties (inputs and outputs), as other providers' refresh records the actual value |
 * | update | `verify`; `converge`; ownership kept                                                          |
 * | delete | `onDelete`, else by ownership: created → the spec's clean-up, adopted → left as found; an object another resource of this deployment adopted is left too |
 *
 * A resource that starts a job rather than owns a long-lived object (`history`: InitialSyncRun)
 * manages the record of its run: `find` returns that record, converging adopts a job found at the
 * service or starts one, and delete forgets the record; it records no ownership.
 *
 * Ownership (docs/adr/0011-ownership-and-adoption.md): every resource records in its state whether
 * it created what it manages or adopted it. A state written before ownership existed counts as
 * `created` (the provider's behaviour then). A create that finds its object also tells the
 * deployment ({@link Claims}): when a component is renamed without `aliases`, the new resources
 * take over what the old ones made, and the old ones' deletes (later in the same deployment) then
 * leave it alone.
 */
import {
  bool,
  containsUnknown,
  normalizeUrl,
  oneOf,
  settleDerived,
  show,
  UNKNOWN,
  type CheckFailure,
  type PropertySchemas,
} from "./check";
import { deepEqual } from "./diff";
import {
  collectPropertyFailures,
  FailureList,
  InvalidInputError,
  throwUnlessValid,
} from "./failures";
import type { DiffOutcome, HandlerContext, Lifecycle, ReadOutcome } from "./handler";

/** Whether a resource made what it manages, or found it and took it over. */
export type Ownership = "created" | "adopted";
/** The ownership values. */
export const OWNERSHIPS = ["created", "adopted"] as const satisfies readonly Ownership[];

/** The output that records ownership. */
export const OWNERSHIP = "ownership";
/** The input that says what delete does. */
export const ON_DELETE = "onDelete";
/** The input that accepts an adoption's disruptive changes. */
export const ADOPT_WITH_CHANGES = "adoptWithChanges";

/** What a delete does: leave the object as it is, or clean it up (the resource's own word). */
export type OnDelete<Cleanup extends string> = "leave" | Cleanup;

/** The zod schema of `onDelete` for a resource whose clean-up is `cleanup`. */
export function onDeleteSchema<C extends string>(cleanup: C) {
  return oneOf(["leave", cleanup] as const).optional();
}

/** The zod schema of `adoptWithChanges`. */
export const adoptWithChangesSchema = bool.optional();

/** Whether two values of an identifying property name the same thing. */
export type Comparator = (a: unknown, b: unknown) => boolean;

/** Exact equality. */
export const exactly: Comparator = (a, b) => a === b;

/** The same environment URL (case and a trailing `/` ignored, as `sameUrl` compares them). */
export const sameEnvironment: Comparator = (a, b) =>
  typeof a === "string" &&
  typeof b === "string" &&
  normalizeUrl(a).toLowerCase() === normalizeUrl(b).toLowerCase();

/** The same company code (case ignored: F&O's `dataAreaId` is case-insensitive). */
export const sameCode: Comparator = (a, b) =>
  typeof a === "string" && typeof b === "string" && a.toUpperCase() === b.toUpperCase();

/**
 * The replace-on-change properties whose value changed, each compared as `replaceOnChange` says;
 * a value not known yet (preview) counts as changed. Used by {@link lifecycleOf}'s diff and by the
 * resources whose lifecycle is not derived from a spec, so that replace-on-change is one rule.
 */
export function replacedProperties(
  replaceOnChange: Readonly<Record<string, Comparator | undefined>>,
  olds: object,
  news: object,
): string[] {
  return Object.entries(replaceOnChange)
    .filter(
      ([k, same]) =>
        same !== undefined &&
        (valueOf(news, k) === UNKNOWN || !same(valueOf(olds, k), valueOf(news, k))),
    )
    .map(([k]) => k);
}

/** One change converging would make to the object as it exists, as preview shows it. */
export interface PlannedChange {
  /** The declared property the change serves, e.g. `version`. */
  readonly property: string;
  /**
   * What differs and what `up` does about it, e.g. `map accounts - Customers V3 runs version
   * 1.0.0.4; declared latest: switch 1.0.0.4 → 1.0.0.5 (stops the map for the switch)`.
   */
  readonly effect: string;
  /**
   * Whether it disturbs what runs: removes legal entities from a link, stops or pauses a live map
   * (to switch it, set its keys, sync it again, or because the declaration says so).
   */
  readonly disruptive: boolean;
  /**
   * The observed values of declared properties (declared shape), which `read` records in the state
   * in place of the declared ones, so that a preview after a refresh shows `observed → declared`.
   */
  readonly observed?: Readonly<Record<string, unknown>>;
}

/**
 * Objects adopted by a create in this deployment (one provider process serves every resource of
 * a deployment), so that a delete later in the same deployment leaves them alone.
 */
export class Claims {
  private readonly keys = new Map<string, string>();

  /** Records that `by` adopted the object `key`. */
  claim(key: string, by: string): void {
    this.keys.set(key, by);
  }

  /** Who adopted `key` in this deployment, if anyone. */
  claimedBy(key: string): string | undefined {
    return this.keys.get(key);
  }
}

/** Why `verify` is called. */
export interface VerifyContext<I> {
  readonly phase: "check" | "create" | "update";
  /** The previous inputs (outputs) when the resource exists; undefined for a new one. */
  readonly previous: Partial<I> | undefined;
  /** Properties not known yet (preview); empty outside check. */
  readonly unknown: ReadonlySet<string>;
}

/** What `converge` gets besides the declaration. */
export interface ConvergeContext<O, F> {
  /** The object as found before converging (create only). */
  readonly found: F | undefined;
  /** The previous outputs (update only). */
  readonly previous: O | undefined;
}

/**
 * One resource, said once. `I` are the lifecycle inputs, `O` the outputs (inputs included), `D`
 * the declaration with defaults applied, `F` the object as found, `P` what `verify` read for
 * `converge`.
 */
export interface ResourceSpec<I extends object, O extends I, D, F, P> {
  /** The public type name, e.g. `EntityMapBinding`. */
  readonly resource: string;
  /** One zod schema per input property (reference-derived inputs included). */
  readonly schemas: PropertySchemas;
  /** Rules between properties, on the values that passed their own schemas. */
  crossCheck?(values: Readonly<Record<string, unknown>>): CheckFailure[];
  /**
   * Inputs that name another resource in the program (`connection`), with the lifecycle inputs
   * they give. When all of those are absent, the reference is missing: one failure names it.
   */
  readonly references: Readonly<Record<string, { target: string; inputs: readonly string[] }>>;
  /**
   * Inputs a referenced resource computes: unknown in a preview in which it is updated, which
   * says only that it is being updated, not that this resource changes (the old value stands).
   */
  readonly settled: readonly (keyof I & string)[];
  /** The declared inputs whose change is an update (deep equality). */
  readonly declared: readonly (keyof I & string)[];
  /**
   * Inputs added by `resolve` after check (kept in the state as inputs). They are compared only
   * when both the old state and the new inputs hold one: a state written by an older version
   * lacks them, and a check that could not resolve one (nothing published yet) adds none.
   */
  readonly resolved: readonly (keyof I & string)[];
  /** Inputs that must be known to look anything up in the environments. */
  readonly identity: readonly (keyof I & string)[];
  /** Inputs whose change replaces the resource, each with how two values compare. */
  readonly replaceOnChange: Readonly<Partial<Record<keyof I & string, Comparator>>>;
  /** Delete the old object before creating its replacement. */
  readonly deleteBeforeReplace: boolean;
  /** Ends the sentence for an input unknown at create, e.g. `before the link is made`. */
  readonly before: string;
  /** What `onDelete` calls cleaning up, e.g. `reset`. */
  readonly cleanup: string;
  /** The declaration with defaults applied. */
  desired(inputs: I): D;
  /** The object as messages name it, e.g. `the link of F&O … to Dataverse …`. */
  describe(d: D): string;
  /** A key naming the object within a deployment (for {@link Claims}). */
  claimKey(d: D): string;
  /**
   * The rules that need the environments, with reads only; failures go to `failures`. Returns
   * what `converge` reuses (create and update), or undefined when nothing can be reused.
   */
  verify(
    d: D,
    ctx: HandlerContext,
    failures: FailureList,
    how: VerifyContext<I>,
  ): Promise<P | undefined>;
  /** The object as it exists now; undefined when it does not (or is not this resource's kind). */
  find(d: D, ctx: HandlerContext, fresh: boolean): Promise<F | undefined>;
  /** Why `find` found nothing, as a diff reason (what `up` will do about it). */
  absent(d: D, ctx: HandlerContext): Promise<string>;
  /** Whether the found object is live, so that creating adopts it (rather than brings it up). */
  isLive(found: F): boolean;
  /** The changes converging would make to the found object (`previous`: the old outputs). */
  plan(
    d: D,
    found: F,
    ctx: HandlerContext,
    previous: Partial<O> | undefined,
  ): Promise<PlannedChange[]>;
  /**
   * Lines the diff shows under the resource besides the planned changes, that are no change of
   * their own and leave `changes` as it is: what converging would not touch, and why (e.g. rows a
   * bootstrap leaves out because dual-write would reject them). Absent: none.
   */
  remarks?(
    d: D,
    found: F,
    ctx: HandlerContext,
    previous: Partial<O> | undefined,
  ): Promise<string[]>;
  /** Makes the object match; returns its id and the observed outputs (inputs not included). */
  converge(
    d: D,
    pre: P,
    ctx: HandlerContext,
    how: ConvergeContext<O, F>,
  ): Promise<{ id: string; outs: Partial<O> }>;
  /** The observed outputs of the found object (inputs not included); `props`: the state. */
  observe(d: D, found: F, ctx: HandlerContext, props: O): Promise<Partial<O>>;
  /** Cleans the object up (`onDelete` is the clean-up word); gone counts as done. */
  release(d: D, props: O, ctx: HandlerContext): Promise<void>;
  /** `read` with no state (`pulumi import`): the object the import id names. */
  readImported?(importId: string, ctx: HandlerContext): Promise<ReadOutcome<O>>;
  /** Inputs the provider adds after a successful check (e.g. the version `latest` stands for). */
  resolve?(d: D, ctx: HandlerContext, unknown: ReadonlySet<string>): Promise<Partial<I>>;
  /**
   * What an update does about a change of a declared input, ending that input's diff reason, e.g.
   * `trigger changes from "a" to "b": the initial sync runs again`. An input not listed: the
   * reason names the change only.
   */
  readonly changeEffects?: Readonly<Partial<Record<keyof I & string, string>>>;
  /**
   * Set for a resource that starts a job rather than owns a long-lived object (InitialSyncRun):
   * what it manages is the record of its run in the state — history. `find` then returns that
   * record (reading nothing) and `isLive` is false; the job a create finds at the service is
   * adopted by `converge`, and saying so is the resource's own output. Such a resource records
   * no `ownership` and claims nothing ({@link Claims}): its delete only forgets the record
   * (`release`), whoever started the job.
   * @default false
   */
  readonly history?: boolean;
}

type Values = Record<string, unknown>;

/** The value of one input of a plain input object. */
function valueOf(inputs: object, key: string): unknown {
  return (inputs as Values)[key];
}

/** A short rendering of a declared value for diff reasons. */
function render(value: unknown): string {
  if (value === undefined) return "(not set)";
  if (value === UNKNOWN) return "(not known yet)";
  if (typeof value === "string") return show(value);
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Failures for references whose every derived input is absent (a JavaScript or YAML program that
 * left the reference out): one failure per reference, naming it.
 */
export function missingReferences(
  resource: string,
  references: Readonly<Record<string, { target: string; inputs: readonly string[] }>>,
  news: Readonly<Values>,
): { failures: CheckFailure[]; derived: Set<string> } {
  const failures: CheckFailure[] = [];
  const derived = new Set<string>();
  for (const [property, { target, inputs }] of Object.entries(references)) {
    if (inputs.every((k) => news[k] === undefined)) {
      failures.push({
        property,
        reason: `${property} is required: pass the ${target} resource this ${resource} belongs to (${property}: <the ${target}>), not an id or nothing.`,
      });
      for (const k of inputs) derived.add(k);
    }
  }
  return { failures, derived };
}

/** Derives the lifecycle of a resource from its spec (see the file comment). */
export function lifecycleOf<I extends object, O extends I, D, F, P>(
  spec: ResourceSpec<I, O, D, F, P>,
): Lifecycle<I, O> {
  const name = spec.resource;

  /** Pure rules: references, each property's schema, rules between properties. */
  const pureCheck = (news: Readonly<Values>) => {
    const refs = missingReferences(name, spec.references, news);
    const schemas = Object.fromEntries(
      Object.entries(spec.schemas).filter(([k]) => !refs.derived.has(k)),
    );
    const { list, unknown, values } = collectPropertyFailures(name, schemas, news);
    list.addAll(refs.failures);
    for (const f of spec.crossCheck?.(values) ?? [])
      if (!list.has(f.property)) list.add(f.property, f.reason);
    return { list, unknown };
  };

  const validInputs = (inputs: I): D => {
    const { list, unknown } = pureCheck(inputs as Values);
    throwUnlessValid(name, list, unknown, spec.before);
    return spec.desired(inputs);
  };

  /** The adoption's effects: disruptive ones as failures unless accepted; the others logged. */
  const adoption = async (
    d: D,
    inputs: I,
    found: F,
    ctx: HandlerContext,
    failures: FailureList,
  ): Promise<void> => {
    const changes = await spec.plan(d, found, ctx, undefined);
    const accepted = valueOf(inputs, ADOPT_WITH_CHANGES) === true;
    const disruptive = changes.filter((c) => c.disruptive);
    if (disruptive.length > 0 && !accepted) {
      for (const c of disruptive)
        failures.add(
          c.property,
          `${name} would adopt ${spec.describe(d)}, which exists already, and creating it would change what runs: ${c.effect}. Declare ${c.property} as it is to keep it, or set ${ADOPT_WITH_CHANGES}: true to accept the change.`,
        );
      return;
    }
    ctx.log(
      changes.length === 0
        ? `${name}: creating adopts ${spec.describe(d)} as it is (no write)`
        : `${name}: creating adopts ${spec.describe(d)}, and pulumi up will change it: ${changes.map((c) => c.effect).join("; ")}`,
    );
  };

  /** The `ownership` output, unless the resource records history (`spec.history`). */
  const owned = (ownership: unknown): Values =>
    spec.history ? {} : { [OWNERSHIP]: ownership ?? "created" };

  /** The inputs of a state: its input properties, those `resolve` added included. */
  const inputsOf = (props: Readonly<Values>): Values => {
    const keys = [...Object.keys(spec.schemas), ...spec.resolved];
    return Object.fromEntries(keys.filter((k) => props[k] !== undefined).map((k) => [k, props[k]]));
  };

  return {
    resource: name,

    async check(oldInputs, newInputs, ctx): Promise<CheckFailure[]> {
      const olds = oldInputs as Partial<I>;
      const news = newInputs as Readonly<Values>;
      const { list, unknown } = pureCheck(news);
      if (!list.empty) return list.toArray();
      const inputs = news as unknown as I;
      const isNew = spec.identity.some((k) => valueOf(olds, k) === undefined);
      // An unchanged declaration of an existing resource was checked when it was made; drift is
      // diff's business.
      // (Inputs `resolve` adds are not in a declaration yet.) A replacement is a new object, checked
      // as one, also when its replace-on-change inputs are not among the declared ones.
      const unchanged =
        spec.declared
          .filter((k) => !spec.resolved.includes(k))
          .every((k) => deepEqual(valueOf(olds, k), valueOf(inputs, k))) &&
        replacedProperties(spec.replaceOnChange, olds, inputs).length === 0;
      if (!isNew && unchanged) return [];
      if (spec.identity.some((k) => unknown.has(k))) return [];
      const d = spec.desired(inputs);
      await spec.verify(d, ctx, list, {
        phase: "check",
        previous: isNew ? undefined : olds,
        unknown,
      });
      if (list.empty && isNew) {
        const found = await spec.find(d, ctx, false);
        if (found !== undefined && spec.isLive(found)) await adoption(d, inputs, found, ctx, list);
      }
      return list.toArray();
    },

    async resolveInputs(_olds, newInputs, ctx) {
      if (!spec.resolve) return {};
      const news = newInputs as Readonly<Values>;
      const { list, unknown } = pureCheck(news);
      if (!list.empty || spec.identity.some((k) => unknown.has(k))) return {};
      return spec.resolve(spec.desired(news as unknown as I), ctx, unknown);
    },

    async diff(_id, olds, declared, ctx): Promise<DiffOutcome> {
      const news = settleDerived(olds as I, declared, spec.settled);
      const replaces = replacedProperties(spec.replaceOnChange, olds, news);
      if (replaces.length > 0) {
        return {
          changes: true,
          replaces,
          ...(spec.deleteBeforeReplace && { deleteBeforeReplace: true }),
          reasons: replaces.map(
            (k) =>
              `${k} changes from ${render(valueOf(olds, k))} to ${render(valueOf(news, k))}: ${spec.deleteBeforeReplace ? "the old one is cleaned up first, then it is made again" : "it is replaced"}`,
          ),
          properties: replaces,
        };
      }
      const changed = spec.declared.filter(
        (k) =>
          !deepEqual(valueOf(olds, k), valueOf(news, k)) &&
          !(
            spec.resolved.includes(k) &&
            (valueOf(olds, k) === undefined || valueOf(news, k) === undefined)
          ),
      );
      const reasons = changed.map((k) => {
        const effect = spec.changeEffects?.[k];
        return `${k} changes from ${render(valueOf(olds, k))} to ${render(valueOf(news, k))}${effect ? `: ${effect}` : ""}`;
      });
      const outcome = (more: string[], remarks: readonly string[] = []): DiffOutcome => {
        const all = [...new Set([...reasons, ...more])];
        return {
          changes: all.length > 0,
          replaces: [],
          reasons: [...all, ...remarks],
          ...(changed.length > 0 && { properties: changed }),
        };
      };
      if (containsUnknown(news)) return outcome(["some inputs are not known yet"]);
      const d = spec.desired(news);
      const found = await spec.find(d, ctx, false);
      if (found === undefined) return outcome([await spec.absent(d, ctx)]);
      const planned = await spec.plan(d, found, ctx, olds);
      const remarks = (await spec.remarks?.(d, found, ctx, olds)) ?? [];
      return outcome(
        planned.map((c) => c.effect),
        remarks,
      );
    },

    async create(inputs, ctx) {
      const d = validInputs(inputs);
      const failures = new FailureList();
      const pre = await spec.verify(d, ctx, failures, {
        phase: "create",
        previous: undefined,
        unknown: new Set(),
      });
      if (pre === undefined || !failures.empty)
        throw new InvalidInputError(name, failures.toArray());
      const found = await spec.find(d, ctx, true);
      const adopted = found !== undefined && spec.isLive(found);
      if (adopted) {
        // Checked again: what exists may have changed since the preview.
        await adoption(d, inputs, found, ctx, failures);
        if (!failures.empty) throw new InvalidInputError(name, failures.toArray());
      }
      // This resource manages what it found from now on, live or not: a delete later in this
      // deployment (the old URN of a rename) must not stop what it starts.
      if (found !== undefined && !spec.history) ctx.claims?.claim(spec.claimKey(d), name);
      const { id, outs } = await spec.converge(d, pre, ctx, { found, previous: undefined });
      const ownership: Ownership = adopted ? "adopted" : "created";
      return { id, outs: { ...inputs, ...outs, ...owned(ownership) } as O };
    },

    async read(id, props, ctx): Promise<ReadOutcome<O>> {
      if (spec.identity.some((k) => valueOf(props, k) === undefined)) {
        // No state: `pulumi import` with an import id. What is imported was not made here.
        if (!spec.readImported) return undefined;
        const imported = await spec.readImported(id, ctx);
        return imported && { ...imported, props: { ...imported.props, ...owned("adopted") } };
      }
      const d = spec.desired(props);
      const found = await spec.find(d, ctx, true);
      if (found === undefined) return undefined;
      const observed = await spec.observe(d, found, ctx, props);
      const folded: Values = {};
      for (const change of await spec.plan(d, found, ctx, props))
        Object.assign(folded, change.observed ?? {});
      const outputs = {
        ...props,
        ...folded,
        ...observed,
        ...owned(valueOf(props, OWNERSHIP)),
      } as O;
      return Object.keys(folded).length === 0
        ? { id, props: outputs }
        : { id, props: outputs, inputs: { ...inputsOf(props as Values), ...folded } };
    },

    async update(_id, olds, news, ctx) {
      const d = validInputs(news);
      const failures = new FailureList();
      const pre = await spec.verify(d, ctx, failures, {
        phase: "update",
        previous: olds,
        unknown: new Set(),
      });
      if (pre === undefined || !failures.empty)
        throw new InvalidInputError(name, failures.toArray());
      const { outs } = await spec.converge(d, pre, ctx, { found: undefined, previous: olds });
      return { ...news, ...outs, ...owned(valueOf(olds, OWNERSHIP)) } as O;
    },

    async delete(_id, props, ctx) {
      const d = spec.desired(props);
      const ownership = (valueOf(props, OWNERSHIP) as Ownership | undefined) ?? "created";
      const declared = valueOf(props, ON_DELETE) as string | undefined;
      const action = declared ?? (ownership === "adopted" ? "leave" : spec.cleanup);
      if (action === "leave") {
        ctx.log(
          `${name}: ${spec.describe(d)} is left as it is (${declared ? `${ON_DELETE}: "leave"` : "this resource adopted it"}; set ${ON_DELETE}: "${spec.cleanup}" to ${spec.cleanup} it on delete)`,
        );
        return;
      }
      const claimedBy = spec.history ? undefined : ctx.claims?.claimedBy(spec.claimKey(d));
      if (claimedBy !== undefined) {
        ctx.log(
          `${name}: ${spec.describe(d)} is left as it is: another ${claimedBy} of this deployment adopted it (a rename without aliases?)`,
        );
        return;
      }
      await spec.release(d, props, ctx);
    },
  };
}
