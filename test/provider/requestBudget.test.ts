/**
 * The gateway request budget of EntityMapBindings on one link (issue 12), counted in the emulator's
 * request log — never timed. Each operation runs in a new "provider process" (its own clients),
 * as `pulumi preview`, `refresh` and `up` do:
 *
 * - a steady preview (check + diff) of N bindings sends the gateway requests of one;
 * - a refresh (read) of N bindings reads the link, its connection set and its map list once,
 *   and asks for prerequisites at most once per binding;
 * - creating N bindings of stopped maps sends at most 4 gateway requests per map.
 */
import { expect } from "chai";
import { startResourceHarness, type ResourceHarness } from "./harness";
import {
  countRequests,
  createFleet,
  makeFleet,
  operation,
  previewFleet,
  refreshFleet,
  type Fleet,
  type SurfaceCounts,
} from "./bindingFleet";
import { GatewayClient } from "../../provider/clients/gateway";
import type { HttpClient, HttpRequest } from "../../provider/clients/http";
import type { EntityMapBindingOutputs } from "../../provider/resources/entityMapBinding/entityMapBinding.schema";

/** Bindings of the fleet. */
const N = 12;
/** The engine's default `--parallel` on a 2-core machine. */
const PARALLEL = 8;

describe("EntityMapBinding request budget (emulator request log)", () => {
  let h: ResourceHarness;
  let fleet: Fleet;
  let made: Map<string, EntityMapBindingOutputs>;

  before(async () => {
    h = await startResourceHarness({ seed: [{ scenario: "existing-existing", name: "ee" }] });
    fleet = await makeFleet(h, "ee", N);
  });
  after(() => h.close());

  /** Runs one operation in a new provider process; its requests by surface. */
  const counted = async <T>(
    run: (ctx: ReturnType<typeof operation>["ctx"]) => Promise<T>,
  ): Promise<{ value: T; counts: SurfaceCounts }> => {
    const op = operation(h, { pollMs: 20 });
    const mark = await h.mark();
    try {
      const value = await run(op.ctx);
      return { value, counts: countRequests(await h.requestsSince(mark)) };
    } finally {
      op.close();
    }
  };

  it(`creating ${N} bindings of stopped maps sends at most 4 gateway requests per map`, async () => {
    const maps = await h.emulator.control.call<{ name: string; stateName?: string }[]>(
      "GET",
      "maps?env=ee",
    );
    const stopped = fleet.maps.filter(
      (m) => maps.find((x) => x.name === m)?.stateName === "Stopped",
    );
    expect(stopped, "every map of the fleet starts Stopped").to.have.length(N);
    const { value, counts } = await counted((ctx) => createFleet(fleet, ctx, PARALLEL));
    made = value;
    expect([...made.values()].map((o) => o.observedState)).to.deep.equal(
      Array<string>(N).fill("Running"),
    );
    // Each map: Start "8" (it has no project yet) and Start "1", nothing per map besides, save
    // the prerequisites, asked once per template and together when asked together.
    expect(counts.gatewayRoutes["POST Start"]).to.equal(2 * N);
    expect(counts.gatewayRoutes["GET Status"] ?? 0).to.equal(0);
    expect(counts.gatewayRoutes["GET Environments"]).to.equal(1);
    expect(counts.gatewayRoutes["GET ConnectionSet"]).to.equal(1);
    expect(counts.gatewayRoutes["POST GetTemplatePrerequisiteSequences"]).to.be.at.most(N);
    expect(counts.gateway, JSON.stringify(counts.gatewayRoutes)).to.be.at.most(4 * N);
  });

  it("a steady preview of N bindings sends the gateway requests of one", async () => {
    const one = await counted((ctx) => previewFleet(fleet, made, ctx, PARALLEL, [fleet.maps[0]!]));
    const all = await counted((ctx) => previewFleet(fleet, made, ctx, PARALLEL));
    expect(one.value, "no change for one").to.equal(false);
    expect(all.value, "no change for all").to.equal(false);
    expect(all.counts.gatewayRoutes).to.deep.equal(one.counts.gatewayRoutes);
    expect(one.counts.gatewayRoutes).to.deep.equal({
      "GET Environments": 1,
      "GET ConnectionSet": 1,
      "GET Entities": 1,
    });
  });

  it("a refresh of N bindings reads the link and its maps once and shares the prerequisites", async () => {
    const { value, counts } = await counted((ctx) => refreshFleet(fleet, made, ctx, PARALLEL));
    expect([...value.values()]).to.deep.equal(Array<string>(N).fill("Running"));
    expect(counts.gatewayRoutes["GET Environments"]).to.equal(1);
    expect(counts.gatewayRoutes["GET ConnectionSet"]).to.equal(1);
    expect(counts.gatewayRoutes["GET Entities"]).to.equal(1);
    // Asked together by the bindings that read the shared list together: fewer calls than maps.
    expect(counts.gatewayRoutes["POST GetTemplatePrerequisiteSequences"]).to.be.below(N);
  });

  it("one id per call (batching off) still asks each template once per operation", async () => {
    const op = operation(h, { pollMs: 20 });
    const mark = await h.mark();
    try {
      const c = op.ctx.clients(fleet.link);
      const gateway = new GatewayClient(h.emulator.gatewayUrl, c.http, {
        batchPrerequisites: false,
      });
      const maps = await gateway.listMaps(fleet.link.environmentId);
      const tids = maps.slice(0, 5).map((m) => m.tid);
      const first = await Promise.all(
        tids.map((t) => gateway.prerequisiteSequence(fleet.link.environmentId, t)),
      );
      const again = await Promise.all(
        tids.map((t) => gateway.prerequisiteSequence(fleet.link.environmentId, t)),
      );
      expect(again).to.deep.equal(first);
      const asked = (await h.requestsSince(mark)).filter((e) =>
        e.path.includes("GetTemplatePrerequisiteSequences"),
      );
      expect(asked).to.have.length(tids.length);
    } finally {
      op.close();
    }
  });
});

describe("GatewayClient prerequisites: several ids in one call (CHOICE) and the fallback", () => {
  /** A gateway that answers prerequisite calls with `answer(ids)`, recording the bodies. */
  const gatewayAnswering = (answer: (ids: string[]) => string[][]) => {
    const bodies: string[][] = [];
    const http = {
      requestJson: (request: HttpRequest) => {
        const ids = request.json as string[];
        bodies.push(ids);
        return Promise.resolve(answer(ids));
      },
    } as unknown as HttpClient;
    return { gateway: new GatewayClient("https://127.0.0.1:1", http), bodies };
  };

  it("asks the ids asked together in one call when the answer has one list per id", async () => {
    const { gateway, bodies } = gatewayAnswering((ids) => ids.map((id) => [`pre-of-${id}`, id]));
    const got = await Promise.all(
      ["a", "b", "c"].map((t) => gateway.prerequisiteSequence("cid", t)),
    );
    expect(got).to.deep.equal([["pre-of-a"], ["pre-of-b"], ["pre-of-c"]]);
    expect(bodies).to.deep.equal([["a", "b", "c"]]);
  });

  it("falls back to one id per call, for good, when the answer has not one list per id", async () => {
    // As the tool reads it: one list, for the first id (DWMapEngine.cs:1569-1580).
    const { gateway, bodies } = gatewayAnswering((ids) => [[`pre-of-${ids[0]}`]]);
    const got = await Promise.all(["a", "b"].map((t) => gateway.prerequisiteSequence("cid", t)));
    expect(got).to.deep.equal([["pre-of-a"], ["pre-of-b"]]);
    const later = await Promise.all(["c", "d"].map((t) => gateway.prerequisiteSequence("cid", t)));
    expect(later).to.deep.equal([["pre-of-c"], ["pre-of-d"]]);
    expect(bodies).to.deep.equal([["a", "b"], ["a"], ["b"], ["c"], ["d"]]);
  });
});
