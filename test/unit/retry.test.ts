import { expect } from "chai";
import {
  DEFAULT_RETRY_POLICY,
  decideRetry,
  parseRetryAfter,
  retryDelay,
  type RetryPolicy,
} from "../../provider/clients/retry";

const policy: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  maxRetryAfterMs: 60_000,
};
const midpoint = () => 0.5;

describe("retry: parseRetryAfter", () => {
  const now = Date.parse("2026-11-24T12:00:00Z");

  it("reads delta-seconds, also fractional", () => {
    expect(parseRetryAfter("120", now)).to.equal(120_000);
    expect(parseRetryAfter(" 0 ", now)).to.equal(0);
    expect(parseRetryAfter("1.5", now)).to.equal(1500);
  });

  it("reads an HTTP-date relative to now, and a past date as zero", () => {
    expect(parseRetryAfter("Tue, 24 Nov 2026 12:00:30 GMT", now)).to.equal(30_000);
    expect(parseRetryAfter("Tue, 24 Nov 2026 11:00:00 GMT", now)).to.equal(0);
  });

  it("takes the first of repeated headers", () => {
    expect(parseRetryAfter(["2", "9"], now)).to.equal(2000);
  });

  it("ignores absent, empty and malformed values", () => {
    expect(parseRetryAfter(undefined, now)).to.equal(undefined);
    expect(parseRetryAfter("", now)).to.equal(undefined);
    expect(parseRetryAfter("-3", now)).to.equal(undefined);
    expect(parseRetryAfter("soon", now)).to.equal(undefined);
    expect(parseRetryAfter("1 2", now)).to.equal(undefined);
  });
});

describe("retry: retryDelay", () => {
  it("honours Retry-After over the computed backoff", () => {
    expect(retryDelay(3, 7000, policy, midpoint)).to.equal(7000);
  });

  it("caps Retry-After at maxRetryAfterMs", () => {
    expect(retryDelay(1, 120_000, policy, midpoint)).to.equal(60_000);
  });

  it("doubles per attempt, with jitter between half and all of it, up to the cap", () => {
    expect(retryDelay(1, undefined, policy, () => 0)).to.equal(50);
    expect(retryDelay(1, undefined, policy, () => 0.999999)).to.equal(100);
    expect(retryDelay(2, undefined, policy, () => 0.999999)).to.equal(200);
    expect(retryDelay(3, undefined, policy, () => 0.999999)).to.equal(400);
    expect(retryDelay(10, undefined, policy, () => 0.999999)).to.equal(1000);
  });
});

describe("retry: decideRetry", () => {
  const decide = (
    args: Partial<Parameters<typeof decideRetry>[0]> &
      Pick<Parameters<typeof decideRetry>[0], "failure">,
  ) => decideRetry({ attempt: 1, idempotent: true, policy, random: midpoint, ...args });

  it("retries 429 for every request, after Retry-After", () => {
    expect(
      decide({ failure: { kind: "status", status: 429 }, idempotent: false, retryAfterMs: 2000 }),
    ).to.deep.equal({
      action: "retry",
      delayMs: 2000,
    });
  });

  it("retries 5xx and 408 for idempotent requests", () => {
    for (const status of [408, 500, 502, 503, 504]) {
      expect(decide({ failure: { kind: "status", status } }).action, String(status)).to.equal(
        "retry",
      );
    }
  });

  it("calls 5xx on a non-idempotent request ambiguous, never retries it", () => {
    expect(decide({ failure: { kind: "status", status: 503 }, idempotent: false })).to.deep.equal({
      action: "ambiguous",
    });
  });

  it("does not retry client errors or 501", () => {
    for (const status of [400, 401, 403, 404, 409, 412, 501]) {
      expect(decide({ failure: { kind: "status", status } }).action, String(status)).to.equal(
        "fail",
      );
    }
  });

  it("retries a dropped connection only when the request may be repeated", () => {
    const reset = { kind: "network", code: "ECONNRESET", sent: true } as const;
    expect(decide({ failure: reset }).action).to.equal("retry");
    expect(decide({ failure: reset, idempotent: false }).action).to.equal("ambiguous");
  });

  it("retries a request that provably never left, even a non-idempotent one", () => {
    const refused = { kind: "network", code: "ECONNREFUSED", sent: false } as const;
    expect(decide({ failure: refused, idempotent: false }).action).to.equal("retry");
  });

  it("stops after maxAttempts", () => {
    const d = decide({ failure: { kind: "status", status: 503 }, attempt: 4 });
    expect(d.action).to.equal("fail");
    expect(d)
      .to.have.property("reason")
      .that.matches(/4 attempts/);
  });

  it("gives up rather than wait longer than maxRetryAfterMs", () => {
    const d = decide({ failure: { kind: "status", status: 429 }, retryAfterMs: 3_600_000 });
    expect(d.action).to.equal("fail");
    expect(d)
      .to.have.property("reason")
      .that.matches(/3600 s/);
  });

  it("uses the default policy when none is given", () => {
    const d = decideRetry({
      attempt: DEFAULT_RETRY_POLICY.maxAttempts,
      failure: { kind: "status", status: 503 },
      idempotent: true,
    });
    expect(d.action).to.equal("fail");
  });
});
