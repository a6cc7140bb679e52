/**
 * Dataverse service-protection limits in isolation (the HTTP path is covered by
 * test/emulator/dataverse.test.ts): requests per window, concurrency and execution time, each with
 * its documented code and a `Retry-After` in real seconds scaled by the emulated clock.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { ScaledClock } from "../../emulator/core/clock";
import type { EmulatorSettings } from "../../emulator/core/context";
import { EmulatorHttpError } from "../../emulator/core/http";
import { defaultSettings } from "../../emulator/core/settings";
import { ServiceProtection } from "../../emulator/dataverse/serviceProtection";

function refusal(fn: () => unknown): EmulatorHttpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof EmulatorHttpError) return e;
    throw e;
  }
  throw new Error("expected a 429");
}

describe("Dataverse service protection", () => {
  const clocks: ScaledClock[] = [];
  afterEach(() => clocks.splice(0).forEach((c) => c.dispose()));

  function setup(
    speed: number,
    overrides: Partial<EmulatorSettings>,
  ): { clock: ScaledClock; protection: ServiceProtection } {
    const clock = new ScaledClock(speed);
    clocks.push(clock);
    return {
      clock,
      protection: new ServiceProtection(clock, { ...defaultSettings(), ...overrides }),
    };
  }

  it("counts requests per app in a sliding 5-minute window", () => {
    const { clock, protection } = setup(1, { dataverseRequestsPerWindow: 3 });
    for (let i = 0; i < 3; i++) protection.admit("app-a")();
    const error = refusal(() => protection.admit("app-a"));
    expect([error.status, error.code, error.message]).to.deep.equal([
      429,
      "0x80072322",
      "Number of requests exceeded the limit of 3 over time window of 300 seconds.",
    ]);
    // At speed 1 the oldest request leaves the window in (almost) 300 real seconds.
    expect(Number(error.headers["Retry-After"])).to.be.within(299, 300);
    protection.admit("app-b")(); // another app has its own budget
    clock.advance(300_001);
    protection.admit("app-a")();
  });

  it("scales Retry-After by the clock speed, never below one second", () => {
    const { protection } = setup(100, { dataverseRequestsPerWindow: 1 });
    protection.admit("app")();
    expect(refusal(() => protection.admit("app")).headers["Retry-After"]).to.equal("3");
    const { protection: fast } = setup(1_000_000, { dataverseRequestsPerWindow: 1 });
    fast.admit("app")();
    expect(refusal(() => fast.admit("app")).headers["Retry-After"]).to.equal("1");
  });

  it("refuses a request over the concurrency limit until one ends", () => {
    const { protection } = setup(1, { dataverseConcurrentRequests: 2 });
    const first = protection.admit("app");
    protection.admit("app");
    const error = refusal(() => protection.admit("app"));
    expect([error.status, error.code]).to.deep.equal([429, "0x80072326"]);
    expect(error.message).to.equal("Number of concurrent requests exceeded the limit of 2.");
    first();
    protection.admit("app");
  });

  it("refuses requests once the execution time of the window is spent", async () => {
    // At speed 100, 20 real milliseconds of handling are 2,000 emulated ones: over a 1,000 ms budget.
    const { protection } = setup(100, { dataverseExecutionMsPerWindow: 1000 });
    const done = protection.admit("app");
    await sleep(20);
    done();
    const error = refusal(() => protection.admit("app"));
    expect([error.status, error.code]).to.deep.equal([429, "0x80072321"]);
    expect(error.message).to.match(
      /^Combined execution time of incoming requests exceeded limit of 1000 milliseconds/,
    );
    expect(Number(error.headers["Retry-After"])).to.be.within(1, 3);
  });
});
