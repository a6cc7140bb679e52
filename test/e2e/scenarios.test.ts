/**
 * The six setup scenarios end to end: each example program (examples/<scenario>) on the real
 * Pulumi CLI against an emulated environment pair seeded for its scenario. Per scenario:
 *
 * 1. `pulumi up` converges — checked on both environments through the emulator's control API:
 *    link and legal entities, companies with business unit and "<code> DW" team, every declared
 *    map Running at the declared version, row parity per company, no unstamped rows left for the
 *    bootstrapped companies;
 * 2. a second preview has nothing to do (`--expect-no-changes`);
 * 3. drift made by hand — a map stopped (recorded by `pulumi refresh`), then a legal entity removed
 *    from the link — appears in `pulumi preview` as in-place updates of exactly the resources
 *    concerned, and `pulumi up` repairs it; rows added without a company after the bootstrap ran
 *    are outside its selection (no drift, said in the preview, left alone);
 * 4. `pulumi destroy` stops the maps and resets the link, and every business row is still there.
 *
 * One emulator serves the file; each scenario gets its own environment pair and stack.
 */
import { expect } from "chai";
import type { TestEmulator } from "../support/emulator";
import type { EngineStack } from "../support/engine";
import { scenarioExampleConfig, SEED_COMPANIES, type ScenarioExample } from "../../tools/examples";
import {
  addUnstampedAccounts,
  businessRowKeys,
  changes,
  expectConverged,
  exampleStack,
  OutputBuffer,
  previewSteps,
  printOutputOnFailure,
  removeLegalEntityByHand,
  seedPair,
  startScenarioEmulator,
  stopMapByHand,
  type ConvergedExpectation,
  type PlannedStep,
} from "./scenarioSupport";

/** The five maps every example declares (versions: `latest`). */
const DECLARED_MAPS = [
  "cdm_companies - Legal entities",
  "transactioncurrencies - Currencies",
  "msdyn_customergroups - Customer groups",
  "accounts - Customers V3",
  "contacts - Customers V3",
].map((name) => ({ name, version: "latest" }));

const ALL_TABLES = ["msdyn_customergroups", "accounts", "contacts"];

/** What one scenario test needs to know beyond the example itself. */
interface ScenarioCase {
  readonly example: ScenarioExample;
  /** The converged state after `up`. */
  readonly converged: ConvergedExpectation;
  /** The drift to make by hand, and the resources (by name) whose preview must show it. */
  readonly drift: {
    /**
     * Not the accounts map where accounts are added by hand: rows stamped while their map is
     * stopped are not live-synced (as in dual-write itself); only a new initial sync copies them.
     */
    readonly stopMap: { readonly map: string; readonly resource: string };
    readonly removeLegalEntity: string;
    /** Rows without a company, for scenarios with a bootstrap. */
    readonly unstamped?: {
      readonly company: string;
      readonly owningBusinessUnit?: string;
      readonly resource: string;
    };
  };
  /** Name of the DualWriteConnection resource. */
  readonly connectionResource: string;
}

const CASES: readonly ScenarioCase[] = [
  {
    example: "new-new",
    converged: { legalEntities: ["DAT"], maps: DECLARED_MAPS, parityCompanies: ["DAT"] },
    drift: {
      stopMap: { map: "accounts - Customers V3", resource: "contoso-map-accounts-customers-v3" },
      removeLegalEntity: "DAT",
    },
    connectionResource: "contoso",
  },
  {
    example: "new-existing",
    converged: {
      legalEntities: ["DAT", "USMF"],
      maps: DECLARED_MAPS,
      parityCompanies: ["DAT", "USMF"],
      bootstrapped: [{ tables: ALL_TABLES }],
    },
    drift: {
      stopMap: { map: "contacts - Customers V3", resource: "contacts" },
      removeLegalEntity: "USMF",
      unstamped: { company: "USMF", resource: "usmf" },
    },
    connectionResource: "contoso",
  },
  {
    example: "new-data-new",
    converged: { legalEntities: ["DAT"], maps: DECLARED_MAPS, parityCompanies: ["DAT"] },
    drift: {
      stopMap: {
        map: "msdyn_customergroups - Customer groups",
        resource: "contoso-map-msdyn-customergroups-customer-groups",
      },
      removeLegalEntity: "DAT",
    },
    connectionResource: "contoso",
  },
  {
    example: "new-data-existing",
    converged: {
      legalEntities: ["DAT", "USMF"],
      maps: DECLARED_MAPS,
      parityCompanies: ["DAT", "USMF"],
      bootstrapped: [{ tables: ALL_TABLES }],
    },
    drift: {
      stopMap: { map: "contacts - Customers V3", resource: "contoso-map-contacts-customers-v3" },
      removeLegalEntity: "USMF",
      unstamped: { company: "USMF", resource: "contoso-bootstrap-usmf" },
    },
    connectionResource: "contoso",
  },
  {
    example: "existing-new",
    converged: {
      legalEntities: ["DAT", "USMF", "USRT", "DEMF"],
      maps: DECLARED_MAPS,
      parityCompanies: ["DAT", "USMF", "USRT", "DEMF"],
    },
    drift: {
      stopMap: { map: "contacts - Customers V3", resource: "contoso-map-contacts-customers-v3" },
      removeLegalEntity: "USRT",
    },
    connectionResource: "contoso",
  },
  {
    example: "existing-existing",
    converged: {
      legalEntities: ["DAT", "USMF", "USRT", "DEMF"],
      maps: DECLARED_MAPS,
      parityCompanies: ["DAT", "USMF", "USRT", "DEMF"],
      bootstrapped: [
        {
          tables: ["accounts", "contacts"],
          owningBusinessUnit: SEED_COMPANIES.USMF.owningBusinessUnit,
        },
        {
          tables: ["accounts", "contacts"],
          owningBusinessUnit: SEED_COMPANIES.DEMF.owningBusinessUnit,
        },
      ],
    },
    drift: {
      stopMap: { map: "contacts - Customers V3", resource: "contoso-map-contacts-customers-v3" },
      removeLegalEntity: "DEMF",
      unstamped: {
        company: "USMF",
        owningBusinessUnit: SEED_COMPANIES.USMF.owningBusinessUnit,
        resource: "contoso-bootstrap-usmf",
      },
    },
    connectionResource: "contoso",
  },
];

/** "<op> <resource name>" for every step that changes something, sorted. */
function describeChanges(steps: readonly PlannedStep[]): string[] {
  return changes(steps)
    .map((step) => `${step.op} ${step.name}`)
    .sort();
}

/** The outputs of a resource (by name) in the stack's checkpoint. */
async function stateOutputs(stack: EngineStack, name: string): Promise<Record<string, unknown>> {
  const deployment = (await stack.stack.exportStack()).deployment as {
    resources?: Array<{ urn: string; outputs?: Record<string, unknown> }>;
  };
  const resource = deployment.resources?.find(
    (r) => r.urn.endsWith(`::${name}`) && !r.urn.includes("DualWriteScenario::"),
  );
  if (!resource) throw new Error(`No resource named ${name} in the stack's state.`);
  return resource.outputs ?? {};
}

describe("e2e: the six scenarios with the real Pulumi CLI", function () {
  let emulator: TestEmulator;
  const output = new OutputBuffer();

  before(async function () {
    emulator = await startScenarioEmulator();
  });

  after(async function () {
    await emulator?.close();
  });

  afterEach(printOutputOnFailure(output));

  for (const c of CASES) {
    describe(`${c.example} (examples/${c.example})`, function () {
      const pair = `e2e-${c.example}`;
      let stack: EngineStack | undefined;
      let handAdded: string[] = [];

      /** The convergence expected once rows were added after the bootstrap ran (left alone). */
      function convergedNow(): ConvergedExpectation {
        const unstamped = c.drift.unstamped;
        if (!unstamped || handAdded.length === 0) return c.converged;
        return {
          ...c.converged,
          bootstrapped: c.converged.bootstrapped?.map((b) =>
            b.owningBusinessUnit === unstamped.owningBusinessUnit
              ? { ...b, leftAlone: { accounts: handAdded.length } }
              : b,
          ),
        };
      }

      function current(): EngineStack {
        if (!stack)
          throw new Error("the stack was not created (see the first test of this scenario)");
        return stack;
      }

      before(async function () {
        const env = await seedPair(emulator, c.example, pair);
        stack = await exampleStack({
          emulator,
          example: c.example,
          config: scenarioExampleConfig(c.example, env),
          output,
        });
      });

      after(async function () {
        await stack?.dispose();
      });

      it("pulumi up converges both environments", async function () {
        const result = await current().up();
        expect(result.summary.result).to.equal("succeeded");
        await expectConverged(emulator, pair, c.converged);
      });

      it("a second preview has nothing to do (--expect-no-changes)", async function () {
        const { steps } = await previewSteps(current(), output, { expectNoChanges: true });
        expect(changes(steps)).to.deep.equal([]);
      });

      it("pulumi refresh records a map stopped by hand; rows added later without a company are not the bootstrap's", async function () {
        await stopMapByHand(emulator, pair, c.drift.stopMap.map);
        if (c.drift.unstamped) {
          handAdded = await addUnstampedAccounts(emulator, pair, {
            count: 3,
            company: c.drift.unstamped.company,
            ...(c.drift.unstamped.owningBusinessUnit !== undefined && {
              owningBusinessUnit: c.drift.unstamped.owningBusinessUnit,
            }),
          });
        }
        await current().refresh();

        const map = await stateOutputs(current(), c.drift.stopMap.resource);
        expect(map.observedState, `observed state of ${c.drift.stopMap.map} in the state`).to.equal(
          "Stopped",
        );
        if (c.drift.unstamped) {
          // A live org keeps creating rows: the bootstrap covers the rows that existed when it
          // ran (its cutoff), so the ones added since are not pending.
          const bootstrap = await stateOutputs(current(), c.drift.unstamped.resource);
          expect(bootstrap.selectionCutoff, "the bootstrap's cutoff").to.be.a("string");
          expect(
            (bootstrap.pendingRows as Record<string, number> | undefined)?.accounts,
            "covered accounts still to stamp",
          ).to.equal(0);
        }
      });

      it("pulumi preview shows that drift as in-place updates, and nothing else", async function () {
        output.take();
        const { steps } = await previewSteps(current(), output);
        const said = output.take();
        expect(describeChanges(steps)).to.deep.equal([`update ${c.drift.stopMap.resource}`]);
        // The rows added later are said, not drift.
        if (c.drift.unstamped)
          expect(said).to.match(
            new RegExp(
              `CompanyBootstrap ${c.drift.unstamped.company}: ${handAdded.length} accounts without a company were created after .*: not covered`,
            ),
          );
      });

      it("pulumi up repairs it: the map runs again; the rows added later are left alone", async function () {
        const result = await current().up();
        expect(result.summary.result).to.equal("succeeded");
        const report = await expectConverged(emulator, pair, convergedNow());
        if (c.drift.unstamped) {
          // The rows added after the bootstrap ran keep no company, so dual-write leaves them.
          const rows = report.rows.find((r) => r.company === c.drift.unstamped?.company);
          expect(
            rows?.fnoAccounts ?? [],
            "rows the bootstrap does not cover",
          ).to.not.include.members(handAdded);
          const accounts = await emulator.control.rows("dataverse", pair, "accounts");
          expect(
            accounts
              .filter((a) => handAdded.includes(String(a.accountnumber)))
              .map((a) => a._msdyn_company_value ?? null),
          ).to.deep.equal(handAdded.map(() => null));
        }
      });

      it("pulumi preview shows a legal entity removed by hand as an update of the link, replacing nothing", async function () {
        await removeLegalEntityByHand(emulator, pair, c.drift.removeLegalEntity);
        const { steps } = await previewSteps(current(), output);
        expect(describeChanges(steps)).to.deep.equal([`update ${c.connectionResource}`]);
      });

      it("pulumi up puts the legal entity back", async function () {
        const result = await current().up();
        expect(result.summary.result).to.equal("succeeded");
        await expectConverged(emulator, pair, convergedNow());
        const { steps } = await previewSteps(current(), output, { expectNoChanges: true });
        expect(changes(steps)).to.deep.equal([]);
      });

      it("pulumi destroy stops the maps and resets the link; every business row stays", async function () {
        const before = await businessRowKeys(emulator, pair);
        const since = await emulator.control.lastRequestSeq();
        const result = await current().destroy();
        expect(result.summary.result).to.equal("succeeded");

        // The maps are stopped (POST Start with the stop action) before the link is reset; the
        // reset is not forced, so the emulator would refuse it (409 MapsNotStopped) otherwise.
        const calls = (await emulator.control.requests(since)).filter(
          (r) => r.method === "POST" && r.surface === "gateway",
        );
        const stops = calls.filter((r) => r.path.endsWith("/DualWriteManagement/1.0/Start"));
        const resets = calls.filter((r) => /\/api\/ConnectionSet\/[^/]+\/Reset$/.test(r.path));
        expect(stops.length, "map stop requests").to.be.greaterThan(0);
        expect(
          resets.map((r) => r.status),
          "link reset",
        ).to.deep.equal([200]);
        expect(resets[0]!.seq, "reset after the last stop").to.be.greaterThan(
          stops[stops.length - 1]!.seq,
        );
        // The tool writes the flag as C# prints a bool (ResetLinkEngine.cs:44-97).
        expect(resets[0]!.query, "reset without force").to.include("forceReset=False");

        const links = await emulator.control.call<Array<{ fnoEnv: string }>>("GET", "links");
        expect(
          links.map((l) => l.fnoEnv),
          "links after destroy",
        ).to.not.include(pair);
        const runtimeConfigs = await emulator.control.rows(
          "dataverse",
          pair,
          "msdyn_dualwriteruntimeconfigs",
        );
        expect(runtimeConfigs, "Dual Write Runtime Configurations after the reset").to.deep.equal(
          [],
        );
        expect(await businessRowKeys(emulator, pair)).to.deep.equal(before);
      });
    });
  }
});
