/**
 * The HTTP layer and authentication against the in-process emulator over HTTPS: the real
 * `@azure/identity` token flow (secret, certificate, workload identity), token caching, retries
 * under 429/5xx/dropped connections, ambiguous non-idempotent requests, 401 recovery and error
 * redaction. Faults come from the emulator's control API; counts from its request log.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { SignJWT, importPKCS8 } from "jose";
import { TokenProvider, type TokenSource } from "../../provider/auth";
import { HttpClient } from "../../provider/clients/http";
import {
  AmbiguousResponseError,
  DualWriteError,
  HttpError,
  TimeoutError,
} from "../../provider/errors";
import {
  isTokenRequest,
  recordingSleep,
  startClientHarness,
  type ClientHarness,
} from "./clientsHarness";

describe("clients: HTTP layer and authentication (emulator)", () => {
  let h: ClientHarness;
  before(async () => {
    h = await startClientHarness();
  });
  after(() => h?.close());
  afterEach(() => h.emulator.control.clearFaults());

  const whoAmIPath = () => new URL(`${h.env.dataverseUrl}/api/data/v9.2/WhoAmI`).pathname;

  describe("tokens", () => {
    it("gets tokens through @azure/identity with a client secret, one per audience, cached", async () => {
      const clients = h.clients();
      const since = await h.mark();
      await Promise.all([
        clients.dataverse.whoAmI(),
        clients.dataverse.whoAmI(),
        clients.fno.legalEntities(),
      ]);
      for (let i = 0; i < 5; i++) {
        await clients.dataverse.whoAmI();
        await clients.fno.count("LegalEntities");
      }
      const tokens = await h.requestsSince(since, isTokenRequest);
      expect(tokens).to.have.length(2); // Dataverse and F&O: one each, however many calls
      expect(clients.tokens.tokensAcquired).to.equal(2);
      const calls = await h.requestsSince(since, (e) => e.surface !== "identity");
      expect(calls.every((e) => e.status === 200)).to.equal(true);
    });

    it("authenticates with the client certificate", async () => {
      const clients = h.clients(
        {},
        {
          "dualwrite:clientSecret": "",
          "dualwrite:clientCertificatePath": h.emulator.credentials.certificatePath,
        },
      );
      expect(clients.tokens).to.be.instanceOf(TokenProvider);
      const me = await clients.dataverse.whoAmI();
      expect(me.UserId).to.match(/^[0-9a-f-]{36}$/);
    });

    it("authenticates with workload identity (a federated token file)", async () => {
      // The emulator's app trusts its client certificate; a CI system's OIDC token plays the same
      // role: a signed JWT in a file that @azure/identity sends as the client assertion.
      const pem = readFileSync(h.emulator.credentials.certificatePath, "utf8");
      const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(pem)?.[0];
      if (!keyPem) throw new Error("the emulator's client.pem holds no PKCS#8 private key");
      const { tenantId, clientId } = h.emulator.credentials;
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: "RS256" })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(`${h.emulator.url}/${tenantId}/oauth2/v2.0/token`)
        .setIssuedAt()
        .setExpirationTime("10m")
        .setJti(String(Date.now()))
        .sign(await importPKCS8(keyPem, "RS256"));
      const file = join(mkdtempSync(join(tmpdir(), "dw-wi-")), "token");
      writeFileSync(file, jwt);
      const since = await h.mark();
      const clients = h.clients(
        {},
        { "dualwrite:clientSecret": "", "dualwrite:federatedTokenFile": file },
      );
      expect((await clients.dataverse.whoAmI()).OrganizationId).to.be.a("string");
      const [tokenCall] = await h.requestsSince(since, isTokenRequest);
      expect(tokenCall?.status).to.equal(200);
    });

    it("gets a fresh token and repeats the request once after a 401", async () => {
      const clients = h.clients();
      const expired = await h.emulator.control.mintToken({
        audience: h.env.dataverseUrl,
        lifetimeSeconds: -60,
      });
      let handedOutExpired = false;
      // Hands out an expired token first, then the real provider's: the emulator answers 401 to
      // the first attempt and the HTTP layer must recover by itself.
      const tokens: TokenSource = {
        getToken: (scope) => {
          if (!handedOutExpired) {
            handedOutExpired = true;
            return Promise.resolve(expired);
          }
          return clients.tokens.getToken(scope);
        },
        invalidate: (scope) => clients.tokens.invalidate(scope),
      };
      const http = new HttpClient({
        tokens,
        sleep: recordingSleep().sleep,
        extraCaPem: [readFileSync(h.emulator.caCertPath, "utf8")],
      });
      const since = await h.mark();
      const res = await http.request({
        method: "GET",
        url: `${h.env.dataverseUrl}/api/data/v9.2/WhoAmI`,
        scope: `${h.env.dataverseUrl}/.default`,
        accept: [200],
      });
      const calls = await h.requestsSince(since, (e) => e.surface === "dataverse");
      expect(calls.map((c) => c.status)).to.deep.equal([401, 200]);
      expect(http.stats.reauthentications).to.equal(1);
      expect(res.body).to.have.property("UserId");
      http.close();
    });
  });

  describe("retries", () => {
    it("retries 429 after Retry-After and succeeds", async () => {
      const { sleep, delays } = recordingSleep();
      const clients = h.clients({ sleep });
      await clients.dataverse.whoAmI(); // token first, so the log below holds only WhoAmI
      await h.emulator.control.addFault({
        kind: "throttle",
        surface: "dataverse",
        path: "WhoAmI",
        count: 2,
        retryAfterSeconds: 3,
      });
      const since = await h.mark();
      await clients.dataverse.whoAmI();
      const calls = await h.requestsSince(since, (e) => e.path === whoAmIPath());
      expect(calls.map((c) => c.status)).to.deep.equal([429, 429, 200]);
      expect(delays).to.deep.equal([3000, 3000]);
      expect(clients.http.stats.retries).to.equal(2);
    });

    it("gives up at once when Retry-After is longer than allowed, and says so", async () => {
      const { sleep, delays } = recordingSleep();
      const clients = h.clients({ sleep });
      await clients.dataverse.whoAmI();
      await h.emulator.control.addFault({
        kind: "throttle",
        surface: "dataverse",
        path: "WhoAmI",
        count: 1,
        retryAfterSeconds: 3600,
      });
      const error = await clients.dataverse.whoAmI().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(HttpError);
      expect((error as HttpError).status).to.equal(429);
      expect((error as Error).message).to.match(
        /\(the server asked to wait 3600 s, more than the 600 s allowed\)$/,
      );
      expect(delays).to.deep.equal([]);
    });

    it("retries 5xx for idempotent requests with backoff", async () => {
      const { sleep, delays } = recordingSleep();
      const clients = h.clients({ sleep, retry: { baseDelayMs: 100 } });
      await clients.fno.count("LegalEntities");
      await h.emulator.control.addFault({ kind: "error", surface: "fno", status: 503, count: 2 });
      const since = await h.mark();
      const n = await clients.fno.count("LegalEntities");
      expect(n).to.be.greaterThan(0);
      const calls = await h.requestsSince(since, (e) => e.surface === "fno");
      expect(calls.map((c) => c.status)).to.deep.equal([503, 503, 200]);
      expect(delays).to.have.length(2);
      expect(delays[0]).to.be.within(50, 100);
      expect(delays[1]).to.be.within(100, 200);
    });

    it("retries a dropped connection for a GET", async () => {
      const clients = h.clients({ sleep: recordingSleep().sleep });
      await clients.dataverse.whoAmI();
      await h.emulator.control.addFault({
        kind: "drop",
        surface: "dataverse",
        path: "WhoAmI",
        count: 1,
      });
      const since = await h.mark();
      await clients.dataverse.whoAmI();
      const calls = await h.requestsSince(since, (e) => e.path === whoAmIPath());
      expect(calls.map((c) => c.outcome)).to.deep.equal(["dropped", "answered"]);
    });

    it("gives up after the allowed attempts with an error naming method, URL and status", async () => {
      const clients = h.clients({ sleep: recordingSleep().sleep, retry: { maxAttempts: 3 } });
      await clients.dataverse.whoAmI();
      await h.emulator.control.addFault({
        kind: "error",
        surface: "dataverse",
        path: "WhoAmI",
        status: 502,
        count: 10,
      });
      const error = await clients.dataverse.whoAmI().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(HttpError);
      const e = error as HttpError;
      expect([e.method, e.status, e.attempts]).to.deep.equal(["GET", 502, 3]);
      expect(e.url).to.equal(`${h.env.dataverseUrl}/api/data/v9.2/WhoAmI`);
      expect(e.message).to.match(
        /^GET https:\/\/127\.0\.0\.\d+:\d+\/api\/data\/v9\.2\/WhoAmI failed with HTTP 502 after 3 attempts/,
      );
    });

    it("never repeats a non-idempotent request after a 5xx: it is ambiguous", async () => {
      const clients = h.clients({ sleep: recordingSleep().sleep });
      await clients.dataverse.whoAmI();
      await h.emulator.control.addFault({
        kind: "error",
        surface: "dataverse",
        method: "POST",
        path: "/accounts$",
        status: 500,
        count: 1,
      });
      const since = await h.mark();
      const error = await clients.dataverse
        .create("accounts", { name: "Ambiguous Ltd" })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(AmbiguousResponseError);
      expect((error as AmbiguousResponseError).status).to.equal(500);
      const posts = await h.requestsSince(
        since,
        (e) => e.method === "POST" && e.surface === "dataverse",
      );
      expect(posts).to.have.length(1);
    });

    it("never repeats a non-idempotent request after a dropped connection", async () => {
      const clients = h.clients({ sleep: recordingSleep().sleep });
      await clients.dataverse.whoAmI();
      await h.emulator.control.addFault({
        kind: "dropAfterCommit",
        surface: "dataverse",
        method: "POST",
        path: "/accounts$",
        count: 1,
      });
      const since = await h.mark();
      const error = await clients.dataverse
        .create("accounts", { name: "Committed Ltd" })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(AmbiguousResponseError);
      expect((error as Error).message).to.match(
        /may or may not have been applied \(the connection failed/,
      );
      const posts = await h.requestsSince(
        since,
        (e) => e.method === "POST" && e.surface === "dataverse",
      );
      expect(posts.map((p) => p.outcome)).to.deep.equal(["droppedAfterCommit"]);
      const rows = await h.emulator.control.rows("dataverse", h.env.name, "accounts");
      expect(rows.filter((r) => r.name === "Committed Ltd")).to.have.length(1); // applied exactly once
    });
  });

  describe("timeouts", () => {
    it("retries a GET that timed out, then reports a TimeoutError", async () => {
      const clients = h.clients({
        sleep: recordingSleep().sleep,
        timeoutMs: 100,
        retry: { maxAttempts: 2 },
      });
      await clients.dataverse.whoAmI();
      await h.emulator.control.addFault({
        kind: "latency",
        surface: "dataverse",
        path: "WhoAmI",
        latencyMs: 400,
        count: 2,
      });
      const error = await clients.dataverse.whoAmI().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(TimeoutError);
      expect((error as Error).message).to.match(
        /^GET https:\/\/\S+\/WhoAmI got no answer within 100 ms after 2 attempts$/,
      );
      expect(clients.http.stats.retries).to.equal(1);
    });

    it("calls a timed-out non-idempotent request ambiguous and does not send it again", async () => {
      const clients = h.clients({ sleep: recordingSleep().sleep, timeoutMs: 100 });
      await clients.dataverse.whoAmI();
      await h.emulator.control.addFault({
        kind: "latency",
        surface: "dataverse",
        method: "POST",
        path: "/accounts$",
        latencyMs: 400,
        count: 1,
      });
      const since = await h.mark();
      const error = await clients.dataverse
        .create("accounts", { name: "Slow Ltd" })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(AmbiguousResponseError);
      expect((error as Error).message).to.include("(no answer before the timeout)");
      const posts = await h.requestsSince(
        since,
        (e) => e.method === "POST" && e.surface === "dataverse",
      );
      expect(posts).to.have.length(1);
    });
  });

  describe("errors carry no secrets", () => {
    it("a refused token request names the configuration but not the secret", async () => {
      const wrong = "wrong8Q~secret-value-that-must-not-leak";
      const clients = h.clients({}, { "dualwrite:clientSecret": wrong });
      const error = await clients.dataverse.whoAmI().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(DualWriteError);
      expect((error as DualWriteError).code).to.equal("Authentication");
      const text = `${(error as Error).message}\n${inspect(error, { depth: 10 })}`;
      expect(text).to.include("client secret (dualwrite:clientSecret)");
      expect(text).not.to.include(wrong);
      expect(text).not.to.include(h.emulator.credentials.clientSecret);
    });

    it("HTTP errors hold neither the bearer token nor the Authorization header", async () => {
      const clients = h.clients({ sleep: recordingSleep().sleep });
      const token = await clients.tokens.getToken(`${h.env.dataverseUrl}/.default`);
      const error = await clients.dataverse
        .get("accounts", "00000000-0000-0000-0000-000000000000x")
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(HttpError);
      const text = `${(error as Error).message}\n${inspect(error, { depth: 10, showHidden: true })}`;
      expect(text).not.to.include(token);
      expect(text.toLowerCase()).not.to.include("authorization");
      expect(text).not.to.include(h.emulator.credentials.clientSecret);
    });
  });
});
