/**
 * The store's indexes and the query planner (issue 9, "Volume"), in process: the sorted key set
 * agrees with a sorted array under random adds and removes; `TableSet.access` picks the primary
 * key, an alternate key or the most selective index, and every index stays right through
 * updates, deletes and rolled-back transactions; a `QueryPlan` answers exactly what the general
 * evaluator answers, and reads no row to count an indexed filter and no more rows than a page
 * holds to page one, whatever the table's size.
 */
import { expect } from "chai";
import { parseFilter } from "../../emulator/odata/query/parser";
import { plainResolver } from "../../emulator/odata/query/options";
import { QueryPlan, splitFilter } from "../../emulator/odata/query/planner";
import { SortedKeys } from "../../emulator/store/sortedKeys";
import { type Row, type StoredRow, TableSet } from "../../emulator/store/tables";
import { runInTransaction } from "../../emulator/store/transaction";

/** A small deterministic generator (xorshift), so that failures repeat. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

describe("SortedKeys", () => {
  it("agrees with a sorted array under random adds and removes, bulk and one by one", () => {
    const next = random(7);
    const keys = new SortedKeys();
    const reference = new Set<string>();
    const sorted = (): string[] => [...reference].sort();
    // A bulk load (pending keys, sorted once), then mixed changes that split and empty chunks.
    for (let i = 0; i < 5_000; i++) {
      const key = `k${Math.floor(next() * 1e9)}`;
      if (reference.has(key)) continue;
      reference.add(key);
      keys.add(key);
    }
    expect([...keys.after()]).to.deep.equal(sorted());
    for (let i = 0; i < 20_000; i++) {
      const key = `k${Math.floor(next() * 2e4)}`;
      if (reference.has(key)) {
        expect(keys.delete(key)).to.equal(true);
        reference.delete(key);
      } else {
        keys.add(key);
        reference.add(key);
      }
    }
    const expected = sorted();
    expect(keys.size).to.equal(expected.length);
    expect([...keys.after()]).to.deep.equal(expected);
    const middle = expected[Math.floor(expected.length / 2)] as string;
    expect([...keys.after(middle)]).to.deep.equal(expected.filter((k) => k > middle));
    expect([...keys.after(`${middle}~`)][0]).to.equal(expected.find((k) => k > `${middle}~`));
    expect([...keys.fromPosition(1234)]).to.deep.equal(expected.slice(1234));
    expect([...keys.fromPosition(expected.length + 5)]).to.deep.equal([]);
    expect(keys.has(middle)).to.equal(true);
    expect(keys.delete("absent")).to.equal(false);
    // Removing every key, largest first and smallest first, leaves it empty and usable.
    for (const key of expected.slice(0, 3_000)) keys.delete(key);
    for (const key of expected.slice(3_000).reverse()) keys.delete(key);
    expect(keys.size).to.equal(0);
    expect([...keys.after()]).to.deep.equal([]);
    keys.add("again");
    expect([...keys.after()]).to.deep.equal(["again"]);
  });
});

/** A table of `n` customers over three companies, two party types and 20 groups. */
function customers(n: number): TableSet {
  const set = new TableSet("fno", "t");
  set.define({
    name: "Customers",
    keyFields: ["dataAreaId", "CustomerAccount"],
    caseInsensitiveKey: true,
    indexes: [["dataAreaId"], ["dataAreaId", "PartyType"], ["CustomerGroupId"]],
  });
  for (let i = 0; i < n; i++) {
    set.insert(
      "Customers",
      {
        dataAreaId: ["usmf", "usrt", "demf"][i % 3],
        CustomerAccount: `C-${String(i).padStart(7, "0")}`,
        PartyType: i % 10 < 7 ? "Organization" : "Person",
        CustomerGroupId: String((i % 20) * 10),
        Name: `Customer ${i}`,
      },
      "seed",
    );
  }
  return set;
}

/** What the general evaluator answers: every row, filtered, in key order. */
function bruteForce(set: TableSet, filter: string, scope?: Map<string, unknown>): string[] {
  const node = parseFilter(filter);
  const out: string[] = [];
  const { keys } = set.access("Customers", new Map());
  for (const [key, stored] of set.walk("Customers", keys)) {
    const inScope = [...(scope ?? [])].every(
      ([c, v]) => String(stored.row[c]).toLowerCase() === String(v).toLowerCase(),
    );
    if (inScope && node.evaluate(plainResolver(stored.row)) === true) out.push(key);
  }
  return out;
}

describe("TableSet.access and QueryPlan", () => {
  it("splits a filter's top-level and terms into column equalities and the rest", () => {
    const split = splitFilter(
      parseFilter(
        "dataAreaId eq 'usmf' and (Name eq 'x' or Name eq 'y') and 'Person' eq PartyType",
      ),
    );
    expect([...split.equalities.keys()]).to.deep.equal(["dataAreaId", "PartyType"]);
    expect(split.rest.map(String)).to.deep.equal(['(or (eq (id Name) "x") (eq (id Name) "y"))']);
  });

  it("picks the primary key, then the most selective index, else a scan", () => {
    const set = customers(3_000);
    const via = (filter: string): string =>
      new QueryPlan({
        tables: set,
        table: "Customers",
        filter: parseFilter(filter),
        resolver: (s) => plainResolver(s.row),
      }).via;
    expect(via("dataAreaId eq 'USMF' and CustomerAccount eq 'c-0000003'")).to.equal("primary key");
    expect(via("dataAreaId eq 'usmf' and PartyType eq 'Person'")).to.equal(
      "index (dataAreaId, PartyType)",
    );
    // 150 rows per group beat 1,000 per company.
    expect(via("dataAreaId eq 'usmf' and CustomerGroupId eq '10'")).to.equal(
      "index (CustomerGroupId)",
    );
    expect(via("startswith(Name,'Customer 1')")).to.equal("scan");
    expect(via("dataAreaId eq 'usmf' or PartyType eq 'Person'")).to.equal("scan");
  });

  it("answers exactly what the general evaluator answers, in key order", () => {
    const set = customers(3_000);
    const filters = [
      "dataAreaId eq 'usrt'",
      "dataAreaId eq 'USRT' and PartyType eq 'person'",
      "dataAreaId eq 'usrt' and PartyType eq 'Person' and CustomerGroupId eq '30'",
      "CustomerGroupId eq '30' and startswith(Name,'Customer 1')",
      "dataAreaId eq 'nowhere'",
      "dataAreaId eq 'usmf' and dataAreaId eq 'usrt'",
      "dataAreaId eq 'demf' and CustomerAccount eq 'C-0000002'",
      "dataAreaId eq 'usmf' and CustomerAccount eq 'C-0000002'",
      "PartyType ne 'Person' and contains(Name,'99')",
    ];
    for (const filter of filters) {
      for (const scope of [undefined, new Map<string, unknown>([["dataAreaId", "usrt"]])]) {
        const plan = new QueryPlan({
          tables: set,
          table: "Customers",
          filter: parseFilter(filter),
          ...(scope ? { scope } : {}),
          resolver: (s) => plainResolver(s.row),
        });
        const expected = bruteForce(set, filter, scope);
        expect(
          [...plan.rows()].map(([k]) => k),
          filter,
        ).to.deep.equal(expected);
        expect(plan.count(), filter).to.equal(expected.length);
        expect(
          [...plan.fromPosition(7)].map(([k]) => k),
          filter,
        ).to.deep.equal(expected.slice(7));
        const after = expected[3];
        if (after !== undefined)
          expect(
            [...plan.rows(after)].map(([k]) => k),
            filter,
          ).to.deep.equal(expected.slice(4));
      }
    }
  });

  it("counts an indexed filter without reading a row, and pages without reading more than the page", () => {
    for (const size of [6_000, 300_000]) {
      const set = customers(size);
      let read = 0;
      const resolver = (s: StoredRow) => (read++, plainResolver(s.row));
      const exact = new QueryPlan({
        tables: set,
        table: "Customers",
        filter: parseFilter("dataAreaId eq 'usmf' and PartyType eq 'Organization'"),
        resolver,
      });
      expect(exact.count()).to.equal(
        bruteForce(set, "dataAreaId eq 'usmf' and PartyType eq 'Organization'").length,
      );
      expect(read, `rows read to count at ${size}`).to.equal(0);
      // One more term than the index covers: a page reads its rows and the ones in between.
      const paged = new QueryPlan({
        tables: set,
        table: "Customers",
        filter: parseFilter(
          "dataAreaId eq 'usmf' and PartyType eq 'Organization' and CustomerGroupId eq '0'",
        ),
        resolver,
      });
      read = 0;
      const page: string[] = [];
      for (const [key] of paged.rows("usmf\u0001c-0000100")) {
        page.push(key);
        if (page.length === 50) break;
      }
      expect(page).to.have.length(50);
      expect(read, `rows read for a page of 50 at ${size}`).to.be.at.most(50 * 20);
    }
  });

  it("keeps every index right through updates, deletes and a rolled-back transaction", async () => {
    const set = customers(300);
    const countOf = (filter: string): number =>
      new QueryPlan({
        tables: set,
        table: "Customers",
        filter: parseFilter(filter),
        resolver: (s) => plainResolver(s.row),
      }).count();
    const key = set.keyOf("Customers", { dataAreaId: "usmf", CustomerAccount: "C-0000000" });
    const persons = countOf("dataAreaId eq 'usmf' and PartyType eq 'Person'");
    set.update("Customers", key, { PartyType: "Person" }, "client");
    expect(countOf("dataAreaId eq 'usmf' and PartyType eq 'Person'")).to.equal(persons + 1);
    await runInTransaction(async (tx) => {
      set.update("Customers", key, { PartyType: "Organization", CustomerGroupId: "990" }, "client");
      set.delete(
        "Customers",
        set.keyOf("Customers", { dataAreaId: "usmf", CustomerAccount: "C-0000003" }),
        "client",
      );
      set.insert(
        "Customers",
        { dataAreaId: "usmf", CustomerAccount: "NEW", CustomerGroupId: "990" },
        "client",
      );
      expect(countOf("CustomerGroupId eq '990'")).to.equal(2);
      tx.rollback();
      await Promise.resolve();
    });
    expect(countOf("CustomerGroupId eq '990'")).to.equal(0);
    expect(countOf("dataAreaId eq 'usmf' and PartyType eq 'Person'")).to.equal(persons + 1);
    expect(countOf("dataAreaId eq 'usmf'")).to.equal(100);
    set.delete("Customers", key, "client");
    expect(countOf("dataAreaId eq 'usmf'")).to.equal(99);
    expect(bruteForce(set, "dataAreaId eq 'usmf'")).to.have.length(99);
  });

  it("finds rows by an alternate key through its unique index", () => {
    const set = new TableSet("dataverse", "t");
    set.define({
      name: "accounts",
      keyFields: ["accountid"],
      caseInsensitiveKey: true,
      uniqueKeys: [{ name: "number_company", columns: ["accountnumber", "_company_value"] }],
      indexes: [["_company_value"]],
    });
    const row = (i: number, company: string | null): Row => ({
      accountid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      accountnumber: `A-${i}`,
      _company_value: company,
    });
    for (let i = 0; i < 100; i++) set.insert("accounts", row(i, i % 2 === 0 ? "c1" : null), "seed");
    const access = set.access(
      "accounts",
      new Map<string, unknown>([
        ["accountnumber", "a-4"],
        ["_company_value", "C1"],
      ]),
    );
    expect(access.via).to.equal("alternate key (accountnumber, _company_value)");
    expect(
      [...set.walk("accounts", access.keys)].map(([, s]) => s.row.accountnumber),
    ).to.deep.equal(["A-4"]);
    // A null key column is not in the unique index: the company index (nulls included) serves it.
    expect(
      set.findFirst("accounts", { accountnumber: "A-5", _company_value: null })?.stored.row
        .accountnumber,
    ).to.equal("A-5");
    expect(set.access("accounts", new Map([["_company_value", null]])).keys.size).to.equal(50);
  });
});
