/**
 * Dataverse service-protection limits in isolation (the HTTP path is covered by
 * test/emulator/dataverse.test.ts and test/emulator/serviceProtection.test.ts): requests per
 * window, concurrency and execution time per user, each with its documented code and a
 * `Retry-After` in real seconds scaled by the emulated clock; the `x-ms-ratelimit-*` headers; who
 * a token counts for; F&O's per-user throttling.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { ScaledClock } from "../../emulator/core/clock";
import type { EmulatorSettings } from "../../emulator/core/context";
import { EmulatorHttpError } from "../../emulator/core/http";
import { defaultSettings } from "../../emulator/core/settings";
import {
  BURST_REMAINING_HEADER,
  ServiceProtection,
  TIME_REMAINING_HEADER,
} from "../../emulator/dataverse/serviceProtection";
import { FnoThrottling } from "../../emulator/fno/throttling";
import { principalOf } from "../../emulator/odata/principal";

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

  it("counts requests per user in a sliding 5-minute window", () => {
    const { clock, protection } = setup(1, { dataverseRequestsPerWindow: 3 });
    for (let i = 0; i < 3; i++) protection.admit("app-a").release();
    const error = refusal(() => protection.admit("app-a"));
    expect([error.status, error.code, error.message]).to.deep.equal([
      429,
      "0x80072322",
      "Number of requests exceeded the limit of 3 over time window of 300 seconds.",
    ]);
    // At speed 1 the oldest request leaves the window in (almost) 300 real seconds.
    expect(Number(error.headers["Retry-After"])).to.be.within(299, 300);
    protection.admit("app-b").release(); // another user has a budget of its own
    clock.advance(300_001);
    protection.admit("app-a").release();
  });

  it("scales Retry-After by the clock speed, never below one second", () => {
    const { protection } = setup(100, { dataverseRequestsPerWindow: 1 });
    protection.admit("app").release();
    expect(refusal(() => protection.admit("app")).headers["Retry-After"]).to.equal("3");
    const { protection: fast } = setup(1_000_000, { dataverseRequestsPerWindow: 1 });
    fast.admit("app").release();
    expect(refusal(() => fast.admit("app")).headers["Retry-After"]).to.equal("1");
  });

  it("refuses a request over the concurrency limit until one ends", () => {
    const { protection } = setup(1, { dataverseConcurrentRequests: 2 });
    const first = protection.admit("app");
    protection.admit("app");
    const error = refusal(() => protection.admit("app"));
    expect([error.status, error.code]).to.deep.equal([429, "0x80072326"]);
    expect(error.message).to.equal("Number of concurrent requests exceeded the limit of 2.");
    first.release();
    protection.admit("app");
  });

  it("refuses requests once the execution time of the window is spent", async () => {
    // At speed 100, 20 real milliseconds of handling are 2,000 emulated ones: over a 1,000 ms budget.
    const { protection } = setup(100, { dataverseExecutionMsPerWindow: 1000 });
    const done = protection.admit("app");
    await sleep(20);
    done.release();
    const error = refusal(() => protection.admit("app"));
    expect([error.status, error.code]).to.deep.equal([429, "0x80072321"]);
    expect(error.message).to.match(
      /^Combined execution time of incoming requests exceeded limit of 1000 milliseconds/,
    );
    expect(Number(error.headers["Retry-After"])).to.be.within(1, 3);
  });

  it("reports the remaining requests and execution seconds as the service writes them", async () => {
    const { protection } = setup(1, {
      dataverseRequestsPerWindow: 2500,
      dataverseExecutionMsPerWindow: 1_200_000,
    });
    const first = protection.admit("user:a");
    expect(first.headers()).to.deep.equal({
      [BURST_REMAINING_HEADER]: "2499",
      [TIME_REMAINING_HEADER]: "1,200.00",
    });
    await sleep(15);
    first.release();
    const second = protection.admit("user:a");
    const headers = second.headers();
    expect(headers[BURST_REMAINING_HEADER]).to.equal("2498");
    // 15+ real ms at speed 1 are spent: "1,199.98" or a little less, always with the separator.
    expect(headers[TIME_REMAINING_HEADER]).to.match(/^1,199\.\d\d$/);
    // Another user's budget is untouched.
    expect(protection.admit("user:b").headers()[BURST_REMAINING_HEADER]).to.equal("2499");
  });
});

describe("who a request counts for", () => {
  const base = { aud: "https://x", tid: "t", appid: "app-1", exp: 0, iss: "i" };

  it("counts a delegated token for its user, by object id or else by name", () => {
    expect(principalOf({ ...base, scp: "user_impersonation", oid: "OID-1", upn: "a@b" })).to.equal(
      "user:oid-1",
    );
    expect(principalOf({ ...base, scp: "user_impersonation", upn: "A@B" })).to.equal("user:a@b");
  });

  it("counts an app-only token for its application, not its service principal", () => {
    expect(principalOf({ ...base, oid: "sp-object-id" })).to.equal("app:app-1");
    expect(principalOf(undefined)).to.equal("anonymous");
  });
});

describe("F&O throttling", () => {
  const clocks: ScaledClock[] = [];
  afterEach(() => clocks.splice(0).forEach((c) => c.dispose()));

  it("refuses a user over the budget of the window with 429 and Retry-After, per user", () => {
    const clock = new ScaledClock(10);
    clocks.push(clock);
    const throttling = new FnoThrottling(clock, { ...defaultSettings(), fnoRequestsPerWindow: 2 });
    throttling.admit("user:a");
    throttling.admit("user:a");
    const error = refusal(() => throttling.admit("user:a"));
    expect([error.status, error.code]).to.deep.equal([429, ""]);
    // 300 emulated seconds at speed 10: 30 real seconds, give or take the time elapsed.
    expect(Number(error.headers["Retry-After"])).to.be.within(29, 30);
    throttling.admit("app:b"); // its own budget
    clock.advance(300_001);
    throttling.admit("user:a");
  });
});
