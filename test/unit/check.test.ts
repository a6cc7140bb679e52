/**
 * The pure part of every resource's `check`: one failure per bad property (several problems of
 * one property become one sentence), values unknown in a preview left alone, and no environment
 * touched when the inputs are already wrong or not known yet.
 */
import { expect } from "chai";
import { z } from "zod";
import {
  checkProperties,
  companyCode,
  containsUnknown,
  describeIssues,
  httpsUrl,
  UNKNOWN,
} from "../../provider/resources/common/check";
import { companyBootstrapLifecycle } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import type { HandlerContext } from "../../provider/resources/common/handler";
import { DEFAULT_OPTIONS } from "../../provider/resources/common/handler";
import { dualWriteConnectionLifecycle } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import {
  connectionSchemas,
  crossPropertyFailures,
} from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import { initialSyncRunLifecycle } from "../../provider/resources/initialSyncRun/initialSyncRun.handler";

/** A context that fails the test if anything reaches for an environment. */
const offline: HandlerContext = {
  clients: () => {
    throw new Error("this check must not contact any environment");
  },
  log: () => undefined,
  options: DEFAULT_OPTIONS,
};

const FO = "https://contoso.operations.dynamics.com";
const DV = "https://contoso.crm.dynamics.com";

describe("check: pure rules", () => {
  describe("containsUnknown", () => {
    it("finds the preview's unknown value at any depth", () => {
      expect(containsUnknown(UNKNOWN)).to.equal(true);
      expect(containsUnknown(["USMF", UNKNOWN])).to.equal(true);
      expect(containsUnknown({ a: [{ b: UNKNOWN }] })).to.equal(true);
      expect(containsUnknown({ a: ["USMF"], b: 3 })).to.equal(false);
    });
  });

  describe("field schemas", () => {
    const cases: [string, unknown, RegExp][] = [
      ["http://x.example", "http", /must use https:\/\//],
      ["ftp://x.example", "ftp", /must use https:\/\//],
      ["nope", "not a URL", /is not a URL/],
      ["https://u:p@x.example", "credentials", /user name or password/],
      ["https://x.example/#frag", "fragment", /without query or fragment/],
    ].map(([value, , says]) => [String(value), value, says as RegExp]);
    for (const [title, value, says] of cases) {
      it(`httpsUrl refuses ${title}`, () => {
        const r = httpsUrl(FO).safeParse(value);
        expect(r.success).to.equal(false);
        expect(describeIssues("url", r.error!.issues)).to.match(says);
      });
    }
    it("httpsUrl accepts a base URL with or without a trailing slash", () => {
      expect(httpsUrl(FO).safeParse(`${FO}/`).success).to.equal(true);
      expect(httpsUrl(FO).safeParse(`${FO}`).success).to.equal(true);
    });
    for (const [value, says] of [
      ["", /empty/],
      ["   ", /empty/],
      ["USMF1", /5 characters long; .* at most 4/],
      ["U$", /only letters and digits/],
      [42, /company code such as "USMF"; got 42/],
    ] as const) {
      it(`companyCode refuses ${JSON.stringify(value)}`, () => {
        const r = companyCode.safeParse(value);
        expect(r.success).to.equal(false);
        expect(describeIssues("companyCode", r.error!.issues)).to.match(says);
      });
    }
    it("companyCode accepts 1 to 4 letters or digits", () => {
      for (const ok of ["D", "DAT", "USMF", "us01"])
        expect(companyCode.safeParse(ok).success).to.equal(true);
    });
  });

  describe("checkProperties", () => {
    it("reports each bad property once, with its path, and skips unknown ones", () => {
      const schemas = {
        a: z.string({ error: "must be text" }),
        b: z.array(z.number({ error: "must be a number" })),
      };
      const result = checkProperties("Thing", schemas, {
        a: 1,
        b: [1, "x", "y"],
        c: UNKNOWN,
        __provider: "code",
      });
      expect(result.failures.map((f) => f.property)).to.deep.equal(["a", "b", "c"]);
      expect(result.failures[0]!.reason).to.equal("a must be text.");
      // `c` is not an input of Thing at all: that is a failure of its own, unknown or not.
      expect(result.failures[2]!.reason).to.match(/Thing has no input "c"/);
      const withB = checkProperties("Thing", schemas, { a: "ok", b: [1, "x", "y"] });
      expect(withB.failures).to.deep.equal([
        { property: "b", reason: "b[1] must be a number; b[2] must be a number." },
      ]);
      const unknown = checkProperties("Thing", schemas, { a: UNKNOWN, b: [UNKNOWN] });
      expect(unknown.failures).to.deep.equal([]);
      expect([...unknown.unknown]).to.deep.equal(["a", "b"]);
    });
  });

  describe("DualWriteConnection", () => {
    const good = {
      scenario: "existing-existing",
      financeOperationsUrl: FO,
      dataverseUrl: DV,
      legalEntities: ["USMF"],
    };

    it("several bad properties: one failure each, and no environment contacted", async () => {
      const failures = await dualWriteConnectionLifecycle.check(
        {},
        {
          scenario: "new",
          financeOperationsUrl: "http://fo",
          dataverseUrl: DV,
          legalEntities: ["TOOLONG", ""],
          solutions: [""],
        },
        offline,
      );
      expect(failures.map((f) => f.property)).to.deep.equal([
        "scenario",
        "financeOperationsUrl",
        "legalEntities",
        "solutions",
      ]);
      expect(failures.find((f) => f.property === "legalEntities")!.reason).to.match(
        /legalEntities\[0\].*legalEntities\[1\]/,
      );
    });

    it("a declaration with values unknown in preview is not checked against the environments", async () => {
      expect(
        await dualWriteConnectionLifecycle.check({}, { ...good, dataverseUrl: UNKNOWN }, offline),
      ).to.deep.equal([]);
    });

    it("an unchanged declaration of an existing link is not checked again", async () => {
      expect(await dualWriteConnectionLifecycle.check(good, { ...good }, offline)).to.deep.equal(
        [],
      );
    });

    it("more than 40 legal entities pass only with skipInitialWritesForNewLegalEntities", () => {
      const codes = Array.from({ length: 41 }, (_, i) => `C${i}`);
      expect(crossPropertyFailures({ legalEntities: codes }).map((f) => f.property)).to.deep.equal([
        "legalEntities",
      ]);
      expect(
        crossPropertyFailures({ legalEntities: codes, skipInitialWritesForNewLegalEntities: true }),
      ).to.deep.equal([]);
      const tooMany = Array.from({ length: 251 }, (_, i) => `C${i}`);
      expect(
        crossPropertyFailures({
          legalEntities: tooMany,
          skipInitialWritesForNewLegalEntities: true,
        })[0]!.reason,
      ).to.match(/at most 250/);
    });

    it("every input has a schema", () => {
      expect(Object.keys(connectionSchemas).sort()).to.deep.equal([
        "adoptWithChanges",
        "dataverseUrl",
        "financeOperationsUrl",
        "forceReset",
        "legalEntities",
        "onDelete",
        "scenario",
        "skipInitialWritesForNewLegalEntities",
        "solutions",
      ]);
    });
  });

  describe("the other resources", () => {
    it("EntityMapBinding: bad version and state fail without contacting anything", async () => {
      const failures = await entityMapBindingLifecycle.check(
        {},
        {
          environmentId: "e",
          financeOperationsUrl: FO,
          dataverseUrl: DV,
          mapName: "accounts - Customers V3",
          version: "2",
          state: "On",
        },
        offline,
      );
      expect(failures.map((f) => f.property)).to.deep.equal(["version", "state"]);
    });

    it("EntityMapBinding: an unknown environment id (connection being created) is fine", async () => {
      // With the URLs and map name known, check still looks the map up; offline, that would throw,
      // so make them unknown too: nothing is contacted and nothing fails.
      const failures = await entityMapBindingLifecycle.check(
        {},
        {
          environmentId: UNKNOWN,
          financeOperationsUrl: UNKNOWN,
          dataverseUrl: UNKNOWN,
          mapName: "accounts - Customers V3",
        },
        offline,
      );
      expect(failures).to.deep.equal([]);
    });

    it("CompanyBootstrap: an unknown table and a bad code", async () => {
      const failures = await companyBootstrapLifecycle.check(
        {},
        {
          financeOperationsUrl: FO,
          dataverseUrl: DV,
          companyCode: "TOOLONG",
          tables: ["accounts", "leads"],
        },
        offline,
      );
      expect(failures.map((f) => f.property)).to.deep.equal(["companyCode", "tables"]);
      expect(failures[1]!.reason).to.match(
        /tables\[1\] "leads" is not a table whose company lookup the provider knows/,
      );
    });

    it("InitialSyncRun: master is required, and more than 40 legal entities are refused", async () => {
      const codes = Array.from({ length: 41 }, (_, i) => `C${i}`);
      const failures = await initialSyncRunLifecycle.check(
        {},
        {
          environmentId: "e",
          financeOperationsUrl: FO,
          dataverseUrl: DV,
          mapName: "accounts - Customers V3",
          legalEntities: codes,
        },
        offline,
      );
      expect(failures.map((f) => f.property)).to.deep.equal(["master", "legalEntities"]);
      expect(failures[0]!.reason).to.match(/"Dataverse", "FinanceOperations"; got nothing/);
      expect(failures[1]!.reason).to.match(/41 legal entities; an initial sync takes at most 40/);
    });
  });
});
