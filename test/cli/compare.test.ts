/**
 * `pulumi-dualwrite compare`, run as a person runs it (`node bin/pulumi-dualwrite.js compare …`,
 * settings in environment variables or in stack config files), against three environment pairs
 * set up by hand through the gateway in the dialect of Microsoft's tool (no provider involved):
 *
 * - dev:  linked for USMF and USRT; the core maps and the HR maps solution applied; legal entities,
 *         currencies, customer groups and accounts Running.
 * - test: linked for DEMF and USMF; the core maps only; the same maps Running but accounts, which
 *         stays Stopped at Contoso's version 1.0.0.1 with one integration key.
 * - copy: set up exactly as dev.
 *
 * dev against test gives every kind of difference the issue names, and both outputs (table and
 * JSON) are checked whole; dev against copy gives none (exit 0). Every run is read-only and
 * prints no secret (runCli.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { MAP_CATALOG } from "../../facts/mapCatalog";
import { Action, Maps, Pair } from "../emulator/dualWriteHarness";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import { emulatorEnv, runCli } from "./runCli";

/** The second solution applied on dev only, and the maps it carries (the emulator's catalog). */
const HR_SOLUTION = "Dynamics365FinanceAndOperationsDualWriteMaps";
const HR_MAPS = [
  "cdm_jobfunctions - Compensation job function",
  "cdm_jobpositions - Positions V2",
  "cdm_jobs - Jobs",
  "cdm_jobtypes - Compensation job type",
  "cdm_languages - Language codes",
  "cdm_positiontypes - Position type",
  "cdm_workers - Worker",
];
const RUNNING = [Maps.legalEntities, Maps.currencies, Maps.customerGroups];

describe("pulumi-dualwrite compare", function () {
  this.timeout(180_000);
  let emu: TestEmulator;
  let dev: Pair;
  let test: Pair;
  let copy: Pair;
  let scratch: string;
  const accountsKeys = [
    ...(MAP_CATALOG.find((m) => m.name === Maps.accounts)?.integrationKeys ?? []),
  ];

  /** dev's setup: see the file comment. */
  async function setUpLikeDev(pair: Pair): Promise<void> {
    await pair.link(["USMF", "USRT"]);
    for (const solution of ["msdyn_DualWriteAppCoreMaps", HR_SOLUTION]) {
      const applied = await pair.applySolution(solution);
      expect(applied.state, applied.result.message).to.equal("2");
    }
    await start(pair, [...RUNNING, Maps.accounts]);
  }

  /** Initializes ("8") and starts ("1", initial sync skipped) maps, prerequisites first. */
  async function start(pair: Pair, names: string[]): Promise<void> {
    const init = await pair.run(Action.init, names);
    expect(init.state, String(init.errorMessage)).to.equal("2");
    await pair.startMaps(...names);
  }

  before(async () => {
    emu = await startTestEmulator({ settings: { transitionMs: 5, jobRowsPerSecond: 100_000 } });
    scratch = mkdtempSync(join(tmpdir(), "dualwrite-compare-"));
    dev = await Pair.seed(emu, "existing-existing", 3);
    test = await Pair.seed(emu, "existing-existing", 3);
    copy = await Pair.seed(emu, "existing-existing", 3);
    await setUpLikeDev(dev);
    await setUpLikeDev(copy);

    await test.link(["DEMF", "USMF"]);
    const applied = await test.applySolution("msdyn_DualWriteAppCoreMaps");
    expect(applied.state, applied.result.message).to.equal("2");
    await start(test, RUNNING);
    // By hand, as a person in the dual-write workspace would: another version, one key.
    const byHand = await test.control(
      "PUT",
      `maps/${encodeURIComponent(test.name)}/${encodeURIComponent(Maps.accounts)}/version`,
      { version: "1.0.0.1", author: "Contoso" },
    );
    expect(byHand.status, byHand.text).to.equal(200);
    const set = await test.connectionSet();
    const crm = Object.values(set.environments).find((e) => e.targetType === "CRM");
    const keys = await test.gateway("POST", `api/dataset/${String(crm?.name)}/IntegrationKeys`, {
      integrationKeys: { accounts: ["accountnumber"] },
      datasetName: crm?.name,
    });
    expect(keys.status, keys.text).to.equal(200);
  });
  after(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await emu?.close();
  });

  const sideArgs = (side: "left" | "right", pair: Pair, name: string): string[] => [
    `--${side}-finance-operations-url`,
    pair.info.financeOperationsUrl,
    `--${side}-dataverse-url`,
    pair.info.dataverseUrl,
    `--${side}-name`,
    name,
  ];

  /** The differences of dev against test, in the report's order. */
  function devTestDifferences(): unknown[] {
    const presence = (aspect: string, subject: string, left: boolean) => ({
      aspect,
      subject,
      left: left ? "present" : "absent",
      right: left ? "absent" : "present",
    });
    return [
      presence("legalEntity", "DEMF", false),
      presence("legalEntity", "USRT", true),
      presence("solution", HR_SOLUTION, true),
      { aspect: "version", subject: Maps.accounts, left: "1.0.0.5", right: "1.0.0.1" },
      { aspect: "author", subject: Maps.accounts, left: "Microsoft", right: "Contoso" },
      { aspect: "state", subject: Maps.accounts, left: "Running", right: "Stopped" },
      {
        aspect: "integrationKeys",
        subject: Maps.accounts,
        left: accountsKeys,
        right: ["accountnumber"],
      },
      ...HR_MAPS.map((m) => presence("map", m, true)),
    ];
  }

  it("lists every difference of two pairs as JSON, and exits 1", async () => {
    const run = await runCli(
      emu,
      ["compare", "--json", ...sideArgs("left", dev, "dev"), ...sideArgs("right", test, "test")],
      emulatorEnv(emu),
    );
    expect(run.stderr).to.equal("");
    expect(run.code).to.equal(1);
    expect(JSON.parse(run.stdout)).to.deep.equal({
      same: false,
      left: {
        name: "dev",
        financeOperationsUrl: dev.info.financeOperationsUrl,
        dataverseUrl: dev.info.dataverseUrl,
        linked: true,
      },
      right: {
        name: "test",
        financeOperationsUrl: test.info.financeOperationsUrl,
        dataverseUrl: test.info.dataverseUrl,
        linked: true,
      },
      differences: devTestDifferences(),
    });
  });

  it("shows the same differences as a table", async () => {
    const run = await runCli(
      emu,
      ["compare", ...sideArgs("left", dev, "dev"), ...sideArgs("right", test, "test")],
      emulatorEnv(emu),
    );
    expect(run.stderr).to.equal("");
    expect(run.code).to.equal(1);
    const keys = accountsKeys.join(", ");
    // Columns: what (16: "integration keys"), subject (44: the HR solution's name), dev, test.
    const w3 = Math.max("Microsoft".length, keys.length);
    const row = (a: string, b: string, c: string, d: string): string =>
      `${a.padEnd(16)}  ${b.padEnd(44)}  ${c.padEnd(w3)}  ${d}`;
    expect(run.stdout).to.equal(
      [
        "pulumi-dualwrite compare (read-only)",
        `  dev:  F&O ${dev.info.financeOperationsUrl}, Dataverse ${dev.info.dataverseUrl}`,
        `  test: F&O ${test.info.financeOperationsUrl}, Dataverse ${test.info.dataverseUrl}`,
        "",
        row("what", "subject", "dev", "test"),
        row("legal entity", "DEMF", "absent", "present"),
        row("legal entity", "USRT", "present", "absent"),
        row("solution", HR_SOLUTION, "present", "absent"),
        row("map version", Maps.accounts, "1.0.0.5", "1.0.0.1"),
        row("map author", Maps.accounts, "Microsoft", "Contoso"),
        row("map state", Maps.accounts, "Running", "Stopped"),
        row("integration keys", Maps.accounts, keys, "accountnumber"),
        ...HR_MAPS.map((m) => row("map", m, "present", "absent")),
        "",
        `${HR_MAPS.length + 7} differences (exit 1).`,
        "",
      ].join("\n"),
    );
  });

  it("finds no difference between two pairs set up alike, and exits 0", async () => {
    const text = await runCli(
      emu,
      ["compare", ...sideArgs("left", dev, "dev"), ...sideArgs("right", copy, "copy")],
      emulatorEnv(emu),
    );
    expect(text.stderr).to.equal("");
    expect(text.code).to.equal(0);
    expect(text.stdout).to.equal(
      [
        "pulumi-dualwrite compare (read-only)",
        `  dev:  F&O ${dev.info.financeOperationsUrl}, Dataverse ${dev.info.dataverseUrl}`,
        `  copy: F&O ${copy.info.financeOperationsUrl}, Dataverse ${copy.info.dataverseUrl}`,
        "",
        "No differences: same legal entities, solutions, maps, versions, authors, states and keys (exit 0).",
        "",
      ].join("\n"),
    );
    const json = await runCli(
      emu,
      ["compare", "--json", ...sideArgs("left", dev, "dev"), ...sideArgs("right", copy, "copy")],
      emulatorEnv(emu),
    );
    expect(json.code).to.equal(0);
    const report = JSON.parse(json.stdout) as { same: boolean; differences: unknown[] };
    expect(report.same).to.equal(true);
    expect(report.differences).to.deep.equal([]);
  });

  it("compares two stacks from their config files, each with its own settings", async () => {
    const env = emulatorEnv(emu);
    // The stack files hold the plain settings and the URLs; the secrets are encrypted there and
    // come from the environment, as `doctor` reads them.
    const stackFile = (name: string, project: string, pair: Pair): string => {
      const file = join(scratch, `Pulumi.${name}.yaml`);
      writeFileSync(
        file,
        [
          "config:",
          `  dualwrite:tenantId: ${env.AZURE_TENANT_ID}`,
          `  dualwrite:clientId: ${env.AZURE_CLIENT_ID}`,
          "  dualwrite:clientSecret:",
          "    secure: v1:AAAA",
          `  dualwrite:authorityHost: ${env.AZURE_AUTHORITY_HOST}`,
          `  dualwrite:gatewayUrl: "${env.DUALWRITE_GATEWAY_URL}"`,
          `  dualwrite:caCertificatePath: '${env.DUALWRITE_CA_CERTIFICATE_PATH}'`,
          `  dualwrite:gatewayUsername: ${env.DUALWRITE_GATEWAY_USERNAME}`,
          `  ${project}:financeOperationsUrl: ${pair.info.financeOperationsUrl}`,
          `  ${project}:dataverseUrl: "${pair.info.dataverseUrl}" # the org`,
          `  ${project}:legalEntities:`,
          "    - USMF",
          "",
        ].join("\n"),
      );
      return file;
    };
    const run = await runCli(
      emu,
      [
        "compare",
        "--json",
        "--left-config",
        stackFile("dev", "promo", dev),
        "--left-name",
        "dev",
        "--right-config",
        stackFile("test", "dualwrite-setup", test),
        "--right-name",
        "test",
      ],
      {
        PATH: process.env.PATH ?? "",
        AZURE_CLIENT_SECRET: env.AZURE_CLIENT_SECRET ?? "",
        DUALWRITE_GATEWAY_PASSWORD: env.DUALWRITE_GATEWAY_PASSWORD ?? "",
      },
    );
    expect(run.stderr).to.equal("");
    expect(run.code).to.equal(1);
    const report = JSON.parse(run.stdout) as {
      left: { financeOperationsUrl: string };
      right: { dataverseUrl: string };
      differences: unknown[];
    };
    expect(report.left.financeOperationsUrl).to.equal(dev.info.financeOperationsUrl);
    expect(report.right.dataverseUrl).to.equal(test.info.dataverseUrl);
    expect(report.differences).to.deep.equal(devTestDifferences());
  });

  it("says when one side is not linked", async () => {
    const unlinked = await Pair.seed(emu, "new-new", 1);
    const run = await runCli(
      emu,
      [
        "compare",
        "--json",
        ...sideArgs("left", dev, "dev"),
        "--right-finance-operations-url",
        unlinked.info.financeOperationsUrl,
      ],
      emulatorEnv(emu),
    );
    expect(run.code).to.equal(1);
    const report = JSON.parse(run.stdout) as {
      right: { linked: boolean; dataverseUrl: unknown };
      differences: unknown[];
    };
    expect(report.right).to.include({ linked: false, dataverseUrl: null });
    expect(report.differences).to.deep.equal([
      { aspect: "link", subject: "dual-write link", left: "present", right: "absent" },
    ]);
  });

  it("exits 2 on bad arguments and when a side cannot be read", async () => {
    const missing = await runCli(
      emu,
      ["compare", ...sideArgs("left", dev, "dev")],
      emulatorEnv(emu),
    );
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.contain("--right-finance-operations-url is required");

    const otherOrg = await runCli(
      emu,
      [
        "compare",
        ...sideArgs("left", dev, "dev"),
        "--right-finance-operations-url",
        test.info.financeOperationsUrl,
        "--right-dataverse-url",
        copy.info.dataverseUrl,
      ],
      emulatorEnv(emu),
    );
    expect(otherOrg.code).to.equal(2);
    expect(otherOrg.stdout).to.equal("");
    expect(otherOrg.stderr).to.contain(
      `right (F&O ${test.info.financeOperationsUrl}) could not be read: F&O ${test.info.financeOperationsUrl} is linked to Dataverse ${test.info.dataverseUrl}, not ${copy.info.dataverseUrl}.`,
    );

    const noGateway = Object.fromEntries(
      Object.entries(emulatorEnv(emu)).filter(([k]) => k !== "DUALWRITE_GATEWAY_URL"),
    );
    const unconfigured = await runCli(
      emu,
      ["compare", ...sideArgs("left", dev, "dev"), ...sideArgs("right", test, "test")],
      noGateway,
    );
    expect(unconfigured.code).to.equal(2);
    expect(unconfigured.stderr).to.contain("dualwrite:gatewayUrl");
  });
});
