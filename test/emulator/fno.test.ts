/**
 * Contract tests of the emulated F&O OData service (`/data/`), over real HTTPS with tokens from
 * `@azure/identity`: composite keys with `dataAreaId`, company scope and `cross-company=true` (for
 * collections and for keyed access), query options and paging, the declared fields and enum types
 * (unknown names, wrong types, the enum literal form), `$batch` change sets, and the real error
 * shapes (`innererror` on write failures). There is no F&O-specific npm client, so requests are
 * raw.
 */
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { EmulatorHttpError } from "../../emulator/core/http";
import { startTestEmulator, type TestEmulator, type TestResponse } from "../support/emulator";

interface ODataError {
  code: string;
  message: string;
  innererror?: { message: string; type: string; stacktrace: string };
}

function errorOf(res: TestResponse): ODataError {
  return (res.json as { error: ODataError }).error;
}

function values(res: TestResponse): Array<Record<string, unknown>> {
  return (res.json as { value: Array<Record<string, unknown>> }).value;
}

describe("F&O OData (emulated)", function () {
  let emu: TestEmulator;
  let data: string;
  let token: string;
  let home: string;
  /** A second company, created by the tests. */
  const other = `Z${randomUUID().slice(0, 3)}`.toUpperCase();
  const tag = `T${randomUUID().slice(0, 6)}`.toUpperCase();

  before(async () => {
    emu = await startTestEmulator({ seed: { scenario: "new-new", name: "fnocontract" } });
    const env = emu.environments.find((e) => e.name === "fnocontract");
    if (!env) throw new Error("seed did not create the environment pair");
    data = `${env.financeOperationsUrl}/data`;
    home = env.defaultCompany.toLowerCase();
    token = await emu.token(env.financeOperationsUrl);
    for (const code of [env.defaultCompany, other]) {
      const res = await call("GET", `LegalEntities('${code}')`);
      if (res.status === 404)
        expect(
          (await call("POST", "LegalEntities", { LegalEntityId: code, Name: `Company ${code}` }))
            .status,
        ).to.equal(201);
    }
  });

  after(async () => {
    await emu?.close();
  });

  function call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    bearer = token,
  ): Promise<TestResponse> {
    return emu.request(method, `${data}/${encodeURI(path)}`, {
      token: bearer,
      ...(body !== undefined ? { body } : {}),
      ...(headers ? { headers } : {}),
    });
  }

  /** A stored customer row as the seeds write it (straight into the table set). */
  function customerRow(account: string, company: string): Record<string, unknown> {
    return { dataAreaId: company, ...customer(account) };
  }

  function customer(account: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      CustomerAccount: account,
      PartyType: "Organization",
      OrganizationName: `Org ${account}`,
      CustomerGroupId: "10",
      SalesCurrencyCode: "USD",
      ...extra,
    };
  }

  it("lists the entity sets in the service document", async () => {
    const res = await call("GET", "");
    expect(res.status).to.equal(200);
    const names = values(res).map((v) => v["name"]);
    expect(names).to.include.members([
      "LegalEntities",
      "Currencies",
      "CustomerGroups",
      "CustomersV3",
    ]);
    expect((res.json as Record<string, unknown>)["@odata.context"]).to.equal(`${data}/$metadata`);
  });

  it("creates in the default company, reads by composite key in any case, updates and deletes", async () => {
    const created = await call("POST", "CustomersV3", customer(`${tag}-1`));
    expect(created.status).to.equal(201);
    const body = created.json as Record<string, unknown>;
    expect(body["dataAreaId"]).to.equal(home);
    expect(body["@odata.etag"]).to.match(/^W\/"[A-Za-z0-9+/=]+"$/);
    expect(created.headers.location).to.equal(
      `${data}/CustomersV3(dataAreaId='${home}',CustomerAccount='${tag}-1')`,
    );

    const read = await call(
      "GET",
      `CustomersV3(dataAreaId='${home.toUpperCase()}',CustomerAccount='${tag}-1')?$select=OrganizationName`,
    );
    expect(read.status).to.equal(200);
    expect(read.json).to.deep.include({ OrganizationName: `Org ${tag}-1` });
    expect((read.json as Record<string, unknown>)["@odata.context"]).to.equal(
      `${data}/$metadata#CustomersV3(OrganizationName)/$entity`,
    );

    expect(
      (
        await call("PATCH", `CustomersV3(dataAreaId='${home}',CustomerAccount='${tag}-1')`, {
          OrganizationName: "Renamed",
        })
      ).status,
    ).to.equal(204);
    const renamed = await call(
      "GET",
      `CustomersV3(CustomerAccount='${tag}-1',dataAreaId='${home}')`,
    );
    expect((renamed.json as Record<string, unknown>)["OrganizationName"]).to.equal("Renamed");

    expect(
      (await call("DELETE", `CustomersV3(dataAreaId='${home}',CustomerAccount='${tag}-1')`)).status,
    ).to.equal(204);
    const gone = await call("GET", `CustomersV3(dataAreaId='${home}',CustomerAccount='${tag}-1')`);
    expect(gone.status).to.equal(404);
    expect(errorOf(gone).code).to.equal("");
  });

  it("scopes collections to the default company unless cross-company=true", async () => {
    expect((await call("POST", "CustomersV3", customer(`${tag}-H`))).status).to.equal(201);
    expect(
      (await call("POST", "CustomersV3", customer(`${tag}-O`, { dataAreaId: other }))).status,
    ).to.equal(201);
    const filter = `$filter=startswith(CustomerAccount,'${tag}-')&$orderby=CustomerAccount`;

    const scoped = await call("GET", `CustomersV3?${filter}`);
    expect(values(scoped).map((r) => r["CustomerAccount"])).to.deep.equal([`${tag}-H`]);

    const all = await call("GET", `CustomersV3?cross-company=true&${filter}`);
    expect(values(all).map((r) => [r["CustomerAccount"], r["dataAreaId"]])).to.deep.equal([
      [`${tag}-H`, home],
      [`${tag}-O`, other.toLowerCase()],
    ]);

    const one = await call(
      "GET",
      `CustomersV3?cross-company=true&$filter=dataAreaId eq '${other.toLowerCase()}' and startswith(CustomerAccount,'${tag}-')`,
    );
    expect(values(one).map((r) => r["CustomerAccount"])).to.deep.equal([`${tag}-O`]);

    const count = await call(
      "GET",
      `CustomersV3/$count?cross-company=true&$filter=startswith(CustomerAccount,'${tag}-')`,
    );
    expect(count.text).to.equal("2");
  });

  it("applies $filter (with wildcards), $count, $orderby, $skip, $top, $select and pages with nextLink", async () => {
    for (let i = 0; i < 5; i++) {
      expect(
        (
          await call(
            "POST",
            "CustomersV3",
            customer(`${tag}-P${i}`, { OrganizationName: `Paged ${tag} ${i}` }),
          )
        ).status,
      ).to.equal(201);
    }
    const res = await call(
      "GET",
      `CustomersV3?$filter=OrganizationName eq 'Paged ${tag}*'&$count=true&$orderby=CustomerAccount desc&$skip=1&$top=3&$select=CustomerAccount`,
      undefined,
      { prefer: "odata.maxpagesize=2" },
    );
    expect(res.status).to.equal(200);
    const body = res.json as Record<string, unknown>;
    expect(body["@odata.count"]).to.equal(5);
    expect(body["@odata.context"]).to.equal(`${data}/$metadata#CustomersV3(CustomerAccount)`);
    expect(values(res).map((r) => r["CustomerAccount"])).to.deep.equal([`${tag}-P3`, `${tag}-P2`]);
    expect(Object.keys(values(res)[0] ?? {}).sort()).to.deep.equal([
      "@odata.etag",
      "CustomerAccount",
    ]);
    const next = body["@odata.nextLink"] as string;
    expect(next).to.contain("$skip=3").and.to.contain("$top=1");
    const second = await emu.request("GET", next, { token });
    expect(values(second).map((r) => r["CustomerAccount"])).to.deep.equal([`${tag}-P1`]);
    expect((second.json as Record<string, unknown>)["@odata.nextLink"]).to.equal(undefined);
  });

  it("runs $batch change sets all-or-nothing", async () => {
    const boundary = `batch_${randomUUID()}`;
    const changeset = (id: string, accounts: string[]) =>
      [
        `--${boundary}`,
        `Content-Type: multipart/mixed; boundary=${id}`,
        "",
        ...accounts.flatMap((account, i) => [
          `--${id}`,
          "Content-Type: application/http",
          "Content-Transfer-Encoding: binary",
          `Content-ID: ${i + 1}`,
          "",
          `POST ${data}/CustomersV3 HTTP/1.1`,
          "Content-Type: application/json",
          "",
          JSON.stringify(customer(account)),
        ]),
        `--${id}--`,
      ].join("\r\n");
    const good = [
      changeset("changeset_a", [`${tag}-B1`, `${tag}-B2`]),
      `--${boundary}`,
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "",
      `GET CustomersV3?$filter=startswith(CustomerAccount,'${tag}-B') HTTP/1.1`,
      "",
      `--${boundary}--`,
      "",
    ].join("\r\n");
    const ok = await call("POST", "$batch", good, {
      "content-type": `multipart/mixed; boundary=${boundary}`,
    });
    expect(ok.status).to.equal(200);
    expect(ok.text.match(/HTTP\/1\.1 201 Created/g)).to.have.length(2);
    expect(ok.text).to.contain(`"CustomerAccount":"${tag}-B2"`);

    // The second create repeats an existing key: the first create of the set must not survive.
    const bad = [changeset("changeset_b", [`${tag}-B3`, `${tag}-B1`]), `--${boundary}--`, ""].join(
      "\r\n",
    );
    const failed = await call("POST", "$batch", bad, {
      "content-type": `multipart/mixed; boundary=${boundary}`,
    });
    expect(failed.status).to.equal(200);
    expect(failed.text).to.match(/HTTP\/1\.1 500 Internal Server Error/);
    expect(failed.text).to.contain("AxODataWriteException");
    expect(
      (await call("GET", `CustomersV3(dataAreaId='${home}',CustomerAccount='${tag}-B3')`)).status,
    ).to.equal(404);
  });

  it("counts and pages real rows beyond one page, per company and across companies", async function () {
    this.timeout(20_000);
    const tables = emu.context.fno.get("fnocontract");
    if (!tables) throw new Error("no tables for fnocontract");
    const storedHome = Number((await call("GET", "CustomersV3/$count")).text);
    const storedAll = Number((await call("GET", "CustomersV3/$count?cross-company=true")).text);
    // 12,000 real rows in the home company: more than F&O's largest page (10,000).
    for (let i = 0; i < 12_000; i++)
      tables.insert(
        "CustomersV3",
        customerRow(`${tag}-V${String(i).padStart(5, "0")}`, home),
        "seed",
      );
    expect(Number((await call("GET", "CustomersV3/$count")).text)).to.equal(storedHome + 12_000);
    expect(Number((await call("GET", "CustomersV3/$count?cross-company=true")).text)).to.equal(
      storedAll + 12_000,
    );
    const inHome = await call(
      "GET",
      `CustomersV3?cross-company=true&$count=true&$top=0&$filter=dataAreaId eq '${home}'`,
    );
    expect((inHome.json as Record<string, unknown>)["@odata.count"]).to.equal(storedHome + 12_000);
    const mine = `$filter=startswith(CustomerAccount,'${tag}-V')&$select=CustomerAccount`;
    const first = await call("GET", `CustomersV3?${mine}`);
    expect(values(first)).to.have.length(10_000);
    const next = (first.json as Record<string, unknown>)["@odata.nextLink"] as string;
    expect(next).to.contain("$skip=10000");
    const second = await emu.request("GET", next, { token });
    expect(values(second)).to.have.length(2_000);
    expect((second.json as Record<string, unknown>)["@odata.nextLink"]).to.equal(undefined);
  });

  describe("declared fields and enum types", () => {
    const type = "Microsoft.Dynamics.DataEntities.CustomerV3";
    const enumType = "Microsoft.Dynamics.DataEntities.DirPartyBaseType";

    it("refuses unknown or wrongly cased names in $select, $filter and $orderby", async () => {
      const cases: ReadonlyArray<[string, string]> = [
        ["CustomersV3?$select=customeraccount", "customeraccount"],
        ["CustomersV3?$filter=Nickname eq 'x'", "Nickname"],
        ["CustomersV3?$orderby=Nickname desc", "Nickname"],
        ["CustomersV3/$count?$filter=Nickname eq 'x'", "Nickname"],
        [`CustomersV3(dataAreaId='${home}',CustomerAccount='X')?$select=Nickname`, "Nickname"],
      ];
      for (const [path, name] of cases) {
        const res = await call("GET", path);
        expect(res.status, path).to.equal(400);
        expect(errorOf(res), path).to.deep.equal({
          code: "",
          message: `Could not find a property named '${name}' on type '${type}'.`,
        });
      }
    });

    it("refuses unknown properties and values of the wrong type in bodies", async () => {
      const unknown = await call("POST", "CustomersV3", customer(`${tag}-U1`, { Nickname: "x" }));
      expect(unknown.status).to.equal(400);
      expect(errorOf(unknown).message).to.equal(
        `The property 'Nickname' does not exist on type '${type}'. Make sure to only use property names that are defined by the type.`,
      );
      const wrongType = await call(
        "POST",
        "CustomersV3",
        customer(`${tag}-U2`, { OrganizationName: 5 }),
      );
      expect(wrongType.status).to.equal(400);
      expect(errorOf(wrongType).message).to.equal(
        "Cannot convert the literal '5' to the expected type 'Edm.String'.",
      );
      expect((await call("POST", "CustomersV3", customer(`${tag}-U3`))).status).to.equal(201);
      const patch = await call(
        "PATCH",
        `CustomersV3(dataAreaId='${home}',CustomerAccount='${tag}-U3')`,
        {
          OrganizationNumberOfEmployees: "many",
        },
      );
      expect(patch.status).to.equal(400);
      expect(errorOf(patch).message).to.equal(
        "Cannot convert the literal 'many' to the expected type 'Edm.Int32'.",
      );
      for (const account of [`${tag}-U1`, `${tag}-U2`]) {
        expect(
          (await call("GET", `CustomersV3(dataAreaId='${home}',CustomerAccount='${account}')`))
            .status,
        ).to.equal(404);
      }
    });

    it("compares enum fields only with the enum literal of their type, with eq and ne", async () => {
      expect((await call("POST", "CustomersV3", customer(`${tag}-E1`))).status).to.equal(201);
      expect(
        (
          await call(
            "POST",
            "CustomersV3",
            customer(`${tag}-E2`, {
              PartyType: "Person",
              PersonFirstName: "Ada",
              PersonLastName: "Lovelace",
              PersonGender: "Unknown",
            }),
          )
        ).status,
      ).to.equal(201);
      const mine = `startswith(CustomerAccount,'${tag}-E')`;
      const accounts = async (filter: string): Promise<unknown[]> => {
        const res = await call(
          "GET",
          `CustomersV3?$filter=${filter} and ${mine}&$orderby=CustomerAccount`,
        );
        expect(res.status, res.text).to.equal(200);
        return values(res).map((r) => r["CustomerAccount"]);
      };
      expect(await accounts(`PartyType eq ${enumType}'Organization'`)).to.deep.equal([`${tag}-E1`]);
      expect(await accounts(`PartyType ne ${enumType}'Organization'`)).to.deep.equal([`${tag}-E2`]);
      expect(
        await accounts(`PersonGender eq Microsoft.Dynamics.DataEntities.Gender'Unknown'`),
      ).to.deep.equal([`${tag}-E2`]);

      const refused: ReadonlyArray<[string, string]> = [
        [
          "PartyType eq 'Organization'",
          `A binary operator with incompatible types was detected. Found operand types '${enumType}' and 'Edm.String' for operator kind 'Equal'.`,
        ],
        [
          "PartyType eq '*Org*'",
          `A binary operator with incompatible types was detected. Found operand types '${enumType}' and 'Edm.String' for operator kind 'Equal'.`,
        ],
        [
          "PartyType ne Microsoft.Dynamics.DataEntities.NoYes'Yes'",
          `A binary operator with incompatible types was detected. Found operand types '${enumType}' and 'Microsoft.Dynamics.DataEntities.NoYes' for operator kind 'NotEqual'.`,
        ],
        [
          "OrganizationName eq Microsoft.Dynamics.DataEntities.NoYes'Yes'",
          "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Microsoft.Dynamics.DataEntities.NoYes' for operator kind 'Equal'.",
        ],
        [
          `PartyType eq ${enumType}'Robot'`,
          "The string 'Robot' is not a valid enumeration type constant.",
        ],
        [
          `PartyType gt ${enumType}'Person'`,
          "The operator 'gt' is not supported for the enum property 'PartyType'; the operations supported for enums are eq and ne.",
        ],
      ];
      for (const [filter, message] of refused) {
        const res = await call("GET", `CustomersV3?$filter=${filter}`);
        expect(res.status, filter).to.equal(400);
        expect(errorOf(res), filter).to.deep.equal({ code: "", message });
      }
      // The documented example on another entity.
      const currencies = await call(
        "GET",
        "Currencies?$filter=ReferenceCurrencyForTriangulation eq Microsoft.Dynamics.DataEntities.NoYes'No'",
      );
      expect(currencies.status, currencies.text).to.equal(200);
    });

    it("takes enum member names in bodies", async () => {
      const wrongMember = await call(
        "POST",
        "CustomersV3",
        customer(`${tag}-M1`, { PartyType: "Org" }),
      );
      expect(wrongMember.status).to.equal(400);
      expect(errorOf(wrongMember).message).to.equal(
        "The string 'Org' is not a valid enumeration type constant.",
      );
      const number = await call("POST", "CustomersV3", customer(`${tag}-M2`, { PartyType: 2 }));
      expect(number.status).to.equal(400);
      expect(errorOf(number).message).to.equal(
        `Cannot convert the literal '2' to the expected type '${enumType}'.`,
      );
      const created = await call(
        "POST",
        "CustomersV3",
        customer(`${tag}-M3`, { CreditLimitIsMandatory: "Yes" }),
      );
      expect(created.status, created.text).to.equal(201);
      expect(created.json).to.include({ PartyType: "Organization", CreditLimitIsMandatory: "Yes" });
    });

    it("refuses a customer without a customer group, as F&O's infolog says", async () => {
      const res = await call("POST", "CustomersV3", customer(`${tag}-G1`, { CustomerGroupId: "" }));
      expect(res.status).to.equal(500);
      expect(errorOf(res).innererror?.message).to.equal(
        "Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Field 'Customer group' must be filled in.",
      );
    });

    it("describes the declared fields and the enum types in $metadata", async () => {
      const res = await call("GET", "$metadata");
      expect(res.status).to.equal(200);
      expect(res.text).to.contain(
        '<EnumType Name="NoYes"><Member Name="No" Value="0"/><Member Name="Yes" Value="1"/></EnumType>',
      );
      expect(res.text).to.match(/<EntityType Name="CustomerV3"><Key>/); // not an open type
      expect(res.text).to.contain(`<Property Name="PartyType" Type="${enumType}"/>`);
      expect(res.text).to.contain(
        '<Property Name="OrganizationNumberOfEmployees" Type="Edm.Int32"/>',
      );
      expect(res.text).to.contain(
        '<Property Name="CustomerAccount" Type="Edm.String" Nullable="false"/>',
      );
    });
  });

  describe("keyed access within the company scope", () => {
    const key = () =>
      `CustomersV3(dataAreaId='${other.toLowerCase()}',CustomerAccount='${tag}-C1')`;

    before(async () => {
      const res = await call("POST", "CustomersV3", customer(`${tag}-C1`, { dataAreaId: other }));
      expect(res.status, res.text).to.equal(201);
    });

    it("finds a row of another company only with cross-company=true", async () => {
      const scoped = await call("GET", key());
      expect(scoped.status).to.equal(404);
      expect(errorOf(scoped)).to.deep.equal({
        code: "",
        message: "Resource not found for the segment 'CustomersV3'.",
      });
      const across = await call("GET", `${key()}?cross-company=true`);
      expect(across.status, across.text).to.equal(200);
      expect(across.json).to.include({
        CustomerAccount: `${tag}-C1`,
        dataAreaId: other.toLowerCase(),
      });
    });

    it("updates and deletes a row of another company only with cross-company=true", async () => {
      expect((await call("PATCH", key(), { OrganizationName: "Nope" })).status).to.equal(404);
      expect(
        (await call("PATCH", `${key()}?cross-company=true`, { OrganizationName: "Yes" })).status,
      ).to.equal(204);
      expect((await call("DELETE", key())).status).to.equal(404);
      expect((await call("DELETE", `${key()}?cross-company=true`)).status).to.equal(204);
      expect((await call("GET", `${key()}?cross-company=true`)).status).to.equal(404);
    });
  });

  describe("writes refused by a write listener (how the dual-write runtime vetoes)", () => {
    before(() => {
      const tables = emu.context.fno.get("fnocontract");
      if (!tables) throw new Error("no tables for fnocontract");
      // The runtime's veto when Dataverse refuses the copy: an error with an innererror, in its own words.
      tables.onWrite((event) => {
        if (
          event.table === "CustomersV3" &&
          String(event.after?.["CustomerAccount"]).startsWith(`${tag}-V`)
        ) {
          throw new EmulatorHttpError(
            400,
            "DualWriteLiveSyncFailed",
            "live sync failed",
            {},
            {
              innererror: {
                message:
                  "Write failed for table row of type 'CustomersV3'. Infolog: Unable to write data to entity accounts. Writes to accounts failed.",
                type: "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException",
              },
            },
          );
        }
      });
    });

    it("answers 500 with the AxODataWriteException envelope and stores nothing", async () => {
      const res = await call("POST", "CustomersV3", customer(`${tag}-V1`));
      expect(res.status).to.equal(500);
      expect(errorOf(res)).to.deep.equal({
        code: "",
        message: "An error has occurred.",
        innererror: {
          message:
            "Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Unable to write data to entity accounts. Writes to accounts failed.",
          type: "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException",
          stacktrace: "",
        },
      });
      expect(
        (await call("GET", `CustomersV3(dataAreaId='${home}',CustomerAccount='${tag}-V1')`)).status,
      ).to.equal(404);
    });
  });

  describe("bad requests get the real error shapes", () => {
    it("answers a duplicate create with 500 and an AxODataWriteException innererror", async () => {
      expect((await call("POST", "CustomersV3", customer(`${tag}-D`))).status).to.equal(201);
      const res = await call("POST", "CustomersV3", customer(`${tag}-D`));
      expect(res.status).to.equal(500);
      const error = errorOf(res);
      expect(error.code).to.equal("");
      expect(error.message).to.equal("An error has occurred.");
      expect(error.innererror?.type).to.equal(
        "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException",
      );
      expect(error.innererror?.message).to.match(
        /^Write failed for table row of type 'CustCustomerV3Entity'\. Infolog: .*already exists/,
      );
    });

    const cases: ReadonlyArray<{
      name: string;
      method: string;
      path: string;
      status: number;
      message: RegExp;
    }> = [
      {
        name: "an unknown entity set (names are case-sensitive)",
        method: "GET",
        path: "customersv3",
        status: 404,
        message: /^Resource not found for the segment 'customersv3'\.$/,
      },
      {
        name: "a key without dataAreaId",
        method: "GET",
        path: "CustomersV3(CustomerAccount='X')",
        status: 400,
        message:
          /number of keys specified in the URI does not match .*'Microsoft\.Dynamics\.DataEntities\.CustomerV3'/,
      },
      {
        name: "an unnamed key for a composite key",
        method: "GET",
        path: "CustomersV3('X')",
        status: 400,
        message: /number of keys/,
      },
      {
        name: "an unknown key property",
        method: "GET",
        path: "CustomersV3(dataAreaId='dat',Account='X')",
        status: 400,
        message: /number of keys/,
      },
      {
        name: "an unbalanced key",
        method: "GET",
        path: "CustomersV3(dataAreaId='dat'",
        status: 400,
        message: /parentheses/,
      },
      {
        name: "a bad $filter",
        method: "GET",
        path: "CustomersV3?$filter=CustomerAccount eq 'x' and",
        status: 400,
        message: /Syntax error at position 26 in 'CustomerAccount eq 'x' and'/,
      },
      {
        name: "the unsupported 'in' operator",
        method: "GET",
        path: "CustomersV3?$filter=dataAreaId in ('usmf')",
        status: 400,
        message: /'in' operator is not supported/,
      },
    ];
    for (const c of cases) {
      it(`answers ${c.name} with ${c.status}`, async () => {
        const res = await call(c.method, c.path);
        expect(res.status).to.equal(c.status);
        expect(errorOf(res).code).to.equal("");
        expect(errorOf(res).message).to.match(c.message);
      });
    }

    it("refuses a key change in PATCH and a create for a company that does not exist", async () => {
      expect((await call("POST", "CustomersV3", customer(`${tag}-K`))).status).to.equal(201);
      const patch = await call(
        "PATCH",
        `CustomersV3(dataAreaId='${home}',CustomerAccount='${tag}-K')`,
        { CustomerAccount: "OTHER" },
      );
      expect(patch.status).to.equal(400);
      expect(errorOf(patch).message).to.match(/key property 'CustomerAccount' cannot be changed/);
      const nowhere = await call(
        "POST",
        "CustomersV3",
        customer(`${tag}-N`, { dataAreaId: "nope" }),
      );
      expect(nowhere.status).to.equal(500);
      expect(errorOf(nowhere).innererror?.message).to.match(/Company 'nope' does not exist/);
    });

    it("refuses a token for another audience with a 401", async () => {
      const dvToken = await emu.token(
        emu.environments.find((e) => e.name === "fnocontract")!.dataverseUrl,
      );
      const res = await call("GET", "CustomersV3", undefined, undefined, dvToken);
      expect(res.status).to.equal(401);
      expect(errorOf(res)).to.have.property("message");
    });
  });
});
