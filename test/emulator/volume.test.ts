/**
 * A million rows per side (issue 9, "Volume"), over HTTPS with real tokens. The two focused
 * volume tests of the suite:
 *
 * 1. In process, memory only: an F&O environment with 1,000,000 customers and a Dataverse org
 *    with 1,000,000 accounts are counted, read page by page (paging cookies, `$skip`), filtered on
 *    key, company and lookup columns, and synced by an initial sync (70,000 rows) and live.
 * 2. The CLI with a data directory at a million rows: acknowledged writes, then `kill -9` right
 *    after the last answer, then a restart: every acknowledged write is there (ADR 0006).
 *
 * Answers are checked against the rows themselves (read from the store as an oracle), never
 * against times: how long a page takes is the business of `npm run bench` (volume.bench.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientSecretCredential } from "@azure/identity";
import { expect } from "chai";
import {
  rawRequest,
  startTestEmulator,
  trustEmulatorCa,
  type TestEmulator,
} from "../support/emulator";
import type { TableSet } from "../../emulator/store/tables";
import { Maps, Pair } from "./dualWriteHarness";

type Row = Record<string, unknown>;

/** Rows per company the seed gives (F&O: USMF, USRT, DEMF; Dataverse: two business units). */
const SEED_SIZE = 25_000;
/** Generated organizations in USRT: with the seeded ones, about 70,000 for the initial sync. */
const USRT_EXTRA = 52_500;
/** F&O customers in all: the seeded 75,000, USRT's extra ones and generated ones in DEMF. */
const FNO_CUSTOMERS = 1_000_000;
/** Dataverse accounts in all, at least: seeded ones plus generated unstamped ones. */
const DV_ACCOUNTS = 1_000_000;

describe("a million rows per side (in process)", function () {
  let emu: TestEmulator;
  let pair: Pair;
  let seededAccounts: number;

  before(async () => {
    emu = await startTestEmulator({
      settings: { transitionMs: 5, jobRowsPerSecond: 1_000_000 },
    });
    pair = await Pair.seed(emu, "existing-existing", SEED_SIZE);
    const fno = emu.context.fno.get(pair.name);
    const dv = emu.context.dataverse.get(pair.name);
    if (!fno || !dv) throw new Error("the pair has no tables");
    const seededCustomers = fno.count("CustomersV3");
    seededAccounts = dv.count("accounts");
    const bulk = async (
      side: string,
      table: string,
      company: string | undefined,
      count: number,
    ) => {
      const res = await pair.control("PUT", "bulk-rows", {
        env: pair.name,
        side,
        table,
        ...(company ? { company } : {}),
        count,
      });
      expect(res.status, res.text).to.equal(200);
    };
    await bulk("fno", "CustomersV3", "USRT", USRT_EXTRA);
    await bulk("fno", "CustomersV3", "DEMF", FNO_CUSTOMERS - seededCustomers - USRT_EXTRA);
    await bulk("dataverse", "accounts", undefined, DV_ACCOUNTS - seededAccounts);
    expect(fno.count("CustomersV3")).to.equal(FNO_CUSTOMERS);
    expect(dv.count("accounts")).to.equal(DV_ACCOUNTS);
  });
  after(async () => {
    await emu?.close();
    // Let the million rows go before the next test starts its own emulator.
    emu = undefined as unknown as TestEmulator;
    pair = undefined as unknown as Pair;
  });

  /** The pair's tables of one side. */
  function tables(side: "fno" | "dataverse"): TableSet {
    const set = (side === "fno" ? emu.context.fno : emu.context.dataverse).get(pair.name);
    if (!set) throw new Error("no tables");
    return set;
  }

  /** The store itself, for oracles: rows of a table that pass `keep`. */
  function oracle(side: "fno" | "dataverse", table: string, keep: (row: Row) => boolean): Row[] {
    const out: Row[] = [];
    for (const { row } of tables(side).values(table)) if (keep(row)) out.push(row);
    return out;
  }

  /** Every page of a Dataverse query (5,000 rows each), following the paging cookies. */
  async function dvPages(path: string): Promise<Row[][]> {
    const pages: Row[][] = [];
    let url: string | undefined =
      `${pair.info.dataverseUrl}/api/data/v9.2/${path.replace(/ /g, "%20")}`;
    while (url) {
      const res = await emu.request("GET", url, {
        token: await emu.token(pair.info.dataverseUrl),
        headers: { prefer: "odata.maxpagesize=5000" },
      });
      expect(res.status, res.text).to.equal(200);
      const body = res.json as { value: Row[]; "@odata.nextLink"?: string };
      pages.push(body.value);
      url = body["@odata.nextLink"];
    }
    return pages;
  }

  it("counts: F&O exactly per company and across companies, Dataverse capped and in full", async () => {
    const count = async (path: string): Promise<number> => {
      const res = await pair.fno("GET", path);
      expect(res.status, res.text).to.equal(200);
      return Number(res.text);
    };
    expect(await count("CustomersV3/$count?cross-company=true")).to.equal(FNO_CUSTOMERS);
    expect(await count("CustomersV3/$count")).to.equal(SEED_SIZE); // the default company, USMF
    expect(
      await count("CustomersV3/$count?cross-company=true&$filter=dataAreaId eq 'demf'"),
    ).to.equal(FNO_CUSTOMERS - 2 * SEED_SIZE - USRT_EXTRA);
    const persons = oracle(
      "fno",
      "CustomersV3",
      (r) => r.dataAreaId === "usrt" && r.PartyType === "Person",
    );
    expect(
      await count(
        "CustomersV3/$count?cross-company=true&$filter=dataAreaId eq 'usrt' and PartyType eq Microsoft.Dynamics.DataEntities.DirPartyBaseType'Person'",
      ),
    ).to.equal(persons.length);

    const capped = await pair.dv("GET", "accounts/$count");
    expect(capped.text).to.equal("5000");
    const total = await pair.dv("GET", "RetrieveTotalRecordCount(EntityNames=['account'])");
    expect(
      (total.json as { EntityRecordCountCollection: { Values: number[] } })
        .EntityRecordCountCollection.Values[0],
    ).to.equal(DV_ACCOUNTS);
  });

  it("reads page by page: Dataverse paging cookies, F&O $skip deep into the table", async () => {
    // Three pages of 5,000 keys in primary-key order, then the cookie of the third page.
    let url: string | undefined =
      `${pair.info.dataverseUrl}/api/data/v9.2/accounts?$select=accountid`;
    const ids: string[] = [];
    for (let page = 0; page < 3 && url; page++) {
      const res = await emu.request("GET", url, {
        token: await emu.token(pair.info.dataverseUrl),
        headers: { prefer: "odata.maxpagesize=5000" },
      });
      const body = res.json as { value: Row[]; "@odata.nextLink"?: string };
      expect(body.value).to.have.length(5000);
      ids.push(...body.value.map((r) => String(r.accountid)));
      url = body["@odata.nextLink"];
    }
    // The ids are lower-case GUIDs; the first 15,000 of them in order are the three pages.
    const all: string[] = [];
    for (const { row } of tables("dataverse").values("accounts")) all.push(String(row.accountid));
    all.sort();
    expect(ids).to.deep.equal(all.slice(0, 15_000));
    expect(url, "a fourth page follows").to.be.a("string");

    const last = await pair.fno(
      "GET",
      `CustomersV3?cross-company=true&$skip=${FNO_CUSTOMERS - 2}&$top=5&$select=dataAreaId,CustomerAccount`,
    );
    expect(last.status, last.text).to.equal(200);
    const accounts = oracle("fno", "CustomersV3", (r) => r.dataAreaId === "usrt")
      .map((r) => String(r.CustomerAccount).toLowerCase())
      .sort();
    expect(
      (last.json as { value: Row[] }).value.map((r) => String(r.CustomerAccount).toLowerCase()),
    ).to.deep.equal(accounts.slice(-2));
  });

  it("filters on key, company and lookup columns", async () => {
    const byNumber = await pair.dv(
      "GET",
      "accounts?$select=accountnumber&$filter=accountnumber eq 'BULK-0654321'",
    );
    expect((byNumber.json as { value: Row[] }).value.map((r) => r.accountnumber)).to.deep.equal([
      "BULK-0654321",
    ]);
    const usmf = await pair.companyId("USMF");
    const stamped = await pair.dv(
      "GET",
      `accounts?$select=accountnumber&$filter=_msdyn_company_value eq ${usmf}`,
    );
    expect(
      (stamped.json as { value: Row[] }).value.map((r) => r.accountnumber).sort(),
    ).to.deep.equal(
      oracle("dataverse", "accounts", (r) => r._msdyn_company_value === usmf)
        .map((r) => r.accountnumber)
        .sort(),
    );
    const group = oracle("dataverse", "msdyn_customergroups", () => true)[0];
    const inGroup = await dvPages(
      `accounts?$select=accountid&$filter=_msdyn_customergroupid_value eq ${String(group?.msdyn_customergroupid)}`,
    );
    expect(inGroup.flat()).to.have.length(
      oracle(
        "dataverse",
        "accounts",
        (r) => r._msdyn_customergroupid_value === group?.msdyn_customergroupid,
      ).length,
    );

    const one = await pair.fno(
      "GET",
      "CustomersV3(dataAreaId='demf',CustomerAccount='BULK-DEMF-0800000')?cross-company=true",
    );
    expect(one.status, one.text).to.equal(200);
    const groupCount = await pair.fno(
      "GET",
      "CustomersV3/$count?cross-company=true&$filter=CustomerGroupId eq '20' and dataAreaId eq 'usmf'",
    );
    expect(Number(groupCount.text)).to.equal(
      oracle("fno", "CustomersV3", (r) => r.dataAreaId === "usmf" && r.CustomerGroupId === "20")
        .length,
    );
  });

  it("syncs 70,000 rows by initial sync, then live", async () => {
    await pair.linkWithCoreMaps(["USRT"]);
    await pair.startMaps(Maps.legalEntities);
    for (const m of [Maps.currencies, Maps.customerGroups, Maps.accounts]) {
      const run = await pair.initialSync(m, "AX");
      expect(run.state, `${m}: ${String(run.errorMessage)}`).to.equal("2");
    }
    const usrt = await pair.companyId("USRT");
    const organizations = oracle(
      "fno",
      "CustomersV3",
      (r) => r.dataAreaId === "usrt" && r.PartyType === "Organization",
    ).length;
    expect(organizations).to.be.greaterThan(65_000);
    const synced = (
      await dvPages(`accounts?$select=accountid&$filter=_msdyn_company_value eq ${usrt}`)
    ).flat();
    expect(synced).to.have.length(organizations);

    // Live: a customer created in F&O is in Dataverse when the answer comes; an account changed in
    // Dataverse is changed in F&O.
    const created = await pair.fno("POST", "CustomersV3", {
      dataAreaId: "usrt",
      CustomerAccount: "LIVE-0001",
      PartyType: "Organization",
      OrganizationName: "Live at volume",
      CustomerGroupId: "10",
    });
    expect(created.status, created.text).to.equal(201);
    const found = await pair.dv("GET", "accounts?$filter=accountnumber eq 'LIVE-0001'");
    const account = (found.json as { value: Row[] }).value[0];
    expect(account).to.include({ name: "Live at volume", _msdyn_company_value: usrt });
    const patched = await pair.dv("PATCH", `accounts(${String(account?.accountid)})`, {
      name: "Renamed at volume",
    });
    expect(patched.status, patched.text).to.equal(204);
    const customer = await pair.fno(
      "GET",
      "CustomersV3(dataAreaId='usrt',CustomerAccount='LIVE-0001')?cross-company=true",
    );
    expect((customer.json as Row).OrganizationName).to.equal("Renamed at volume");
  });
});

describe("a million rows through a kill (the CLI with a data directory)", function () {
  let dataDir: string;
  let running: ChildProcess | undefined;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "dw-volume-"));
  });
  after(async () => {
    running?.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  });

  it("keeps every acknowledged write after kill -9, and restarts with all the rows", async () => {
    const first = await startCli([
      "--data-dir",
      dataDir,
      "--seed",
      "vol=new-data-new",
      "--size",
      "1000000",
    ]);
    running = first.child;
    const { line } = first;
    trustEmulatorCa(line.caCertPath);
    const env = line.environments[0];
    if (!env) throw new Error("no environment in the CLI's line");
    const credential = new ClientSecretCredential(line.tenantId, line.clientId, line.clientSecret, {
      authorityHost: line.url,
      disableInstanceDiscovery: true,
    });
    const token = async (resource: string) =>
      (await credential.getToken(`${resource}/.default`)).token;
    const fnoToken = await token(env.financeOperationsUrl);
    const dvToken = await token(env.dataverseUrl);
    const fno = (method: string, path: string, body?: unknown) =>
      rawRequest(method, `${env.financeOperationsUrl}/data/${path}`, {
        token: fnoToken,
        ...(body ? { body } : {}),
      });
    const dv = (method: string, path: string, body?: unknown) =>
      rawRequest(method, `${env.dataverseUrl}/api/data/v9.2/${path}`, {
        token: dvToken,
        ...(body ? { body } : {}),
      });

    expect(Number((await fno("GET", "CustomersV3/$count")).text)).to.equal(1_000_000);
    // Acknowledged writes, many at once (they share saves): creates on both sides, an update and a
    // delete of seeded rows.
    const creates = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fno("POST", "CustomersV3", {
          CustomerAccount: `KILL-${String(i).padStart(3, "0")}`,
          PartyType: "Organization",
          OrganizationName: `Kept ${i}`,
          CustomerGroupId: "10",
        }),
      ),
    );
    for (const res of creates) expect(res.status, res.text).to.equal(201);
    const accounts = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        dv("POST", "accounts", { name: `Kept account ${i}`, accountnumber: `KILL-${i}` }),
      ),
    );
    for (const res of accounts) expect(res.status, res.text).to.equal(204);
    const updated = await fno(
      "PATCH",
      "CustomersV3(dataAreaId='dat',CustomerAccount='DAT-500000')",
      {
        OrganizationName: "Changed before the kill",
      },
    );
    expect(updated.status, updated.text).to.equal(204);
    const deleted = await fno(
      "DELETE",
      "CustomersV3(dataAreaId='dat',CustomerAccount='DAT-00007')",
    );
    expect(deleted.status, deleted.text).to.equal(204);
    // No pause: the process dies right after the last answer.
    first.child.kill("SIGKILL");
    expect((await first.exit).signal).to.equal("SIGKILL");
    running = undefined;

    const second = await startCli([
      "--data-dir",
      dataDir,
      "--port",
      String(new URL(line.url).port),
    ]);
    running = second.child;
    try {
      const again = second.line.environments[0];
      expect(again?.financeOperationsUrl).to.equal(env.financeOperationsUrl);
      const fnoToken2 = await token(env.financeOperationsUrl);
      const dvToken2 = await token(env.dataverseUrl);
      const fno2 = (path: string) =>
        rawRequest("GET", `${env.financeOperationsUrl}/data/${path.replace(/ /g, "%20")}`, {
          token: fnoToken2,
        });
      const dv2 = (path: string) =>
        rawRequest("GET", `${env.dataverseUrl}/api/data/v9.2/${path.replace(/ /g, "%20")}`, {
          token: dvToken2,
        });
      expect(Number((await fno2("CustomersV3/$count")).text)).to.equal(1_000_000 + 40 - 1);
      const kept = await fno2(
        "CustomersV3?$filter=startswith(CustomerAccount,'KILL-')&$select=CustomerAccount",
      );
      expect((kept.json as { value: Row[] }).value).to.have.length(40);
      const changed = await fno2("CustomersV3(dataAreaId='dat',CustomerAccount='DAT-500000')");
      expect((changed.json as Row).OrganizationName).to.equal("Changed before the kill");
      expect(
        (await fno2("CustomersV3(dataAreaId='dat',CustomerAccount='DAT-00007')")).status,
      ).to.equal(404);
      const keptAccounts = await dv2(
        "accounts?$select=accountnumber&$filter=startswith(accountnumber,'KILL-')",
      );
      expect((keptAccounts.json as { value: Row[] }).value).to.have.length(40);
    } finally {
      second.child.kill("SIGTERM");
      await second.exit;
      running = undefined;
    }
  });
});

/** A started CLI: its first line and its exit. */
interface CliRun {
  readonly child: ChildProcess;
  readonly line: {
    url: string;
    caCertPath: string;
    tenantId: string;
    clientId: string;
    clientSecret: string;
    environments: Array<{ name: string; financeOperationsUrl: string; dataverseUrl: string }>;
  };
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `bin/dualwrite-emulator.js` and resolves with its JSON line. */
function startCli(args: string[]): Promise<CliRun> {
  const repoRoot = join(__dirname, "..", "..", "..");
  const child = spawn(process.execPath, [join(repoRoot, "bin", "dualwrite-emulator.js"), ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const newline = out.indexOf("\n");
      if (newline < 0) return;
      try {
        resolve({ child, line: JSON.parse(out.slice(0, newline)) as CliRun["line"], exit });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
    void exit.then(({ code, signal }) =>
      reject(new Error(`CLI exited (${code ?? signal}) before printing its line: ${err}`)),
    );
  });
}
