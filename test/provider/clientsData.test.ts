/**
 * The Dataverse and F&O clients against the in-process emulator: paging through
 * `@odata.nextLink`, exact counts, create/update, `UpdateMultiple` in chunks, `$batch`, the
 * integration details, F&O legal entities (shared reads) and company-scoped counts.
 */
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { HttpError } from "../../provider/errors";
import { recordingSleep, startClientHarness, type ClientHarness } from "./clientsHarness";

describe("clients: Dataverse and F&O (emulator)", () => {
  let h: ClientHarness;
  const tag = `paging-${randomUUID().slice(0, 8)}`;
  const tagged = 23;
  before(async () => {
    h = await startClientHarness();
    await h.emulator.control.insertRows(
      "dataverse",
      h.env.name,
      "accounts",
      Array.from({ length: tagged }, (_, i) => ({
        name: `${tag} ${String(i).padStart(2, "0")}`,
        description: tag,
      })),
    );
  });
  after(() => h?.close());
  afterEach(() => h.emulator.control.clearFaults());

  const dataverseGets = (since: number) =>
    h.requestsSince(
      since,
      (e) => e.surface === "dataverse" && e.method === "GET" && e.path.endsWith("/accounts"),
    );

  it("lists every matching row, following @odata.nextLink page by page", async () => {
    const { dataverse } = h.clients();
    await dataverse.whoAmI();
    const since = await h.mark();
    const rows = await dataverse.list("accounts", {
      select: ["accountid", "name"],
      filter: `description eq '${tag}'`,
      orderby: "name",
      pageSize: 5,
    });
    expect(rows.map((r) => r.name)).to.deep.equal(
      Array.from({ length: tagged }, (_, i) => `${tag} ${String(i).padStart(2, "0")}`),
    );
    expect(await dataverseGets(since)).to.have.length(Math.ceil(tagged / 5));
  });

  it("stops paging once `top` rows are read", async () => {
    const { dataverse } = h.clients();
    await dataverse.whoAmI();
    const since = await h.mark();
    const rows = await dataverse.list("accounts", {
      filter: `description eq '${tag}'`,
      pageSize: 5,
      top: 7,
    });
    expect(rows).to.have.length(7);
    expect(await dataverseGets(since)).to.have.length(2);
  });

  it("counts exactly with $count", async () => {
    const { dataverse } = h.clients();
    expect(await dataverse.count("accounts", `description eq '${tag}'`)).to.equal(tagged);
    const all = await h.emulator.control.rows("dataverse", h.env.name, "accounts");
    expect(await dataverse.count("accounts")).to.equal(all.length);
  });

  it("counts exactly above the 5,000 rows where Dataverse caps $count", async () => {
    const many = 5_003;
    await h.emulator.control.insertRows(
      "dataverse",
      h.env.name,
      "contacts",
      Array.from({ length: many }, (_, i) => ({
        lastname: `Many ${i}`,
        description: `${tag}-many`,
      })),
    );
    const { dataverse } = h.clients();
    await dataverse.whoAmI();
    const since = await h.mark();
    expect(await dataverse.count("contacts", `description eq '${tag}-many'`)).to.equal(many);
    const reads = await h.requestsSince(since, (e) => e.path.endsWith("/contacts"));
    expect(reads).to.have.length(2); // the first page of keys (it carries the capped count), then the second
  });

  it("creates, reads and updates a row; update never creates a missing one", async () => {
    const { dataverse } = h.clients();
    const id = await dataverse.create("accounts", {
      name: "Created Ltd",
      accountnumber: `C-${tag}`,
    });
    expect(id).to.match(/^[0-9a-f-]{36}$/);
    await dataverse.update("accounts", id, { telephone1: "555-0100" });
    const row = await dataverse.get("accounts", id, ["name", "telephone1"]);
    expect(row).to.include({ name: "Created Ltd", telephone1: "555-0100" });
    expect(await dataverse.get("accounts", randomUUID())).to.equal(undefined);
    const missing = await dataverse
      .update("accounts", randomUUID(), { name: "ghost" })
      .catch((e: unknown) => e);
    expect(missing).to.be.instanceOf(HttpError);
    expect((missing as HttpError).status).to.equal(404);
  });

  it("updates many rows with UpdateMultiple, in chunks", async () => {
    const { dataverse } = h.clients();
    const rows = await dataverse.list("accounts", {
      select: ["accountid"],
      filter: `description eq '${tag}'`,
    });
    const since = await h.mark();
    await dataverse.updateMultiple(
      "accounts",
      "account",
      rows.map((r) => ({ accountid: r.accountid, telephone2: "bulk" })),
      { chunkSize: 10 },
    );
    const posts = await h.requestsSince(
      since,
      (e) => e.method === "POST" && e.path.endsWith("/Microsoft.Dynamics.CRM.UpdateMultiple"),
    );
    expect(posts.map((p) => p.status)).to.deep.equal([204, 204, 204]);
    expect(
      await dataverse.count("accounts", `description eq '${tag}' and telephone2 eq 'bulk'`),
    ).to.equal(tagged);
  });

  it("sets the same columns on many rows by key with one UpdateMultiple per 1,000", async () => {
    const { dataverse } = h.clients();
    const rows = await dataverse.list("accounts", {
      select: ["accountid"],
      filter: `description eq '${tag}'`,
    });
    const since = await h.mark();
    await dataverse.updateEach(
      "accounts",
      "account",
      rows.map((r) => String(r.accountid)),
      { telephone2: "each" },
    );
    const posts = await h.requestsSince(
      since,
      (e) => e.method === "POST" && e.path.endsWith("/Microsoft.Dynamics.CRM.UpdateMultiple"),
    );
    expect(posts.map((p) => p.status)).to.deep.equal([204]);
    expect(
      await dataverse.count("accounts", `description eq '${tag}' and telephone2 eq 'each'`),
    ).to.equal(tagged);
  });

  it("sends a $batch and reads one answer per request", async () => {
    const { dataverse } = h.clients();
    const [first] = await dataverse.list("accounts", {
      select: ["accountid"],
      filter: `description eq '${tag}'`,
      top: 1,
    });
    const answers = await dataverse.batch([
      {
        method: "PATCH",
        url: `accounts(${String(first?.accountid)})`,
        body: { fax: "batched" },
        headers: { "If-Match": "*" },
      },
      { method: "GET", url: "WhoAmI" },
      {
        method: "PATCH",
        url: `accounts(${randomUUID()})`,
        body: { fax: "x" },
        headers: { "If-Match": "*" },
      },
    ]);
    expect(answers.map((a) => a.status)).to.deep.equal([204, 200, 404]);
    expect(answers[1]?.body).to.have.property("UserId");
    expect(await dataverse.get("accounts", String(first?.accountid), ["fax"])).to.include({
      fax: "batched",
    });
  });

  it("retries a throttled page and still returns every row", async () => {
    const { sleep, delays } = recordingSleep();
    const { dataverse } = h.clients({ sleep });
    await dataverse.whoAmI();
    await h.emulator.control.addFault({
      kind: "throttle",
      surface: "dataverse",
      method: "GET",
      path: "/accounts$",
      count: 1,
      retryAfterSeconds: 2,
    });
    const rows = await dataverse.list("accounts", {
      filter: `description eq '${tag}'`,
      pageSize: 10,
    });
    expect(rows).to.have.length(tagged);
    expect(delays).to.deep.equal([2000]);
  });

  it("answers integrationDetails with the paired F&O environment, linked or not, and undefined when not paired", async () => {
    const { dataverse } = h.clients();
    // Power Platform integration pairs the environments, independent of the dual-write link.
    const details = await dataverse.integrationDetails();
    expect([details?.Id, details?.Url]).to.deep.equal([h.env.cid, h.env.financeOperationsUrl]);
    await h.emulator.control.call("PUT", `integration/${encodeURIComponent(h.env.name)}`, {
      integrated: false,
    });
    try {
      expect(await dataverse.integrationDetails()).to.equal(undefined);
    } finally {
      await h.emulator.control.call("PUT", `integration/${encodeURIComponent(h.env.name)}`, {
        integrated: true,
      });
    }
  });

  it("reads the organization's Power Platform environment id (RetrieveCurrentOrganization)", async () => {
    const org = await h.clients().dataverse.currentOrganization();
    expect(org.EnvironmentId).to.match(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    );
    expect(org.OrganizationId).to.not.equal(org.EnvironmentId);
  });

  it("reads the F&O legal entities, sharing one request among concurrent readers", async () => {
    const { fno } = h.clients();
    await fno.count("LegalEntities");
    const since = await h.mark();
    const results = await Promise.all(Array.from({ length: 12 }, () => fno.legalEntities()));
    const stored = await h.emulator.control.rows("fno", h.env.name, "LegalEntities");
    expect(results[0]?.map((le) => le.code)).to.deep.equal(
      stored.map((r) => String(r.LegalEntityId).toUpperCase()).sort(),
    );
    expect(results.every((r) => JSON.stringify(r) === JSON.stringify(results[0]))).to.equal(true);
    const reads = await h.requestsSince(
      since,
      (e) => e.surface === "fno" && e.path.endsWith("/LegalEntities"),
    );
    expect(reads).to.have.length(1);
  });

  it("creates a legal entity and sees it at once (the write invalidates the shared read)", async () => {
    const { fno } = h.clients();
    const before = await fno.legalEntities();
    const code = `T${Math.floor(Math.random() * 900 + 100)}`;
    await fno.createLegalEntity(code, "Test company");
    const after = await fno.legalEntities();
    expect(after.map((le) => le.code)).to.deep.equal([...before.map((le) => le.code), code].sort());
  });

  it("looks a legal entity up instead of creating it twice after a dropped answer", async () => {
    const { fno } = h.clients({ sleep: recordingSleep().sleep });
    await fno.count("LegalEntities");
    const code = `D${Math.floor(Math.random() * 900 + 100)}`;
    await h.emulator.control.addFault({
      kind: "dropAfterCommit",
      surface: "fno",
      method: "POST",
      path: "/LegalEntities$",
      count: 1,
    });
    const since = await h.mark();
    await fno.createLegalEntity(code, "Dropped answer company");
    const posts = await h.requestsSince(since, (e) => e.surface === "fno" && e.method === "POST");
    expect(posts.map((p) => p.outcome)).to.deep.equal(["droppedAfterCommit"]);
    expect((await fno.legalEntities()).filter((le) => le.code === code)).to.have.length(1);
  });

  it("counts F&O rows per company and across companies", async () => {
    const { fno } = h.clients();
    const customers = await h.emulator.control.rows("fno", h.env.name, "CustomersV3");
    const companies = [...new Set(customers.map((c) => String(c.dataAreaId)))];
    expect(await fno.count("CustomersV3", { crossCompany: true })).to.equal(customers.length);
    for (const company of companies) {
      const expected = customers.filter((c) => c.dataAreaId === company).length;
      expect(
        await fno.count("CustomersV3", { dataAreaId: company.toUpperCase() }),
        company,
      ).to.equal(expected);
    }
    const listed = await fno.list("CustomersV3", {
      crossCompany: true,
      select: ["CustomerAccount", "dataAreaId"],
    });
    expect(listed).to.have.length(customers.length);
  });
});
