/**
 * Refused in preview what `up` would refuse, for CompanyBootstrap and InitialSyncRun (issue 10,
 * Required 6), also when the link is made by the same program: their company codes are checked
 * against the legal entities the DECLARED connection links (`DualWriteConnection.legalEntityCodes()`,
 * known in a first preview), and a program that leaves `connection` or `entityMap` out gets an
 * error naming the property, not a `TypeError` from the constructor. Each refusal names the
 * property and writes nothing.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { UNKNOWN } from "../../provider/resources/common/check";
import { InvalidInputError } from "../../provider/resources/common/failures";
import { CompanyBootstrap } from "../../provider/resources/companyBootstrap/companyBootstrap";
import { companyBootstrapLifecycle as bootstrap } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import type { CompanyBootstrapInputs } from "../../provider/resources/companyBootstrap/companyBootstrap.schema";
import { DualWriteConnection } from "../../provider/resources/dualWriteConnection/dualWriteConnection";
import { EntityMapBinding } from "../../provider/resources/entityMapBinding/entityMapBinding";
import { InitialSyncRun } from "../../provider/resources/initialSyncRun/initialSyncRun";
import { initialSyncRunLifecycle as run } from "../../provider/resources/initialSyncRun/initialSyncRun.handler";
import type { InitialSyncRunInputs } from "../../provider/resources/initialSyncRun/initialSyncRun.schema";
import { startResourceHarness, type ResourceHarness } from "./harness";

const ACCOUNTS = "accounts - Customers V3";

describe("CompanyBootstrap and InitialSyncRun refused in preview before the link exists (provider, emulator)", function () {
  this.timeout(60_000);
  let h: ResourceHarness;

  before(async () => {
    h = await startResourceHarness({ seed: [{ scenario: "existing-existing", name: "nl" }] });
    const links = await h.emulator.control.call<unknown[]>("GET", "links");
    expect(links, "no link exists").to.deep.equal([]);
  });
  after(() => h.close());

  /** A bootstrap declared beside a connection (DEMF, USMF) that the same preview creates. */
  const bootstrapInputs = (
    extra: Partial<CompanyBootstrapInputs> = {},
  ): Record<string, unknown> => ({
    financeOperationsUrl: h.env("nl").financeOperationsUrl,
    dataverseUrl: h.env("nl").dataverseUrl,
    connectionLegalEntities: ["DEMF", "USMF"],
    companyCode: "USMF",
    ...extra,
  });

  /** A run of a binding declared beside a connection (DEMF, USMF) that the same preview creates. */
  const runInputs = (extra: Partial<InitialSyncRunInputs> = {}): Record<string, unknown> => ({
    environmentId: UNKNOWN,
    financeOperationsUrl: h.env("nl").financeOperationsUrl,
    dataverseUrl: h.env("nl").dataverseUrl,
    mapName: ACCOUNTS,
    master: "FinanceOperations",
    linkedLegalEntities: ["DEMF", "USMF"],
    ...extra,
  });

  const without = (inputs: Record<string, unknown>, keys: string[]): Record<string, unknown> =>
    Object.fromEntries(Object.entries(inputs).filter(([k]) => !keys.includes(k)));

  const cases: {
    title: string;
    check: () => Promise<{ property: string; reason: string }[]>;
    property: string;
    says: RegExp;
  }[] = [
    {
      title: "a bootstrap for a company the declared connection does not link (ZZZZ)",
      check: () => bootstrap.check({}, bootstrapInputs({ companyCode: "zzzz" }), h.ctx()),
      property: "companyCode",
      says: /ZZZZ is not among the legal entities the connection declares \(DEMF, USMF\)/,
    },
    {
      title: "a bootstrap for a company F&O has but the declared connection does not link",
      check: () => bootstrap.check({}, bootstrapInputs({ companyCode: "USRT" }), h.ctx()),
      property: "companyCode",
      says: /USRT is not among the legal entities the connection declares/,
    },
    {
      title: "a bootstrap without connection (a JavaScript program that left it out)",
      check: () =>
        bootstrap.check(
          {},
          without(bootstrapInputs(), [
            "financeOperationsUrl",
            "dataverseUrl",
            "connectionLegalEntities",
          ]),
          h.ctx(),
        ),
      property: "connection",
      says: /connection is required: pass the DualWriteConnection resource/,
    },
    {
      title: "a run reporting a company the declared connection does not link (ZZZZ)",
      check: () => run.check({}, runInputs({ legalEntities: ["ZZZZ"] }), h.ctx()),
      property: "legalEntities",
      says: /ZZZZ is not on the link \(it has DEMF, USMF\)/,
    },
    {
      title: "a run without entityMap (a JavaScript program that left it out)",
      check: () =>
        run.check(
          {},
          without(runInputs(), [
            "environmentId",
            "financeOperationsUrl",
            "dataverseUrl",
            "mapName",
            "linkedLegalEntities",
          ]),
          h.ctx(),
        ),
      property: "entityMap",
      says: /entityMap is required: pass the EntityMapBinding resource/,
    },
  ];

  for (const c of cases) {
    it(`${c.title} → ${c.property}, zero writes`, async () => {
      const mark = await h.mark();
      const failures = await c.check();
      expect(failures.map((f) => f.property)).to.deep.equal([c.property]);
      expect(failures[0]!.reason).to.match(c.says);
      expect(await h.writesSince(mark)).to.deep.equal([]);
    });
  }

  it("up refuses the same: create of a ZZZZ bootstrap, and of a run without entityMap, writes nothing", async () => {
    const mark = await h.mark();
    const refusal = async (p: Promise<unknown>): Promise<unknown> =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );
    const zzzz = await refusal(
      bootstrap.create(
        bootstrapInputs({ companyCode: "ZZZZ" }) as unknown as CompanyBootstrapInputs,
        h.ctx(),
      ),
    );
    expect(zzzz).to.be.instanceOf(InvalidInputError);
    expect(String((zzzz as Error).message)).to.match(/companyCode/);
    const orphan = await refusal(
      run.create(
        without(runInputs(), [
          "financeOperationsUrl",
          "dataverseUrl",
          "environmentId",
          "mapName",
        ]) as unknown as InitialSyncRunInputs,
        h.ctx(),
      ),
    );
    expect(orphan).to.be.instanceOf(InvalidInputError);
    expect(String((orphan as Error).message)).to.match(/entityMap is required/);
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });

  it("replace on change goes through the spec's comparators: case and a trailing / are no change", async () => {
    const olds = {
      ...bootstrapInputs(),
      companyId: "c",
      stampedRows: {},
      pendingRows: {},
      rowProblems: [],
    } as unknown as Parameters<typeof bootstrap.diff>[1];
    const same = bootstrapInputs({
      companyCode: "usmf",
      financeOperationsUrl: `${h.env("nl").financeOperationsUrl.toUpperCase()}/`,
    }) as unknown as CompanyBootstrapInputs;
    expect((await bootstrap.diff("c", olds, same, h.ctx())).replaces).to.deep.equal([]);
    const other = bootstrapInputs({ companyCode: "DEMF" }) as unknown as CompanyBootstrapInputs;
    expect((await bootstrap.diff("c", olds, other, h.ctx())).replaces).to.deep.equal([
      "companyCode",
    ]);

    const recorded = {
      ...runInputs({ environmentId: "env" }),
      requestId: "r",
      status: "Succeeded",
      adopted: false,
      results: [],
      measuredCounts: { financeOperations: {}, dataverse: {} },
    } as unknown as Parameters<typeof run.diff>[1];
    const sameRun = runInputs({
      environmentId: "env",
      dataverseUrl: `${h.env("nl").dataverseUrl}/`,
    }) as unknown as InitialSyncRunInputs;
    expect(await run.diff("r", recorded, sameRun, h.ctx())).to.deep.include({
      changes: false,
      replaces: [],
    });
    // Gateway map names are case-sensitive: another case is another map.
    const otherMap = runInputs({
      environmentId: "env",
      mapName: ACCOUNTS.toUpperCase(),
    }) as unknown as InitialSyncRunInputs;
    expect((await run.diff("r", recorded, otherMap, h.ctx())).replaces).to.deep.equal(["mapName"]);
  });

  it("accepts a company the declared connection links", async () => {
    const mark = await h.mark();
    expect(
      await bootstrap.check({}, bootstrapInputs({ companyCode: "demf" }), h.ctx()),
    ).to.deep.equal([]);
    expect(await run.check({}, runInputs({ legalEntities: ["USMF"] }), h.ctx())).to.deep.equal([]);
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });
});

describe("CompanyBootstrap and InitialSyncRun constructors (Pulumi mocks, preview)", () => {
  const registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
  before(async () => {
    await pulumi.runtime.setMocks(
      {
        // The engine's preview of a create: the outputs are the inputs; the connection's
        // `linkedLegalEntities` output is not known yet, so it is not in the state.
        newResource: (args) => {
          registered.push({
            type: args.type,
            name: args.name,
            inputs: args.inputs as Record<string, unknown>,
          });
          return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
        },
        call: () => ({}),
      },
      "refusals-test",
      "dev",
      true,
    );
  });

  /** The inputs `name` was registered with, once the engine has them. */
  const inputsOf = async (name: string): Promise<Record<string, unknown>> => {
    for (let i = 0; i < 100; i++) {
      const found = registered.find((r) => r.name === name);
      if (found) return found.inputs;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`${name} was not registered`);
  };

  const connection = () =>
    new DualWriteConnection("link", {
      scenario: "existing-existing",
      financeOperationsUrl: "https://contoso.operations.dynamics.com",
      dataverseUrl: "https://contoso.crm.dynamics.com",
      legalEntities: ["usmf", "DEMF"],
    });

  it("derive the declared connection's legal entities, known in a preview that makes the link", async () => {
    const link = connection();
    new CompanyBootstrap("boot", { connection: link, companyCode: "ZZZZ" });
    const binding = new EntityMapBinding("accounts", { connection: link, mapName: ACCOUNTS });
    new InitialSyncRun("sync", { entityMap: binding, master: "FinanceOperations" });
    expect((await inputsOf("boot")).connectionLegalEntities).to.deep.equal(["DEMF", "USMF"]);
    expect((await inputsOf("sync")).linkedLegalEntities).to.deep.equal(["DEMF", "USMF"]);
  });

  it("a JavaScript program that leaves connection or entityMap out constructs, for check to name the property", async () => {
    const untyped = (args: Record<string, unknown>) => args as never;
    expect(
      () => new CompanyBootstrap("orphan-boot", untyped({ companyCode: "USMF" })),
    ).not.to.throw();
    expect(
      () => new InitialSyncRun("orphan-sync", untyped({ master: "FinanceOperations" })),
    ).not.to.throw();
    const boot = await inputsOf("orphan-boot");
    expect(boot.financeOperationsUrl, "nothing derived").to.equal(undefined);
    const sync = await inputsOf("orphan-sync");
    expect(sync.mapName, "nothing derived").to.equal(undefined);
  });
});
