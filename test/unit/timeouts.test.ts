/**
 * Program-level timeouts and cancellation, as pure logic: the `timeouts` input's durations, the
 * deadline they give each wait, the earlier of two deadlines (the plugin's `customTimeouts` and the
 * input), and a sleep that a cancellation ends at once.
 */
import { expect } from "chai";
import { cancellableSleep } from "../../provider/clients/cancel";
import { CancelledError } from "../../provider/errors";
import { optionsUnder } from "../../provider/plugin/adapter";
import { DEFAULT_OPTIONS } from "../../provider/resources/common/handler";
import {
  checkTimeouts,
  deadlineOf,
  optionsUnderDeadline,
  parseDuration,
  splitTimeouts,
} from "../../provider/resources/common/timeouts";

describe("timeouts and cancellation (unit)", () => {
  it("reads durations in the engine's syntax", () => {
    expect(parseDuration("90s")).to.equal(90_000);
    expect(parseDuration("30m")).to.equal(1_800_000);
    expect(parseDuration("1h30m")).to.equal(5_400_000);
    expect(parseDuration("250ms")).to.equal(250);
    expect(parseDuration("1.5h")).to.equal(5_400_000);
    for (const bad of ["", "soon", "10", "0s", "-5m", "5 m"])
      expect(parseDuration(bad), bad).to.equal(undefined);
  });

  it("check names the timeouts property and the bad member", () => {
    expect(checkTimeouts({ create: "2h", delete: "10m" })).to.deep.equal([]);
    const [failure] = checkTimeouts({ create: "soon" });
    expect(failure?.property).to.equal("timeouts");
    expect(failure?.reason).to.match(/^timeouts\.create .*"30m"/);
    expect(checkTimeouts({ craete: "1h" })[0]?.reason).to.match(/unknown member "craete"/);
  });

  it("the adapters take `timeouts` out of the lifecycle's inputs", () => {
    const { inputs, timeouts } = splitTimeouts({ mapName: "m", timeouts: { update: "5m" } });
    expect(inputs).to.deep.equal({ mapName: "m" });
    expect(timeouts).to.deep.equal({ update: "5m" });
  });

  it("each wait lasts what is left of the operation's time, never more than its limit", () => {
    let now = 1_000_000;
    const deadline = deadlineOf({ create: "10m" }, "create", now);
    expect(deadlineOf({ create: "10m" }, "update", now)).to.equal(undefined);
    const options = optionsUnderDeadline(DEFAULT_OPTIONS, deadline, () => now);
    expect(options.initialSyncTimeoutMs).to.equal(600_000);
    expect(options.mapActionTimeoutMs).to.equal(600_000);
    now += 9 * 60_000;
    expect(options.initialSyncTimeoutMs).to.equal(60_000);
    now += 5 * 60_000;
    expect(options.linkTimeoutMs, "a spent deadline still gives a clear timeout").to.equal(1_000);
    expect(optionsUnderDeadline(DEFAULT_OPTIONS, undefined)).to.equal(DEFAULT_OPTIONS);
  });

  it("the plugin takes the earlier of customTimeouts and the timeouts input", () => {
    const now = () => 0;
    const scope = { method: "create", timeoutSeconds: 3600, startedAt: 0 };
    expect(optionsUnder(scope, now, { create: "20m" }).initialSyncTimeoutMs).to.equal(1_200_000);
    expect(optionsUnder(scope, now, { create: "2h" }).initialSyncTimeoutMs).to.equal(3_600_000);
    const noEngine = { method: "update", timeoutSeconds: 0, startedAt: 0 };
    expect(optionsUnder(noEngine, now, { update: "5m" }).mapActionTimeoutMs).to.equal(300_000);
  });

  it("a cancellation ends a sleep at once, with the reason", async () => {
    const cancel = new AbortController();
    const sleep = cancellableSleep(
      (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      cancel.signal,
      "request 42",
    );
    const t0 = Date.now();
    const sleeping = sleep(60_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    cancel.abort(new Error("SIGTERM"));
    const error = await sleeping;
    expect(Date.now() - t0).to.be.lessThan(1_000);
    expect(error).to.be.instanceOf(CancelledError);
    expect((error as Error).message)
      .to.match(/request 42/)
      .and.to.match(/SIGTERM/);
    // Once cancelled, a new wait does not even start.
    let second: unknown;
    try {
      await sleep(10);
    } catch (e) {
      second = e;
    }
    expect(second).to.be.instanceOf(CancelledError);
  });
});
