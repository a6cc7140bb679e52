/**
 * The address plan, observed over HTTPS: every service answers on its own loopback host on the
 * one port (127.0.0.1 Entra ID and control, 127.0.0.2 the gateway at the root of its host, then
 * two hosts per environment pair), chosen by the Host header, else by the address connected to.
 * A path that belongs to another service answers 404 in the shape of the host's own service.
 * The certificate names every address of the plan, so environments seeded later need nothing new.
 */
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { expect } from "chai";
import type { EnvironmentPair } from "../../emulator/core/context";
import {
  dataverseAddress,
  fnoAddress,
  HostPlan,
  hostnameOf,
  MAX_ENVIRONMENT_SLOTS,
  roleOfAddress,
} from "../../emulator/core/hosts";
import { ensureTlsMaterial } from "../../emulator/core/tls";
import { startEmulator } from "../../emulator/index";
import { startTestEmulator, type TestEmulator, type TestResponse } from "../support/emulator";

describe("emulator hosts", () => {
  describe("the address plan", () => {
    it("gives identity, gateway and each slot's F&O and Dataverse an address of their own", () => {
      expect(roleOfAddress("127.0.0.1")).to.deep.equal({ service: "identity" });
      expect(roleOfAddress("127.0.0.2")).to.deep.equal({ service: "gateway" });
      expect([fnoAddress(0), dataverseAddress(0)]).to.deep.equal(["127.0.0.11", "127.0.0.12"]);
      expect([fnoAddress(1), dataverseAddress(1)]).to.deep.equal(["127.0.0.13", "127.0.0.14"]);
      const last = MAX_ENVIRONMENT_SLOTS - 1;
      expect(dataverseAddress(last)).to.equal("127.0.0.254");
      expect(roleOfAddress("127.0.0.253")).to.deep.equal({ service: "fno", slot: last });
      for (const outside of ["127.0.0.3", "127.0.0.10", "127.0.0.255", "10.0.0.11", "::1"])
        expect(roleOfAddress(outside), outside).to.equal(undefined);
      expect(() => fnoAddress(MAX_ENVIRONMENT_SLOTS)).to.throw(RangeError);
    });

    it("reads hosts from Host headers, URLs and sockets", () => {
      expect(hostnameOf("127.0.0.12:8443")).to.equal("127.0.0.12");
      expect(hostnameOf("LOCALHOST:1")).to.equal("127.0.0.1");
      expect(hostnameOf("[::1]:8443")).to.equal("::1");
      expect(hostnameOf("::ffff:127.0.0.11")).to.equal("127.0.0.11");
      expect(hostnameOf("")).to.equal(undefined);

      const pairs = new Map<string, EnvironmentPair>([
        ["dev", { name: "dev", slot: 1, scenario: "new-new", cid: "c", defaultCompany: "DAT" }],
      ]);
      const plan = new HostPlan(8443, pairs);
      expect(plan.fnoUrl("dev")).to.equal("https://127.0.0.13:8443");
      expect(plan.dataverseUrl("dev")).to.equal("https://127.0.0.14:8443");
      for (const text of ["127.0.0.13", "127.0.0.13:8443", "https://127.0.0.13:8443/data/x"])
        expect(plan.environmentAt(text, "fno")?.name, text).to.equal("dev");
      expect(plan.environmentAt("https://127.0.0.13:9999", "fno"), "another port").to.equal(
        undefined,
      );
      expect(plan.environmentAt("127.0.0.13", "dataverse"), "the other side").to.equal(undefined);
      expect(plan.environmentAt("127.0.0.11", "fno"), "a free slot").to.equal(undefined);
      expect(plan.nextSlot()).to.equal(0);
    });
  });

  describe("over HTTPS", () => {
    let emu: TestEmulator;

    before(async () => {
      emu = await startTestEmulator({
        seed: [
          { scenario: "new-new", name: "small" },
          { scenario: "existing-existing", name: "big", size: 3 },
        ],
      });
    });
    after(() => emu.close());

    const env = (name: string) => emu.environments.find((e) => e.name === name)!;
    const legalEntities = async (fnoUrl: string, headers: Record<string, string> = {}) => {
      const res = await emu.request("GET", `${fnoUrl}/data/LegalEntities?$select=LegalEntityId`, {
        token: await emu.token(fnoUrl),
        headers,
      });
      expect(res.status, res.text).to.equal(200);
      return (res.json as { value: Array<{ LegalEntityId: string }> }).value
        .map((v) => v.LegalEntityId)
        .sort();
    };

    it("prints the plan's URLs: gateway at the root of 127.0.0.2, two hosts per pair", () => {
      expect(emu.url).to.equal(`https://127.0.0.1:${emu.port}`);
      expect(emu.gatewayUrl).to.equal(`https://127.0.0.2:${emu.port}`);
      expect(
        emu.environments.map((e) => [e.name, e.financeOperationsUrl, e.dataverseUrl]),
      ).to.deep.equal([
        ["small", `https://127.0.0.11:${emu.port}`, `https://127.0.0.12:${emu.port}`],
        ["big", `https://127.0.0.13:${emu.port}`, `https://127.0.0.14:${emu.port}`],
      ]);
    });

    it("each environment answers on its own host, and the log says which", async () => {
      // Tokens first, so that the log below holds the F&O calls alone.
      await emu.token(env("small").financeOperationsUrl);
      await emu.token(env("big").financeOperationsUrl);
      const since = await emu.control.lastRequestSeq();
      expect(await legalEntities(env("small").financeOperationsUrl)).to.deep.equal(["DAT"]);
      expect(await legalEntities(env("big").financeOperationsUrl)).to.include.members([
        "DAT",
        "DEMF",
        "USMF",
      ]);
      const logged = (await emu.control.requests(since)).map((r) => [
        r.surface,
        r.host,
        r.environment,
        r.path,
      ]);
      expect(logged).to.deep.equal([
        ["fno", "127.0.0.11", "small", "/data/LegalEntities"],
        ["fno", "127.0.0.13", "big", "/data/LegalEntities"],
      ]);
    });

    it("an environment's token is for its own host only", async () => {
      const small = env("small").dataverseUrl;
      const big = env("big").dataverseUrl;
      const res = await emu.request("GET", `${big}/api/data/v9.2/WhoAmI`, {
        token: await emu.token(small),
      });
      expect(res.status).to.equal(401);
      expect((res.json as { error: { message: string } }).error.message).to.contain(
        `is not '${big}'`,
      );
      const own = await emu.request("GET", `${big}/api/data/v9.2/WhoAmI`, {
        token: await emu.token(big),
      });
      expect(own.status, own.text).to.equal(200);
    });

    it("the Host header chooses the service; a host outside the plan falls back to the address", async () => {
      const small = env("small").financeOperationsUrl;
      const big = env("big").financeOperationsUrl;
      // Connected to 'small', addressed to 'big': 'big' answers (token for 'big').
      const res = await emu.request("GET", `${small}/data/LegalEntities?$select=LegalEntityId`, {
        token: await emu.token(big),
        headers: { host: new URL(big).host },
      });
      expect(res.status, res.text).to.equal(200);
      expect((res.json as { value: unknown[] }).value.length).to.be.greaterThan(1);
      // 127.0.0.3 is no address of the plan (the certificate names it, so TLS still checks).
      expect(await legalEntities(small, { host: `127.0.0.3:${emu.port}` })).to.deep.equal(["DAT"]);
    });

    it("a path of another service answers 404 in the shape of the host's own service", async () => {
      const dv = env("small").dataverseUrl;
      const fno = env("small").financeOperationsUrl;
      const dvOnFno = await emu.request("GET", `${fno}/api/data/v9.2/WhoAmI`);
      expectShape(dvOnFno, 404, "fno");
      const fnoOnDv = await emu.request("GET", `${dv}/data/LegalEntities`);
      expectShape(fnoOnDv, 404, "dataverse");
      const gatewayOnIdentity = await emu.request(
        "GET",
        `${emu.url}/api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=127.0.0.11`,
      );
      expectShape(gatewayOnIdentity, 404, "identity");
      const gatewayToken = await emu.token("https://IntegratorApp.com");
      // The old path prefix is gone: the gateway lives at the root of its host.
      const oldPrefix = await emu.request(
        "GET",
        `${emu.gatewayUrl}/gateway/api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=127.0.0.11`,
        { token: gatewayToken },
      );
      expectShape(oldPrefix, 404, "gateway");
      const root = await emu.request(
        "GET",
        `${emu.gatewayUrl}/api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=127.0.0.11`,
        { token: gatewayToken },
      );
      expect(root.status, root.text).to.equal(200);
      const control = await emu.request("GET", `${emu.gatewayUrl}/_emulator/health`, {
        token: gatewayToken,
      });
      expectShape(control, 404, "gateway");
      expect((await emu.request("GET", `${emu.url}/_emulator/health`)).status).to.equal(200);
    });

    it("a fault rule can target one environment, now that paths no longer name it", async () => {
      await emu.control.addFault({
        kind: "error",
        surface: "fno",
        environment: "big",
        status: 503,
        count: 1,
      });
      try {
        // 'small' is not affected; the rule waits for 'big'.
        expect(await legalEntities(env("small").financeOperationsUrl)).to.deep.equal(["DAT"]);
        const big = env("big").financeOperationsUrl;
        const res = await emu.request("GET", `${big}/data/LegalEntities`, {
          token: await emu.token(big),
        });
        expect(res.status).to.equal(503);
      } finally {
        await emu.control.clearFaults();
      }
    });

    it("a pair seeded later gets the next slot, listens there and its URLs are served", async () => {
      const info = await emu.control.seed({ scenario: "new-new", name: "later" });
      expect(info.financeOperationsUrl).to.equal(`https://127.0.0.15:${emu.port}`);
      expect(info.dataverseUrl).to.equal(`https://127.0.0.16:${emu.port}`);
      expect(await legalEntities(info.financeOperationsUrl)).to.deep.equal(["DAT"]);
      const whoAmI = await emu.request("GET", `${info.dataverseUrl}/api/data/v9.2/WhoAmI`, {
        token: await emu.token(info.dataverseUrl),
      });
      expect(whoAmI.status, whoAmI.text).to.equal(200);
    });

    it("presents one certificate naming every address of the plan", async () => {
      const pem = await new Promise<string>((done, fail) => {
        const socket = connect({ host: "127.0.0.14", port: emu.port }, () => {
          const raw = socket.getPeerX509Certificate();
          socket.end();
          if (raw) done(raw.toString());
          else fail(new Error("no certificate"));
        });
        socket.on("error", fail);
      });
      const san = new X509Certificate(pem).subjectAltName ?? "";
      for (const ip of ["127.0.0.1", "127.0.0.2", "127.0.0.11", "127.0.0.64", "127.0.0.254"])
        expect(san, ip).to.contain(`IP Address:${ip}`);
      expect(san).to.contain("DNS:localhost");
    });
  });

  describe("binding and certificates", () => {
    it("names the address when a fixed port is taken on one of them", async () => {
      const blocker = createServer();
      await new Promise<void>((done) => blocker.listen(0, "127.0.0.2", done));
      const port = (blocker.address() as { port: number }).port;
      try {
        let message = "";
        await startEmulator({ port, log: () => undefined }).then(
          (e) => e.close(),
          (e: Error) => (message = e.message),
        );
        expect(message).to.equal(
          `Port ${port} on 127.0.0.2 is in use; choose another --port (0 picks a free one).`,
        );
      } finally {
        blocker.close();
      }
    });

    it("signs the plan's certificate with an existing CA that only had a 127.0.0.1 certificate", async () => {
      const dir = await mkdtemp(join(tmpdir(), "dw-tls-"));
      try {
        const tlsDir = join(dir, "tls");
        const fresh = await ensureTlsMaterial(tlsDir);
        const ca = await readFile(fresh.caCertPath, "utf8");
        // What an older emulator left: its own server.pem, and no server-hosts.pem.
        await rm(join(tlsDir, "server-hosts.pem"));
        await writeFile(join(tlsDir, "server.pem"), "old");
        const upgraded = await ensureTlsMaterial(tlsDir);
        expect(await readFile(upgraded.caCertPath, "utf8")).to.equal(ca);
        const cert = new X509Certificate(upgraded.serverCert);
        expect(cert.checkIssued(new X509Certificate(ca))).to.equal(true);
        expect(cert.verify(new X509Certificate(ca).publicKey)).to.equal(true);
        expect(cert.subjectAltName).to.contain("IP Address:127.0.0.254");
        // And it is kept: the next load reads the same certificate.
        expect((await ensureTlsMaterial(tlsDir)).serverCert).to.equal(upgraded.serverCert);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});

/** Checks a status and the error shape of a service. */
function expectShape(
  res: TestResponse,
  status: number,
  service: "identity" | "gateway" | "dataverse" | "fno",
): void {
  expect(res.status, `${service}: ${res.text}`).to.equal(status);
  const body = res.json as Record<string, unknown>;
  if (service === "identity") {
    expect(body).to.include.keys("error", "error_description", "error_codes");
    return;
  }
  const error = body.error as { code: string; message: string };
  expect(error.message).to.be.a("string");
  const codes = { gateway: "NotFound", dataverse: "0x8006088a", fno: "" };
  expect(error.code, service).to.equal(codes[service]);
}
