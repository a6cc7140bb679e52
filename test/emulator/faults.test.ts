/**
 * Faults, settings, clock and the request pipeline's error answers, observed over HTTPS the way a
 * client sees them: 429 with Retry-After, 5xx, dropped connections, drop after commit, seeded
 * rates that repeat, 404/400/413 in each surface's shape, and a 500 (never a crash) when a
 * handler throws something unexpected.
 */
import { expect } from "chai";
import { ScaledClock } from "../../emulator/core/clock";
import type { EnvironmentPair } from "../../emulator/core/context";
import { FaultEngine } from "../../emulator/core/faults";
import { HostPlan, IDENTITY_ADDRESS } from "../../emulator/core/hosts";
import { Listeners } from "../../emulator/core/listeners";
import { RequestLog } from "../../emulator/core/requestLog";
import { createPipeline } from "../../emulator/core/server";
import { defaultSettings } from "../../emulator/core/settings";
import { defaultTlsDir, ensureTlsMaterial } from "../../emulator/core/tls";
import { dataverseAddress, GATEWAY_AUDIENCE } from "../../emulator/index";
import { rawRequest, startTestEmulator, type TestEmulator } from "../support/emulator";

describe("emulator faults", () => {
  let emu: TestEmulator;
  let dataverseUrl: string;
  let dvToken: string;

  before(async () => {
    emu = await startTestEmulator({ seed: "new-new" });
    dataverseUrl = emu.environments[0]!.dataverseUrl;
    dvToken = await emu.token(dataverseUrl);
  });
  after(() => emu.close());
  afterEach(() => emu.control.clearFaults());

  const whoAmI = () =>
    emu.request("GET", `${dataverseUrl}/api/data/v9.2/WhoAmI`, { token: dvToken });

  it("throttles the next N matching requests with 429, Retry-After and the Dataverse shape", async () => {
    await emu.control.addFault({
      kind: "throttle",
      surface: "dataverse",
      path: "/WhoAmI$",
      count: 2,
      retryAfterSeconds: 7,
    });
    const since = await emu.control.lastRequestSeq();
    const answers = [await whoAmI(), await whoAmI(), await whoAmI()];
    expect(answers.map((a) => a.status)).to.deep.equal([429, 429, 200]);
    expect(answers[0]!.headers["retry-after"]).to.equal("7");
    expect((answers[0]!.json as { error: { code: string } }).error.code).to.equal("0x80072322");
    const logged = await emu.control.requests(since);
    expect(logged.map((r) => r.status)).to.deep.equal([429, 429, 200]);
    const [rule] = await emu.control.faults();
    expect(rule).to.include({ hits: 2, remaining: 0 });
  });

  it("answers an injected 5xx in the gateway's shape", async () => {
    await emu.control.addFault({ kind: "error", surface: "gateway", status: 503, count: 1 });
    const token = await emu.token(GATEWAY_AUDIENCE);
    const url = `${emu.gatewayUrl}/api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=x`;
    const first = await emu.request("GET", url, { token });
    expect(first.status).to.equal(503);
    expect(first.json).to.deep.equal({
      error: {
        code: "ServiceUnavailable",
        message: "The service is temporarily unable to process the request.",
      },
    });
    expect((await emu.request("GET", url, { token })).status).to.equal(200);
  });

  it("drops the connection before answering, and logs it", async () => {
    await emu.control.addFault({ kind: "drop", surface: "dataverse", count: 1 });
    const since = await emu.control.lastRequestSeq();
    const error = await whoAmI().then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(error?.code ?? error?.message).to.match(/ECONNRESET|socket hang up/);
    expect((await whoAmI()).status).to.equal(200);
    const logged = await emu.control.requests(since);
    expect(logged.map((r) => r.outcome)).to.deep.equal(["dropped", "answered"]);
  });

  it("drop after commit: the write is stored although the client got no answer", async () => {
    await emu.control.addFault({
      kind: "dropAfterCommit",
      surface: "dataverse",
      method: "POST",
      path: "/accounts$",
      count: 1,
    });
    const accountnumber = `DROP-${Date.now()}`;
    const error = await emu
      .request("POST", `${dataverseUrl}/api/data/v9.2/accounts`, {
        token: dvToken,
        body: { name: "Ambiguous Ltd", accountnumber },
      })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(error, "the client must see a network error").to.be.instanceOf(Error);
    const rows = await emu.control.rows("dataverse", emu.environments[0]!.name, "accounts");
    expect(rows.filter((r) => r.accountnumber === accountnumber)).to.have.length(1);
    const [last] = (await emu.control.requests()).slice(-1);
    expect(last).to.include({ method: "POST", outcome: "droppedAfterCommit" });
    expect(last!.status).to.be.within(200, 299);
  });

  it("a seeded rate gives the same sequence every time", async () => {
    const pattern = async () => {
      await emu.control.setFaults([
        { kind: "throttle", surface: "dataverse", rate: 0.5, seed: 42 },
      ]);
      const statuses: number[] = [];
      for (let i = 0; i < 16; i++) statuses.push((await whoAmI()).status);
      return statuses;
    };
    const first = await pattern();
    expect(first).to.include(429).and.to.include(200);
    expect(await pattern()).to.deep.equal(first);
  });

  it("never faults the control API; latency rules count their hits", async () => {
    await emu.control.setFaults([
      { kind: "latency", surface: "dataverse", latencyMs: 1 },
      { kind: "error", count: 5 },
    ]);
    expect(await emu.control.environments()).to.have.length(1);
    expect((await whoAmI()).status).to.equal(503);
    const rules = await emu.control.faults();
    expect(rules.map((r) => r.hits)).to.deep.equal([1, 1]);
  });

  it("refuses a bad rule with 400 naming the property, and keeps the old rules", async () => {
    await emu.control.addFault({ kind: "throttle", count: 1 });
    const res = await emu.request("PUT", `${emu.url}/_emulator/faults`, {
      body: [{ kind: "throttle", rate: 2 }, { kind: "bogus" }],
    });
    expect(res.status).to.equal(400);
    const message = (res.json as { error: { message: string } }).error.message;
    expect(message).to.contain("faults[0].rate").and.to.contain("faults[1].kind");
    expect(await emu.control.faults()).to.have.length(1);
  });

  it("takes faults from startEmulator options", async () => {
    const other = await startTestEmulator({
      faults: [{ kind: "throttle", surface: "identity", count: 1, retryAfterSeconds: 3 }],
    });
    try {
      const res = await other.request(
        "GET",
        `${other.url}/${other.credentials.tenantId}/v2.0/.well-known/openid-configuration`,
      );
      expect(res.status).to.equal(429);
      expect(res.headers["retry-after"]).to.equal("3");
      expect((res.json as { error: string }).error).to.equal("temporarily_unavailable");
    } finally {
      await other.close();
    }
  });

  describe("settings and clock", () => {
    it("reads and changes settings, refusing unknown or bad ones by name", async () => {
      const before = await emu.control.settings();
      expect(before).to.include({
        tokenLifetimeSeconds: 3600,
        jobRowsPerSecond: 2000,
        transitionMs: 200,
      });
      const after = await emu.control.updateSettings({
        transitionMs: 5,
        jobRowsPerSecond: 100_000,
      });
      expect(after).to.include({
        transitionMs: 5,
        jobRowsPerSecond: 100_000,
        tokenLifetimeSeconds: 3600,
      });
      expect(emu.context.settings.transitionMs).to.equal(5);
      const bad = await emu.request("PUT", `${emu.url}/_emulator/settings`, {
        body: { transitionMS: 1, jobRowsPerSecond: -1 },
      });
      expect(bad.status).to.equal(400);
      expect((bad.json as { error: { message: string } }).error.message)
        .to.contain("'transitionMS'")
        .and.to.contain("settings.jobRowsPerSecond");
      await emu.control.updateSettings({
        transitionMs: before.transitionMs,
        jobRowsPerSecond: before.jobRowsPerSecond,
      });
    });

    it("changes the clock speed and jumps emulated time forward", async () => {
      const start = await emu.control.clock();
      const fast = await emu.control.setClock({ speed: 50, advanceMs: 3_600_000 });
      expect(fast.speed).to.equal(50);
      expect(fast.now - start.now).to.be.at.least(3_600_000);
      expect(emu.context.clock.speed).to.equal(50);
      await emu.control.setClock({ speed: 1 });
    });
  });

  describe("ScaledClock", () => {
    it("wakes a long emulated sleep when time is advanced, without waiting for it", async () => {
      const clock = new ScaledClock(1);
      try {
        const start = clock.now();
        const woke = clock.sleep(3_600_000).then(() => clock.now());
        clock.advance(3_600_000);
        expect(await woke).to.be.at.least(start + 3_600_000);
      } finally {
        clock.dispose();
      }
    });

    it("keeps time continuous when the speed changes, and refuses a bad speed", () => {
      const clock = new ScaledClock(1, 1_000_000);
      const before = clock.now();
      clock.setSpeed(1000);
      expect(clock.now()).to.be.at.least(before);
      expect(clock.speed).to.equal(1000);
      expect(() => clock.setSpeed(0)).to.throw(RangeError, /positive/);
      expect(() => clock.advance(-1)).to.throw(RangeError, /non-negative/);
      clock.dispose();
    });
  });

  describe("pipeline answers", () => {
    it("answers unknown paths with 404 in each surface's shape", async () => {
      const gw = await emu.request("GET", `${emu.gatewayUrl}/api/nothing`, {
        token: await emu.token(GATEWAY_AUDIENCE),
      });
      expect(gw.status).to.equal(404);
      expect(gw.json).to.have.nested.property("error.code");
      // A Dataverse address whose slot holds no environment (slot 5: 127.0.0.22). Only used
      // addresses listen, so the request goes to a listening one and names the free host.
      const free = `https://${dataverseAddress(5)}:${emu.port}`;
      const dv = await emu.request("GET", `${dataverseUrl}/api/data/v9.2/accounts`, {
        headers: { host: new URL(free).host },
        token: await emu.control.mintToken({ audience: free }),
      });
      expect(dv.status).to.equal(404);
      expect((dv.json as { error: { code: string } }).error.code).to.equal("0x80040217");
      expect((dv.json as { error: { message: string } }).error.message).to.contain(free);
      const outside = await emu.request("GET", `${dataverseUrl}/x`);
      expect(outside.status).to.equal(404);
      expect(outside.json).to.have.nested.property("error.message");
      const identity = await emu.request("GET", `${emu.url}/favicon.ico`);
      expect(identity.status).to.equal(404);
      expect(identity.json).to.have.property("error_codes");
      const control = await emu.request("GET", `${emu.url}/_emulator/nothing`);
      expect(control.status).to.equal(404);
      expect(control.json).to.have.nested.property("error.code", "NotFound");
    });

    it("answers 405 with Allow for a known path and another method", async () => {
      const res = await emu.request("DELETE", `${emu.url}/_emulator/settings`);
      expect(res.status).to.equal(405);
      expect(res.headers.allow).to.equal("GET, PUT");
    });

    it("answers a bad percent-encoding with 400 in the surface's shape", async () => {
      const res = await emu.request("GET", `${dataverseUrl}/api/data/v9.2/accounts%E0%A4%A`, {
        token: dvToken,
      });
      expect(res.status).to.equal(400);
      expect(res.json).to.have.nested.property("error.message").that.contains("percent-encoding");
    });

    it("answers a handler's unexpected exception with a shaped 500 and keeps serving", async () => {
      const tls = await ensureTlsMaterial(defaultTlsDir());
      const listeners = new Listeners({ key: tls.serverKey, cert: tls.serverCert });
      const port = await listeners.start(0, [IDENTITY_ADDRESS]);
      const environments = new Map<string, EnvironmentPair>();
      const hosts = new HostPlan(port, environments);
      const url = hosts.identityUrl;
      const logged: string[] = [];
      const pipeline = createPipeline({
        ctx: {
          baseUrl: url,
          hosts,
          clock: new ScaledClock(),
          settings: defaultSettings(),
          environments,
          dataverse: new Map(),
          fno: new Map(),
          persist: () => Promise.resolve(),
        },
        faults: new FaultEngine(),
        requestLog: new RequestLog(),
        log: (line) => logged.push(line),
        maxBodyBytes: 10,
        authenticate: () => Promise.reject(new Error("not used")),
        routes: {
          identity: [],
          gateway: [],
          dataverse: [],
          fno: [],
          control: [
            {
              method: "GET",
              pattern: /^boom$/,
              handle: () => {
                throw new TypeError("handler bug");
              },
            },
            {
              method: "POST",
              pattern: /^echo$/,
              handle: (req) => ({ status: 200, body: req.body.toString() }),
            },
          ],
        },
      });
      listeners.setHandler(pipeline.handler);
      try {
        const boom = await rawRequest("GET", `${url}/_emulator/boom`);
        expect(boom.status).to.equal(500);
        expect((boom.json as { error: { message: string } }).error.message).to.contain(
          String(boom.headers["x-ms-request-id"]),
        );
        expect(logged.join("\n")).to.contain("handler bug");
        const big = await rawRequest("POST", `${url}/_emulator/echo`, { body: "x".repeat(11) });
        expect(big.status).to.equal(413);
        const small = await rawRequest("POST", `${url}/_emulator/echo`, { body: "x".repeat(10) });
        expect(small).to.include({ status: 200, text: "xxxxxxxxxx" });
      } finally {
        listeners.closeAllConnections();
        await listeners.close();
      }
    });
  });
});
