/**
 * The pieces behind the Dataverse surface's strictness, in process: alternate keys as unique
 * indexes of the store, the keys and columns of the table schema file, the paging cookie, and the
 * properties a filter reads.
 */
import { expect } from "chai";
import { readPage, readSkipToken, skipTokenAfter } from "../../emulator/dataverse/paging";
import { alternateKeysOf, tableSchema } from "../../emulator/dataverse/tableSchemas";
import { plainResolver } from "../../emulator/odata/query/options";
import { propertyReferences } from "../../emulator/odata/query/nodes";
import { parseFilter, parseOrderBy } from "../../emulator/odata/query/parser";
import { dataverseTableDefinitions } from "../../emulator/store/schema";
import { TableSet, UniqueKeyError, type StoredRow } from "../../emulator/store/tables";

const COMPANY = "aaaaaaaa-0000-4000-8000-000000000001";
const OTHER_COMPANY = "aaaaaaaa-0000-4000-8000-000000000002";
const id = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

function accountsTable(): TableSet {
  const set = new TableSet("dataverse", "unit");
  const def = dataverseTableDefinitions().find((d) => d.name === "accounts");
  if (!def) throw new Error("no accounts definition");
  set.define(def);
  return set;
}

describe("Dataverse alternate keys as unique indexes of the store", () => {
  it("declares the catalog's integration keys, lookups as their lookup property", () => {
    expect(alternateKeysOf("accounts")).to.deep.equal([
      { name: "accountnumber_msdyn_company", columns: ["accountnumber", "_msdyn_company_value"] },
    ]);
    expect(alternateKeysOf("cdm_companies")).to.deep.equal([
      { name: "cdm_companycode", columns: ["cdm_companycode"] },
    ]);
    expect(alternateKeysOf("businessunits")).to.deep.equal([]);
    // Every key column of a table with declared columns is one of them.
    for (const def of dataverseTableDefinitions()) {
      const columns = tableSchema(def.name)?.columns;
      if (!columns) continue;
      for (const key of def.uniqueKeys ?? [])
        for (const column of key.columns)
          expect(Object.hasOwn(columns, column), `${def.name}.${column}`).to.equal(true);
    }
  });

  it("refuses a second row with the same key values (without regard to case) before listeners run", () => {
    const set = accountsTable();
    let heard = 0;
    set.onWrite(() => heard++);
    set.insert(
      "accounts",
      { accountid: id(1), accountnumber: "A-1", _msdyn_company_value: COMPANY },
      "client",
    );
    expect(() =>
      set.insert(
        "accounts",
        { accountid: id(2), accountnumber: "a-1", _msdyn_company_value: COMPANY },
        "client",
      ),
    )
      .to.throw(UniqueKeyError)
      .with.property("values")
      .that.deep.equals(["a-1", COMPANY]);
    expect(heard).to.equal(1);
    expect(set.count("accounts")).to.equal(1);
    // Another company, or no company at all (not indexed), is another key.
    set.insert(
      "accounts",
      { accountid: id(3), accountnumber: "A-1", _msdyn_company_value: OTHER_COMPANY },
      "client",
    );
    set.insert("accounts", { accountid: id(4), accountnumber: "A-1" }, "client");
    set.insert(
      "accounts",
      { accountid: id(5), accountnumber: "A-1", _msdyn_company_value: null },
      "client",
    );
    expect(set.count("accounts")).to.equal(4);
  });

  it("keeps the index through updates, deletes and a snapshot restore", () => {
    const set = accountsTable();
    const key = { accountnumber: "B-1", _msdyn_company_value: COMPANY };
    set.insert("accounts", { accountid: id(1), ...key }, "client");
    set.insert(
      "accounts",
      { accountid: id(2), accountnumber: "B-2", _msdyn_company_value: COMPANY },
      "client",
    );
    const name = "accountnumber_msdyn_company";
    expect(set.findByUniqueKey("accounts", name, key)?.key).to.equal(id(1));
    expect(() => set.update("accounts", id(2), { accountnumber: "B-1" }, "client")).to.throw(
      UniqueKeyError,
    );
    // A row may keep its own key on update, and a changed key moves in the index.
    set.update("accounts", id(1), { accountnumber: "B-1", name: "same key" }, "client");
    set.update("accounts", id(1), { accountnumber: "B-9" }, "client");
    expect(set.findByUniqueKey("accounts", name, key)).to.equal(undefined);
    set.update("accounts", id(2), { accountnumber: "B-1" }, "client");
    expect(set.findByUniqueKey("accounts", name, key)?.key).to.equal(id(2));
    set.delete("accounts", id(2), "client");
    expect(set.findByUniqueKey("accounts", name, key)).to.equal(undefined);

    const restored = TableSet.restore(set.snapshot());
    expect(
      restored.findByUniqueKey("accounts", name, {
        accountnumber: "b-9",
        _msdyn_company_value: COMPANY,
      })?.key,
    ).to.equal(id(1));
    expect(() =>
      restored.insert(
        "accounts",
        { accountid: id(7), accountnumber: "B-9", _msdyn_company_value: COMPANY },
        "client",
      ),
    ).to.throw(UniqueKeyError);
  });

  it("changes a table's revision on every committed write only", () => {
    const set = accountsTable();
    const before = set.revision("accounts");
    set.insert("accounts", { accountid: id(1) }, "client");
    const afterInsert = set.revision("accounts");
    expect(afterInsert).to.not.equal(before);
    set.onWrite(() => {
      throw new Error("vetoed");
    });
    expect(() => set.update("accounts", id(1), { name: "x" }, "client")).to.throw("vetoed");
    expect(set.revision("accounts")).to.equal(afterInsert);
  });
});

describe("Dataverse paging cookies", () => {
  const rows = (set: TableSet): StoredRow[] => set.all("accounts");
  const resolver = (stored: StoredRow) => plainResolver(stored.row);

  it("round-trips a cookie naming the last row's sort values and primary key", () => {
    const set = accountsTable();
    set.insert(
      "accounts",
      { accountid: id(1), name: 'A "quoted" <name> & co', revenue: 10 },
      "seed",
    );
    set.insert("accounts", { accountid: id(2), name: null, revenue: 5 }, "seed");
    const orderBy = parseOrderBy("name desc,revenue");
    const token = skipTokenAfter(3, rows(set), orderBy, "accountid", resolver);
    expect(token).to.match(/^<cookie pagenumber="4" pagingcookie="[^"]+" istracking="False" \/>$/);
    expect(readSkipToken(token, orderBy.length)).to.deep.equal({
      page: 3,
      values: [null, "5"],
      id: id(2),
    });
    // A cookie for another number of sort keys, or not ours at all, is refused.
    expect(readSkipToken(token, 0)).to.equal(undefined);
    expect(readSkipToken('<cookie pagenumber="2" pagingcookie="%3Cx%3E" />', 0)).to.equal(
      undefined,
    );
    expect(readSkipToken("offset=5000", 0)).to.equal(undefined);
  });

  it("starts the next page after the cookie's row, by primary key or by $orderby then key", () => {
    const set = accountsTable();
    for (const n of [5, 1, 4, 2, 3])
      set.insert("accounts", { accountid: id(n), revenue: n % 2 }, "seed");
    const byKey = readPage(set, "accounts", "accountid", resolver, { orderBy: [], limit: 2 });
    expect(byKey.rows.map((r) => r.row["accountid"])).to.deep.equal([id(1), id(2)]);
    expect(byKey.more).to.equal(true);
    const afterKey = readPage(set, "accounts", "accountid", resolver, {
      orderBy: [],
      limit: 2,
      after: { page: 1, values: [], id: id(2) },
    });
    expect(afterKey.rows.map((r) => r.row["accountid"])).to.deep.equal([id(3), id(4)]);

    const orderBy = parseOrderBy("revenue desc");
    const first = readPage(set, "accounts", "accountid", resolver, { orderBy, limit: 2 });
    expect(first.rows.map((r) => r.row["accountid"])).to.deep.equal([id(1), id(3)]);
    const token = skipTokenAfter(1, first.rows, orderBy, "accountid", resolver);
    const after = readSkipToken(token, 1);
    if (!after) throw new Error("the cookie did not read back");
    const filter = parseFilter("revenue ge 0");
    const second = readPage(set, "accounts", "accountid", resolver, {
      filter,
      orderBy,
      limit: 5,
      after,
    });
    expect(second.rows.map((r) => r.row["accountid"])).to.deep.equal([id(5), id(2), id(4)]);
    expect(second.more).to.equal(false);
  });
});

describe("properties a filter reads", () => {
  it("lists every identifier, through functions, not and navigation paths", () => {
    const filter = parseFilter(
      "name eq 'x' and (not contains(tolower(description),'y') or msdyn_company/cdm_companycode eq 'USMF')",
    );
    expect(propertyReferences(filter).map((p) => p.name)).to.deep.equal([
      "name",
      "description",
      "msdyn_company/cdm_companycode",
    ]);
  });
});
