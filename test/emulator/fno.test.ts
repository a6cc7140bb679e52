/**
 * Contract tests of the emulated F&O OData service (`/data/`), over real HTTPS with tokens from
 * `@azure/identity`: composite keys with `dataAreaId`, company scope and `cross-company=true`,
 * query options and paging, `$batch` change sets, and the real error shapes (`innererror` on
 * write failures). There is no F&O-specific npm client, so requests are raw.
 */
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { EmulatorHttpError } from "../../emulator/core/http";
import { setVirtualRowCount } from "../../emulator/runtime/virtualRows";
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

  it("counts the runtime's virtual rows where the count can include them", async () => {
    const tables = emu.context.fno.get("fnocontract");
    if (!tables) throw new Error("no tables for fnocontract");
    const stored = Number((await call("GET", "CustomersV3/$count?cross-company=true")).text);
    const storedHome = Number((await call("GET", "CustomersV3/$count")).text);
    setVirtualRowCount(tables, "CustomersV3", home, 250_000);
    try {
      expect(Number((await call("GET", "CustomersV3/$count")).text)).to.equal(storedHome + 250_000);
      expect(Number((await call("GET", "CustomersV3/$count?cross-company=true")).text)).to.equal(
        stored + 250_000,
      );
      const inHome = await call(
        "GET",
        `CustomersV3?cross-company=true&$count=true&$top=0&$filter=dataAreaId eq '${home}'`,
      );
      expect((inHome.json as Record<string, unknown>)["@odata.count"]).to.equal(
        storedHome + 250_000,
      );
      const otherFilter = await call(
        "GET",
        `CustomersV3/$count?$filter=startswith(CustomerAccount,'${tag}-P')`,
      );
      expect(otherFilter.text).to.equal("5"); // virtual rows cannot match other filters
    } finally {
      setVirtualRowCount(tables, "CustomersV3", home, 0);
    }
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
