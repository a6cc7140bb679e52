/**
 * The `dualwrite-emulator` command, run as a child process the way a user or CI runs it: one JSON
 * line on stdout, serving until SIGTERM/SIGINT, exit 0; bad arguments exit 2 with a message on
 * stderr. A second child process, trusting the CA only through NODE_EXTRA_CA_CERTS, gets a token
 * with `@azure/identity` in exactly two calls, and signs the printed administrator in for the
 * gateway. Every service has its own loopback host on the one port; a restart with the same data
 * directory and port gives the same URLs and credentials.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { expect } from "chai";
import { decodeJwt } from "jose";
import { rawRequest, trustEmulatorCa } from "../support/emulator";

const repoRoot = join(__dirname, "..", "..", "..");
const bin = join(repoRoot, "bin", "dualwrite-emulator.js");

/** A started CLI: its parsed first line and everything it printed. */
interface CliRun {
  readonly child: ChildProcess;
  readonly line: CliLine;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface CliLine {
  url: string;
  caCertPath: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  gatewayUrl: string;
  dualWriteAdmin: { username: string; password: string };
  environments: Array<{ name: string; financeOperationsUrl: string; dataverseUrl: string }>;
}

function startCli(args: string[]): Promise<CliRun> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const onData = () => {
      const newline = out.indexOf("\n");
      if (newline < 0) return;
      child.stdout.off("data", onData);
      try {
        resolve({
          child,
          line: JSON.parse(out.slice(0, newline)) as CliLine,
          stdout: () => out,
          stderr: () => err,
          exit,
        });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
    child.stdout.on("data", onData);
    void exit.then(({ code }) =>
      reject(new Error(`CLI exited (${code}) before printing its line: ${err}`)),
    );
  });
}

describe("dualwrite-emulator CLI", () => {
  it("prints one JSON line, serves, and exits 0 on SIGTERM", async () => {
    const run = await startCli(["--port", "0", "--seed", "new-new"]);
    try {
      const { line } = run;
      expect(line).to.have.all.keys(
        "url",
        "caCertPath",
        "tenantId",
        "clientId",
        "clientSecret",
        "gatewayUrl",
        "dualWriteAdmin",
        "environments",
      );
      expect(line.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
      const port = new URL(line.url).port;
      expect(line.gatewayUrl).to.equal(`https://127.0.0.2:${port}`);
      expect(line.environments).to.deep.equal([
        {
          name: "new-new",
          financeOperationsUrl: `https://127.0.0.11:${port}`,
          dataverseUrl: `https://127.0.0.12:${port}`,
        },
      ]);
      expect(line.dualWriteAdmin.username).to.match(/^dwadmin@[a-z0-9]+\.onmicrosoft\.com$/);
      expect(line.dualWriteAdmin.password).to.have.length.greaterThan(15);
      trustEmulatorCa(line.caCertPath);
      const meta = await rawRequest(
        "GET",
        `${line.url}/${line.tenantId}/v2.0/.well-known/openid-configuration`,
      );
      expect(meta.status).to.equal(200);
    } finally {
      run.child.kill("SIGTERM");
    }
    expect(await run.exit).to.deep.equal({ code: 0, signal: null });
    expect(run.stdout().trim().split("\n")).to.have.length(1);
  });

  it("shuts down cleanly on SIGINT; restarted on its data directory and port, it keeps URLs, CA and credentials", async () => {
    const { mkdtemp, readFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dataDir = await mkdtemp(join(tmpdir(), "dw-cli-"));
    try {
      const run = await startCli([
        "--seed",
        "dev=new-new",
        "--seed",
        "test=existing-new",
        "--data-dir",
        dataDir,
      ]);
      const first = run.line;
      expect(first.environments.map((e) => e.name)).to.deep.equal(["dev", "test"]);
      const ca = await readFile(first.caCertPath, "utf8");
      run.child.kill("SIGINT");
      expect((await run.exit).code).to.equal(0);

      const port = new URL(first.url).port;
      const again = await startCli(["--data-dir", dataDir, "--port", port]);
      try {
        // Same hosts for the same pairs (slots are saved), same tenant, app and administrator.
        expect(again.line).to.deep.equal(first);
        expect(await readFile(again.line.caCertPath, "utf8")).to.equal(ca);
        trustEmulatorCa(again.line.caCertPath);
        for (const env of again.line.environments) {
          const res = await rawRequest("GET", `${env.dataverseUrl}/api/data/v9.2/WhoAmI`);
          // No token: the Dataverse host answers, in Dataverse's shape, with its challenge.
          expect(res.status, env.name).to.equal(401);
          expect(res.headers["www-authenticate"], env.name).to.contain(
            `resource_id=${env.dataverseUrl}`,
          );
        }
      } finally {
        again.child.kill("SIGINT");
        expect((await again.exit).code).to.equal(0);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("a child process trusting the CA through NODE_EXTRA_CA_CERTS gets a token in two calls", async () => {
    const run = await startCli(["--port", "0"]);
    try {
      const { line } = run;
      const script = `
        const { ClientSecretCredential } = require("@azure/identity");
        new ClientSecretCredential(process.env.AZURE_TENANT_ID, process.env.AZURE_CLIENT_ID, process.env.AZURE_CLIENT_SECRET,
          { authorityHost: process.env.AZURE_AUTHORITY_HOST, disableInstanceDiscovery: true })
          .getToken("https://IntegratorApp.com/.default")
          .then((t) => process.stdout.write(t.token), (e) => { process.stderr.write(String(e)); process.exit(1); });`;
      const child = spawn(process.execPath, ["-e", script], {
        cwd: repoRoot,
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: line.caCertPath,
          AZURE_AUTHORITY_HOST: line.url,
          AZURE_TENANT_ID: line.tenantId,
          AZURE_CLIENT_ID: line.clientId,
          AZURE_CLIENT_SECRET: line.clientSecret,
        },
      });
      let token = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (token += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((done) => child.on("exit", done));
      expect(code, err).to.equal(0);
      expect(decodeJwt(token)).to.include({ aud: "https://IntegratorApp.com", tid: line.tenantId });

      trustEmulatorCa(line.caCertPath);
      const log = await rawRequest("GET", `${line.url}/_emulator/requests`);
      const calls = (log.json as Array<{ method: string; path: string }>).map(
        (r) => `${r.method} ${r.path}`,
      );
      expect(calls).to.deep.equal([
        `GET /${line.tenantId}/v2.0/.well-known/openid-configuration`,
        `POST /${line.tenantId}/oauth2/v2.0/token`,
      ]);
    } finally {
      run.child.kill("SIGTERM");
      await run.exit;
    }
  });

  it("a child process signs the printed administrator in (UsernamePasswordCredential) and calls the gateway", async () => {
    const run = await startCli(["--port", "0", "--seed", "new-new"]);
    try {
      const { line } = run;
      const script = `
        const { UsernamePasswordCredential } = require("@azure/identity");
        const line = JSON.parse(process.env.EMULATOR_LINE);
        const host = new URL(line.environments[0].financeOperationsUrl).hostname;
        new UsernamePasswordCredential("organizations", "2e49aa60-1bd3-43b6-8ab6-03ada3d9f08b",
          line.dualWriteAdmin.username, line.dualWriteAdmin.password,
          { authorityHost: line.url, disableInstanceDiscovery: true })
          .getToken("https://IntegratorApp.com/.default")
          .then((t) => fetch(line.gatewayUrl + "/api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=" + host,
            { headers: { authorization: "Bearer " + t.token } }))
          .then(async (r) => process.stdout.write(r.status + " " + (await r.text())),
            (e) => { process.stderr.write(String(e)); process.exit(1); });`;
      const child = spawn(process.execPath, ["-e", script], {
        cwd: repoRoot,
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: line.caCertPath,
          EMULATOR_LINE: JSON.stringify(line),
        },
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((done) => child.on("exit", done));
      expect(code, err).to.equal(0);
      // Not linked yet: the gateway answers an empty list (DWEnvCalls.cs:24-38), to a user token.
      expect(out).to.equal("200 []");
    } finally {
      run.child.kill("SIGTERM");
      await run.exit;
    }
  });

  it("serves a program that uses only @azure/identity and dynamics-web-api with the printed values", async () => {
    // The emulator's promise to its users, as issue 3 states it: start the CLI, hand its line to
    // an ordinary client program, and read cdm_companies and page accounts. The program runs in a
    // separate process that trusts the CA only through NODE_EXTRA_CA_CERTS.
    const run = await startCli(["--port", "0", "--seed", "existing-existing", "--size", "12"]);
    try {
      const { line } = run;
      const env = line.environments[0];
      expect(env, "the seeded environment pair").to.not.equal(undefined);
      const script = `
        const { ClientSecretCredential } = require("@azure/identity");
        const { DynamicsWebApi } = require("dynamics-web-api");
        const line = JSON.parse(process.env.EMULATOR_LINE);
        const dataverseUrl = line.environments[0].dataverseUrl;
        const credential = new ClientSecretCredential(line.tenantId, line.clientId, line.clientSecret,
          { authorityHost: line.url, disableInstanceDiscovery: true });
        const api = new DynamicsWebApi({
          serverUrl: dataverseUrl + "/",
          onTokenRefresh: async () => (await credential.getToken(dataverseUrl + "/.default")).token,
        });
        (async () => {
          const companies = await api.retrieveMultiple({ collection: "cdm_companies" });
          const pages = [];
          let nextPageLink;
          do {
            const page = await api.retrieveMultiple(
              { collection: "accounts", select: ["accountid", "name"], maxPageSize: 10 }, nextPageLink);
            pages.push(page.value.length);
            nextPageLink = page.oDataNextLink;
          } while (nextPageLink);
          process.stdout.write(JSON.stringify({ companies: companies.value.length, pages }));
        })().catch((e) => { process.stderr.write(String(e && e.message || e)); process.exit(1); });`;
      const child = spawn(process.execPath, ["-e", script], {
        cwd: repoRoot,
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: line.caCertPath,
          EMULATOR_LINE: JSON.stringify(line),
        },
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((done) => child.on("exit", done));
      expect(code, err).to.equal(0);
      const result = JSON.parse(out) as { companies: number; pages: number[] };

      trustEmulatorCa(line.caCertPath);
      const rows = await rawRequest("GET", `${line.url}/_emulator/dataverse/${env!.name}/accounts`);
      const accounts = (rows.json as unknown[]).length;
      expect(accounts, "the seed has more accounts than one page").to.be.greaterThan(10);
      expect(result.pages.reduce((a, b) => a + b, 0)).to.equal(accounts);
      expect(result.pages.length).to.equal(Math.ceil(accounts / 10));
      expect(result.pages.every((n) => n <= 10)).to.equal(true);
      const companies = await rawRequest(
        "GET",
        `${line.url}/_emulator/dataverse/${env!.name}/cdm_companies`,
      );
      expect(result.companies).to.equal((companies.json as unknown[]).length);
    } finally {
      run.child.kill("SIGTERM");
      await run.exit;
    }
  });

  it("--print-ca-path prints the CA path alone and exits 0", async () => {
    const child = spawn(process.execPath, [bin, "--print-ca-path"], { cwd: repoRoot });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((done) => child.on("exit", done));
    expect(code).to.equal(0);
    const path = out.trim();
    expect(out).to.equal(`${path}\n`);
    const { readFileSync } = await import("node:fs");
    const { X509Certificate } = await import("node:crypto");
    expect(new X509Certificate(readFileSync(path)).ca).to.equal(true);
  });

  it("refuses bad arguments with exit code 2, a message on stderr and nothing on stdout", async () => {
    for (const args of [["--port", "abc"], ["--unknown"], ["--clock-speed", "0"]]) {
      const child = spawn(process.execPath, [bin, ...args], { cwd: repoRoot });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((done) => child.on("exit", done));
      expect(code, args.join(" ")).to.equal(2);
      expect(out, args.join(" ")).to.equal("");
      expect(err, args.join(" ")).to.contain("dualwrite-emulator:").and.to.contain("Usage:");
    }
  });
});
