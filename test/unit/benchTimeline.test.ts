/**
 * The benchmark's reading of the request log (test/bench/support/timeline.ts): the serial chain it
 * names in `npm run bench`, how many transitions overlapped, and the forty-map program's
 * prerequisite figures. Wrong here, the printed figures would mislead without anything failing.
 */
import { expect } from "chai";
import type { RequestLogEntry } from "../../emulator/index";
import {
  abridged,
  describeChain,
  longestSerialChain,
  maxOverlap,
  patternOf,
  type TimedRequest,
} from "../bench/support/timeline";
import { longestChain, widestLevel } from "../bench/programs/forty-maps/index";

function entry(seq: number, surface: RequestLogEntry["surface"], method: string, path: string) {
  return {
    seq,
    requestId: `r${seq}`,
    surface,
    method,
    host: "127.0.0.2",
    path,
    query: "",
    status: 200,
    outcome: "answered",
    at: new Date(0).toISOString(),
  } as RequestLogEntry;
}

function request(seq: number, start: number, end: number, path = `/p${seq}`): TimedRequest {
  const e = entry(seq, "gateway", "GET", path);
  return { entry: e, start, end, pattern: patternOf(e) };
}

describe("bench timeline", () => {
  it("names requests by surface, method and path, ids made generic", () => {
    expect(
      patternOf(
        entry(
          1,
          "gateway",
          "GET",
          "/api/DualWriteManagement/1.0/Status/0f8fad5b-d9cb-469f-a165-70867728950e",
        ),
      ),
    ).to.equal("gateway GET DWM/Status/{id}");
    expect(patternOf(entry(2, "dataverse", "GET", "/api/data/v9.2/accounts"))).to.equal(
      "dataverse GET accounts",
    );
  });

  it("finds the longest chain of requests each starting after the previous ended", () => {
    // a (0-10) → c (20-30) → d (40-50) is serial; b (5-25) overlaps a and c.
    const a = request(1, 0, 10);
    const b = request(2, 5, 25);
    const c = request(3, 20, 30);
    const d = request(4, 40, 50);
    const chain = longestSerialChain([a, b, c, d]);
    expect(chain.map((r) => r.entry.seq)).to.deep.equal([1, 3, 4]);
  });

  it("folds repeated steps of a chain and abridges a long one", () => {
    const chain = [1, 2, 3].map((i) => request(i, i * 10, i * 10 + 5, "/api/x"));
    expect(describeChain(chain)).to.deep.equal(["gateway GET api/x ×3"]);
    const steps = Array.from({ length: 30 }, (_, i) => `s${i}`);
    expect(abridged(steps, 2, 1)).to.deep.equal(["s0", "s1", "… 27 more steps …", "s29"]);
  });

  it("counts the most intervals open at once", () => {
    expect(maxOverlap([0, 50, 100, 400], 200)).to.equal(3);
    expect(maxOverlap([0, 200, 400], 200)).to.equal(1);
    expect(maxOverlap([], 200)).to.equal(0);
  });

  it("measures the prerequisite graph of a set of maps", () => {
    const maps = [
      "cdm_companies - Legal entities",
      "transactioncurrencies - Currencies",
      "msdyn_customergroups - Customer groups",
      "msdyn_paymentterms - Terms of payment",
      "accounts - Customers V3",
    ];
    // Legal entities → customer groups → customers.
    expect(longestChain(maps)).to.equal(3);
    // Legal entities and currencies need nothing; customer groups and terms of payment need the
    // legal entities only.
    expect(widestLevel(maps)).to.equal(2);
  });
});
