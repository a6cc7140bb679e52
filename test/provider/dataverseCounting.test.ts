/**
 * The Dataverse client's counts and creates against the in-process emulator, which counts as
 * "Count rows using OData" documents (`@odata.count` capped at 5,000, the limit annotations only
 * when the `Prefer` header asks): counts are exact at any volume, with the fewest requests the
 * Web API allows (one up to 5,000 rows, then one per 5,000 rows), checked at 600,000 rows with and
 * without a filter; `createOnce` makes one row whatever happens to its answers.
 */
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import type { TableSet } from "../../emulator/store/tables";
import { describeRowCount } from "../../provider/clients/dataverse";
import { recordingSleep, startClientHarness, type ClientHarness } from "./clientsHarness";

describe("clients: Dataverse counts and idempotent creates (emulator)", function () {
  let h: ClientHarness;
  let tables: TableSet;
  const tag = `count-${randomUUID().slice(0, 8)}`;

  /** Stores `n` contacts with `description` straight into the emulator's store (fast, no HTTP). */
  const storeContacts = (n: number, description: string): void => {
    for (let i = 0; i < n; i++)
      tables.insert(
        "contacts",
        { contactid: randomUUID(), lastname: `${description} ${i}`, description },
        "seed",
      );
  };
  /** The GETs of `contacts` logged since `since`. */
  const contactReads = (since: number) =>
    h.requestsSince(
      since,
      (e) => e.surface === "dataverse" && e.method === "GET" && e.path.endsWith("/contacts"),
    );

  before(async () => {
    h = await startClientHarness();
    const found = h.emulator.context.dataverse.get(h.env.name);
    if (!found) throw new Error("no Dataverse tables for the seeded pair");
    tables = found;
  });
  after(() => h?.close());
  afterEach(() => h.emulator.control.clearFaults());

  describe("countRows", () => {
    it("counts up to 5,000 rows in one request, reading only primary keys", async () => {
      storeContacts(23, `${tag}-few`);
      const { dataverse } = h.clients();
      await dataverse.whoAmI(); // the token first, so the log below holds only the count
      const since = await h.mark();
      const count = await dataverse.countRows("contacts", `description eq '${tag}-few'`);
      expect(count).to.deep.equal({ rows: 23, exact: true, requests: 1 });
      const [read] = await contactReads(since);
      expect(new URLSearchParams(read?.query).get("$select")).to.equal("contactid");
    });

    it("needs no second request at exactly 5,000 rows: the annotation says the count is not capped", async () => {
      storeContacts(5_000, `${tag}-5000`);
      const { dataverse } = h.clients();
      expect(await dataverse.countRows("contacts", `description eq '${tag}-5000'`)).to.deep.equal({
        rows: 5_000,
        exact: true,
        requests: 1,
      });
    });

    it("counts 5,001 rows in two requests: the capped first page is also the first page of keys", async () => {
      storeContacts(5_001, `${tag}-5001`);
      const { dataverse } = h.clients();
      expect(await dataverse.countRows("contacts", `description eq '${tag}-5001'`)).to.deep.equal({
        rows: 5_001,
        exact: true,
        requests: 2,
      });
    });

    it("counts 600,000 rows exactly, with and without a filter, in ⌈N / 5,000⌉ requests", async function () {
      this.timeout(600_000);
      storeContacts(400_000, `${tag}-vol-a`);
      storeContacts(200_000, `${tag}-vol-b`);
      const { dataverse } = h.clients();
      await dataverse.whoAmI();

      let since = await h.mark();
      const filtered = await dataverse.countRows("contacts", `description eq '${tag}-vol-a'`);
      expect(filtered).to.deep.equal({ rows: 400_000, exact: true, requests: 80 });
      expect(await contactReads(since)).to.have.length(80);

      const all = tables.count("contacts");
      expect(all).to.be.greaterThan(600_000);
      since = await h.mark();
      const unfiltered = await dataverse.countRows("contacts");
      expect(unfiltered).to.deep.equal({
        rows: all,
        exact: true,
        requests: Math.ceil(all / 5_000),
      });
      expect(await contactReads(since)).to.have.length(Math.ceil(all / 5_000));
      expect(await dataverse.count("contacts", `description eq '${tag}-vol-b'`)).to.equal(200_000);
    });
  });

  describe("countCapped", () => {
    it("answers in one request, saying when the cap made the count a lower bound", async () => {
      const { dataverse } = h.clients();
      const few = await dataverse.countCapped("contacts", `description eq '${tag}-few'`);
      expect(few).to.deep.equal({ rows: 23, exact: true, requests: 1 });
      expect(describeRowCount(few)).to.equal("23");
      const many = await dataverse.countCapped("contacts", `description eq '${tag}-5001'`);
      expect(many).to.deep.equal({ rows: 5_000, exact: false, requests: 1 });
      expect(describeRowCount(many)).to.equal("at least 5,000");
    });
  });

  describe("createOnce", () => {
    const rowsNamed = (name: string) =>
      [...tables.values("accounts")].filter((r) => r.row["name"] === name);

    it("makes one row when the answer to the create is lost after it committed", async () => {
      const clients = h.clients({ sleep: recordingSleep().sleep });
      await clients.dataverse.whoAmI();
      await h.emulator.control.addFault({
        kind: "dropAfterCommit",
        surface: "dataverse",
        method: "PATCH",
        path: "/accounts\\(",
        count: 1,
      });
      const since = await h.mark();
      const name = `${tag} Lost answer Ltd`;
      const result = await clients.dataverse.createOnce("accounts", { name });
      expect(result.created).to.equal(false); // the retry met the row the first attempt made
      const writes = await h.requestsSince(
        since,
        (e) => e.surface === "dataverse" && e.method === "PATCH",
      );
      expect(writes.map((w) => `${w.outcome} ${w.status}`)).to.deep.equal([
        "droppedAfterCommit 204",
        "answered 412",
      ]);
      expect(rowsNamed(name).map((r) => r.row["accountid"])).to.deep.equal([result.id]);
    });

    it("makes the row on the retry when the first attempt failed before committing", async () => {
      const clients = h.clients({ sleep: recordingSleep().sleep });
      await clients.dataverse.whoAmI();
      await h.emulator.control.addFault({
        kind: "error",
        surface: "dataverse",
        method: "PATCH",
        path: "/accounts\\(",
        status: 503,
        count: 1,
      });
      const name = `${tag} Retried Ltd`;
      const result = await clients.dataverse.createOnce("accounts", { name });
      expect(result.created).to.equal(true);
      expect(rowsNamed(name).map((r) => r.row["accountid"])).to.deep.equal([result.id]);
    });
  });
});
