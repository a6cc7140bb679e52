/**
 * `$batch` change sets as real transactions, over HTTPS against a linked pair whose customer maps
 * run live sync: a change set is all or nothing on BOTH sides — a failed operation, or a live-sync
 * failure on the other side, leaves neither F&O nor Dataverse changed (rows, ETags, the paused
 * map's queue), and nothing of the undo is copied anywhere. Sources: "Execute batch operations
 * using the Web API" (change sets), F&O "Open Data Protocol (OData)" (a change set is one
 * transaction), dual-write live sync (a failure on one side fails the transaction on the other).
 */
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { startTestEmulator, type TestEmulator, type TestResponse } from "../support/emulator";
import { Action, Maps, Pair } from "./dualWriteHarness";

type Row = Record<string, unknown>;

/** One operation of a batch. */
interface Op {
  readonly method: string;
  readonly url: string;
  readonly body?: unknown;
}

/** A multipart `$batch` body with one change set holding `ops` (CRLF line ends, as documented). */
function changeSetBody(boundary: string, ops: readonly Op[]): string {
  const set = `changeset_${randomUUID()}`;
  return [
    `--${boundary}`,
    `Content-Type: multipart/mixed; boundary=${set}`,
    "",
    ...ops.flatMap((op, i) => [
      `--${set}`,
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      `Content-ID: ${i + 1}`,
      "",
      `${op.method} ${op.url} HTTP/1.1`,
      "Content-Type: application/json",
      "",
      op.body === undefined ? "" : JSON.stringify(op.body),
    ]),
    `--${set}--`,
    `--${boundary}--`,
    "",
  ].join("\r\n");
}

describe("change sets with live sync (HTTPS)", function () {
  let emu: TestEmulator;
  let pair: Pair;
  let usmf: string;
  let group10: string;

  before(async () => {
    emu = await startTestEmulator({ settings: { transitionMs: 5, jobRowsPerSecond: 100_000 } });
    pair = await Pair.seed(emu, "existing-existing", 10);
    await pair.linkWithCoreMaps(["USMF"]);
    await pair.startMaps(Maps.legalEntities);
    for (const m of [Maps.currencies, Maps.customerGroups]) {
      const s = await pair.initialSync(m, "AX");
      expect(s.state, String(s.errorMessage)).to.equal("2");
    }
    await pair.startMaps(Maps.accounts, Maps.contacts);
    usmf = await pair.companyId("USMF");
    const group = (await pair.dvRows("msdyn_customergroups")).find(
      (g) => g.msdyn_groupid === "10" && g._msdyn_company_value === usmf,
    );
    group10 = String(group?.msdyn_customergroupid);
  });
  after(() => emu?.close());

  async function fnoBatch(ops: readonly Op[]): Promise<TestResponse> {
    const boundary = `batch_${randomUUID()}`;
    return emu.request("POST", `${pair.info.financeOperationsUrl}/data/$batch`, {
      token: await emu.token(pair.info.financeOperationsUrl),
      body: changeSetBody(boundary, ops),
      headers: { "content-type": `multipart/mixed; boundary=${boundary}` },
    });
  }

  async function dvBatch(ops: readonly Op[]): Promise<TestResponse> {
    const boundary = `batch_${randomUUID()}`;
    return emu.request("POST", `${pair.info.dataverseUrl}/api/data/v9.2/$batch`, {
      token: await emu.token(pair.info.dataverseUrl),
      body: changeSetBody(boundary, ops),
      headers: { "content-type": `multipart/mixed; boundary=${boundary}` },
    });
  }

  const customer = (account: string, extra: Row = {}): Row => ({
    dataAreaId: "usmf",
    CustomerAccount: account,
    PartyType: "Organization",
    OrganizationName: `Org ${account}`,
    CustomerGroupId: "10",
    ...extra,
  });

  async function dvAccount(number: string): Promise<Row | undefined> {
    return (await pair.dvRows("accounts")).find((a) => a.accountnumber === number);
  }

  async function fnoCustomer(account: string): Promise<Row | undefined> {
    return (await pair.fnoRows("CustomersV3")).find((c) => c.CustomerAccount === account);
  }

  /** Every row of both sides' customer tables, with versions: what "unchanged" means. */
  function bothSides(): { fno: unknown; dv: unknown } {
    const tables = (kind: "fno" | "dataverse", table: string) =>
      (kind === "fno" ? emu.context.fno : emu.context.dataverse).get(pair.name)?.snapshot().tables[
        table
      ]?.rows;
    return { fno: tables("fno", "CustomersV3"), dv: tables("dataverse", "accounts") };
  }

  it("keeps every write of a successful F&O change set and its live-sync copies", async () => {
    const res = await fnoBatch([
      { method: "POST", url: "CustomersV3", body: customer("USMF-CS1") },
      { method: "POST", url: "CustomersV3", body: customer("USMF-CS2") },
    ]);
    expect(res.status).to.equal(200);
    expect(res.text.match(/HTTP\/1\.1 201 Created/g)).to.have.length(2);
    expect((await dvAccount("USMF-CS1"))?.name).to.equal("Org USMF-CS1");
    expect((await dvAccount("USMF-CS2"))?.name).to.equal("Org USMF-CS2");
  });

  it("leaves neither side changed when a later F&O operation's live sync fails", async () => {
    const before = bothSides();
    const res = await fnoBatch([
      { method: "POST", url: "CustomersV3", body: customer("USMF-CS3") },
      {
        method: "PATCH",
        url: "CustomersV3(dataAreaId='usmf',CustomerAccount='USMF-CS1')",
        body: { OrganizationName: "Renamed inside the set" },
      },
      // Dataverse has no customer group 99: the copy fails, so F&O refuses this write.
      { method: "POST", url: "CustomersV3", body: customer("USMF-CS4", { CustomerGroupId: "99" }) },
    ]);
    expect(res.status).to.equal(200);
    expect(res.text).to.match(/HTTP\/1\.1 500 Internal Server Error/);
    expect(res.text).to.contain("Couldn't resolve the guid for the field: msdyn_customergroupid");
    expect(res.text).to.not.match(/HTTP\/1\.1 201/); // the set answers with its failure alone
    expect(await fnoCustomer("USMF-CS3")).to.equal(undefined);
    expect(await dvAccount("USMF-CS3")).to.equal(undefined);
    expect((await dvAccount("USMF-CS1"))?.name).to.equal("Org USMF-CS1");
    // Rows and versions (ETags) are exactly as before: a rollback, not compensating writes.
    expect(bothSides()).to.deep.equal(before);
  });

  it("leaves neither side changed when a Dataverse change set fails after a synced create", async () => {
    const before = bothSides();
    const res = await dvBatch([
      {
        method: "POST",
        url: "accounts",
        body: {
          name: "Set account",
          accountnumber: "USMF-CS5",
          customertypecode: 3,
          "msdyn_company@odata.bind": `/cdm_companies(${usmf})`,
          "msdyn_customergroupid@odata.bind": `/msdyn_customergroups(${group10})`,
        },
      },
      // F&O refuses a customer without a group: live sync fails this write.
      {
        method: "POST",
        url: "accounts",
        body: {
          name: "No group",
          accountnumber: "USMF-CS6",
          customertypecode: 3,
          "msdyn_company@odata.bind": `/cdm_companies(${usmf})`,
        },
      },
    ]);
    expect(res.status).to.equal(200);
    expect(res.text).to.contain("0x80040265");
    expect(res.text).to.contain("Field 'Customer group' must be filled in.");
    expect(await dvAccount("USMF-CS5")).to.equal(undefined);
    expect(await fnoCustomer("USMF-CS5")).to.equal(undefined);
    expect(bothSides()).to.deep.equal(before);
  });

  it("takes a rolled-back change off the queue of a paused map", async () => {
    expect((await pair.run(Action.pause, [Maps.accounts])).state).to.equal("2");
    try {
      const queued = async () =>
        (await pair.runtimeMaps()).find((m) => m.name === Maps.accounts)?.queueLength;
      const before = await queued();
      const res = await fnoBatch([
        { method: "POST", url: "CustomersV3", body: customer("USMF-CS7") },
        // An unknown field: F&O refuses the operation before any write.
        { method: "POST", url: "CustomersV3", body: customer("USMF-CS8", { Nickname: "x" }) },
      ]);
      expect(res.text).to.match(/HTTP\/1\.1 400 Bad Request/);
      expect(await fnoCustomer("USMF-CS7")).to.equal(undefined);
      expect(await queued()).to.equal(before);
    } finally {
      expect((await pair.run(Action.resume, [Maps.accounts])).state).to.equal("2");
    }
    expect(await dvAccount("USMF-CS7"), "nothing replayed on resume").to.equal(undefined);
  });

  it("leaves nothing of a single write whose live sync fails", async () => {
    const before = bothSides();
    const res = await pair.fno(
      "POST",
      "CustomersV3",
      customer("USMF-CS9", { CustomerGroupId: "99" }),
    );
    expect(res.status).to.equal(500);
    expect(bothSides()).to.deep.equal(before);
  });
});
