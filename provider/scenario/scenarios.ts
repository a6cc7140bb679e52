/**
 * The six setup scenarios of Microsoft's "Guidance for how to set up dual-write" and what each
 * implies for defaults, pre-flight checks and the order of steps (DESIGN §1).
 */

import { SCENARIOS, type Scenario } from "../../facts/scenarios";

// The list itself is shared with the emulator (facts/scenarios.ts); re-exported for the provider.
export { SCENARIOS, type Scenario };

/** Which side wins when a row exists on both sides during an initial sync. */
export type InitialSyncMaster = "Dataverse" | "FinanceOperations";

/** What a scenario says about the two environments before they are linked. */
export interface ScenarioFacts {
  /** F&O: a new, empty environment; a new one with data loaded; or an existing one. */
  readonly financeOperations: "new-empty" | "new-data" | "existing";
  /** Dataverse: new (no business rows) or existing (has data). */
  readonly dataverse: "new" | "existing";
}

const FACTS: Readonly<Record<Scenario, ScenarioFacts>> = {
  "new-new": { financeOperations: "new-empty", dataverse: "new" },
  "new-existing": { financeOperations: "new-empty", dataverse: "existing" },
  "new-data-new": { financeOperations: "new-data", dataverse: "new" },
  "new-data-existing": { financeOperations: "new-data", dataverse: "existing" },
  "existing-new": { financeOperations: "existing", dataverse: "new" },
  "existing-existing": { financeOperations: "existing", dataverse: "existing" },
};

/** The facts of a scenario. */
export function scenarioFacts(scenario: Scenario): ScenarioFacts {
  return FACTS[scenario];
}

/** Whether `value` names one of the six scenarios. */
export function isScenario(value: unknown): value is Scenario {
  return typeof value === "string" && (SCENARIOS as readonly string[]).includes(value);
}

/** F&O's default legal entity, present in every environment; new environments link it alone. */
export const DEFAULT_COMPANY = "DAT";

/**
 * The legal entities linked when none are declared: `DAT` for a new F&O environment, every legal
 * entity for an existing one (`undefined` = all that F&O has).
 */
export function defaultLegalEntities(scenario: Scenario): readonly string[] | undefined {
  return FACTS[scenario].financeOperations === "existing" ? undefined : [DEFAULT_COMPANY];
}

/**
 * The core orchestration package (DW/separated-solutions.md): the "CRM prime" solution whose
 * maps every scenario starts from — legal entities, currencies, customers.
 */
export const CORE_SOLUTIONS: readonly string[] = ["msdyn_DualWriteAppCoreMaps"];

/** The orchestration solutions applied when none are declared. */
export function defaultSolutions(_scenario: Scenario): readonly string[] {
  // Every scenario starts from the core package; the others (Finance, Supply Chain, HR, GAB)
  // depend on apps a tenant may not have, so they are applied only when declared.
  return CORE_SOLUTIONS;
}

/** Whether the scenario's Dataverse side has rows that need the company stamp (bootstrap). */
export function needsBootstrap(scenario: Scenario): boolean {
  return FACTS[scenario].dataverse === "existing";
}

/**
 * The initial-sync choice for a map that declares none: nothing to copy for `new-new`; the side
 * that holds the data wins elsewhere. For `new-existing` only Dataverse has data; for the
 * other scenarios F&O is the system of record for customers and companies.
 */
export function defaultInitialSync(scenario: Scenario): "skip" | { master: InitialSyncMaster } {
  switch (scenario) {
    case "new-new":
      return "skip";
    case "new-existing":
      return { master: "Dataverse" };
    case "new-data-new":
    case "new-data-existing":
    case "existing-new":
    case "existing-existing":
      return { master: "FinanceOperations" };
  }
}
