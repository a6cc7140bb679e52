/**
 * pulumi-dualwrite: declare Dynamics 365 dual-write (Finance and Operations ↔ Dataverse) with
 * Pulumi. Four resources and one component; the provider reads its credentials from stack
 * config (`dualwrite:*`) or the Azure environment variables, never from resource inputs.
 *
 * @example
 * import * as dw from "pulumi-dualwrite";
 * const setup = new dw.DualWriteScenario("contoso", {
 *   scenario: "existing-existing",
 *   financeOperationsUrl: "https://contoso.operations.dynamics.com",
 *   dataverseUrl: "https://contoso.crm.dynamics.com",
 *   maps: [{ name: "accounts - Customers V3", initialSync: { master: "FinanceOperations" } }],
 * });
 */
export {
  DualWriteConnection,
  type DualWriteConnectionArgs,
  type LegalEntityArgs,
} from "./resources/dualWriteConnection/dualWriteConnection";
export {
  CompanyBootstrap,
  type CompanyBootstrapArgs,
} from "./resources/companyBootstrap/companyBootstrap";
export {
  EntityMapBinding,
  type EntityMapBindingArgs,
  type BindingInitialSyncArgs,
} from "./resources/entityMapBinding/entityMapBinding";
export { InitialSyncRun, type InitialSyncRunArgs } from "./resources/initialSyncRun/initialSyncRun";
export {
  DualWriteScenario,
  DUALWRITE_SCENARIO_TYPE,
  type DualWriteScenarioArgs,
  type ScenarioMapArgs,
  type ScenarioInitialSyncArgs,
  type BootstrapCompanyArgs,
} from "./scenario/dualWriteScenario";
export { SCENARIOS, type Scenario, type InitialSyncMaster } from "./scenario/scenarios";
export type {
  DesiredState,
  BindingSyncRecord,
} from "./resources/entityMapBinding/entityMapBinding.schema";
export type {
  Master,
  LegalEntityRunResult,
  MeasuredCounts,
} from "./resources/initialSyncRun/initialSyncRun.schema";
export {
  DualWriteError,
  HttpError,
  AmbiguousResponseError,
  TimeoutError,
  ConfigError,
} from "./errors";
