/**
 * Refused in preview what `up` would refuse (issue 10, Required 6), also when the link is made by
 * the same program: before any link exists a binding's environment id is not known yet, and its
 * map's versions, authors and key columns are checked against what Dataverse publishes (the
 * `msdyn_dualwriteentitymaps` rows of the installed solutions), its initial sync's companies
 * against the legal entities the declared connection links. A missing `connection` is a property
 * error. Each check names the property and writes nothing.
 */
import { expect } from "chai";
import { UNKNOWN } from "../../provider/resources/common/check";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type { EntityMapBindingInputs } from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import { startResourceHarness, type ResourceHarness } from "./harness";

const ACCOUNTS = "accounts - Customers V3";

describe("refused in preview before the link exists (provider, emulator)", function () {
  this.timeout(60_000);
  let h: ResourceHarness;

  before(async () => {
    h = await startResourceHarness({ seed: [{ scenario: "existing-existing", name: "nl" }] });
    const links = await h.emulator.control.call<unknown[]>("GET", "links");
    expect(links, "no link exists").to.deep.equal([]);
  });
  after(() => h.close());

  /** A binding declared beside a connection that the same preview creates. */
  const declared = (extra: Partial<EntityMapBindingInputs> = {}): Record<string, unknown> => ({
    environmentId: UNKNOWN,
    financeOperationsUrl: h.env("nl").financeOperationsUrl,
    dataverseUrl: h.env("nl").dataverseUrl,
    connectionLegalEntities: ["DEMF", "USMF"],
    mapName: ACCOUNTS,
    ...extra,
  });

  const cases: {
    title: string;
    inputs: () => Record<string, unknown>;
    property: string;
    says: RegExp;
  }[] = [
    {
      title: "a version no solution publishes",
      inputs: () => declared({ version: "9.9.9.9" }),
      property: "version",
      says: /no version 9\.9\.9\.9: the map definitions in Dataverse .* publish 1\.0\.0\.1 \(Contoso\), 1\.0\.0\.4 \(Microsoft\), 1\.0\.0\.5 \(Microsoft\)/,
    },
    {
      title: "an unknown author",
      inputs: () => declared({ author: "Nobody" }),
      property: "author",
      says: /has no version by Nobody: the map definitions in Dataverse .*msdyn_dualwriteentitymaps/,
    },
    {
      title: "a key column the map does not have",
      inputs: () => declared({ integrationKeys: ["accountnumber", "doesnotexist"] }),
      property: "integrationKeys",
      says: /"doesnotexist" is not a column that map accounts - Customers V3 1\.0\.0\.5 writes/,
    },
    {
      title: "an initial sync for a company the declared connection does not link",
      inputs: () =>
        declared({ initialSync: { master: "FinanceOperations", legalEntities: ["ZZZZ"] } }),
      property: "initialSync",
      says: /ZZZZ is not among the legal entities the connection declares \(DEMF, USMF\)/,
    },
    {
      title: "a company F&O has but the declared connection does not link",
      inputs: () =>
        declared({ initialSync: { master: "FinanceOperations", legalEntities: ["USRT"] } }),
      property: "initialSync",
      says: /USRT is not among the legal entities the connection declares/,
    },
    {
      title: "no connection (a JavaScript program that left it out)",
      inputs: () => {
        const inputs = declared();
        for (const derived of ["environmentId", "financeOperationsUrl", "dataverseUrl"])
          delete inputs[derived];
        return inputs;
      },
      property: "connection",
      says: /connection is required: pass the DualWriteConnection resource/,
    },
  ];

  for (const c of cases) {
    it(`${c.title} → ${c.property}, zero writes`, async () => {
      const mark = await h.mark();
      const failures = await binding.check({}, c.inputs(), h.ctx());
      expect(failures.map((f) => f.property)).to.deep.equal([c.property]);
      expect(failures[0]!.reason).to.match(c.says);
      expect(await h.writesSince(mark)).to.deep.equal([]);
    });
  }

  it("accepts what Dataverse publishes, and resolves latest to it before the link exists", async () => {
    const mark = await h.mark();
    const ok = declared({
      version: "1.0.0.4",
      author: "Microsoft",
      integrationKeys: ["accountnumber", "msdyn_company.cdm_companycode"],
    });
    expect(await binding.check({}, ok, h.ctx())).to.deep.equal([]);
    expect(await binding.resolveInputs!({}, declared(), h.ctx())).to.deep.equal({
      resolvedVersion: "1.0.0.5",
    });
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });
});
