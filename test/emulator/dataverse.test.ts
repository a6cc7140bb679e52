/**
 * Contract tests of the emulated Dataverse Web API, over real HTTPS, with two independent real
 * clients: `dynamics-web-api` 2.5 (CRUD, paging, `$batch`) and raw requests where a test must see
 * status lines, headers and error bodies. Tokens come from `@azure/identity` against the emulator.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { DynamicsWebApi } from "dynamics-web-api";
import { tableSchema } from "../../emulator/dataverse/tableSchemas";
import { startTestEmulator, type TestEmulator, type TestResponse } from "../support/emulator";

/** A dynamics-web-api client for an org, with tokens from `@azure/identity` through the emulator. */
function webApi(
  emu: TestEmulator,
  dataverseUrl: string,
  options: { propagateErrors?: boolean } = {},
): DynamicsWebApi {
  const credential = emu.secretCredential();
  return new DynamicsWebApi({
    // dynamics-web-api resolves "api/data/v9.2" against serverUrl: a URL with a path needs the slash.
    serverUrl: `${dataverseUrl}/`,
    dataApi: { version: "9.2" },
    onTokenRefresh: async () => (await credential.getToken(`${dataverseUrl}/.default`)).token,
    ...(options.propagateErrors ? { propagateErrors: true } : {}),
  });
}

/** The error a dynamics-web-api call rejects with. */
interface WebApiError {
  readonly status: number;
  readonly code?: string;
  readonly message: string;
  readonly headers?: Record<string, string>;
}

async function rejection(p: Promise<unknown>): Promise<WebApiError> {
  try {
    await p;
  } catch (e) {
    return e as WebApiError;
  }
  throw new Error("expected the call to fail");
}

function errorOf(res: TestResponse): { code: string; message: string } {
  return (res.json as { error: { code: string; message: string } }).error;
}

describe("Dataverse Web API (emulated)", function () {
  let emu: TestEmulator;
  let org: string;
  let api: DynamicsWebApi;
  let token: string;
  let root: string;
  /** A prefix that makes this run's rows easy to filter. */
  const tag = `t${randomUUID().slice(0, 8)}`;
  let companyId: string;

  before(async () => {
    emu = await startTestEmulator({ seed: { scenario: "new-new", name: "dvcontract" } });
    const env = emu.environments.find((e) => e.name === "dvcontract");
    if (!env) throw new Error("seed did not create the environment pair");
    org = env.dataverseUrl;
    root = `${org}/api/data/v9.2`;
    api = webApi(emu, org);
    token = await emu.token(org);
    // A company of our own to bind accounts to.
    companyId = await api.create<Record<string, unknown>, string>({
      collection: "cdm_companies",
      data: { cdm_companycode: tag.toUpperCase(), cdm_name: `Company ${tag}` },
    });
  });

  after(async () => {
    await emu?.close();
  });

  const raw = (
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: unknown; token?: string } = {},
  ) =>
    emu.request(method, `${root}/${encodeURI(path)}`, {
      token: options.token ?? token,
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.body !== undefined ? { body: options.body } : {}),
    });

  describe("rows through dynamics-web-api", () => {
    it("creates, retrieves (with $select and $expand), updates and deletes a row", async () => {
      const id = await api.create<Record<string, unknown>, string>({
        collection: "accounts",
        data: {
          name: `${tag} Contoso`,
          accountnumber: `${tag}-A1`,
          "msdyn_company@odata.bind": `/cdm_companies(${companyId})`,
        },
      });
      expect(id).to.match(/^[0-9a-f-]{36}$/);

      const row = await api.retrieve<Record<string, unknown>>({
        collection: "accounts",
        key: id,
        select: ["name", "_msdyn_company_value"],
        expand: [{ property: "msdyn_company", select: ["cdm_companycode"] }],
      });
      expect(row["name"]).to.equal(`${tag} Contoso`);
      expect(row["accountid"]).to.equal(id);
      expect(row["_msdyn_company_value"]).to.equal(companyId);
      expect(row["accountnumber"]).to.equal(undefined); // not selected
      expect((row["msdyn_company"] as Record<string, unknown>)["cdm_companycode"]).to.equal(
        tag.toUpperCase(),
      );
      expect(row["@odata.etag"]).to.match(/^W\/"\d+"$/);

      expect(
        await api.update({ collection: "accounts", key: id, data: { name: `${tag} Contoso 2` } }),
      ).to.equal(true);
      // The declared alternate key of accounts: account number and company (the integration
      // keys of "accounts - Customers V3"); names in any order.
      const byAlternateKey = await api.retrieve<Record<string, unknown>>({
        collection: "accounts",
        key: `_msdyn_company_value=${companyId},accountnumber='${tag}-A1'`,
        select: ["name"],
      });
      expect(byAlternateKey["name"]).to.equal(`${tag} Contoso 2`);

      expect(await api.deleteRecord({ collection: "accounts", key: id })).to.equal(true);
      const gone = await rejection(api.retrieve({ collection: "accounts", key: id }));
      expect(gone.status).to.equal(404);
      expect(gone.code).to.equal("0x80040217");
      expect(gone.message).to.equal(`account With Id = ${id} Does Not Exist`);
    });

    it("pages with odata.maxpagesize and an opaque $skiptoken, and counts with $count", async () => {
      const prefix = `${tag} Page`;
      for (let i = 0; i < 7; i++) {
        await api.create({
          collection: "accounts",
          data: { name: `${prefix} ${i}`, revenue: i * 10 },
        });
      }
      const first = await api.retrieveMultiple({
        collection: "accounts",
        select: ["name", "revenue"],
        filter: `startswith(name,'${prefix}')`,
        orderBy: ["revenue desc"],
        maxPageSize: 3,
        count: true,
      });
      expect(first.value.map((r: Record<string, unknown>) => r["revenue"])).to.deep.equal([
        60, 50, 40,
      ]);
      expect(first.oDataCount).to.equal(7);
      expect(first.oDataNextLink).to.contain("$skiptoken=");

      const all = await api.retrieveAll({
        collection: "accounts",
        select: ["name"],
        filter: `startswith(name,'${prefix}')`,
        maxPageSize: 3,
      });
      expect(all.value).to.have.length(7);
      expect(new Set(all.value.map((r: Record<string, unknown>) => r["name"])).size).to.equal(7);

      expect(
        await api.count({ collection: "accounts", filter: `startswith(name,'${prefix}')` }),
      ).to.equal(7);
    });

    it("runs a $batch whose change set is atomic, with Content-ID references", async () => {
      const name = `${tag} Batch`;
      api.startBatch();
      void api.create({
        collection: "accounts",
        data: { name, accountnumber: `${tag}-B1` },
        contentId: "1",
      });
      void api.update({ contentId: "$1", data: { description: "updated through $1" } });
      void api.retrieveMultiple({
        collection: "accounts",
        select: ["name", "description"],
        filter: `name eq '${name}'`,
      });
      const results = await api.executeBatch();
      expect(results).to.have.length(3);
      expect(results[0]).to.match(/^[0-9a-f-]{36}$/);
      const listed = (results[2] as { value: Array<Record<string, unknown>> }).value;
      expect(listed.map((r) => r["description"])).to.deep.equal(["updated through $1"]);

      // A change set whose second request fails leaves nothing behind.
      const failing = `${tag} Rolled back`;
      api.startBatch();
      void api.create({ collection: "accounts", data: { name: failing } });
      void api.update({ collection: "accounts", key: randomUUID(), data: { name: "missing" } }); // If-Match: * → 404
      const outcome = await api.executeBatch();
      expect(outcome).to.have.length(1);
      expect((outcome[0] as WebApiError).status).to.equal(404);
      const after = await api.retrieveMultiple({
        collection: "accounts",
        select: ["name"],
        filter: `name eq '${failing}'`,
      });
      expect(after.value).to.deep.equal([]);
    });

    it("answers RetrieveFinanceAndOperationsIntegrationDetails while the org is integrated with its F&O environment, 0x80048d0b when not", async () => {
      const env = emu.environments.find((e) => e.name === "dvcontract");
      if (!env) throw new Error("no environment pair");
      // The seed integrates each pair in Power Platform; the dual-write link is another matter.
      const details = await api.callFunction<Record<string, unknown>>(
        "RetrieveFinanceAndOperationsIntegrationDetails",
      );
      expect(details["Url"]).to.equal(env.financeOperationsUrl);
      expect(details["Id"]).to.equal(env.cid);
      expect(details["TenantId"]).to.equal(emu.credentials.tenantId);

      await emu.control.call("PUT", "integration/dvcontract", { integrated: false });
      try {
        const without = await raw("GET", "RetrieveFinanceAndOperationsIntegrationDetails");
        expect(without.status).to.equal(404);
        expect(errorOf(without).code).to.equal("0x80048d0b");
      } finally {
        await emu.control.call("PUT", "integration/dvcontract", { integrated: true });
      }
    });

    it("answers WhoAmI with GUIDs", async () => {
      const who = await api.callFunction<Record<string, unknown>>("WhoAmI");
      for (const k of ["BusinessUnitId", "UserId", "OrganizationId"])
        expect(who[k]).to.match(/^[0-9a-f-]{36}$/);
    });
  });

  describe("wire details", () => {
    it("answers a create with 204 + OData-EntityId, or 201 + the row when asked", async () => {
      const plain = await raw("POST", "accounts", { body: { name: `${tag} Raw` } });
      expect(plain.status).to.equal(204);
      expect(plain.headers["odata-entityid"]).to.match(
        new RegExp(`^${root.replace(/[.$]/g, "\\$&")}/accounts\\([0-9a-f-]{36}\\)$`),
      );

      const rich = await raw("POST", "accounts?$select=name", {
        body: { name: `${tag} Rich` },
        headers: { prefer: "return=representation" },
      });
      expect(rich.status).to.equal(201);
      const body = rich.json as Record<string, unknown>;
      expect(body["@odata.context"]).to.equal(`${root}/$metadata#accounts(name)/$entity`);
      expect(body["name"]).to.equal(`${tag} Rich`);
      expect(rich.headers["preference-applied"]).to.equal("return=representation");
    });

    it("shapes collections: @odata.context with the projection, etags, Preference-Applied, nextLink", async () => {
      const res = await raw(
        "GET",
        `accounts?$select=name&$filter=startswith(name,'${tag} Page')&$orderby=name`,
        { headers: { prefer: "odata.maxpagesize=2" } },
      );
      expect(res.status).to.equal(200);
      expect(res.headers["preference-applied"]).to.equal("odata.maxpagesize=2");
      const body = res.json as {
        "@odata.context": string;
        value: Array<Record<string, unknown>>;
        "@odata.nextLink": string;
      };
      expect(body["@odata.context"]).to.equal(`${root}/$metadata#accounts(name)`);
      expect(body.value.map((r) => r["name"])).to.deep.equal([`${tag} Page 0`, `${tag} Page 1`]);
      expect(Object.keys(body.value[0] ?? {}).sort()).to.deep.equal([
        "@odata.etag",
        "accountid",
        "name",
      ]);
      const next = await emu.request("GET", body["@odata.nextLink"], {
        token,
        headers: { prefer: "odata.maxpagesize=2" },
      });
      expect(
        (next.json as { value: Array<Record<string, unknown>> }).value.map((r) => r["name"]),
      ).to.deep.equal([`${tag} Page 2`, `${tag} Page 3`]);
    });

    it("filters on lookups, navigation paths, null and GUIDs", async () => {
      const id = await api.create<Record<string, unknown>, string>({
        collection: "accounts",
        data: { name: `${tag} Lookup`, "msdyn_company@odata.bind": `/cdm_companies(${companyId})` },
      });
      const byColumn = await raw(
        "GET",
        `accounts?$select=name&$filter=_msdyn_company_value eq ${companyId} and name eq '${tag} Lookup'`,
      );
      expect((byColumn.json as { value: unknown[] }).value).to.have.length(1);
      const byPath = await raw(
        "GET",
        `accounts?$select=name&$filter=msdyn_company/cdm_companycode eq '${tag.toUpperCase()}' and accountid eq ${id}`,
      );
      expect((byPath.json as { value: unknown[] }).value).to.have.length(1);
      const unbound = await raw(
        "GET",
        `accounts?$select=name&$filter=_msdyn_company_value eq null and name eq '${tag} Lookup'`,
      );
      expect((unbound.json as { value: unknown[] }).value).to.have.length(0);
      const company = await raw("GET", `accounts(${id})/msdyn_company`);
      expect((company.json as Record<string, unknown>)["cdm_companycode"]).to.equal(
        tag.toUpperCase(),
      );
      const name = await raw("GET", `accounts(${id})/name`);
      expect((name.json as Record<string, unknown>)["value"]).to.equal(`${tag} Lookup`);
      const annotated = await raw("GET", `accounts(${id})?$select=_msdyn_company_value`, {
        headers: { prefer: 'odata.include-annotations="*"' },
      });
      expect(
        (annotated.json as Record<string, unknown>)[
          "_msdyn_company_value@Microsoft.Dynamics.CRM.lookuplogicalname"
        ],
      ).to.equal("cdm_company");
    });

    it("applies If-Match and If-None-Match (304, 412) and upsert semantics", async () => {
      const strict = webApi(emu, org, { propagateErrors: true });
      const id = await strict.create<Record<string, unknown>, string>({
        collection: "accounts",
        data: { name: `${tag} Etag` },
      });
      const first = await raw("GET", `accounts(${id})`);
      const etag = (first.json as Record<string, string>)["@odata.etag"] as string;
      expect(first.headers.etag).to.equal(etag);

      expect(
        (await raw("GET", `accounts(${id})`, { headers: { "if-none-match": etag } })).status,
      ).to.equal(304);
      expect(
        (
          await raw("PATCH", `accounts(${id})`, {
            headers: { "if-match": etag },
            body: { name: `${tag} Etag 2` },
          })
        ).status,
      ).to.equal(204);

      const stale = await rejection(
        strict.update({ collection: "accounts", key: id, ifmatch: etag, data: { name: "stale" } }),
      );
      expect(stale.status).to.equal(412);
      expect(stale.code).to.equal("0x80060882");
      expect(stale.message).to.equal(
        "The version of the existing record doesn't match the RowVersion property provided.",
      );

      const exists = await raw("PATCH", `accounts(${id})`, {
        headers: { "if-none-match": "*" },
        body: { name: "x" },
      });
      expect(exists.status).to.equal(412);
      expect(errorOf(exists)).to.deep.equal({
        code: "0x80040237",
        message: "A record with matching key values already exists.",
      });

      const missing = randomUUID();
      expect(
        (
          await raw("PATCH", `accounts(${missing})`, {
            headers: { "if-match": "*" },
            body: { name: "x" },
          })
        ).status,
      ).to.equal(404);
      const upserted = await raw("PATCH", `accounts(${missing})`, {
        body: { name: `${tag} Upserted` },
      });
      expect(upserted.status).to.equal(204);
      expect(upserted.headers["odata-entityid"]).to.equal(`${root}/accounts(${missing})`);
      expect(
        ((await raw("GET", `accounts(${missing})?$select=name`)).json as Record<string, unknown>)[
          "name"
        ],
      ).to.equal(`${tag} Upserted`);
    });

    it("runs UpdateMultiple all-or-nothing", async () => {
      const a = await api.create<Record<string, unknown>, string>({
        collection: "accounts",
        data: { name: `${tag} UM a` },
      });
      const b = await api.create<Record<string, unknown>, string>({
        collection: "accounts",
        data: { name: `${tag} UM b` },
      });
      const type = "Microsoft.Dynamics.CRM.account";
      const ok = await raw("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", {
        body: {
          Targets: [
            {
              "@odata.type": type,
              accountid: a,
              description: "one",
              "msdyn_company@odata.bind": `/cdm_companies(${companyId})`,
            },
            { "@odata.type": type, accountid: b, description: "two" },
          ],
        },
      });
      expect(ok.status).to.equal(204);
      const rowA = (await raw("GET", `accounts(${a})?$select=description,_msdyn_company_value`))
        .json as Record<string, unknown>;
      expect([rowA["description"], rowA["_msdyn_company_value"]]).to.deep.equal(["one", companyId]);

      const failing = await raw("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", {
        body: {
          Targets: [
            { "@odata.type": type, accountid: a, description: "changed" },
            { "@odata.type": type, accountid: randomUUID(), description: "x" },
          ],
        },
      });
      expect(failing.status).to.equal(404);
      expect(
        ((await raw("GET", `accounts(${a})?$select=description`)).json as Record<string, unknown>)[
          "description"
        ],
      ).to.equal("one");
    });

    it("resolves $1 in @odata.bind inside a raw change set", async () => {
      const boundary = `batch_${randomUUID()}`;
      const changeset = `changeset_${randomUUID()}`;
      const body = [
        `--${boundary}`,
        `Content-Type: multipart/mixed; boundary=${changeset}`,
        "",
        `--${changeset}`,
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "Content-ID: 1",
        "",
        `POST ${root}/cdm_companies HTTP/1.1`,
        "Content-Type: application/json",
        "",
        JSON.stringify({ cdm_companycode: `${tag}X`.toUpperCase(), cdm_name: "Batch company" }),
        `--${changeset}`,
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "Content-ID: 2",
        "",
        "POST /api/data/v9.2/accounts HTTP/1.1",
        "Content-Type: application/json",
        "",
        JSON.stringify({ name: `${tag} Bound in batch`, "msdyn_company@odata.bind": "$1" }),
        `--${changeset}--`,
        `--${boundary}--`,
        "",
      ].join("\r\n");
      const res = await raw("POST", "$batch", {
        headers: { "content-type": `multipart/mixed; boundary=${boundary}` },
        body,
      });
      expect(res.status).to.equal(200);
      expect(res.text.startsWith("--batchresponse_")).to.equal(true);
      expect(res.text).to.contain("--changesetresponse_");
      expect(res.text.match(/HTTP\/1\.1 204 No Content/g)).to.have.length(2);
      const listed = await raw(
        "GET",
        `accounts?$select=name&$filter=msdyn_company/cdm_companycode eq '${`${tag}X`.toUpperCase()}'`,
      );
      expect(
        (listed.json as { value: Array<Record<string, unknown>> }).value.map((r) => r["name"]),
      ).to.deep.equal([`${tag} Bound in batch`]);
    });
  });

  describe("counts (Learn: Count rows using OData)", () => {
    const annotations =
      'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"';
    const capTag = `${tag}-cap`;
    before(() => {
      // 5,001 stored rows that one filter selects (straight into the store: the surface is under test).
      const tables = emu.context.dataverse.get("dvcontract");
      if (!tables) throw new Error("no tables for dvcontract");
      for (let i = 0; i < 5_001; i++)
        tables.insert(
          "contacts",
          { contactid: randomUUID(), lastname: `Cap ${i}`, description: capTag },
          "seed",
        );
    });

    it("caps @odata.count at 5,000 and sends the limit annotations only when Prefer asks for them", async () => {
      const filter = `$filter=description eq '${capTag}'`;
      const plain = await raw("GET", `contacts?$select=contactid&$count=true&$top=1&${filter}`);
      expect(plain.json).to.have.property("@odata.count", 5000);
      // What Dataverse does without the preference: no annotation, so 5,000 cannot be told from more.
      expect(plain.json).to.not.have.any.keys(
        "@Microsoft.Dynamics.CRM.totalrecordcount",
        "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded",
      );
      const asked = await raw("GET", `contacts?$select=contactid&$count=true&$top=1&${filter}`, {
        headers: { prefer: annotations },
      });
      expect(asked.json).to.deep.include({
        "@odata.count": 5000,
        "@Microsoft.Dynamics.CRM.totalrecordcount": 5000,
        "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded": true,
      });
      expect(asked.headers["preference-applied"]).to.equal(annotations);

      const few = await raw(
        "GET",
        `contacts?$select=contactid&$count=true&$filter=description eq '${capTag}' and lastname eq 'Cap 7'`,
        { headers: { prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.*"' } },
      );
      expect(few.json).to.deep.include({
        "@odata.count": 1,
        "@Microsoft.Dynamics.CRM.totalrecordcount": 1,
        "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded": false,
      });
      // "If you don't include the $count=true query option, the total … value is -1."
      const uncounted = await raw("GET", `contacts?$select=contactid&$top=1&${filter}`, {
        headers: { prefer: annotations },
      });
      expect(uncounted.json).to.deep.include({
        "@Microsoft.Dynamics.CRM.totalrecordcount": -1,
        "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded": false,
      });
      expect(uncounted.json).to.not.have.property("@odata.count");
    });

    it("honours $filter in /$count, with the same 5,000 cap", async () => {
      expect(
        (await raw("GET", `contacts/$count?$filter=description eq '${capTag}'`)).text,
      ).to.equal("5000");
      const few = await raw(
        "GET",
        `contacts/$count?$filter=description eq '${capTag}' and (lastname eq 'Cap 1' or lastname eq 'Cap 2')`,
      );
      expect(few.status).to.equal(200);
      expect(few.headers["content-type"]).to.match(/^text\/plain/);
      expect(few.text).to.equal("2");
    });

    it("caps counts of many rows at 5,000; RetrieveTotalRecordCount gives the full number, as a snapshot", async () => {
      const tables = emu.context.dataverse.get("dvcontract");
      if (!tables) throw new Error("no tables for dvcontract");
      const stored = tables.count("contacts");
      const bulk = (count: number) =>
        emu.control.call("PUT", "bulk-rows", {
          env: "dvcontract",
          side: "dataverse",
          table: "contacts",
          count,
        });
      await bulk(80_000);
      try {
        expect((await raw("GET", "contacts/$count")).text).to.equal("5000");
        const total = await raw(
          "GET",
          "RetrieveTotalRecordCount(EntityNames=['contact','account'])",
        );
        expect(total.status).to.equal(200);
        const collection = (
          total.json as { EntityRecordCountCollection: { Keys: string[]; Values: number[] } }
        ).EntityRecordCountCollection;
        expect(collection.Keys).to.deep.equal(["contact", "account"]);
        expect(collection.Values[0]).to.equal(stored + 80_000);
      } finally {
        await bulk(0);
      }
      // A snapshot "within the past 24 hours": rows written since show up a day later.
      const snapshot = async (): Promise<number | undefined> =>
        (
          (await raw("GET", "RetrieveTotalRecordCount(EntityNames=['contact'])")).json as {
            EntityRecordCountCollection: { Values: number[] };
          }
        ).EntityRecordCountCollection.Values[0];
      await raw("POST", "contacts", { body: { lastname: `${tag} after the snapshot` } });
      expect(await snapshot()).to.equal(stored + 80_000);
      await emu.control.call("PUT", "clock", { advanceMs: 24 * 60 * 60 * 1000 });
      expect(await snapshot()).to.equal(stored + 1);
      const unknown = await raw("GET", "RetrieveTotalRecordCount(EntityNames=['nosuchentity'])");
      expect(unknown.status).to.equal(400);
      expect(errorOf(unknown).message).to.match(/'nosuchentity'/);
    });
  });

  describe("paging cookies (Learn: Page results using OData)", () => {
    type Page = { value: Array<Record<string, unknown>>; "@odata.nextLink"?: string };
    const next = async (link: string | undefined, pageSize: number): Promise<Page> => {
      if (!link) throw new Error("expected an @odata.nextLink");
      const res = await emu.request("GET", link, {
        token,
        headers: { prefer: `odata.maxpagesize=${pageSize}` },
      });
      expect(res.status, res.text).to.equal(200);
      return res.json as Page;
    };

    it("continues after the last row served, whatever was written between pages ($orderby)", async () => {
      const prefix = `${tag} Cookie`;
      for (const n of ["b", "d", "f", "h", "j", "l"])
        await raw("POST", "accounts", { body: { name: `${prefix} ${n}` } });
      const first = (
        await raw(
          "GET",
          `accounts?$select=name&$filter=startswith(name,'${prefix}')&$orderby=name desc`,
          { headers: { prefer: "odata.maxpagesize=3" } },
        )
      ).json as Page;
      expect(first.value.map((r) => r["name"])).to.deep.equal(
        ["l", "j", "h"].map((n) => `${prefix} ${n}`),
      );
      // The cookie names the first and last row of the page by sort value and primary key.
      const token = new URL(first["@odata.nextLink"] ?? "").searchParams.get("$skiptoken") ?? "";
      const cookie = /^<cookie pagenumber="2" pagingcookie="([^"]+)" istracking="False" \/>$/.exec(
        token,
      );
      const braced = (row: Record<string, unknown> | undefined): string =>
        `{${String(row?.["accountid"]).toUpperCase()}}`;
      expect(decodeURIComponent(cookie?.[1] ?? "")).to.equal(
        `<cookie page="1"><name last="${prefix} h" first="${prefix} l" />` +
          `<accountid last="${braced(first.value[2])}" first="${braced(first.value[0])}" /></cookie>`,
      );
      // Between the pages: a row that sorts before the cookie, one after it, and a deleted one
      // from the first page. An offset would now repeat "h" and skip one row.
      await raw("POST", "accounts", { body: { name: `${prefix} k` } });
      await raw("POST", "accounts", { body: { name: `${prefix} e` } });
      const lId = first.value[0]?.["accountid"] as string;
      expect((await raw("DELETE", `accounts(${lId})`)).status).to.equal(204);
      const second = await next(first["@odata.nextLink"], 3);
      expect(second.value.map((r) => r["name"])).to.deep.equal(
        ["f", "e", "d"].map((n) => `${prefix} ${n}`),
      );
      const third = await next(second["@odata.nextLink"], 3);
      expect(third.value.map((r) => r["name"])).to.deep.equal([`${prefix} b`]);
      expect(third["@odata.nextLink"]).to.equal(undefined);
    });

    it("pages by primary key without $orderby, keyed on the last key served", async () => {
      const description = `${tag}-bykey`;
      const ids = ["1", "3", "5", "7"].map((d) => `00000000-0000-4000-8000-${tag.slice(1)}000${d}`);
      for (const id of ids) await raw("POST", "accounts", { body: { accountid: id, description } });
      const first = (
        await raw("GET", `accounts?$select=accountid&$filter=description eq '${description}'`, {
          headers: { prefer: "odata.maxpagesize=2" },
        })
      ).json as Page;
      expect(first.value.map((r) => r["accountid"])).to.deep.equal(ids.slice(0, 2));
      // A row whose key sorts before the cookie does not shift the next page.
      await raw("POST", "accounts", {
        body: { accountid: `00000000-0000-4000-8000-${tag.slice(1)}0000`, description },
      });
      const second = await next(first["@odata.nextLink"], 2);
      expect(second.value.map((r) => r["accountid"])).to.deep.equal(ids.slice(2));
    });

    it("refuses a $skiptoken it did not make", async () => {
      const res = await raw(
        "GET",
        'accounts?$skiptoken=<cookie pagenumber="2" pagingcookie="5" />',
      );
      expect(res.status).to.equal(400);
      expect(errorOf(res).message).to.match(/\$skiptoken .* is not valid/);
    });
  });

  describe("alternate keys (Learn: Use an alternate key to reference a record)", () => {
    it("refuses a second row with the same alternate key values: 412 DuplicateRecordEntityKey", async () => {
      const bind = `/cdm_companies(${companyId})`;
      const number = `${tag}-DUP`;
      const created = await raw("POST", "accounts", {
        body: { name: "first", accountnumber: number, "msdyn_company@odata.bind": bind },
      });
      expect(created.status).to.equal(204);
      const again = await raw("POST", "accounts", {
        body: {
          name: "second",
          accountnumber: number.toLowerCase(),
          "msdyn_company@odata.bind": bind,
        },
      });
      expect(again.status).to.equal(412);
      expect(errorOf(again)).to.deep.equal({
        code: "0x80060892",
        message:
          "Entity Key accountnumber_msdyn_company violated. A record with the same value for accountnumber, _msdyn_company_value already exists. A duplicate record cannot be created. Select one or more unique values and try again.",
      });
      // Rows without a company are not in the key's index: the same number twice is accepted.
      for (let i = 0; i < 2; i++)
        expect(
          (await raw("POST", "accounts", { body: { name: "no company", accountnumber: number } }))
            .status,
        ).to.equal(204);
      // An update that would collide is refused as well, and changes nothing.
      const other = await raw("POST", "accounts", {
        body: { name: "other", accountnumber: `${number}-2`, "msdyn_company@odata.bind": bind },
      });
      const otherUrl = other.headers["odata-entityid"] as string;
      const collide = await emu.request("PATCH", otherUrl, {
        token,
        body: { accountnumber: number },
      });
      expect(collide.status).to.equal(412);
      expect(errorOf(collide).code).to.equal("0x80060892");
      const kept = await emu.request("GET", `${otherUrl}?$select=accountnumber`, { token });
      expect((kept.json as Record<string, unknown>)["accountnumber"]).to.equal(`${number}-2`);
    });

    it("upserts by alternate key: a repeated PATCH updates the one row it created", async () => {
      const key = `accountnumber='${tag}-UP',_msdyn_company_value=${companyId}`;
      for (const name of ["made", "made again"]) {
        const res = await raw("PATCH", `accounts(${key})`, { body: { name } });
        expect(res.status).to.equal(204);
      }
      const rows = await raw(
        "GET",
        `accounts?$select=name,accountnumber&$filter=accountnumber eq '${tag}-UP'`,
      );
      const value = (rows.json as { value: Array<Record<string, unknown>> }).value;
      expect(value.map((r) => [r["name"], r["accountnumber"]])).to.deep.equal([
        ["made again", `${tag}-UP`],
      ]);
      // `If-None-Match: *` makes it a create that a retry cannot repeat (Limit upsert operations).
      const retried = await raw("PATCH", `accounts(${key})`, {
        headers: { "if-none-match": "*" },
        body: { name: "retried" },
      });
      expect(retried.status).to.equal(412);
      expect(errorOf(retried).code).to.equal("0x80040237");
    });

    it("keeps tables without a public column list lenient", async () => {
      const res = await raw("GET", "msdyn_dualwriteruntimeconfigs?$select=anycolumn");
      expect(res.status).to.equal(200);
    });
  });

  describe("writes refused by a write listener (how the dual-write runtime vetoes)", () => {
    /** Vetoes writes of accounts whose name starts with `<tag> Veto`, as live sync does when F&O refuses the copy. */
    before(() => {
      const tables = emu.context.dataverse.get("dvcontract");
      if (!tables) throw new Error("no tables for dvcontract");
      tables.onWrite((event) => {
        const name = event.after?.["name"];
        if (
          event.table === "accounts" &&
          typeof name === "string" &&
          name.startsWith(`${tag} Veto`)
        ) {
          throw Object.assign(
            new Error(
              "Writes to CustomersV3 failed with error message Customer group 'ZZ' does not exist.",
            ),
            { status: 400, code: "LiveSync" },
          );
        }
      });
    });

    it("answers 400 0x80040265 with the live-sync text and stores nothing", async () => {
      const res = await raw("POST", "accounts", { body: { name: `${tag} Veto 1` } });
      expect(res.status).to.equal(400);
      expect(errorOf(res)).to.deep.equal({
        code: "0x80040265",
        message:
          "Unable to write data to entity accounts. Writes to CustomersV3 failed with error message Customer group 'ZZ' does not exist.",
      });
      const left = await raw("GET", `accounts?$select=name&$filter=startswith(name,'${tag} Veto')`);
      expect((left.json as { value: unknown[] }).value).to.deep.equal([]);
    });

    it("rolls back the earlier writes of a change set when a later one is vetoed", async () => {
      const kept = await api.create<Record<string, unknown>, string>({
        collection: "accounts",
        data: { name: `${tag} Before veto` },
      });
      api.startBatch();
      void api.create({ collection: "accounts", data: { name: `${tag} Created then undone` } });
      void api.update({
        collection: "accounts",
        key: kept,
        data: { description: "changed then undone" },
      });
      void api.create({ collection: "accounts", data: { name: `${tag} Veto 2` } });
      const results = await api.executeBatch();
      expect(results).to.have.length(1);
      expect((results[0] as { status: number; error: { code: string } }).status).to.equal(400);
      expect((results[0] as { error: { code: string } }).error.code).to.equal("0x80040265");
      const undone = await raw(
        "GET",
        `accounts?$select=name&$filter=name eq '${tag} Created then undone'`,
      );
      expect((undone.json as { value: unknown[] }).value).to.deep.equal([]);
      const row = (await raw("GET", `accounts(${kept})?$select=description`)).json as Record<
        string,
        unknown
      >;
      expect(row["description"]).to.equal(null);
    });
  });

  describe("bad requests get the real error shapes", () => {
    const cases: ReadonlyArray<{
      name: string;
      method: string;
      path: string;
      body?: unknown;
      status: number;
      code: string;
      message: RegExp;
    }> = [
      {
        name: "an unknown entity set",
        method: "GET",
        path: "nosuchthings",
        status: 404,
        code: "0x8006088a",
        message: /^Resource not found for the segment 'nosuchthings'\.$/,
      },
      {
        name: "an unknown segment after an entity set",
        method: "GET",
        path: "accounts/nosuchsegment",
        status: 404,
        code: "0x8006088a",
        message: /^Resource not found for the segment 'nosuchsegment'\.$/,
      },
      {
        name: "an unknown property segment of a row",
        method: "GET",
        path: "accounts(00000000-0000-4000-8000-000000000000)/Name",
        status: 404,
        code: "0x8006088a",
        message: /^Resource not found for the segment 'Name'\.$/,
      },
      {
        name: "a wrongly cased column in $select",
        method: "GET",
        path: "accounts?$select=Name",
        status: 400,
        code: "0x0",
        message:
          /^Could not find a property named 'Name' on type 'Microsoft\.Dynamics\.CRM\.account'\.$/,
      },
      {
        name: "an unknown column in $filter (not a filter that matches every row)",
        method: "GET",
        path: "accounts?$filter=typo eq null",
        status: 400,
        code: "0x0",
        message:
          /^Could not find a property named 'typo' on type 'Microsoft\.Dynamics\.CRM\.account'\.$/,
      },
      {
        name: "an unknown column in $orderby",
        method: "GET",
        path: "contacts?$orderby=surname",
        status: 400,
        code: "0x0",
        message:
          /^Could not find a property named 'surname' on type 'Microsoft\.Dynamics\.CRM\.contact'\.$/,
      },
      {
        name: "an unknown column behind a navigation property",
        method: "GET",
        path: "accounts?$filter=msdyn_company/cdm_code eq 'USMF'",
        status: 400,
        code: "0x0",
        message:
          /^Could not find a property named 'cdm_code' on type 'Microsoft\.Dynamics\.CRM\.cdm_company'\.$/,
      },
      {
        name: "an unknown column in a nested $select of $expand",
        method: "GET",
        path: "accounts?$expand=msdyn_company($select=code)",
        status: 400,
        code: "0x0",
        message:
          /^Could not find a property named 'code' on type 'Microsoft\.Dynamics\.CRM\.cdm_company'\.$/,
      },
      {
        name: "an unknown column in the $filter of /$count",
        method: "GET",
        path: "accounts/$count?$filter=typo eq 1",
        status: 400,
        code: "0x0",
        message: /named 'typo'/,
      },
      {
        name: "an unknown column in a request body",
        method: "POST",
        path: "accounts",
        body: { Name: "wrong case" },
        status: 400,
        code: "0x0",
        message:
          /^An error occurred while validating input parameters: Microsoft\.Crm\.CrmException: Invalid property 'Name' was found in entity 'Microsoft\.Dynamics\.CRM\.account'\./,
      },
      {
        name: "a key predicate on a column that is not an alternate key",
        method: "GET",
        path: "accounts(name='Contoso')",
        status: 400,
        code: "0x0",
        message:
          /^The key in the request URI is not valid for resource 'Microsoft\.Dynamics\.CRM\.account'\. Ensure that the names and number of key properties match the declared or alternate key properties/,
      },
      {
        name: "part of an alternate key",
        method: "GET",
        path: "accounts(accountnumber='A-1')",
        status: 400,
        code: "0x0",
        message: /The key in the request URI is not valid/,
      },
      {
        name: "a malformed key",
        method: "GET",
        path: "accounts(12345)",
        status: 400,
        code: "0x80060888",
        message: /not a valid key/,
      },
      {
        name: "an unbalanced key",
        method: "GET",
        path: "accounts(abc",
        status: 400,
        code: "0x80060888",
        message: /parentheses/,
      },
      {
        name: "a bad $filter",
        method: "GET",
        path: "accounts?$filter=name eq",
        status: 400,
        code: "0x80060888",
        message: /Syntax error at position 7 in 'name eq'/,
      },
      {
        name: "$skip (not supported by Dataverse)",
        method: "GET",
        path: "accounts?$skip=2",
        status: 400,
        code: "0x80060888",
        message: /\$skip is not supported/,
      },
      {
        name: "an unknown $expand",
        method: "GET",
        path: "accounts?$expand=contacts",
        status: 400,
        code: "0x80060888",
        message: /Could not find a property named 'contacts'/,
      },
      {
        name: "a bind to a missing row",
        method: "POST",
        path: "accounts",
        body: {
          name: "x",
          "msdyn_company@odata.bind": "/cdm_companies(00000000-0000-4000-8000-000000000000)",
        },
        status: 404,
        code: "0x80040217",
        message: /cdm_company With Id = 00000000-0000-4000-8000-000000000000 Does Not Exist/,
      },
      {
        name: "a bind through an unknown navigation property",
        method: "POST",
        path: "accounts",
        body: { "nosuchnav@odata.bind": "/cdm_companies(00000000-0000-4000-8000-000000000000)" },
        status: 400,
        code: "0x80048d19",
        message:
          /^Error identified in Payload provided by the user for Entity :'accounts' {2}----> {2}InnerException : Microsoft\.OData\.ODataException: An undeclared property 'nosuchnav' which only has property annotations/,
      },
      {
        name: "a write to a lookup column",
        method: "POST",
        path: "accounts",
        body: { _msdyn_company_value: "00000000-0000-4000-8000-000000000000" },
        status: 400,
        code: "0x80060888",
        message: /Invalid property '_msdyn_company_value'/,
      },
      {
        name: "a body that is not JSON",
        method: "POST",
        path: "accounts",
        body: "{nope",
        status: 400,
        code: "0x80060888",
        message: /not valid JSON/,
      },
      {
        name: "UpdateMultiple without @odata.type",
        method: "POST",
        path: "accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
        body: { Targets: [{ accountid: "00000000-0000-4000-8000-000000000000" }] },
        status: 400,
        code: "0x80060888",
        message: /'@odata.type' must be 'Microsoft.Dynamics.CRM.account'/,
      },
      {
        name: "a $batch without a boundary",
        method: "POST",
        path: "$batch",
        body: { requests: [] },
        status: 400,
        code: "0x80060888",
        message: /multipart\/mixed/,
      },
    ];
    for (const c of cases) {
      it(`answers ${c.name} with ${c.status} ${c.code}`, async () => {
        const res = await raw(
          c.method,
          c.path,
          c.body !== undefined
            ? {
                body: c.body,
                ...(typeof c.body === "string"
                  ? { headers: { "content-type": "application/json" } }
                  : {}),
              }
            : {},
        );
        expect(res.status).to.equal(c.status);
        const error = errorOf(res);
        expect(error.code).to.equal(c.code);
        expect(error.message).to.match(c.message);
      });
    }

    it("refuses a $batch of more than 1,000 requests", async () => {
      const boundary = "batch_big";
      const part = [
        "--batch_big",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        "GET WhoAmI HTTP/1.1",
        "",
      ].join("\r\n");
      const body = `${Array.from({ length: 1001 }, () => part).join("\r\n")}\r\n--batch_big--\r\n`;
      const res = await raw("POST", "$batch", {
        headers: { "content-type": `multipart/mixed; boundary=${boundary}` },
        body,
      });
      expect(res.status).to.equal(400);
      expect(errorOf(res).message).to.match(/exceeds the limit of 1000/);
    });

    it("refuses a token for another audience with a 401 in the Dataverse shape", async () => {
      const fnoToken = await emu.token(
        emu.environments.find((e) => e.name === "dvcontract")!.financeOperationsUrl,
      );
      const res = await raw("GET", "WhoAmI", { token: fnoToken });
      expect(res.status).to.equal(401);
      expect(errorOf(res)).to.have.keys(["code", "message"]);
    });
  });
});

describe("Dataverse seeds against the declared columns", function () {
  it("stores only declared columns in the tables that declare them (an existing org)", async () => {
    const emu = await startTestEmulator({ seed: { scenario: "existing-existing", size: 6 } });
    try {
      const pair = emu.environments[0];
      const tables = pair ? emu.context.dataverse.get(pair.name) : undefined;
      if (!tables) throw new Error("no seeded org");
      const undeclared = new Set<string>();
      for (const set of tables.tableNames()) {
        const columns = tableSchema(set)?.columns;
        if (!columns) continue;
        for (const { row } of tables.values(set))
          for (const name of Object.keys(row))
            if (!Object.hasOwn(columns, name)) undeclared.add(`${set}.${name}`);
      }
      expect([...undeclared]).to.deep.equal([]);
      expect(tables.count("accounts")).to.be.greaterThan(0);
    } finally {
      await emu.close();
    }
  });
});

describe("Dataverse service protection (emulated)", function () {
  let emu: TestEmulator;
  let org: string;

  before(async () => {
    // Five requests per window; the 5-minute window lasts one real second at speed 300.
    emu = await startTestEmulator({
      seed: { scenario: "new-new", name: "throttled" },
      settings: { dataverseRequestsPerWindow: 5 },
      clock: { speed: 300 },
    });
    org = emu.environments.find((e) => e.name === "throttled")!.dataverseUrl;
  });

  after(async () => {
    await emu?.close();
  });

  it("answers 429 with the documented code and a Retry-After that, honoured, lets the next request through", async () => {
    const token = await emu.token(org);
    const whoAmI = () => emu.request("GET", `${org}/api/data/v9.2/WhoAmI`, { token });
    let throttled: TestResponse | undefined;
    for (let i = 0; i < 10 && !throttled; i++) {
      const res = await whoAmI();
      if (res.status === 429) throttled = res;
      else expect(res.status).to.equal(200);
    }
    if (!throttled) throw new Error("no request was throttled");
    expect(errorOf(throttled)).to.deep.equal({
      code: "0x80072322",
      message: "Number of requests exceeded the limit of 5 over time window of 300 seconds.",
    });
    const retryAfter = Number(throttled.headers["retry-after"]);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).to.equal(true);
    await sleep(retryAfter * 1000);
    expect((await whoAmI()).status).to.equal(200);
  });

  it("reaches dynamics-web-api as an error with status 429", async () => {
    const api = webApi(emu, org);
    let failure: WebApiError | undefined;
    for (let i = 0; i < 10 && !failure; i++) {
      try {
        await api.callFunction("WhoAmI");
      } catch (e) {
        failure = e as WebApiError;
      }
    }
    expect(failure?.status).to.equal(429);
    expect(failure?.code).to.equal("0x80072322");
  });
});
