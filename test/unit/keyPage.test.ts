import { expect } from "chai";
import { KeyPageSyntaxError, readCountPage, readKeyPage } from "../../provider/clients/keyPage";

/** A page as Dataverse writes it (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results). */
function page(
  rows: readonly Record<string, unknown>[],
  nextLink?: string,
  indent?: number,
): Buffer {
  return Buffer.from(
    JSON.stringify(
      {
        "@odata.context": "https://org.example/api/data/v9.2/$metadata#accounts(accountid)",
        value: rows,
        ...(nextLink !== undefined && { "@odata.nextLink": nextLink }),
      },
      null,
      indent,
    ),
  );
}

describe("http: a page of keys read from its bytes (keyPage.ts)", () => {
  it("gives the key of each row, in order, and the next link, as JSON.parse reads them", () => {
    const rows = [
      { "@odata.etag": 'W/"101"', accountid: "a-1", other: { nested: [1, -2.5e3, true, null] } },
      { accountid: 'quote " and é', "@odata.etag": 'W/"102"' },
      { accountid: "a-3", name: "ü\n\t" },
    ];
    const next =
      "https://org.example/api/data/v9.2/accounts?$skiptoken=%3Ccookie%20pagenumber=%222%22%3E";
    for (const indent of [undefined, 2]) {
      const bytes = page(rows, next, indent);
      const parsed = JSON.parse(bytes.toString()) as { value: { accountid: string }[] };
      expect(readKeyPage(bytes, "accountid")).to.deep.equal({
        keys: parsed.value.map((r) => r.accountid),
        nextLink: next,
      });
    }
  });

  it("leaves out rows whose key is missing or not a string, and has no next link on the last page", () => {
    const bytes = page([{ accountid: null }, { name: "x" }, { accountid: 7 }, { accountid: "k" }]);
    expect(readKeyPage(bytes, "accountid")).to.deep.equal({ keys: ["k"], nextLink: undefined });
  });

  it("reads an empty page", () => {
    expect(readKeyPage(page([]), "accountid")).to.deep.equal({ keys: [], nextLink: undefined });
  });

  it("refuses what is not a whole page of rows, saying where", () => {
    const whole = page([{ accountid: "a-1" }], "https://org.example/next");
    const bad = [
      whole.subarray(0, whole.length - 5), // cut short
      Buffer.concat([whole, Buffer.from("x")]),
      Buffer.from('{"values":[]}'),
      Buffer.from("[]"),
      Buffer.from('{"value":[1]}'),
      Buffer.from('{"value":[{"accountid":"a",}]}'),
      Buffer.from('{"value":[{"accountid":"a"} {"accountid":"b"}]}'),
      Buffer.from('{"value":[],"@odata.nextLink":3}'),
      Buffer.from('{"value":[{"accountid":"a\u0001"}]}'),
      Buffer.from('{"value":[{"n":tru}]}'),
      Buffer.from(""),
    ];
    for (const bytes of bad) {
      expect(() => readKeyPage(bytes, "accountid"), bytes.toString())
        .to.throw(KeyPageSyntaxError)
        .with.property("message")
        .that.matches(/^not a page of rows: .+ at byte \d+$/);
    }
  });

  it("counts a page's rows and reads its count annotations without looking into the rows", () => {
    const bytes = Buffer.from(
      JSON.stringify({
        "@odata.context": "https://org.example/api/data/v9.2/$metadata#accounts(accountid)",
        "@odata.count": 5000,
        "@Microsoft.Dynamics.CRM.totalrecordcount": -1,
        "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded": true,
        value: [{ accountid: "a" }, { accountid: null }, {}],
        "@odata.nextLink": "https://org.example/next",
      }),
    );
    expect(readCountPage(bytes)).to.deep.equal({
      rows: 3,
      nextLink: "https://org.example/next",
      count: 5000,
      countLimitExceeded: true,
    });
    expect(readCountPage(page([{ accountid: "a" }]))).to.deep.equal({
      rows: 1,
      nextLink: undefined,
      count: undefined,
      countLimitExceeded: undefined,
    });
    for (const bad of ['{"@odata.count":"7","value":[]}', '{"@odata.count":1.5,"value":[]}']) {
      expect(() => readCountPage(Buffer.from(bad)), bad).to.throw(KeyPageSyntaxError);
    }
  });
});
