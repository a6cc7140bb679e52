/**
 * The `$batch` multipart reader and writer, key predicates, and change sets as transactions over
 * real `TableSet`s: all or nothing, including the writes a listener (live sync) made on another
 * table set, undone without listeners or compensating writes.
 */
import { expect } from "chai";
import {
  BatchFormatError,
  boundaryOf,
  countOperations,
  parseBatchRequest,
  writeBatchResponse,
} from "../../emulator/odata/batch";
import { runBatch } from "../../emulator/odata/batchRunner";
import { WriteJournal } from "../../emulator/odata/journal";
import { parseResourcePath, ResourcePathError } from "../../emulator/odata/resourcePath";
import { TableSet, type WriteEvent } from "../../emulator/store/tables";
import { runInTransaction } from "../../emulator/store/transaction";

const CRLF = "\r\n";

/** A batch as the Dataverse documentation shows it: one change set with two creates, then a GET. */
function sampleBatch(): string {
  return [
    "--batch_AAA123",
    "Content-Type: multipart/mixed; boundary=changeset_BBB456",
    "",
    "--changeset_BBB456",
    "Content-Type: application/http",
    "Content-Transfer-Encoding: binary",
    "Content-ID: 1",
    "",
    "POST https://org.example.test/api/data/v9.2/accounts HTTP/1.1",
    "Content-Type: application/json; type=entry",
    "",
    '{"name":"first"}',
    "--changeset_BBB456",
    "Content-Type: application/http",
    "Content-Transfer-Encoding: binary",
    "Content-ID: 2",
    "",
    "PATCH $1 HTTP/1.1",
    "Content-Type: application/json",
    "",
    '{"name":"renamed"}',
    "--changeset_BBB456--",
    "",
    "--batch_AAA123",
    "Content-Type: application/http",
    "Content-Transfer-Encoding: binary",
    "",
    "GET accounts?$select=name HTTP/1.1",
    "Accept: application/json",
    "",
    "--batch_AAA123--",
    "",
  ].join(CRLF);
}

describe("OData $batch reader and writer", () => {
  it("reads the boundary, quoted or not", () => {
    expect(boundaryOf('multipart/mixed; boundary="batch_x"')).to.equal("batch_x");
    expect(boundaryOf("multipart/mixed;boundary=batch_y")).to.equal("batch_y");
    expect(boundaryOf("application/json")).to.equal(undefined);
  });

  it("parses change sets, Content-IDs, request lines, headers and bodies", () => {
    const items = parseBatchRequest(
      "multipart/mixed; boundary=batch_AAA123",
      Buffer.from(sampleBatch()),
    );
    expect(items.map((i) => i.kind)).to.deep.equal(["changeset", "operation"]);
    expect(countOperations(items)).to.equal(3);
    const cs = items[0];
    if (cs?.kind !== "changeset") throw new Error("expected a change set");
    expect(cs.operations.map((o) => [o.method, o.url, o.contentId, o.body])).to.deep.equal([
      ["POST", "https://org.example.test/api/data/v9.2/accounts", "1", '{"name":"first"}'],
      ["PATCH", "$1", "2", '{"name":"renamed"}'],
    ]);
    expect(cs.operations[0]?.headers["content-type"]).to.equal("application/json; type=entry");
    const get = items[1];
    if (get?.kind !== "operation") throw new Error("expected an operation");
    expect([get.operation.method, get.operation.url, get.operation.body]).to.deep.equal([
      "GET",
      "accounts?$select=name",
      "",
    ]);
  });

  it("refuses a GET inside a change set, a missing boundary and an unterminated body", () => {
    const withGet = sampleBatch().replace("PATCH $1 HTTP/1.1", "GET $1 HTTP/1.1");
    expect(() => parseBatchRequest("multipart/mixed; boundary=batch_AAA123", withGet)).to.throw(
      BatchFormatError,
      /GET/,
    );
    expect(() => parseBatchRequest("application/json", "{}")).to.throw(
      BatchFormatError,
      /boundary/,
    );
    expect(() =>
      parseBatchRequest(
        "multipart/mixed; boundary=b",
        "--b\r\nContent-Type: application/http\r\n\r\nGET x HTTP/1.1\r\n",
      ),
    ).to.throw(BatchFormatError, /--b--/);
  });

  it("writes batchresponse_ and changesetresponse_ parts that read back", () => {
    const { contentType, body } = writeBatchResponse([
      {
        kind: "changeset",
        responses: [
          {
            status: 204,
            headers: { "OData-EntityId": "https://x/accounts(1)" },
            body: "",
            contentId: "1",
          },
        ],
      },
      {
        kind: "operation",
        response: {
          status: 200,
          headers: { "Content-Type": "application/json" },
          body: '{"value":[]}',
        },
      },
    ]);
    expect(contentType).to.match(/^multipart\/mixed; boundary=batchresponse_[0-9a-f-]{36}$/);
    expect(body.startsWith("--batchresponse_")).to.equal(true);
    expect(body).to.match(/Content-Type: multipart\/mixed; boundary=changesetresponse_/);
    expect(body).to.contain("HTTP/1.1 204 No Content\r\nOData-EntityId: https://x/accounts(1)");
    expect(body).to.contain("Content-ID: 1");
    expect(body).to.contain(
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"value":[]}',
    );
    // The writer's output is itself a well-formed multipart body.
    const boundary = boundaryOf(contentType) as string;
    expect(body.trimEnd().endsWith(`--${boundary}--`)).to.equal(true);
  });
});

describe("Change sets over a TableSet", () => {
  function tables(): TableSet {
    const set = new TableSet("fno", "test");
    set.define({ name: "Things", keyFields: ["Id"] });
    set.insert("Things", { Id: "keep", Value: 1 }, "seed");
    return set;
  }

  it("keeps every write of a change set that succeeds", async () => {
    const set = tables();
    const items = parseBatchRequest("multipart/mixed; boundary=batch_AAA123", sampleBatch());
    let n = 0;
    const { responses, wrote } = await runBatch(items, {
      continueOnError: false,
      execute: (op, journal, references) => {
        n++;
        if (op.method === "POST") journal.insert(set, "Things", { Id: "new", Value: 2 }, "client");
        if (op.method === "PATCH") {
          expect(op.url).to.equal("https://x/Things('new')"); // `$1` resolved through the Content-ID
          expect(references.get("1")).to.equal("https://x/Things('new')");
          journal.update(set, "Things", "new", { Value: 3 }, "client");
        }
        const headers: Record<string, string> =
          op.method === "POST" ? { "OData-EntityId": "https://x/Things('new')" } : {};
        return Promise.resolve({ status: op.method === "GET" ? 200 : 204, headers, body: "" });
      },
    });
    expect(n).to.equal(3);
    expect(wrote).to.equal(true);
    expect(responses.map((r) => r.kind)).to.deep.equal(["changeset", "operation"]);
    expect(set.get("Things", "new")?.row).to.deep.equal({ Id: "new", Value: 3 });
  });

  it("undoes every write of a change set when one operation fails, and stops the batch", async () => {
    const set = tables();
    const keepVersion = set.get("Things", "keep")?.version;
    const items = parseBatchRequest("multipart/mixed; boundary=batch_AAA123", sampleBatch());
    const seen: string[] = [];
    const { responses } = await runBatch(items, {
      continueOnError: false,
      execute: (op, journal) => {
        seen.push(op.method);
        if (op.method === "POST") {
          journal.insert(set, "Things", { Id: "new", Value: 2 }, "client");
          journal.update(set, "Things", "keep", { Value: 10, Extra: "x" }, "client");
          return Promise.resolve({
            status: 204,
            headers: { "OData-EntityId": "https://x/Things('new')" },
            body: "",
          });
        }
        return Promise.resolve({
          status: 400,
          headers: {},
          body: '{"error":{"code":"x","message":"no"}}',
        });
      },
    });
    expect(seen).to.deep.equal(["POST", "PATCH"]); // the GET after the failed change set never ran
    expect(responses).to.have.length(1);
    expect(responses[0]?.kind === "operation" && responses[0].response.status).to.equal(400);
    expect(set.get("Things", "new")).to.equal(undefined);
    // The row is back as it was, version (ETag) included: a rollback, not a compensating write.
    expect(set.get("Things", "keep")).to.deep.equal({
      row: { Id: "keep", Value: 1 },
      version: keepVersion,
    });
  });

  it("undoes the copies a listener made on another table set, without calling listeners again", async () => {
    // Two sides and a listener copying client writes from one to the other, as live sync does.
    const fno = tables();
    const dv = new TableSet("dataverse", "test");
    dv.define({ name: "Copies", keyFields: ["Id"] });
    const events: string[] = [];
    const copy = (e: WriteEvent): void => {
      events.push(`${e.kind}:${e.op}:${e.key}:${e.origin}`);
      if (e.origin !== "client") return;
      if (e.op === "create") dv.insert("Copies", { ...e.after }, "runtime");
      if (e.op === "update") dv.update("Copies", e.key, { ...e.after }, "runtime");
      if (e.op === "delete") dv.delete("Copies", e.key, "runtime");
    };
    fno.onWrite(copy);
    dv.onWrite(copy);
    dv.insert("Copies", { Id: "keep", Value: 1 }, "seed");
    const items = parseBatchRequest("multipart/mixed; boundary=batch_AAA123", sampleBatch());
    await runBatch(items, {
      continueOnError: true,
      execute: (op, journal) => {
        if (op.method === "POST") {
          journal.insert(fno, "Things", { Id: "new", Value: 2 }, "client");
          journal.update(fno, "Things", "keep", { Value: 5 }, "client");
          journal.delete(fno, "Things", "new", "client");
          journal.insert(fno, "Things", { Id: "new", Value: 3 }, "client");
          return Promise.resolve({ status: 204, headers: {}, body: "" });
        }
        if (op.method === "PATCH") return Promise.resolve({ status: 409, headers: {}, body: "" });
        return Promise.resolve({ status: 200, headers: {}, body: "{}" });
      },
    });
    const forward = events.length;
    expect(forward).to.be.greaterThan(0);
    expect(fno.get("Things", "new")).to.equal(undefined);
    expect(dv.get("Copies", "new")).to.equal(undefined);
    expect(fno.get("Things", "keep")?.row).to.deep.equal({ Id: "keep", Value: 1 });
    expect(dv.get("Copies", "keep")?.row).to.deep.equal({ Id: "keep", Value: 1 });
    // Every event is a forward write (client, then its copy); the undo emitted none.
    expect(events.filter((e) => e.endsWith(":client")).length).to.equal(4);
    expect(events.filter((e) => e.endsWith(":runtime")).length).to.equal(4);
  });

  it("leaves nothing behind of a failed operation outside a change set", async () => {
    const set = tables();
    const items = parseBatchRequest(
      "multipart/mixed; boundary=b",
      [
        "--b",
        "Content-Type: application/http",
        "",
        "POST Things HTTP/1.1",
        "",
        "{}",
        "--b--",
        "",
      ].join(CRLF),
    );
    const { responses, wrote } = await runBatch(items, {
      continueOnError: false,
      execute: (_op, journal) => {
        journal.insert(set, "Things", { Id: "half", Value: 1 }, "client");
        return Promise.resolve({ status: 500, headers: {}, body: "" });
      },
    });
    expect(responses[0]?.kind === "operation" && responses[0].response.status).to.equal(500);
    expect(set.get("Things", "half")).to.equal(undefined);
    expect(wrote).to.equal(false);
  });

  it("rolls back deletes by putting the row back, and undoes a journal back to its savepoint", async () => {
    const set = tables();
    await runInTransaction(async (tx) => {
      set.insert("Things", { Id: "before", Value: 0 }, "client");
      const journal = new WriteJournal(); // savepoint after "before"
      journal.delete(set, "Things", "keep", "client");
      expect(set.count("Things")).to.equal(1);
      journal.rollback();
      expect(set.get("Things", "keep")?.row).to.deep.equal({ Id: "keep", Value: 1 });
      expect(set.get("Things", "before")?.row).to.deep.equal({ Id: "before", Value: 0 });
      tx.rollback();
      return Promise.resolve();
    });
    expect(set.get("Things", "before")).to.equal(undefined);
    expect(() => new WriteJournal().rollback()).to.throw(/outside a transaction/);
  });

  it("never overwrites a later writer's change, and runs the registered undo steps", async () => {
    const set = tables();
    const queue: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const inside = runInTransaction(async (tx) => {
      set.update("Things", "keep", { Value: 2 }, "client");
      queue.push("change");
      tx.onRollback(() => queue.pop());
      await held; // another request runs meanwhile (a save in progress)
      throw new Error("the save failed");
    });
    // Outside the transaction: a later writer of the same row, and a row of its own.
    await new Promise((r) => setImmediate(r));
    set.update("Things", "keep", { Value: 3 }, "client");
    release();
    await inside.then(
      () => expect.fail("expected the transaction to fail"),
      (e: unknown) => expect((e as Error).message).to.equal("the save failed"),
    );
    expect(set.get("Things", "keep")?.row).to.deep.equal({ Id: "keep", Value: 3 });
    expect(queue).to.deep.equal([]);
  });
});

describe("OData resource paths and key predicates", () => {
  const cases: ReadonlyArray<[string, unknown]> = [
    ["accounts", { head: "accounts", rest: [] }],
    [
      "accounts(6A1B7E5F-0000-4000-8000-000000000001)",
      {
        head: "accounts",
        key: {
          raw: "6A1B7E5F-0000-4000-8000-000000000001",
          single: "6a1b7e5f-0000-4000-8000-000000000001",
          named: [],
        },
        rest: [],
      },
    ],
    [
      "accounts(accountnumber='A/1''x')/name",
      {
        head: "accounts",
        key: { raw: "accountnumber='A/1''x'", named: [["accountnumber", "A/1'x"]] },
        rest: ["name"],
      },
    ],
    [
      "CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')",
      {
        head: "CustomersV3",
        key: {
          raw: "dataAreaId='usmf',CustomerAccount='US-001'",
          named: [
            ["dataAreaId", "usmf"],
            ["CustomerAccount", "US-001"],
          ],
        },
        rest: [],
      },
    ],
    ["accounts/$count", { head: "accounts", rest: ["$count"] }],
    ["WhoAmI()", { head: "WhoAmI", key: { raw: "", named: [] }, rest: [] }],
  ];
  for (const [path, expected] of cases) {
    it(`parses ${path}`, () => {
      expect(parseResourcePath(path)).to.deep.equal(expected);
    });
  }

  it("refuses malformed keys", () => {
    expect(() => parseResourcePath("accounts(abc")).to.throw(ResourcePathError);
    expect(() => parseResourcePath("CustomersV3('usmf','US-001')")).to.throw(
      ResourcePathError,
      /named/,
    );
    expect(() => parseResourcePath("accounts(name=bareword)")).to.throw(
      ResourcePathError,
      /not a valid key value/,
    );
  });
});
