/**
 * Collects check failures so that each property is reported once, however many rules it broke.
 */
import { DualWriteError } from "../../errors";
import { checkProperties, type CheckFailure, type PropertySchemas } from "./check";

/** Failures keyed by property; several reasons for one property become one sentence. */
export class FailureList {
  private readonly byProperty = new Map<string, string[]>();

  /** Adds a reason for `property`. */
  add(property: string, reason: string): void {
    const reasons = this.byProperty.get(property) ?? [];
    if (!reasons.includes(reason)) reasons.push(reason);
    this.byProperty.set(property, reasons);
  }

  /** Adds failures already made. */
  addAll(failures: readonly CheckFailure[]): void {
    for (const f of failures) this.add(f.property, f.reason);
  }

  /** Whether `property` already failed (later rules about it would only repeat the point). */
  has(property: string): boolean {
    return this.byProperty.has(property);
  }

  /** Whether nothing failed. */
  get empty(): boolean {
    return this.byProperty.size === 0;
  }

  /** One failure per property. */
  toArray(): CheckFailure[] {
    return [...this.byProperty].map(([property, reasons]) => ({
      property,
      reason: reasons.join(" Also: "),
    }));
  }
}

/** The error `create`/`update` throw when a pre-flight rule fails: the same sentences as `check`. */
export class InvalidInputError extends DualWriteError {
  constructor(
    resource: string,
    readonly failures: readonly CheckFailure[],
  ) {
    super(
      `${resource} cannot proceed: ${failures.map((f) => `[${f.property}] ${f.reason}`).join(" ")}`,
      "InvalidInput",
    );
    this.name = "InvalidInputError";
  }
}

/**
 * {@link checkProperties} with its failures already in a {@link FailureList}, for the rules that
 * follow to add to.
 */
export function collectPropertyFailures(
  resource: string,
  schemas: PropertySchemas,
  news: Readonly<Record<string, unknown>>,
): { list: FailureList; unknown: ReadonlySet<string>; values: Readonly<Record<string, unknown>> } {
  const { failures, unknown, values } = checkProperties(resource, schemas, news);
  const list = new FailureList();
  list.addAll(failures);
  return { list, unknown, values };
}

/**
 * What `create`/`update` do before writing: every input not known yet fails too, and any failure
 * throws {@link InvalidInputError}.
 * @param before ends the sentence for an unknown input, e.g. `before rows are stamped`.
 */
export function throwUnlessValid(
  resource: string,
  list: FailureList,
  unknown: ReadonlySet<string>,
  before: string,
): void {
  for (const p of unknown) list.add(p, `${p} is not known yet; it must be known ${before}.`);
  if (!list.empty) throw new InvalidInputError(resource, list.toArray());
}
