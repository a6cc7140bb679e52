/**
 * `pulumi-dualwrite doctor`, run as a person runs it — `node bin/pulumi-dualwrite.js doctor …`
 * in a child process, settings in environment variables only (no NODE_EXTRA_CA_CERTS: the CA
 * comes through DUALWRITE_CA_CERTIFICATE_PATH, as the provider reads it) — against an in-process
 * emulator: the pass path, and each failure the issue names (app token refused at the gateway,
 * wrong gateway host, environment not linked, expired refresh token, missing gatewayUrl). After
 * every run the emulator's request log shows that only GET requests reached the services (token
 * requests to Entra ID aside), and the output holds no secret and no token.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { main } from "../../cli/main";
import { parseConfigText } from "../../cli/configFile";
import { Action, Maps, Pair } from "../emulator/dualWriteHarness";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import { emulatorEnv, runCli, type CliRun } from "./runCli";

/** The `--json` report, as far as the tests read it. */
interface JsonStep {
  number: number;
  name: string;
  outcome: "PASS" | "WARN" | "FAIL" | "SKIP";
  summary: string;
  details: Array<{ outcome?: string; text: string }>;
  todo?: string;
}
interface JsonReport {
  ok: boolean;
  financeOperationsUrl: string;
  dataverseUrl?: string;
  steps: JsonStep[];
}

describe("pulumi-dualwrite doctor", function () {
  this.timeout(120_000);
  let emu: TestEmulator;
  let linked: Pair;
  let unlinked: Pair;

  before(async () => {
    emu = await startTestEmulator({ settings: { transitionMs: 5, jobRowsPerSecond: 100_000 } });
    linked = await Pair.seed(emu, "existing-existing", 5);
    unlinked = await Pair.seed(emu, "new-new", 2);
    await linked.link(["USMF", "USRT"]);
    const applied = await linked.applySolution("msdyn_DualWriteAppCoreMaps");
    expect(applied.state, applied.result.message).to.equal("2");
    // One map with a project, the others without: step 6 names those.
    const init = await linked.run(Action.init, [Maps.legalEntities]);
    expect(init.state, String(init.errorMessage)).to.equal("2");
  });
  after(() => emu?.close());

  /** The app's settings, the gateway's URL and the CA, as environment variables. */
  function appEnv(): Record<string, string> {
    const env = adminEnv();
    delete env.DUALWRITE_GATEWAY_USERNAME;
    delete env.DUALWRITE_GATEWAY_PASSWORD;
    return env;
  }

  /** `appEnv` plus the gateway's own sign-in as the seeded dual-write administrator. */
  function adminEnv(): Record<string, string> {
    return emulatorEnv(emu);
  }

  /** Runs `node bin/pulumi-dualwrite.js <args>` with only `env` (and PATH) set (see runCli). */
  function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
    return runCli(emu, args, env);
  }

  /** Runs `doctor --json …` and parses the report. */
  async function doctorJson(
    args: string[],
    env: Record<string, string>,
  ): Promise<CliRun & { report: JsonReport }> {
    const run = await cli(["doctor", "--json", ...args], env);
    expect(run.stderr, "nothing on stderr").to.equal("");
    return { ...run, report: JSON.parse(run.stdout) as JsonReport };
  }

  function step(report: JsonReport, name: string): JsonStep {
    const found = report.steps.find((s) => s.name === name);
    if (!found) throw new Error(`no step ${name} in ${JSON.stringify(report.steps)}`);
    return found;
  }

  function outcomes(report: JsonReport): Record<string, string> {
    return Object.fromEntries(report.steps.map((s) => [s.name, s.outcome]));
  }

  it("passes every step for a linked environment, reading the Dataverse URL from the link", async () => {
    const fno = linked.info.financeOperationsUrl;
    const run = await cli(["doctor", "--finance-operations-url", fno], adminEnv());
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    const out = run.stdout;
    for (const [n, title] of [
      [1, "Configuration"],
      [2, "Tokens"],
      [3, "Gateway and environment resolution"],
      [4, "Connection set"],
      [5, "Solutions"],
      [6, "Maps"],
      [7, "Dataverse"],
      [8, "Finance and Operations"],
    ] as const)
      expect(out).to.include(`PASS  ${n}. ${title}:`);
    // Step 1: which credential each surface gets, and where each setting came from.
    expect(out).to.match(/gateway {3}https:\/\/127\.0\.0\.2:\d+: password of dwadmin@/);
    expect(out).to.include(
      `dualwrite:gatewayUsername = ${emu.dualWriteAdmin.username} from DUALWRITE_GATEWAY_USERNAME`,
    );
    expect(out).to.include("dualwrite:clientSecret = [secret] from AZURE_CLIENT_SECRET");
    expect(out).to.include("dualwrite:gatewayPassword = [secret] from DUALWRITE_GATEWAY_PASSWORD");
    // Step 2: a delegated gateway token of the administrator, app-only tokens for the others.
    expect(out).to.include(
      `gateway: delegated token of ${emu.dualWriteAdmin.username} (scp user_impersonation), aud https://IntegratorApp.com`,
    );
    expect(out).to.include(`Dataverse: app-only token, aud ${linked.info.dataverseUrl}`);
    expect(out).to.include(`F&O: app-only token, aud ${fno}`);
    // Steps 3–8: what the emulator holds.
    expect(out).to.include(`knows ${linked.fnoHost}: environment ${linked.cid}`);
    expect(out).to.include("legal entities (2): USMF, USRT");
    expect(out).to.include("msdyn_DualWriteAppCoreMaps");
    expect(out).to.match(/\d+ without a project \(pid\)/);
    expect(out).to.include(`Power Platform environment ${linked.powerAppsEnvironment}`);
    expect(out).to.include("4 legal entities: DAT, DEMF, USMF, USRT");
    expect(out).to.include("0 FAIL");

    // The calls were the ones the steps name, all GETs (checked in `cli`).
    const paths = run.requests.map((r) => `${r.surface} ${r.path}?${r.query}`);
    expect(paths).to.include(
      `gateway /api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=${linked.fnoHost}`,
    );
    for (const p of [
      /^gateway \/api\/ConnectionSet\//,
      /^gateway \/api\/DualWriteManagement\/1\.0\/SolutionAware\/[^/]+\/Solutions\/\?/,
      /^gateway \/api\/DualWriteManagement\/1\.0\/Entities\?targetType=AX&cid=/,
      /^dataverse \/api\/data\/v9\.2\/WhoAmI\?/,
      /^dataverse \/api\/data\/v9\.2\/RetrieveCurrentOrganization/,
      /^fno \/data\/LegalEntities\?/,
    ])
      expect(
        paths.some((x) => p.test(x)),
        String(p),
      ).to.equal(true);
    expect(run.requests.filter((r) => r.surface === "dataverse")[0]?.host).to.equal(
      new URL(linked.info.dataverseUrl).hostname,
    );
  });

  it("warns (JSON) when --dataverse-url is not the link's Dataverse environment", async () => {
    const { code, report } = await doctorJson(
      [
        "--finance-operations-url",
        linked.info.financeOperationsUrl,
        "--dataverse-url",
        unlinked.info.dataverseUrl,
      ],
      adminEnv(),
    );
    expect(code).to.equal(0);
    expect(report.ok).to.equal(true);
    expect(report.dataverseUrl).to.equal(unlinked.info.dataverseUrl);
    const set = step(report, "connectionSet");
    expect(set.outcome).to.equal("WARN");
    expect(set.todo).to.include(`linked to ${linked.info.dataverseUrl}`);
    const dv = step(report, "dataverse");
    expect(dv.outcome).to.equal("WARN");
    expect(dv.details.map((d) => d.text).join("\n")).to.include(
      `the link names Power Platform environment ${linked.powerAppsEnvironment}, but ${unlinked.info.dataverseUrl} is ${unlinked.powerAppsEnvironment}`,
    );
  });

  it("fails at the gateway for an app-only token and says which settings give a user token", async () => {
    const args = ["--finance-operations-url", linked.info.financeOperationsUrl];
    const { code, report, requests } = await doctorJson(args, appEnv());
    expect(code).to.equal(1);
    expect(report.ok).to.equal(false);
    const tokens = step(report, "tokens");
    expect(tokens.outcome).to.equal("WARN");
    expect(tokens.details[0]).to.deep.include({ outcome: "WARN" });
    expect(tokens.details[0]?.text).to.match(
      /^gateway: app-only token, aud https:\/\/IntegratorApp\.com/,
    );
    const gw = step(report, "gatewayEnvironment");
    expect(gw.outcome).to.equal("FAIL");
    expect(gw.summary).to.equal(
      "the gateway refused the app-only token (HTTP 401): it wants a delegated user token",
    );
    expect(gw.todo).to.include("dualwrite:gatewayUsername and dualwrite:gatewayPassword");
    expect(gw.todo).to.include("dualwrite:gatewayRefreshToken");
    expect(outcomes(report)).to.deep.include({
      connectionSet: "SKIP",
      solutions: "SKIP",
      maps: "SKIP",
      financeOperations: "PASS",
    });
    // The gateway itself refused: every gateway request was answered 401.
    const gateway = requests.filter((r) => r.surface === "gateway");
    expect(gateway.length).to.be.greaterThan(0);
    expect(new Set(gateway.map((r) => r.status))).to.deep.equal(new Set([401]));

    // The refusal is the gateway's: allowed app tokens, the same settings resolve the environment.
    await emu.control.updateSettings({ gatewayAcceptsAppTokens: true });
    try {
      const again = await doctorJson(args, appEnv());
      expect(step(again.report, "gatewayEnvironment").outcome).to.equal("PASS");
      expect(step(again.report, "tokens").outcome).to.equal("WARN");
    } finally {
      await emu.control.updateSettings({ gatewayAcceptsAppTokens: false });
    }
  });

  it("fails when nothing answers at the gateway URL", async () => {
    const env = { ...adminEnv(), DUALWRITE_GATEWAY_URL: `https://127.0.0.3:${emu.port}` };
    const { code, report } = await doctorJson(
      ["--finance-operations-url", linked.info.financeOperationsUrl],
      env,
    );
    expect(code).to.equal(1);
    const gw = step(report, "gatewayEnvironment");
    expect(gw.outcome).to.equal("FAIL");
    expect(gw.summary).to.equal(`nothing answers at https://127.0.0.3:${emu.port} (ECONNREFUSED)`);
    expect(gw.todo).to.include("EdgeUniversal.cs:301-343");
    expect(step(report, "tokens").outcome).to.equal("PASS");
  });

  it("fails when the gateway URL names another service (404)", async () => {
    // Entra ID's host: a real mistake is the login host, or an environment's.
    const env = { ...adminEnv(), DUALWRITE_GATEWAY_URL: emu.url };
    const { code, report, requests } = await doctorJson(
      ["--finance-operations-url", linked.info.financeOperationsUrl],
      env,
    );
    expect(code).to.equal(1);
    const gw = step(report, "gatewayEnvironment");
    expect(gw.outcome).to.equal("FAIL");
    expect(gw.summary).to.equal(`no DualWriteManagement gateway at ${emu.url} (HTTP 404)`);
    expect(gw.todo).to.match(/^dualwrite:gatewayUrl is not the gateway: take the scheme and host/);
    expect(
      requests.some(
        (r) => r.path === "/api/DualWriteManagement/1.0/Environments" && r.status === 404,
      ),
    ).to.equal(true);
  });

  it("fails for an environment the gateway does not list: not linked (or wrong region)", async () => {
    const { code, report } = await doctorJson(
      ["--finance-operations-url", unlinked.info.financeOperationsUrl],
      adminEnv(),
    );
    expect(code).to.equal(1);
    const gw = step(report, "gatewayEnvironment");
    expect(gw.outcome).to.equal("FAIL");
    expect(gw.summary).to.equal(
      `the gateway lists no environment ${unlinked.fnoHost}: not linked (or wrong gateway region)`,
    );
    expect(gw.todo).to.include("another region's gateway");
    expect(outcomes(report)).to.deep.equal({
      configuration: "PASS",
      tokens: "PASS",
      gatewayEnvironment: "FAIL",
      connectionSet: "SKIP",
      solutions: "SKIP",
      maps: "SKIP",
      dataverse: "SKIP",
      financeOperations: "PASS",
    });
    expect(step(report, "dataverse").todo).to.equal("give --dataverse-url to check Dataverse");
    // The Dataverse token waits for a URL, and says so.
    expect(
      step(report, "tokens").details.find((d) => d.text.startsWith("Dataverse:")),
    ).to.deep.include({ outcome: "SKIP" });
  });

  it("signs the gateway in with a refresh token, and fails with the credential's message once it has expired", async () => {
    const args = ["--finance-operations-url", linked.info.financeOperationsUrl];
    const fresh = (await emu.control.signIn()).refresh_token;
    const env = { ...appEnv(), DUALWRITE_GATEWAY_REFRESH_TOKEN: fresh };
    const ok = await doctorJson(args, env);
    expect(ok.code).to.equal(0);
    expect(step(ok.report, "tokens").details[0]?.text).to.match(
      new RegExp(
        `^gateway: delegated token of ${emu.dualWriteAdmin.username.replace(/\./g, "\\.")}`,
      ),
    );
    expect(step(ok.report, "configuration").details.map((d) => d.text)).to.include(
      "dualwrite:gatewayRefreshToken = [secret] from DUALWRITE_GATEWAY_REFRESH_TOKEN",
    );

    // Entra ends a single-page app's refresh token a fixed time after sign-in; the emulator's
    // lifetime is read at redemption, so lowering it expires this one.
    const stale = (await emu.control.signIn()).refresh_token;
    await emu.control.updateSettings({ refreshTokenLifetimeSeconds: 0 });
    try {
      const expired = await doctorJson(args, {
        ...appEnv(),
        DUALWRITE_GATEWAY_REFRESH_TOKEN: stale,
      });
      expect(expired.code).to.equal(1);
      const tokens = step(expired.report, "tokens");
      expect(tokens.outcome).to.equal("FAIL");
      expect(tokens.details[0]?.outcome).to.equal("FAIL");
      expect(tokens.details[0]?.text).to.include(
        "the refresh token has expired: sign in again and set dualwrite:gatewayRefreshToken (AADSTS700084",
      );
      expect(tokens.todo).to.match(
        /^sign in again at the dual-write page .* dualwrite:gatewayRefreshToken/,
      );
      expect(step(expired.report, "gatewayEnvironment")).to.deep.include({
        outcome: "SKIP",
        summary: "no gateway token (step 2)",
      });
      expect(step(expired.report, "financeOperations").outcome).to.equal("PASS");
    } finally {
      await emu.control.updateSettings({ refreshTokenLifetimeSeconds: 86_400 });
    }
  });

  it("fails without gatewayUrl, explains how to find it, and still checks Dataverse and F&O", async () => {
    const env = adminEnv();
    delete env.DUALWRITE_GATEWAY_URL;
    const run = await cli(
      [
        "doctor",
        "--finance-operations-url",
        linked.info.financeOperationsUrl,
        "--dataverse-url",
        linked.info.dataverseUrl,
      ],
      env,
    );
    expect(run.code).to.equal(1);
    expect(run.stdout).to.include("FAIL  1. Configuration: dualwrite:gatewayUrl is not set");
    expect(run.stdout).to.match(
      /what to do: Missing dualwrite:gatewayUrl \(or DUALWRITE_GATEWAY_URL\).*developer tools.*DWLibary\/EdgeUniversal\.cs:301-343/,
    );
    expect(run.stdout).to.include(
      "SKIP  3. Gateway and environment resolution: dualwrite:gatewayUrl is not set (step 1)",
    );
    expect(run.stdout).to.include("PASS  7. Dataverse:");
    expect(run.stdout).to.include("PASS  8. Finance and Operations:");
    expect(run.requests.filter((r) => r.surface === "gateway")).to.deep.equal([]);

    // A malformed one fails the same step with the reader's reason.
    const { code, report } = await doctorJson(
      ["--finance-operations-url", linked.info.financeOperationsUrl],
      { ...adminEnv(), DUALWRITE_GATEWAY_URL: emu.gatewayUrl.replace("https:", "http:") },
    );
    expect(code).to.equal(1);
    expect(step(report, "configuration")).to.deep.include({
      outcome: "FAIL",
      summary: "dualwrite:gatewayUrl is not a usable URL",
    });
    expect(step(report, "configuration").todo).to.include("must use https://");
    expect(step(report, "gatewayEnvironment").outcome).to.equal("SKIP");
  });

  it("reads settings from --config like stack config, and names what it cannot read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "doctor-config-"));
    try {
      const file = join(dir, "Pulumi.dev.yaml");
      writeFileSync(
        file,
        [
          "config:",
          `  dualwrite:gatewayUrl: ${emu.gatewayUrl}`,
          `  dualwrite:gatewayUsername: "${emu.dualWriteAdmin.username}"`,
          "  dualwrite:gatewayPassword:",
          "    secure: v1:AAABBBCCC",
          "  dualwrite:gatewayUserName: typo",
          "  contoso:financeOperationsUrl: https://example.invalid",
          "",
        ].join("\n"),
      );
      const env = appEnv();
      delete env.DUALWRITE_GATEWAY_URL;
      const { code, report } = await doctorJson(
        ["--finance-operations-url", linked.info.financeOperationsUrl, "--config", file],
        { ...env, DUALWRITE_GATEWAY_PASSWORD: emu.dualWriteAdmin.password },
      );
      expect(code).to.equal(0);
      const config = step(report, "configuration");
      expect(config.outcome).to.equal("WARN");
      const texts = config.details.map((d) => d.text);
      expect(texts).to.include(
        `dualwrite:gatewayUrl = ${emu.gatewayUrl} from dualwrite:gatewayUrl in ${file}`,
      );
      expect(texts).to.include(
        `dualwrite:gatewayUsername = ${emu.dualWriteAdmin.username} from dualwrite:gatewayUsername in ${file}`,
      );
      expect(texts).to.include(
        `dualwrite:gatewayPassword in ${file} is encrypted (secure:), which doctor cannot read; DUALWRITE_GATEWAY_PASSWORD is used instead`,
      );
      expect(texts).to.include(`dualwrite:gatewayUserName in ${file} is not a provider setting`);
      expect(step(report, "gatewayEnvironment").outcome).to.equal("PASS");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("arguments", () => {
    /** Runs `main` in-process with captured output. */
    async function inProcess(argv: string[]): Promise<{ code: number; out: string; err: string }> {
      let out = "";
      let err = "";
      const code = await main(argv, {
        stdout: (t) => (out += t),
        stderr: (t) => (err += t),
        env: {},
      });
      return { code, out, err };
    }

    it("prints help (exit 0), and refuses a missing command, an unknown one or a missing URL (exit 2)", async () => {
      const help = await inProcess(["--help"]);
      expect(help.code).to.equal(0);
      expect(help.out).to.match(/Commands:\n {2}doctor {2}/);
      const doctorHelp = await inProcess(["doctor", "--help"]);
      expect(doctorHelp.code).to.equal(0);
      expect(doctorHelp.out).to.include("--finance-operations-url URL");

      expect((await inProcess([])).code).to.equal(2);
      const unknown = await inProcess(["docter"]);
      expect(unknown.code).to.equal(2);
      expect(unknown.err).to.include("unknown command 'docter'");
      const noUrl = await inProcess(["doctor"]);
      expect(noUrl.code).to.equal(2);
      expect(noUrl.err).to.include("--finance-operations-url is required");
      const http = await inProcess(["doctor", "--finance-operations-url", "http://x.example"]);
      expect(http.code).to.equal(2);
      expect(http.err).to.include("expected an https:// URL");
      const extra = await inProcess(["doctor", "--finance-operations-url", "https://x", "--nope"]);
      expect(extra.code).to.equal(2);
    });

    it("reads a settings file's plain, quoted and encrypted values", () => {
      const file = parseConfigText(
        [
          "config:",
          "  dualwrite:tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47 # the tenant",
          `  dualwrite:gatewayUrl: "https://gw.example"`,
          "  dualwrite:gatewayUsername: 'o''brien@contoso.com'",
          "  dualwrite:clientSecret:",
          "    secure: v1:abc",
          "  other:key: x",
        ].join("\n"),
        "Pulumi.dev.yaml",
      );
      expect(file.values).to.deep.equal({
        "dualwrite:tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "dualwrite:gatewayUrl": "https://gw.example",
        "dualwrite:gatewayUsername": "o'brien@contoso.com",
      });
      expect(file.encrypted).to.deep.equal(["dualwrite:clientSecret"]);
      expect(() => parseConfigText('dualwrite:tenantId: "open', "f")).to.throw(
        /f:1: a double-quoted/,
      );
    });
  });
});
