/**
 * The doctor's results and how they are shown: one `StepResult` per step, printed as it is
 * known (human text) or all at once as JSON (`--json`). Nothing here holds a secret: the steps
 * put only names, ids, URLs and claims that identify (never a token) into their results.
 */

/** A step's (or a detail's) verdict. */
export type Outcome = "PASS" | "WARN" | "FAIL" | "SKIP";

/** One line under a step, with its own verdict when it is a check of its own. */
export interface Detail {
  /** Set when this line is a check (e.g. one surface's token); plain information otherwise. */
  readonly outcome?: Outcome;
  readonly text: string;
}

/** The result of one step. */
export interface StepResult {
  /** 1-based, in the order the steps are shown. */
  readonly number: number;
  /** Stable name for scripts, e.g. `gatewayEnvironment`. */
  readonly name: string;
  /** For people, e.g. `Gateway and environment resolution`. */
  readonly title: string;
  readonly outcome: Outcome;
  /** One line: what was found, or why the step failed or was skipped. */
  readonly summary: string;
  readonly details: readonly Detail[];
  /** One line: what to do (set for FAIL and WARN, and for a SKIP that needs an input). */
  readonly todo?: string;
}

/** Everything the doctor found. */
export interface DoctorReport {
  /** True when no step FAILs (exit code 0). */
  readonly ok: boolean;
  readonly financeOperationsUrl: string;
  /** The Dataverse URL checked: `--dataverse-url`, else the connection set's; undefined when neither. */
  readonly dataverseUrl: string | undefined;
  readonly steps: readonly StepResult[];
}

/** The most severe of some outcomes: FAIL > WARN > PASS > SKIP (SKIP only when all skip). */
export function worst(outcomes: readonly Outcome[]): Outcome {
  for (const o of ["FAIL", "WARN", "PASS"] as const) if (outcomes.includes(o)) return o;
  return "SKIP";
}

const INDENT = "      ";

/** One step as text: the verdict and title line, the details, and what to do. */
export function renderStep(step: StepResult): string {
  const lines = [`${step.outcome.padEnd(4)}  ${step.number}. ${step.title}: ${step.summary}`];
  for (const d of step.details)
    lines.push(`${INDENT}${d.outcome ? `${d.outcome.padEnd(4)}  ` : ""}${d.text}`);
  if (step.todo) lines.push(`${INDENT}what to do: ${step.todo}`);
  return `${lines.join("\n")}\n`;
}

/** The closing line: counts per verdict and the exit code. */
export function renderSummary(report: DoctorReport): string {
  const count = (o: Outcome) => report.steps.filter((s) => s.outcome === o).length;
  const counts = (["PASS", "WARN", "FAIL", "SKIP"] as const).map((o) => `${count(o)} ${o}`);
  return `\n${counts.join(", ")}: ${report.ok ? "nothing failed (exit 0)" : "something failed (exit 1)"}\n`;
}

/**
 * Hands steps to `print` in step order as they complete: a step finished early (the tokens
 * step waits for the Dataverse URL of a later step) is held until those before it are printed.
 */
export class OrderedPrinter {
  private readonly done = new Map<number, StepResult>();
  private next = 1;

  constructor(private readonly print: (step: StepResult) => void) {}

  /** Records a finished step and prints every step that is now in order. */
  add(step: StepResult): void {
    this.done.set(step.number, step);
    for (let s = this.done.get(this.next); s; s = this.done.get(this.next)) {
      this.print(s);
      this.next++;
    }
  }
}
