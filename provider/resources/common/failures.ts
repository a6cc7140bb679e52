/**
 * Collects check failures so that each property is reported once, however many rules it broke.
 */
import { DualWriteError } from "../../errors";
import type { CheckFailure } from "./check";

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
