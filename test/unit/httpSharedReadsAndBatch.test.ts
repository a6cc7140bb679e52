import { expect } from "chai";
import { defaultPrimaryKey } from "../../provider/clients/dataverse";
import { parseBatchResponse, writeBatch } from "../../provider/clients/odataBatch";
import { SharedReads } from "../../provider/clients/sharedReads";

describe("http: SharedReads", () => {
  function counter(): { load: () => Promise<number[]>; calls: () => number; release: () => void } {
    let calls = 0;
    let release: () => void = () => undefined;
    return {
      load: () => {
        calls++;
        const n = calls;
        return new Promise<number[]>((resolve) => {
          release = () => resolve([n]);
        });
      },
      calls: () => calls,
      release: () => release(),
    };
  }

  it("shares one load among concurrent readers of a key", async () => {
    const shared = new SharedReads();
    const c = counter();
    const reads = Array.from({ length: 20 }, () => shared.read("maps:1", c.load));
    c.release();
    const values = await Promise.all(reads);
    expect(c.calls()).to.equal(1);
    expect(values.every((v) => v[0] === 1)).to.equal(true);
    expect([shared.loads, shared.hits]).to.deep.equal([1, 19]);
  });

  it("reuses a result within the TTL and loads again after it", async () => {
    let now = 0;
    const shared = new SharedReads({ ttlMs: 1000, now: () => now });
    let calls = 0;
    const load = () => Promise.resolve(++calls);
    expect(await shared.read("k", load)).to.equal(1);
    now = 999;
    expect(await shared.read("k", load)).to.equal(1);
    now = 1000;
    expect(await shared.read("k", load)).to.equal(2);
  });

  it("keeps keys apart and loads on fresh", async () => {
    const shared = new SharedReads();
    let calls = 0;
    const load = () => Promise.resolve(++calls);
    expect(await shared.read("a", load)).to.equal(1);
    expect(await shared.read("b", load)).to.equal(2);
    expect(await shared.read("a", load, { fresh: true })).to.equal(3);
    expect(await shared.read("a", load)).to.equal(3);
  });

  it("does not share or cache a load that was in flight during a write", async () => {
    const shared = new SharedReads();
    const c = counter();
    const early = shared.read("k", c.load);
    shared.invalidate();
    const late = shared.read("k", c.load);
    expect(c.calls()).to.equal(2);
    c.release(); // resolves the second load
    expect(await late).to.deep.equal([2]);
    expect(await shared.read("k", c.load)).to.deep.equal([2]);
    void early;
  });

  it("forgets only the keys a scoped write matches, and does not cache their loads in flight", async () => {
    const shared = new SharedReads();
    let n = 0;
    const load = () => Promise.resolve(++n);
    expect(await shared.read("maps:1", load)).to.equal(1);
    expect(await shared.read("connectionSet:a", load)).to.equal(2);
    const c = counter();
    const inFlight = shared.read("maps:2", c.load);
    shared.invalidate((key) => key.startsWith("maps:"));
    // Kept: a key the write cannot change.
    expect(await shared.read("connectionSet:a", load)).to.equal(2);
    // Forgotten: loaded again.
    expect(await shared.read("maps:1", load)).to.equal(3);
    // The load in flight during the write serves its reader but is not kept.
    c.release();
    expect(await inFlight).to.deep.equal([1]);
    expect(await shared.read("maps:2", load)).to.equal(4);
  });

  it("does not cache failures", async () => {
    const shared = new SharedReads();
    let calls = 0;
    const load = () => (++calls === 1 ? Promise.reject(new Error("boom")) : Promise.resolve(calls));
    try {
      await shared.read("k", load);
      expect.fail("expected the failure");
    } catch (e) {
      expect((e as Error).message).to.equal("boom");
    }
    expect(await shared.read("k", load)).to.equal(2);
  });

  it("gives each reader its own copy", async () => {
    const shared = new SharedReads();
    const first = await shared.read("k", () => Promise.resolve([1, 2]));
    first.push(3);
    expect(await shared.read("k", () => Promise.resolve([9]))).to.deep.equal([1, 2]);
  });
});

describe("http: OData $batch", () => {
  it("writes operations with JSON bodies, and change sets with Content-IDs", () => {
    const plain = writeBatch([
      { method: "PATCH", url: "accounts(1)", body: { name: "A" }, headers: { "If-Match": "*" } },
      { method: "GET", url: "WhoAmI" },
    ]);
    const boundary = /boundary=(\S+)/.exec(plain.contentType)?.[1] ?? "";
    expect(boundary).to.match(/^batch_/);
    expect(plain.body).to.include(
      `--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPATCH accounts(1) HTTP/1.1\r\nContent-Type: application/json\r\nIf-Match: *\r\n\r\n{"name":"A"}`,
    );
    expect(plain.body.endsWith(`--${boundary}--\r\n`)).to.equal(true);
    const atomic = writeBatch([{ method: "POST", url: "accounts", body: {} }], { atomic: true });
    expect(atomic.body).to.match(
      /Content-Type: multipart\/mixed; boundary=changeset_[0-9a-f-]+\r\n/,
    );
    expect(atomic.body).to.include("Content-ID: 1");
  });

  it("reads answers in order, flattening change sets, parsing JSON bodies", () => {
    const body = [
      "--batchresponse_1",
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "",
      "HTTP/1.1 204 No Content",
      "OData-EntityId: https://h/api/data/v9.2/accounts(1)",
      "",
      "",
      "--batchresponse_1",
      "Content-Type: multipart/mixed; boundary=changesetresponse_2",
      "",
      "--changesetresponse_2",
      "Content-Type: application/http",
      "",
      "HTTP/1.1 412 Precondition Failed",
      "Content-Type: application/json; odata.metadata=minimal",
      "",
      '{"error":{"code":"0x80060882","message":"stale"}}',
      "--changesetresponse_2",
      "Content-Type: application/http",
      "",
      "HTTP/1.1 200 OK",
      "",
      "plain text",
      "--changesetresponse_2--",
      "--batchresponse_1--",
      "",
    ].join("\r\n");
    const answers = parseBatchResponse("multipart/mixed; boundary=batchresponse_1", body);
    expect(answers.map((a) => a.status)).to.deep.equal([204, 412, 200]);
    expect(answers[0]?.headers["odata-entityid"]).to.equal("https://h/api/data/v9.2/accounts(1)");
    expect(answers[1]?.body).to.deep.equal({ error: { code: "0x80060882", message: "stale" } });
    expect(answers[2]?.body).to.equal("plain text");
  });

  it("refuses a body that is not multipart", () => {
    expect(() => parseBatchResponse("application/json", "{}")).to.throw(/not multipart\/mixed/);
    expect(() => parseBatchResponse("multipart/mixed; boundary=b", "--b\r\nx")).to.throw(
      /does not end with '--b--'/,
    );
  });
});

describe("http: Dataverse default primary keys", () => {
  it("derives the key column from the set name", () => {
    expect(defaultPrimaryKey("accounts")).to.equal("accountid");
    expect(defaultPrimaryKey("cdm_companies")).to.equal("cdm_companyid");
    expect(defaultPrimaryKey("transactioncurrencies")).to.equal("transactioncurrencyid");
    expect(defaultPrimaryKey("msdyn_customergroups")).to.equal("msdyn_customergroupid");
    expect(defaultPrimaryKey("msdyn_addresses")).to.equal("msdyn_addressid");
    expect(defaultPrimaryKey("msdyn_taxboxes")).to.equal("msdyn_taxboxid");
  });
});
