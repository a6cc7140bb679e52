/**
 * Column types and choices of the declared Dataverse tables, over real HTTPS with
 * `dynamics-web-api` and raw requests: a `$filter` that compares a column with a literal of
 * another type (`customertypecode eq '3'`), a body value of the wrong JSON type, and a choice value
 * the column does not have are refused with the service's answers; `$metadata` lists the declared
 * columns.
 */
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { DynamicsWebApi } from "dynamics-web-api";
import { startTestEmulator, type TestEmulator, type TestResponse } from "../support/emulator";

function errorOf(res: TestResponse): { code: string; message: string } {
  return (res.json as { error: { code: string; message: string } }).error;
}

describe("Dataverse column types and choices (emulated)", function () {
  let emu: TestEmulator;
  let root: string;
  let token: string;
  let api: DynamicsWebApi;
  const tag = `t${randomUUID().slice(0, 8)}`;

  before(async () => {
    emu = await startTestEmulator({ seed: { scenario: "new-new", name: "dvtypes" } });
    const org = emu.environments.find((e) => e.name === "dvtypes")!.dataverseUrl;
    root = `${org}/api/data/v9.2`;
    token = await emu.token(org);
    const credential = emu.secretCredential();
    api = new DynamicsWebApi({
      serverUrl: `${org}/`,
      dataApi: { version: "9.2" },
      onTokenRefresh: async () => (await credential.getToken(`${org}/.default`)).token,
    });
  });
  after(() => emu?.close());

  const raw = (method: string, path: string, body?: unknown): Promise<TestResponse> =>
    emu.request(method, `${root}/${path.replace(/ /g, "%20")}`, {
      token,
      ...(body !== undefined ? { body } : {}),
    });

  it("refuses a filter comparing a column with a literal of another type", async () => {
    const cases: ReadonlyArray<[string, string]> = [
      [
        "customertypecode eq '3'",
        "Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'.",
      ],
      ["name eq 3", "Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'."],
      [
        "'x' ne name and revenue gt 'many'",
        "Found operand types 'Edm.Decimal' and 'Edm.String' for operator kind 'GreaterThan'.",
      ],
      [
        "_msdyn_company_value eq '00000000-0000-4000-8000-000000000001'",
        "Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'.",
      ],
      [
        "msdyn_company/cdm_companycode eq 12",
        "Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'.",
      ],
      [
        "createdon gt true",
        "Found operand types 'Edm.DateTimeOffset' and 'Edm.Boolean' for operator kind 'GreaterThan'.",
      ],
    ];
    for (const [filter, detail] of cases) {
      for (const path of [`accounts?$filter=${filter}`, `accounts/$count?$filter=${filter}`]) {
        const res = await raw("GET", path);
        expect(res.status, path).to.equal(400);
        expect(errorOf(res), path).to.deep.equal({
          code: "0x0",
          message: `A binary operator with incompatible types was detected. ${detail}`,
        });
      }
    }
    // Comparable types pass: numbers with numbers, dates with dates, null with anything.
    for (const filter of [
      "customertypecode eq 3",
      "revenue gt 10",
      "revenue gt 10.5",
      "createdon gt 2024-01-01",
      "name eq null and customertypecode ne null",
      "_msdyn_company_value eq 00000000-0000-4000-8000-000000000001",
    ]) {
      const res = await raw("GET", `accounts?$filter=${filter}`);
      expect(res.status, `${filter}: ${res.text}`).to.equal(200);
    }
  });

  it("refuses body values of the wrong JSON type, through dynamics-web-api too", async () => {
    const cases: ReadonlyArray<[Record<string, unknown>, string]> = [
      [{ name: 3 }, "Cannot convert the literal '3' to the expected type 'Edm.String'."],
      [
        { name: `${tag} a`, customertypecode: "3" },
        "Cannot convert the literal '3' to the expected type 'Edm.Int32'.",
      ],
      [
        { name: `${tag} b`, creditlimit: "lots" },
        "Cannot convert the literal 'lots' to the expected type 'Edm.Decimal'.",
      ],
      [
        { name: `${tag} c`, numberofemployees: 1.5 },
        "Cannot convert the literal '1.5' to the expected type 'Edm.Int32'.",
      ],
    ];
    for (const [data, detail] of cases) {
      const res = await raw("POST", "accounts", data);
      expect(res.status, JSON.stringify(data)).to.equal(400);
      expect(errorOf(res)).to.deep.equal({
        code: "0x0",
        message: `An error occurred while validating input parameters: Microsoft.OData.ODataException: ${detail}`,
      });
    }
    const failure = (await api
      .create({ collection: "accounts", data: { name: `${tag} d`, customertypecode: "3" } })
      .then(
        () => undefined,
        (e: unknown) => e,
      )) as { status?: number; code?: string } | undefined;
    expect(failure?.status).to.equal(400);
    expect(failure?.code).to.equal("0x0");
    const names = await raw("GET", `accounts?$filter=startswith(name,'${tag}')&$select=name`);
    expect((names.json as { value: unknown[] }).value).to.deep.equal([]);
  });

  it("refuses a choice value the column does not have, with PicklistValueOutOfRange", async () => {
    const res = await raw("POST", "accounts", { name: `${tag} e`, customertypecode: 99 });
    expect(res.status).to.equal(400);
    expect(errorOf(res)).to.deep.equal({
      code: "0x8004431A",
      message:
        "A validation error occurred. The value 99 of 'customertypecode' on record of type 'account' is outside the valid range. Accepted Values: 1,2,3,4,5,6,7,8,9,10,11,12.",
    });
    // A declared option is taken, and a filter on an option the column lacks just matches nothing.
    expect(
      (await raw("POST", "accounts", { name: `${tag} f`, customertypecode: 3 })).status,
    ).to.equal(204);
    const none = await raw("GET", `accounts?$filter=customertypecode eq 99`);
    expect((none.json as { value: unknown[] }).value).to.deep.equal([]);
  });

  it("lists the declared columns with their Edm types in $metadata", async () => {
    const res = await raw("GET", "$metadata");
    expect(res.status).to.equal(200);
    expect(res.text).to.match(/<EntityType Name="account"><Key>/); // closed: columns are declared
    expect(res.text).to.contain('<Property Name="customertypecode" Type="Edm.Int32"/>');
    expect(res.text).to.contain('<Property Name="revenue" Type="Edm.Decimal"/>');
    expect(res.text).to.match(/<EntityType Name="msdyn_dualwriteentitymap" OpenType="true">/);
  });
});
