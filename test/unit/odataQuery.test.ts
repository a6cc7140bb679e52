/**
 * The OData query interpreter: `$filter` parsing (compared as S-expressions, Azurite style),
 * syntax errors with their positions, evaluation against rows, and `$orderby`/`$select`/`$expand`.
 */
import { expect } from "chai";
import { QuerySyntaxError } from "../../emulator/odata/query/lexer";
import {
  filterRows,
  plainResolver,
  QueryOptionError,
  readCollectionQuery,
  sortRows,
} from "../../emulator/odata/query/options";
import {
  parseExpand,
  parseFilter,
  parseOrderBy,
  parseSelect,
} from "../../emulator/odata/query/parser";

interface ParseCase {
  readonly name: string;
  readonly filter: string;
  readonly expected: string;
  readonly wildcards?: boolean;
}

const parseCases: readonly ParseCase[] = [
  {
    name: "equality with a string",
    filter: "name eq 'Contoso'",
    expected: '(eq (id name) "Contoso")',
  },
  {
    name: "doubled quotes inside a string",
    filter: "name eq 'O''Brien'",
    expected: `(eq (id name) "O'Brien")`,
  },
  {
    name: "every comparison operator",
    filter: "a ne 1 and b gt 2 and c ge 3 and d lt 4 and e le 5",
    expected:
      "(and (and (and (and (ne (id a) 1) (gt (id b) 2)) (ge (id c) 3)) (lt (id d) 4)) (le (id e) 5))",
  },
  {
    name: "and binds tighter than or",
    filter: "a eq 1 or b eq 2 and c eq 3",
    expected: "(or (eq (id a) 1) (and (eq (id b) 2) (eq (id c) 3)))",
  },
  {
    name: "parentheses override precedence",
    filter: "(a eq 1 or b eq 2) and c eq 3",
    expected: "(and (or (eq (id a) 1) (eq (id b) 2)) (eq (id c) 3))",
  },
  { name: "not", filter: "not a eq 1", expected: "(not (eq (id a) 1))" },
  {
    name: "not over a parenthesised or",
    filter: "not (a eq 1 or a eq 2)",
    expected: "(not (or (eq (id a) 1) (eq (id a) 2)))",
  },
  {
    name: "null",
    filter: "_msdyn_company_value eq null",
    expected: "(eq (id _msdyn_company_value) null)",
  },
  {
    name: "booleans",
    filter: "isdisabled eq false or flag eq true",
    expected: "(or (eq (id isdisabled) false) (eq (id flag) true))",
  },
  {
    name: "a bare GUID",
    filter: "_msdyn_company_value eq 1A2B3C4D-0000-4000-8000-00000000000A",
    expected: "(eq (id _msdyn_company_value) (guid 1a2b3c4d-0000-4000-8000-00000000000a))",
  },
  {
    name: "negative and decimal numbers",
    filter: "x gt -1.5 and y lt 2e3",
    expected: "(and (gt (id x) -1.5) (lt (id y) 2000))",
  },
  {
    name: "a date-time literal",
    filter: "createdon ge 2024-01-31T12:00:00Z",
    expected: "(ge (id createdon) (datetime 2024-01-31T12:00:00Z))",
  },
  {
    name: "contains/startswith/endswith",
    filter: "contains(name,'on') and startswith(name,'C') and endswith(name,'o')",
    expected:
      '(and (and (contains (id name) "on") (startswith (id name) "C")) (endswith (id name) "o"))',
  },
  {
    name: "a function on the left of a comparison",
    filter: "tolower(name) eq 'contoso'",
    expected: '(eq (tolower (id name)) "contoso")',
  },
  {
    name: "a navigation path",
    filter: "msdyn_company/cdm_companycode eq 'USMF'",
    expected: '(eq (id msdyn_company/cdm_companycode) "USMF")',
  },
  {
    name: "an F&O enum literal",
    filter: "PartyType eq Microsoft.Dynamics.DataEntities.DirPartyType'Organization'",
    expected: '(eq (id PartyType) (enum "Organization"))',
  },
  {
    name: "F&O wildcard equality",
    filter: "OrganizationName eq '*Contoso*'",
    wildcards: true,
    expected: '(like (id OrganizationName) "*Contoso*")',
  },
  {
    name: "a star is literal on Dataverse",
    filter: "name eq '*x'",
    expected: '(eq (id name) "*x")',
  },
  { name: "extra whitespace", filter: "  a   eq   1  ", expected: "(eq (id a) 1)" },
];

interface ErrorCase {
  readonly name: string;
  readonly filter: string;
  readonly position: number;
}

const errorCases: readonly ErrorCase[] = [
  { name: "a missing right operand", filter: "name eq", position: 7 },
  { name: "an unterminated string", filter: "name eq 'abc", position: 8 },
  { name: "an unbalanced parenthesis", filter: "(a eq 1", position: 7 },
  { name: "a dangling and", filter: "a eq 1 and", position: 10 },
  { name: "an unknown character", filter: "a eq #1", position: 5 },
  { name: "two operands without an operator", filter: "a eq 1 b", position: 7 },
  { name: "an unknown function", filter: "frobnicate(a) eq 1", position: 0 },
  { name: "a function with the wrong arity", filter: "contains(a) eq true", position: 10 },
  { name: "the unsupported 'in' operator", filter: "a in ('x')", position: 2 },
  { name: "a non-boolean filter", filter: "name", position: 0 },
];

describe("OData $filter parser", () => {
  for (const c of parseCases) {
    it(`parses ${c.name}`, () => {
      expect(parseFilter(c.filter, { wildcards: c.wildcards ?? false }).toString()).to.equal(
        c.expected,
      );
    });
  }

  for (const c of errorCases) {
    it(`reports ${c.name} at position ${c.position}`, () => {
      let caught: unknown;
      try {
        parseFilter(c.filter);
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(QuerySyntaxError);
      const error = caught as QuerySyntaxError;
      expect(error.position).to.equal(c.position);
      expect(error.message).to.match(new RegExp(`^Syntax error at position ${c.position} in '`));
    });
  }
});

describe("OData $filter evaluation", () => {
  const rows = [
    {
      name: "Contoso",
      revenue: 100,
      city: null,
      createdon: "2024-01-01T00:00:00Z",
      id: "AAAAAAAA-0000-4000-8000-000000000001",
    },
    {
      name: "Fabrikam",
      revenue: 250,
      city: "Oslo",
      createdon: "2024-06-01T00:00:00Z",
      id: "aaaaaaaa-0000-4000-8000-000000000002",
    },
    {
      name: "O'Brien Ltd",
      revenue: 50,
      city: "Cork",
      createdon: "2023-12-31T23:59:59Z",
      id: "aaaaaaaa-0000-4000-8000-000000000003",
    },
  ];
  const cases: ReadonlyArray<{ filter: string; names: string[]; wildcards?: boolean }> = [
    { filter: "name eq 'contoso'", names: ["Contoso"] }, // case-insensitive, as SQL Server compares
    { filter: "name ne 'Contoso'", names: ["Fabrikam", "O'Brien Ltd"] },
    { filter: "revenue gt 50 and revenue le 250", names: ["Contoso", "Fabrikam"] },
    { filter: "city eq null", names: ["Contoso"] },
    { filter: "city ne null", names: ["Fabrikam", "O'Brien Ltd"] },
    { filter: "city gt 'A'", names: ["Fabrikam", "O'Brien Ltd"] }, // null never orders
    { filter: "not (revenue lt 100)", names: ["Contoso", "Fabrikam"] },
    { filter: "contains(name,'BRIEN')", names: ["O'Brien Ltd"] },
    { filter: "startswith(name,'fab') or endswith(name,'so')", names: ["Contoso", "Fabrikam"] },
    { filter: "name eq 'O''Brien Ltd'", names: ["O'Brien Ltd"] },
    { filter: "createdon lt 2024-01-01T00:00:00Z", names: ["O'Brien Ltd"] },
    { filter: "id eq aaaaaaaa-0000-4000-8000-000000000001", names: ["Contoso"] }, // GUIDs ignore case
    { filter: "name eq '*o*'", names: ["Contoso", "O'Brien Ltd"], wildcards: true },
    { filter: "name eq 'F*'", names: ["Fabrikam"], wildcards: true },
    { filter: "length(name) eq 7", names: ["Contoso"] },
  ];
  for (const c of cases) {
    it(`selects ${JSON.stringify(c.names)} for ${c.filter}`, () => {
      const node = parseFilter(c.filter, { wildcards: c.wildcards ?? false });
      expect(filterRows(rows, node, plainResolver).map((r) => r.name)).to.deep.equal(c.names);
    });
  }
});

describe("OData $orderby, $select, $expand and option reading", () => {
  it("parses $orderby items with directions", () => {
    expect(parseOrderBy("name, revenue desc ,createdon asc")).to.deep.equal([
      { property: "name", descending: false },
      { property: "revenue", descending: true },
      { property: "createdon", descending: false },
    ]);
  });

  it("sorts stably with nulls first, descending reversed", () => {
    const rows = [
      { n: "b", v: 2 },
      { n: "a", v: null },
      { n: "c", v: 2 },
      { n: "d", v: 1 },
    ];
    expect(sortRows(rows, parseOrderBy("v"), plainResolver).map((r) => r.n)).to.deep.equal([
      "a",
      "d",
      "b",
      "c",
    ]);
    expect(
      sortRows(rows, parseOrderBy("v desc,n desc"), plainResolver).map((r) => r.n),
    ).to.deep.equal(["c", "b", "d", "a"]);
  });

  it("parses $select and rejects a bad property name with its position", () => {
    expect(parseSelect("name,accountnumber")).to.deep.equal(["name", "accountnumber"]);
    expect(() => parseSelect("name,bad-name")).to.throw(QuerySyntaxError, /position 5/);
  });

  it("parses $expand with a nested $select", () => {
    expect(parseExpand("msdyn_company($select=cdm_companycode,cdm_name),ownerid")).to.deep.equal([
      { property: "msdyn_company", select: ["cdm_companycode", "cdm_name"] },
      { property: "ownerid" },
    ]);
    expect(() => parseExpand("msdyn_company($filter=x eq 1)")).to.throw(
      QuerySyntaxError,
      /Only \$select/,
    );
  });

  it("reads every supported option and refuses unknown or malformed ones", () => {
    const q = readCollectionQuery(
      new URLSearchParams("$filter=a eq 1&$top=5&$skip=2&$count=true&$select=a,b&$orderby=a desc"),
      { allowSkip: true },
    );
    expect(q.filter?.toString()).to.equal("(eq (id a) 1)");
    expect([q.top, q.skip, q.count, q.select, q.orderBy.length]).to.deep.equal([
      5,
      2,
      true,
      ["a", "b"],
      1,
    ]);
    expect(() =>
      readCollectionQuery(new URLSearchParams("$skip=1"), { allowSkip: false }),
    ).to.throw(QueryOptionError, /\$skip is not supported/);
    expect(() => readCollectionQuery(new URLSearchParams("$top=-1"), { allowSkip: true })).to.throw(
      QueryOptionError,
      /non-negative integer/,
    );
    expect(() =>
      readCollectionQuery(new URLSearchParams("$search=x"), { allowSkip: true }),
    ).to.throw(QueryOptionError, /\$search is not supported/);
  });
});
