/**
 * Support for the end-to-end scenario tests: an example program (examples/<name>) as a stack on
 * the real Pulumi CLI against an emulated environment pair, previews read as engine events, and
 * checks of both environments through the emulator's control API.
 *
 * The CLI's output of each test is kept and printed only when the test fails, so that a green run
 * stays readable and a red one shows what the engine said.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import type { EngineEvent, OpType, PreviewResult } from "@pulumi/pulumi/automation";
import type { EnvironmentInfo } from "../../emulator/index";
import {
  emulatorProcessEnv,
  emulatorProviderConfig,
  exampleModule,
  exampleProjectName,
  programFromModule,
} from "../../tools/examples";
import { readPairReport, rowDifferences, type PairReport } from "../../tools/emulatorReport";
import { EngineStack } from "../support/engine";
import { startTestEmulator, type TestEmulator } from "../support/emulator";

/** Emulated time runs this much faster than real time: map transitions and jobs take emulated time. */
export const CLOCK_SPEED = 20;

/** Customers per company in the seeds: enough to show paging and parity, small enough to be quick. */
export const SEED_SIZE = 30;

/** Starts the file's one emulator (no pairs yet: each test seeds its own). */
export function startScenarioEmulator(): Promise<TestEmulator> {
  return startTestEmulator({ clock: { speed: CLOCK_SPEED }, log: () => undefined });
}

/** Seeds one environment pair for a scenario under a name unique in the emulator. */
export function seedPair(
  emulator: TestEmulator,
  scenario: string,
  name: string,
  size = SEED_SIZE,
): Promise<EnvironmentInfo> {
  return emulator.control.seed({ scenario, name, size });
}

/** The CLI output of the running test, printed when it fails (see {@link printOutputOnFailure}). */
export class OutputBuffer {
  private text = "";

  /** Where EngineStack writes. */
  readonly sink = (chunk: string): void => {
    this.text += chunk;
  };

  /** Everything since the last {@link take}, and starts afresh. */
  take(): string {
    const all = this.text;
    this.text = "";
    return all;
  }
}

/** A mocha `afterEach` body: prints the CLI output of a failed test, drops it otherwise. */
export function printOutputOnFailure(buffer: OutputBuffer): (this: Mocha.Context) => void {
  return function (this: Mocha.Context) {
    const output = buffer.take();
    if (this.currentTest?.state === "failed" && output.trim() !== "") {
      process.stdout.write(`\n      --- Pulumi output of "${this.currentTest.title}" ---\n`);
      process.stdout.write(output.replace(/^/gm, "      | "));
      process.stdout.write("\n");
    }
  };
}

/** Creates a stack that runs examples/<example> against `pair` of `emulator`. */
export async function exampleStack(options: {
  readonly emulator: TestEmulator;
  readonly example: string;
  /** Stack config of the example's project (URLs, companies, …). */
  readonly config: Readonly<Record<string, string>>;
  readonly output: OutputBuffer;
  readonly stackName?: string;
  /** A `file://` backend shared with other stacks (kept by dispose). */
  readonly backendDir?: string;
  /**
   * A committed stack file (`Pulumi.<stack>.yaml`) to start from, as the CLI would read it from
   * the example's folder; `config` and the provider settings are added to it.
   */
  readonly stackFile?: string;
}): Promise<EngineStack> {
  const provider = emulatorProviderConfig(options.emulator);
  const stack = await EngineStack.create({
    projectName: exampleProjectName(options.example),
    ...(options.stackName !== undefined && { stackName: options.stackName }),
    ...(options.backendDir !== undefined && { backendDir: options.backendDir }),
    program: programFromModule(exampleModule(options.example)),
    env: emulatorProcessEnv(options.emulator),
    output: options.output.sink,
  });
  if (options.stackFile !== undefined) {
    // The stack's own file (in the scratch project) holds only the secrets salt so far; keep it.
    const file = path.join(stack.stack.workspace.workDir, `Pulumi.${stack.name}.yaml`);
    const scratch = await fs.promises.readFile(file, "utf8").catch(() => "");
    const salt = scratch.split("\n").filter((line) => line.startsWith("encryptionsalt:"));
    const committed = await fs.promises.readFile(options.stackFile, "utf8");
    await fs.promises.writeFile(file, [...salt, committed].join("\n"));
  }
  await stack.setConfig({ ...options.config, ...provider.config });
  await stack.setConfig(provider.secrets, { secret: true });
  return stack;
}

/** One step of a preview: what the engine would do to one resource. */
export interface PlannedStep {
  readonly op: OpType;
  /** Resource type token, e.g. `pulumi-nodejs:dynamic/dualwrite:EntityMapBinding`. */
  readonly type: string;
  /** Resource name (the last part of the URN). */
  readonly name: string;
  readonly urn: string;
  /** Inputs after the step (`new.inputs`), when the engine reports them. */
  readonly inputs?: Readonly<Record<string, unknown>>;
}

/** A preview with its steps. */
export interface PreviewWithSteps {
  readonly result: PreviewResult;
  readonly steps: readonly PlannedStep[];
}

/** `pulumi preview`, collecting one {@link PlannedStep} per resource from the engine events. */
export async function previewSteps(
  stack: EngineStack,
  output: OutputBuffer,
  options: { expectNoChanges?: boolean; diff?: boolean } = {},
): Promise<PreviewWithSteps> {
  const steps: PlannedStep[] = [];
  const onEvent = (event: EngineEvent): void => {
    const pre = event.resourcePreEvent?.metadata;
    if (!pre) return;
    steps.push({
      op: pre.op,
      type: pre.type,
      name: pre.urn.split("::").pop() ?? pre.urn,
      urn: pre.urn,
      ...(pre.new?.inputs && { inputs: pre.new.inputs }),
    });
  };
  const result = await stack.stack.preview({
    onOutput: output.sink,
    onEvent,
    color: "never",
    ...(options.expectNoChanges !== undefined && { expectNoChanges: options.expectNoChanges }),
    ...(options.diff !== undefined && { diff: options.diff }),
  });
  return { result, steps };
}

/** The steps of a preview that change something (not `same`, not `read`). */
export function changes(steps: readonly PlannedStep[]): PlannedStep[] {
  return steps.filter((s) => s.op !== "same" && s.op !== "read");
}

/** Names of the resources of a type a list of steps touches, sorted. */
export function namesOfType(steps: readonly PlannedStep[], typeSuffix: string): string[] {
  return steps
    .filter((s) => s.type.endsWith(typeSuffix))
    .map((s) => s.name)
    .sort();
}

/** The newest map version by Microsoft, read from the Dataverse map table (maps are solution components). */
export async function latestVersions(
  emulator: TestEmulator,
  pair: string,
): Promise<Map<string, string>> {
  const rows = await emulator.control.rows("dataverse", pair, "msdyn_dualwriteentitymaps");
  const newest = new Map<string, string>();
  const parts = (v: string): number[] => v.split(".").map(Number);
  const newer = (a: string, b: string): boolean => {
    const [x, y] = [parts(a), parts(b)];
    for (let i = 0; i < 4; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
    return false;
  };
  for (const row of rows) {
    if (row.msdyn_author !== "Microsoft") continue;
    const name = String(row.msdyn_name);
    const version = String(row.msdyn_version);
    const known = newest.get(name);
    if (known === undefined || newer(version, known)) newest.set(name, version);
  }
  return newest;
}

/** What a converged scenario must look like in the emulator. */
export interface ConvergedExpectation {
  /** The legal entities on the link, in any order. */
  readonly legalEntities: readonly string[];
  /** Declared maps and their versions (`latest` = Microsoft's newest). */
  readonly maps: ReadonlyArray<{ readonly name: string; readonly version: string }>;
  /** Companies whose rows must be the same on both sides (accounts, contacts, customer groups). */
  readonly parityCompanies: readonly string[];
  /**
   * Bootstrapped companies: no unstamped Dataverse row may be left in their tables (of their
   * business unit, when one is given).
   */
  readonly bootstrapped?: ReadonlyArray<{
    readonly tables: readonly string[];
    readonly owningBusinessUnit?: string;
    /**
     * Rows per table that are left without a company on purpose: added after the bootstrap ran,
     * so outside its selection. @default none
     */
    readonly leftAlone?: Readonly<Record<string, number>>;
  }>;
}

/**
 * Asserts, through the control API, that the pair has converged: the link with its legal
 * entities, an enabled company with business unit and "<code> DW" team per legal entity, every
 * declared map Running at the declared version, row parity per company, and no unstamped rows left
 * for bootstrapped companies. Returns the report for further checks.
 */
export async function expectConverged(
  emulator: TestEmulator,
  pair: string,
  expected: ConvergedExpectation,
): Promise<PairReport> {
  const report = await readPairReport(emulator.control, pair);
  expect(report.link, `pair ${pair} is linked`).to.not.equal(undefined);
  expect([...(report.link?.legalEntities ?? [])].sort()).to.deep.equal(
    [...expected.legalEntities].sort(),
  );

  for (const code of expected.legalEntities) {
    const company = report.companies.find((c) => c.code === code);
    expect(company, `cdm_companies row of ${code}`).to.not.equal(undefined);
    expect(company?.enabled, `${code} enabled for dual-write`).to.equal(true);
    expect(company?.team, `default owning team of ${code}`).to.equal(`${code} DW`);
    // Enabling a company creates a business unit with the company's name (DW/company-data.md).
    expect(company?.businessUnit, `business unit of ${code}'s team`).to.equal(company?.name);
  }

  const latest = await latestVersions(emulator, pair);
  for (const declared of expected.maps) {
    const map = report.maps.find((m) => m.name === declared.name);
    expect(map, `map ${declared.name} on the link`).to.not.equal(undefined);
    expect(map?.state, `state of ${declared.name}`).to.equal("Running");
    const version = declared.version === "latest" ? latest.get(declared.name) : declared.version;
    expect(map?.version, `active version of ${declared.name}`).to.equal(version);
  }

  for (const code of expected.parityCompanies) {
    const rows = report.rows.find((r) => r.company === code);
    expect(rows, `rows of ${code}`).to.not.equal(undefined);
    if (!rows) continue;
    const noDifference = { onlyInFinanceOperations: [], onlyInDataverse: [] };
    expect(rowDifferences(rows), `row parity of ${code}`).to.deep.equal({
      accounts: noDifference,
      contacts: noDifference,
      customerGroups: noDifference,
    });
  }

  for (const b of expected.bootstrapped ?? []) {
    for (const table of b.tables) {
      const perUnit = report.unstamped[table] ?? {};
      const left =
        b.owningBusinessUnit === undefined
          ? Object.values(perUnit).reduce((a, n) => a + n, 0)
          : (perUnit[b.owningBusinessUnit] ?? 0);
      expect(
        left,
        `unstamped ${table}${b.owningBusinessUnit ? ` of ${b.owningBusinessUnit}` : ""}`,
      ).to.equal(b.leftAlone?.[table] ?? 0);
    }
  }
  return report;
}

/** Every business row's key on both sides (accounts, contacts, customer groups, customers), for "nothing was deleted". */
export async function businessRowKeys(
  emulator: TestEmulator,
  pair: string,
): Promise<Record<string, string[]>> {
  const keysOf = async (
    store: "dataverse" | "fno",
    table: string,
    key: string,
  ): Promise<string[]> =>
    (await emulator.control.rows(store, pair, table)).map((r) => String(r[key])).sort();
  return {
    accounts: await keysOf("dataverse", "accounts", "accountid"),
    contacts: await keysOf("dataverse", "contacts", "contactid"),
    msdyn_customergroups: await keysOf(
      "dataverse",
      "msdyn_customergroups",
      "msdyn_customergroupid",
    ),
    cdm_companies: await keysOf("dataverse", "cdm_companies", "cdm_companyid"),
    CustomersV3: (await emulator.control.rows("fno", pair, "CustomersV3"))
      .map((r) => `${String(r.dataAreaId)}/${String(r.CustomerAccount)}`)
      .sort(),
    CustomerGroups: (await emulator.control.rows("fno", pair, "CustomerGroups"))
      .map((r) => `${String(r.dataAreaId)}/${String(r.CustomerGroupId)}`)
      .sort(),
    LegalEntities: await keysOf("fno", "LegalEntities", "LegalEntityId"),
  };
}

/** Stops a map by hand, as a person in the dual-write workspace would (no provider involved). */
export async function stopMapByHand(
  emulator: TestEmulator,
  pair: string,
  mapName: string,
): Promise<void> {
  await emulator.control.call(
    "PUT",
    `maps/${encodeURIComponent(pair)}/${encodeURIComponent(mapName)}/state`,
    { state: "Stopped" },
  );
}

/** Removes a legal entity from the link by hand (no guards, no provider involved). */
export async function removeLegalEntityByHand(
  emulator: TestEmulator,
  pair: string,
  code: string,
): Promise<void> {
  await emulator.control.call(
    "DELETE",
    `links/${encodeURIComponent(pair)}/legal-entities/${encodeURIComponent(code)}`,
  );
}

/**
 * Adds accounts without a company to Dataverse directly (origin "control": the runtime does not
 * sync them), owned by a business unit given by name (the root unit when not given). They refer to
 * a customer group of `company` and to USD, as accounts created in the sales app would, so that
 * once stamped they are valid in F&O too. Returns their account numbers.
 */
export async function addUnstampedAccounts(
  emulator: TestEmulator,
  pair: string,
  options: {
    readonly count: number;
    readonly company: string;
    readonly owningBusinessUnit?: string;
  },
): Promise<string[]> {
  const rows = (table: string): Promise<Array<Record<string, unknown>>> =>
    emulator.control.rows("dataverse", pair, table);
  const [units, teams, companies, groups, currencies] = await Promise.all([
    rows("businessunits"),
    rows("teams"),
    rows("cdm_companies"),
    rows("msdyn_customergroups"),
    rows("transactioncurrencies"),
  ]);
  const unit =
    options.owningBusinessUnit === undefined
      ? units.find((u) => u._parentbusinessunitid_value === null)
      : units.find((u) => u.name === options.owningBusinessUnit);
  if (!unit)
    throw new Error(`No business unit ${options.owningBusinessUnit ?? "(root)"} in ${pair}.`);
  const team = teams.find(
    (t) => t._businessunitid_value === unit.businessunitid && t.isdefault === true,
  );
  const companyId = companies.find((c) => c.cdm_companycode === options.company)?.cdm_companyid;
  const group = groups.find((g) => g._msdyn_company_value === companyId);
  const usd = currencies.find((c) => c.isocurrencycode === "USD");
  const { iso: now } = await emulator.control.call<{ iso: string }>("GET", "clock");
  const numbers = Array.from(
    { length: options.count },
    (_, i) => `HAND-${String(i + 1).padStart(3, "0")}`,
  );
  await emulator.control.insertRows(
    "dataverse",
    pair,
    "accounts",
    numbers.map((n) => ({
      name: `Added by hand ${n}`,
      accountnumber: n,
      customertypecode: 3,
      _msdyn_company_value: null,
      _msdyn_customergroupid_value: group?.msdyn_customergroupid ?? null,
      _transactioncurrencyid_value: usd?.transactioncurrencyid ?? null,
      _owningbusinessunit_value: unit.businessunitid,
      _ownerid_value: team?.teamid ?? null,
      statecode: 0,
      statuscode: 1,
      // Every Dataverse row has its creation time; the control API does not set it.
      createdon: now,
    })),
  );
  return numbers;
}
