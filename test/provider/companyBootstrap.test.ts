/**
 * CompanyBootstrap against the in-process emulator: preview counts, stamping, rows of another
 * company left alone, new unstamped rows as drift, and a delete that writes nothing.
 */
import { expect } from "chai";
import { companyBootstrapLifecycle as bootstrap } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import type {
  CompanyBootstrapInputs,
  CompanyBootstrapOutputs,
} from "../../provider/resources/companyBootstrap/companyBootstrap.schema";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import { startResourceHarness, type ResourceHarness } from "./harness";

type Row = Record<string, unknown>;

describe("CompanyBootstrap (provider, emulator)", () => {
  let h: ResourceHarness;
  let outs: CompanyBootstrapOutputs;
  let companyIds: Record<string, string>;
  let units: Record<string, string>;

  before(async () => {
    h = await startResourceHarness({ seed: [{ scenario: "existing-existing", name: "ee" }] });
    await connection.create(
      {
        scenario: "existing-existing",
        financeOperationsUrl: h.env("ee").financeOperationsUrl,
        dataverseUrl: h.env("ee").dataverseUrl,
        legalEntities: ["USMF", "DEMF"],
      },
      h.ctx(),
    );
    const companies = await h.emulator.control.rows("dataverse", "ee", "cdm_companies");
    companyIds = Object.fromEntries(
      companies.map((r) => [String(r.cdm_companycode), String(r.cdm_companyid)]),
    );
    const bus = await h.emulator.control.rows("dataverse", "ee", "businessunits");
    units = Object.fromEntries(bus.map((r) => [String(r.name), String(r.businessunitid)]));
  });
  after(() => h.close());

  const inputs = (extra: Partial<CompanyBootstrapInputs> = {}): CompanyBootstrapInputs => ({
    financeOperationsUrl: h.env("ee").financeOperationsUrl,
    dataverseUrl: h.env("ee").dataverseUrl,
    companyCode: "USMF",
    owningBusinessUnit: "Contoso US",
    ...extra,
  });
  const accounts = (): Promise<Row[]> => h.emulator.control.rows("dataverse", "ee", "accounts");
  const ofUnit = (rows: Row[], unit: string): Row[] =>
    rows.filter((r) => r._owningbusinessunit_value === units[unit]);

  it("check prints how many rows a new bootstrap would stamp, and writes nothing", async () => {
    const expected = ofUnit(await accounts(), "Contoso US").filter(
      (r) => r._msdyn_company_value == null,
    ).length;
    expect(expected).to.be.greaterThan(0);
    const mark = await h.mark();
    h.logs.length = 0;
    expect(await bootstrap.check({}, { ...inputs() }, h.ctx())).to.deep.equal([]);
    expect(h.logs.join("\n")).to.match(
      new RegExp(`would stamp ${expected} accounts and \\d+ contacts`),
    );
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });

  it("check refuses an unknown business unit, naming the ones that exist", async () => {
    const failures = await bootstrap.check(
      {},
      { ...inputs({ owningBusinessUnit: "Contoso Mars" }) },
      h.ctx(),
    );
    expect(failures.map((f) => f.property)).to.deep.equal(["owningBusinessUnit"]);
    expect(failures[0]!.reason).to.include("Contoso Germany");
  });

  it("create stamps the business unit's unstamped rows and nothing else", async () => {
    const before = await accounts();
    const germany = ofUnit(before, "Contoso Germany");
    const carrying = before.filter((r) => r._msdyn_company_value != null);
    const created = await bootstrap.create(inputs(), h.ctx());
    outs = created.outs;
    expect(created.id).to.equal(companyIds.USMF);
    expect(outs.stampedRows.accounts).to.equal(
      ofUnit(before, "Contoso US").filter((r) => r._msdyn_company_value == null).length,
    );
    expect(outs.pendingRows).to.deep.equal({ accounts: 0, contacts: 0 });
    const after = await accounts();
    for (const r of ofUnit(after, "Contoso US"))
      expect(r._msdyn_company_value).to.equal(companyIds.USMF);
    // Rows of another business unit, and rows that carried a company already, are untouched.
    expect(ofUnit(after, "Contoso Germany")).to.deep.equal(germany);
    for (const r of carrying)
      expect(after.find((a) => a.accountid === r.accountid)?._msdyn_company_value).to.equal(
        r._msdyn_company_value,
      );
  });

  it("diff after create shows no change", async () => {
    expect(await bootstrap.diff(outs.companyId, outs, inputs(), h.ctx())).to.deep.include({
      changes: false,
    });
  });

  it("a row created after the bootstrap ran is not drift; with stampNewRows it is, and update stamps it", async () => {
    const groups = await h.emulator.control.rows("dataverse", "ee", "msdyn_customergroups");
    await h.emulator.control.insertRows("dataverse", "ee", "accounts", {
      accountid: "00000000-0000-4000-8000-00000000abcd",
      name: "Late arrival",
      accountnumber: "LATE-1",
      customertypecode: 3,
      _msdyn_customergroupid_value: groups[0]?.msdyn_customergroupid ?? null,
      _owningbusinessunit_value: units["Contoso US"],
      // Every Dataverse row has its creation time (the control API does not set it).
      createdon: (await h.emulator.control.call<{ iso: string }>("GET", "clock")).iso,
    });
    // Covered are the rows that existed when the bootstrap ran: a live org's new rows are no drift.
    expect(outs.selectionCutoff).to.be.a("string");
    h.logs.length = 0;
    const quiet = await bootstrap.diff(outs.companyId, outs, inputs(), h.ctx());
    expect(quiet.changes).to.equal(false);
    expect(quiet.reasons.join(" "), quiet.reasons.join("\n")).to.match(
      /1 accounts without a company were created after .*: not covered \(set stampNewRows: true/,
    );
    const kept = await bootstrap.read(outs.companyId, outs, h.ctx());
    expect(kept?.props.pendingRows).to.deep.equal({ accounts: 0, contacts: 0 });
    // Asked to, it covers new rows too: drift, and the next update stamps it.
    const d = await bootstrap.diff(outs.companyId, outs, inputs({ stampNewRows: true }), h.ctx());
    expect(d.changes).to.equal(true);
    expect(d.reasons.join(" ")).to.include(
      "1 accounts and 0 contacts have no company and would be stamped with USMF",
    );
    const read = await bootstrap.read(outs.companyId, { ...outs, stampNewRows: true }, h.ctx());
    expect(read?.props.pendingRows).to.deep.equal({ accounts: 1, contacts: 0 });
    const mark = await h.mark();
    outs = await bootstrap.update(
      outs.companyId,
      read!.props,
      inputs({ stampNewRows: true }),
      h.ctx(),
    );
    expect(outs.stampedRows).to.deep.equal({ accounts: 1, contacts: 0 });
    const writes = await h.writesSince(mark);
    expect(writes.map((w) => `${w.method} ${w.path}`)).to.deep.equal([
      "POST /api/data/v9.2/accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
    ]);
    const row = (await accounts()).find(
      (r) => r.accountid === "00000000-0000-4000-8000-00000000abcd",
    );
    expect(row?._msdyn_company_value).to.equal(companyIds.USMF);
  });

  it("running it again stamps nothing (idempotent)", async () => {
    const mark = await h.mark();
    const again = await bootstrap.create(inputs(), h.ctx());
    expect(again.outs.stampedRows).to.deep.equal({ accounts: 0, contacts: 0 });
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });

  it("refuses a company that is not linked yet, before writing", async () => {
    const mark = await h.mark();
    let error: unknown;
    try {
      await bootstrap.create(inputs({ companyCode: "USRT" }), h.ctx());
    } catch (e) {
      error = e;
    }
    expect((error as Error).message)
      .to.match(/no company USRT/)
      .and.to.match(/legalEntities/);
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });

  it("a changed company replaces the resource", async () => {
    const d = await bootstrap.diff(outs.companyId, outs, inputs({ companyCode: "DEMF" }), h.ctx());
    expect(d).to.deep.include({ changes: true, replaces: ["companyCode"] });
  });

  it("delete writes nothing and stamped rows keep their company", async () => {
    const mark = await h.mark();
    await bootstrap.delete(outs.companyId, outs, h.ctx());
    expect(await h.writesSince(mark)).to.deep.equal([]);
    for (const r of ofUnit(await accounts(), "Contoso US"))
      expect(r._msdyn_company_value).to.equal(companyIds.USMF);
  });
});
