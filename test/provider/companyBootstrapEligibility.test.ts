/**
 * CompanyBootstrap in a live org (issue 10, point 5), against the in-process emulator with the
 * customer maps Running, so that every stamp is a live write to F&O:
 *
 * - the issue's two failures, reproduced where they happen — an `UpdateMultiple` of the company
 *   stamp fails with "Field 'Customer group' must be filled in" and with "The value '210' in field
 *   'Customer group' is not found in the related table" — and now reported in the preview (counts,
 *   first keys), left unstamped by `up`, which no longer fails;
 * - stamping in lookup order: a new customer group and the account that uses it, declared accounts
 *   first, both stamped and the account synced;
 * - the preview says that the maps run (each stamp live-syncs), and which rows the map's source
 *   filter leaves out.
 */
import { expect } from "chai";
import { companyBootstrapLifecycle as bootstrap } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import type { CompanyBootstrapInputs } from "../../provider/resources/companyBootstrap/companyBootstrap.schema";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type { DualWriteConnectionOutputs } from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import { startResourceHarness, type ResourceHarness } from "./harness";

type Row = Record<string, unknown>;

const MAPS = [
  "cdm_companies - Legal entities",
  "transactioncurrencies - Currencies",
  "msdyn_customergroups - Customer groups",
  "accounts - Customers V3",
];

/** Row ids of the rows added here (fixed, so that failures name them; 210's is the runtime's). */
const IDS = {
  noGroup: "00000000-0000-4000-8000-0000000b0001",
  otherCompany: "00000000-0000-4000-8000-0000000b0002",
  newGroup: "00000000-0000-4000-8000-0000000b0003",
  good: "00000000-0000-4000-8000-0000000b0004",
  competitor: "00000000-0000-4000-8000-0000000b0005",
  group210: "00000000-0000-4000-8000-0000000c0210",
  group777: "00000000-0000-4000-8000-0000000c0777",
};

describe("CompanyBootstrap in a live org: rows dual-write would reject (provider, emulator)", () => {
  let h: ResourceHarness;
  let link: DualWriteConnectionOutputs;
  let company: Record<string, string>;
  let usUnit: string;

  before(async () => {
    h = await startResourceHarness({ seed: [{ scenario: "existing-existing", name: "ee" }] });
    const ctx = h.ctx();
    link = (
      await connection.create(
        {
          scenario: "existing-existing",
          financeOperationsUrl: h.env("ee").financeOperationsUrl,
          dataverseUrl: h.env("ee").dataverseUrl,
          legalEntities: ["USMF", "DEMF"],
        },
        ctx,
      )
    ).outs;
    // The maps run: stamping a row is then a live write to F&O.
    for (const mapName of MAPS)
      await binding.create(
        {
          environmentId: link.environmentId,
          financeOperationsUrl: link.financeOperationsUrl,
          dataverseUrl: link.dataverseUrl,
          mapName,
          startPrerequisites: true,
        },
        ctx,
      );
    const companies = await h.emulator.control.rows("dataverse", "ee", "cdm_companies");
    company = Object.fromEntries(
      companies.map((r) => [String(r.cdm_companycode), String(r.cdm_companyid)]),
    );
    const units = await h.emulator.control.rows("dataverse", "ee", "businessunits");
    usUnit = String(units.find((u) => u.name === "Contoso US")?.businessunitid);
    const groups = await h.emulator.control.rows("dataverse", "ee", "msdyn_customergroups");
    const usmfGroup = groups.find(
      (g) => g._msdyn_company_value === company.USMF || g._msdyn_company_value === null,
    );
    // Group 210 exists for DEMF only: made in F&O, it reaches Dataverse through the running map.
    // Group 777 is new in Dataverse, without a company (so not synced).
    await h.emulator.control.insertRows("fno", "ee", "CustomerGroups", {
      dataAreaId: "demf",
      CustomerGroupId: "210",
      Description: "German wholesale",
    });
    const group210 = (
      await h.emulator.control.rows("dataverse", "ee", "msdyn_customergroups")
    ).find((g) => g.msdyn_groupid === "210" && g._msdyn_company_value === company.DEMF);
    expect(group210, "group 210 of DEMF in Dataverse").to.not.equal(undefined);
    IDS.group210 = String(group210?.msdyn_customergroupid);
    // Rows made by hand carry their creation time, as every Dataverse row does (the control API
    // does not set it): the service's own clock.
    const { iso: createdon } = await h.emulator.control.call<{ iso: string }>("GET", "clock");
    await h.emulator.control.insertRows("dataverse", "ee", "msdyn_customergroups", {
      msdyn_customergroupid: IDS.group777,
      msdyn_groupid: "777",
      msdyn_description: "New in Dataverse",
      _msdyn_company_value: null,
      _owningbusinessunit_value: usUnit,
      createdon,
    });
    const account = (id: string, number: string, extra: Row): Row => ({
      accountid: id,
      name: `Live org ${number}`,
      accountnumber: number,
      customertypecode: 3,
      _msdyn_company_value: null,
      _owningbusinessunit_value: usUnit,
      createdon,
      ...extra,
    });
    await h.emulator.control.insertRows("dataverse", "ee", "accounts", [
      account(IDS.noGroup, "LIVE-NOGROUP", { _msdyn_customergroupid_value: null }),
      account(IDS.otherCompany, "LIVE-210", { _msdyn_customergroupid_value: IDS.group210 }),
      account(IDS.newGroup, "LIVE-777", { _msdyn_customergroupid_value: IDS.group777 }),
      account(IDS.good, "LIVE-GOOD", {
        _msdyn_customergroupid_value: usmfGroup?.msdyn_customergroupid,
      }),
      // A competitor (relationship type 1): outside the map's filter, never synced.
      account(IDS.competitor, "LIVE-COMPETITOR", {
        customertypecode: 1,
        _msdyn_customergroupid_value: null,
      }),
    ]);
  });
  after(() => h.close());

  const inputs = (extra: Partial<CompanyBootstrapInputs> = {}): CompanyBootstrapInputs => ({
    financeOperationsUrl: link.financeOperationsUrl,
    dataverseUrl: link.dataverseUrl,
    companyCode: "USMF",
    owningBusinessUnit: "Contoso US",
    tables: ["accounts"],
    ...extra,
  });
  const stamp = (table: string, id: string) =>
    h
      .ctx()
      .clients(link)
      .dataverse.updateMultiple(table, table.replace(/s$/, ""), [
        {
          [`${table.replace(/s$/, "")}id`]: id,
          "msdyn_company@odata.bind": `/cdm_companies(${company.USMF})`,
        },
      ]);
  const row = async (table: string, id: string): Promise<Row | undefined> =>
    (await h.emulator.control.rows("dataverse", "ee", table)).find(
      (r) => r[`${table.replace(/s$/, "")}id`] === id,
    );

  it("reproduces the issue: stamping such a row fails the UpdateMultiple while the map runs", async () => {
    // What `up` did before: the stamp is a live write to F&O, refused, and the batch fails.
    let missing: unknown;
    try {
      await stamp("accounts", IDS.noGroup);
    } catch (e) {
      missing = e;
    }
    expect(String(missing)).to.match(/Field 'Customer group' must be filled in/);
    let other: unknown;
    try {
      await stamp("accounts", IDS.otherCompany);
    } catch (e) {
      other = e;
    }
    expect(String(other)).to.match(
      /The value '210' in field 'Customer group' is not found in the related table/,
    );
    expect((await row("accounts", IDS.noGroup))?._msdyn_company_value).to.equal(null);
  });

  it("preview reports them, with counts and first keys, says the map runs, and writes nothing", async () => {
    const mark = await h.mark();
    h.logs.length = 0;
    expect(await bootstrap.check({}, { ...inputs() }, h.ctx())).to.deep.equal([]);
    const said = h.logs.join("\n");
    expect(said, said).to.match(
      /1 accounts would be rejected by dual-write .*Customer group is empty; F&O requires it .*\(first: LIVE-NOGROUP\)/,
    );
    expect(said, said).to.match(
      /1 accounts would be rejected .*Customer group is a row of another company.*\(first: LIVE-210\)/,
    );
    // Without the customer groups in the bootstrap, the new group 777 is stamped by no one.
    expect(said, said).to.match(
      /1 accounts would be rejected .*row without a company that F&O does not have in USMF.*\(first: LIVE-777\)/,
    );
    expect(said, said).to.match(
      /1 accounts will be stamped but not synced: outside the map's source filter \(customertypecode eq 3\).*\(first: LIVE-COMPETITOR\)/,
    );
    expect(said, said).to.match(
      /accounts - Customers V3 is Running: stamping \d+ accounts live-syncs each/,
    );
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });

  it("up stamps in lookup order and leaves the rejected rows alone: no failure mid-way", async () => {
    // Declared accounts first: the customer groups are stamped first all the same.
    const mark = await h.mark();
    const { outs } = await bootstrap.create(
      inputs({ tables: ["accounts", "msdyn_customergroups"] }),
      h.ctx(),
    );
    const writes = (await h.writesSince(mark))
      .filter((w) => w.path.endsWith("UpdateMultiple"))
      .map((w) => w.path.split("/")[4]);
    expect(writes).to.deep.equal(["msdyn_customergroups", "accounts"]);
    // The new group became USMF's and reached F&O (its map runs), so the account using it synced.
    expect((await row("msdyn_customergroups", IDS.group777))?._msdyn_company_value).to.equal(
      company.USMF,
    );
    expect((await row("accounts", IDS.newGroup))?._msdyn_company_value).to.equal(company.USMF);
    const customers = await h.emulator.control.rows("fno", "ee", "CustomersV3");
    expect(
      customers.filter((c) => c.dataAreaId === "usmf").map((c) => c.CustomerAccount),
    ).to.include.members(["LIVE-777", "LIVE-GOOD"]);
    // The rows F&O would refuse keep no company (dual-write ignores them) and are recorded.
    expect((await row("accounts", IDS.noGroup))?._msdyn_company_value).to.equal(null);
    expect((await row("accounts", IDS.otherCompany))?._msdyn_company_value).to.equal(null);
    expect(
      outs.rowProblems
        .filter((p) => !p.stamped)
        .map((p) => [p.table, p.reason, p.count, p.firstKeys])
        .sort(),
    ).to.deep.equal([
      ["accounts", "missingValue", 1, ["LIVE-NOGROUP"]],
      ["accounts", "otherCompany", 1, ["LIVE-210"]],
    ]);
    expect(outs.pendingRows.accounts, "nothing left that could be stamped").to.equal(0);
    // And the next preview has nothing to do (the refused rows are said, not drift).
    const d = await bootstrap.diff(
      outs.companyId,
      outs,
      inputs({ tables: ["accounts", "msdyn_customergroups"] }),
      h.ctx(),
    );
    expect(d.changes).to.equal(false);
    expect(d.reasons.join("\n")).to.match(/LIVE-NOGROUP/);
  });
});
