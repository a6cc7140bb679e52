/**
 * Service protection over HTTPS, as documented: Dataverse's limits count per user (an app-only
 * token for its application, a delegated token for its user), the concurrency limit of 52 is
 * reached by concurrent slow requests (a latency fault is spent while the request is in flight),
 * admitted answers carry the `x-ms-ratelimit-*` headers, and a `$batch` is one request. F&O
 * throttles a user over its budget with 429 + `Retry-After`, without any fault rule.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { startTestEmulator, type TestEmulator, type TestResponse } from "../support/emulator";

function errorOf(res: TestResponse): { code: string; message: string } {
  return (res.json as { error: { code: string; message: string } }).error;
}

describe("service protection (HTTPS)", function () {
  let emu: TestEmulator;
  let dataverse: string;
  let fno: string;

  before(async () => {
    // The 5-minute window lasts one real second at speed 300.
    emu = await startTestEmulator({
      seed: { scenario: "new-new", name: "limits" },
      settings: { dataverseRequestsPerWindow: 4, fnoRequestsPerWindow: 3 },
      clock: { speed: 300 },
    });
    const env = emu.environments.find((e) => e.name === "limits")!;
    dataverse = env.dataverseUrl;
    fno = env.financeOperationsUrl;
  });
  after(() => emu?.close());

  /** The administrator's delegated token for a resource: another user than the app. */
  async function userToken(resource: string): Promise<string> {
    return (await emu.adminCredential().getToken(`${resource}/.default`)).token;
  }

  const whoAmI = (token: string): Promise<TestResponse> =>
    emu.request("GET", `${dataverse}/api/data/v9.2/WhoAmI`, { token });

  it("counts Dataverse requests per user, with the remaining budget in the documented headers", async () => {
    await sleep(1100); // a fresh window
    const app = await emu.token(dataverse);
    const user = await userToken(dataverse);
    const remaining: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await whoAmI(app);
      expect(res.status, res.text).to.equal(200);
      remaining.push(String(res.headers["x-ms-ratelimit-burst-remaining-xrm-requests"]));
      expect(res.headers["x-ms-ratelimit-time-remaining-xrm-requests"]).to.match(
        /^\d{1,3}(,\d{3})*\.\d{2}$/,
      );
    }
    expect(remaining).to.deep.equal(["3", "2", "1", "0"]);
    const refused = await whoAmI(app);
    expect(refused.status).to.equal(429);
    expect(errorOf(refused).code).to.equal("0x80072322");
    expect(Number(refused.headers["retry-after"])).to.be.at.least(1);
    // The administrator is another user with a budget of its own.
    const other = await whoAmI(user);
    expect(other.status, other.text).to.equal(200);
    expect(other.headers["x-ms-ratelimit-burst-remaining-xrm-requests"]).to.equal("3");
  });

  it("counts a $batch as one request, whatever it holds", async () => {
    await sleep(1100);
    const app = await emu.token(dataverse);
    const boundary = `batch_${randomUUID()}`;
    const body = [
      ...Array.from({ length: 6 }, () => [
        `--${boundary}`,
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        "GET WhoAmI HTTP/1.1",
        "",
      ]).flat(),
      `--${boundary}--`,
      "",
    ].join("\r\n");
    const res = await emu.request("POST", `${dataverse}/api/data/v9.2/$batch`, {
      token: app,
      body,
      headers: { "content-type": `multipart/mixed; boundary=${boundary}` },
    });
    expect(res.status).to.equal(200);
    expect(res.text.match(/HTTP\/1\.1 200 OK/g)).to.have.length(6);
    expect(res.headers["x-ms-ratelimit-burst-remaining-xrm-requests"]).to.equal("3");
  });

  it("refuses the 53rd concurrent request of a user, and only that many", async function () {
    this.timeout(30_000);
    await emu.control.updateSettings({ dataverseRequestsPerWindow: 6000 });
    const rule = await emu.control.addFault({
      kind: "latency",
      surface: "dataverse",
      path: "/WhoAmI$",
      latencyMs: 4000,
    });
    try {
      const app = await emu.token(dataverse);
      const answers = await Promise.all(Array.from({ length: 60 }, () => whoAmI(app)));
      const refused = answers.filter((a) => a.status === 429);
      expect(answers.filter((a) => a.status === 200)).to.have.length(52);
      expect(refused).to.have.length(8);
      expect(errorOf(refused[0]!)).to.deep.equal({
        code: "0x80072326",
        message: "Number of concurrent requests exceeded the limit of 52.",
      });
      expect(refused[0]!.headers["retry-after"]).to.equal("1");
    } finally {
      await emu.control.removeFault(rule.id);
      await emu.control.updateSettings({ dataverseRequestsPerWindow: 4 });
    }
  });

  it("throttles an F&O user over its budget with 429 and Retry-After, without a fault rule", async () => {
    await sleep(1100);
    expect(await emu.control.faults()).to.deep.equal([]);
    const app = await emu.token(fno);
    const legalEntities = (token: string) =>
      emu.request("GET", `${fno}/data/LegalEntities`, { token });
    for (let i = 0; i < 3; i++) expect((await legalEntities(app)).status).to.equal(200);
    const refused = await legalEntities(app);
    expect(refused.status).to.equal(429);
    expect(errorOf(refused).code).to.equal("");
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).to.equal(true);
    expect(errorOf(refused).message).to.equal(
      `The request was throttled by priority-based throttling. Retry after ${retryAfter} seconds.`,
    );
    // Another user is not throttled; the throttled one is served again after Retry-After.
    expect((await legalEntities(await userToken(fno))).status).to.equal(200);
    await sleep(retryAfter * 1000);
    expect((await legalEntities(app)).status).to.equal(200);
  });
});
