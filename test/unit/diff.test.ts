/**
 * The pure part of `diff`: deep equality, the replace-on-change lists, values unknown in a
 * preview (conservatively a change or a replacement), and InitialSyncRun, whose diff needs no
 * environment at all.
 */
import { expect } from "chai";
import { UNKNOWN } from "../../provider/resources/common/check";
import { deepEqual, diffDeclared, sameSet } from "../../provider/resources/common/diff";
import { DEFAULT_OPTIONS, type HandlerContext } from "../../provider/resources/common/handler";
import { companyBootstrapLifecycle } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import type { CompanyBootstrapOutputs } from "../../provider/resources/companyBootstrap/companyBootstrap.schema";
import { dualWriteConnectionLifecycle } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type { DualWriteConnectionOutputs } from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type { EntityMapBindingOutputs } from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import { initialSyncRunLifecycle } from "../../provider/resources/initialSyncRun/initialSyncRun.handler";
import type { InitialSyncRunOutputs } from "../../provider/resources/initialSyncRun/initialSyncRun.schema";

const offline: HandlerContext = {
  clients: () => {
    throw new Error("this diff must not contact any environment");
  },
  log: () => undefined,
  options: DEFAULT_OPTIONS,
};

const FO = "https://contoso.operations.dynamics.com";
const DV = "https://contoso.crm.dynamics.com";

describe("diff: pure rules", () => {
  it("deepEqual compares structure, not identity, and ignores undefined members", () => {
    expect(deepEqual({ a: [1, { b: "x" }] }, { a: [1, { b: "x" }] })).to.equal(true);
    expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).to.equal(true);
    expect(deepEqual(["a", "b"], ["b", "a"])).to.equal(false);
    expect(deepEqual({ a: 1 }, { a: "1" })).to.equal(false);
    expect(deepEqual(null, {})).to.equal(false);
  });

  it("sameSet ignores order and case", () => {
    expect(sameSet(["usmf", "DEMF"], ["DEMF", "USMF"])).to.equal(true);
    expect(sameSet(["USMF"], ["USMF", "DEMF"])).to.equal(false);
  });

  it("diffDeclared lists changed keys and the replacing ones among them", () => {
    const d = diffDeclared<{ a: string; b: string[]; c: number }>(
      { a: "x", b: ["1"], c: 1 },
      { a: "y", b: ["1"], c: 2 },
      ["a", "b", "c"],
      ["a"],
    );
    expect(d).to.deep.equal({ changed: ["a", "c"], replaces: ["a"] });
  });

  const connectionOuts: DualWriteConnectionOutputs = {
    scenario: "existing-existing",
    financeOperationsUrl: FO,
    dataverseUrl: DV,
    legalEntities: ["USMF"],
    environmentId: "cid",
    connectionSetName: "contoso",
    linkedLegalEntities: ["USMF"],
    appliedSolutions: ["msdyn_DualWriteAppCoreMaps"],
  };

  it("DualWriteConnection: either URL changing replaces, delete first, without contacting anything", async () => {
    const d = await dualWriteConnectionLifecycle.diff(
      "cid",
      connectionOuts,
      { ...connectionOuts, dataverseUrl: "https://fabrikam.crm.dynamics.com" },
      offline,
    );
    expect(d).to.deep.include({
      changes: true,
      replaces: ["dataverseUrl"],
      deleteBeforeReplace: true,
    });
    const unknown = await dualWriteConnectionLifecycle.diff(
      "cid",
      connectionOuts,
      { ...connectionOuts, financeOperationsUrl: UNKNOWN },
      offline,
    );
    expect(unknown.replaces).to.deep.equal(["financeOperationsUrl"]);
  });

  it("DualWriteConnection: a trailing slash is not a change of environment", async () => {
    const d = dualWriteConnectionLifecycle.diff(
      "cid",
      connectionOuts,
      { ...connectionOuts, dataverseUrl: `${DV}/`, legalEntities: [UNKNOWN] },
      offline,
    );
    // Unknown legal entities in preview: a change, decided without reading anything.
    expect(await d).to.deep.include({ changes: true, replaces: [] });
  });

  it("EntityMapBinding: a different map or link replaces; an unknown URL replaces conservatively", async () => {
    const outs = {
      environmentId: "cid",
      financeOperationsUrl: FO,
      dataverseUrl: DV,
      mapName: "accounts - Customers V3",
    } as EntityMapBindingOutputs;
    const replaces = async (news: Partial<EntityMapBindingOutputs>): Promise<string[]> =>
      (await entityMapBindingLifecycle.diff("x", outs, { ...outs, ...news }, offline)).replaces;
    expect(await replaces({ mapName: "contacts - Customers V3" })).to.deep.equal(["mapName"]);
    expect(await replaces({ financeOperationsUrl: UNKNOWN })).to.deep.equal([
      "financeOperationsUrl",
    ]);
    // The environment id is computed by the connection: unknown while the connection is updated
    // in a preview. It never replaces the binding (the URLs identify the link).
    expect(
      await replaces({ environmentId: UNKNOWN, mapName: "contacts - Customers V3" }),
    ).to.deep.equal(["mapName"]);
  });

  it("CompanyBootstrap: a different company replaces (case-insensitively)", async () => {
    const outs = {
      financeOperationsUrl: FO,
      dataverseUrl: DV,
      companyCode: "USMF",
    } as CompanyBootstrapOutputs;
    expect(
      (await companyBootstrapLifecycle.diff("x", outs, { ...outs, companyCode: "DEMF" }, offline))
        .replaces,
    ).to.deep.equal(["companyCode"]);
  });

  describe("InitialSyncRun (a run is history)", () => {
    const outs = {
      environmentId: "cid",
      financeOperationsUrl: FO,
      dataverseUrl: DV,
      mapName: "accounts - Customers V3",
      master: "FinanceOperations",
      legalEntities: ["USMF"],
      trigger: "1",
      linkedLegalEntities: ["USMF"],
    } as InitialSyncRunOutputs;

    it("the same declaration is no change", async () => {
      expect(await initialSyncRunLifecycle.diff("r", outs, { ...outs }, offline)).to.deep.include({
        changes: false,
        replaces: [],
      });
    });

    // A new trigger, master or set of legal entities runs it again as an UPDATE, so that the
    // update can see which run was recorded and adopt one an interrupted `up` started (ADR 0012).
    for (const [key, value] of [
      ["trigger", "2"],
      ["master", "Dataverse"],
      ["legalEntities", ["USMF", "DEMF"]],
    ] as const) {
      it(`a new ${key} runs it again (an update)`, async () => {
        const d = await initialSyncRunLifecycle.diff("r", outs, { ...outs, [key]: value }, offline);
        expect(d).to.deep.include({ changes: true, replaces: [] });
      });
    }

    it("another map replaces it", async () => {
      const d = await initialSyncRunLifecycle.diff(
        "r",
        outs,
        { ...outs, mapName: "contacts - Customers V3" },
        offline,
      );
      expect(d).to.deep.include({ changes: true, replaces: ["mapName"] });
    });

    it("values the connection computes, unknown while it is updated, change nothing", async () => {
      const d = await initialSyncRunLifecycle.diff(
        "r",
        outs,
        { ...outs, environmentId: UNKNOWN, linkedLegalEntities: [UNKNOWN] },
        offline,
      );
      expect(d).to.deep.include({ changes: false, replaces: [] });
    });

    it("a change of the link's legal entities alone does not run it again", async () => {
      const d = await initialSyncRunLifecycle.diff(
        "r",
        outs,
        { ...outs, linkedLegalEntities: ["USMF", "DEMF"] },
        offline,
      );
      expect(d).to.deep.include({ changes: false, replaces: [] });
      const updated = await initialSyncRunLifecycle.update(
        "r",
        { ...outs, requestId: "req" },
        { ...outs, linkedLegalEntities: ["USMF", "DEMF"] },
        offline,
      );
      expect(updated.requestId).to.equal("req");
    });
  });
});
