/**
 * End to end: a TypeScript program using DualWriteScenario for `existing-existing` runs on the real
 * Pulumi CLI (Automation API, inline program, local `file://` state) against an in-process
 * emulator. It converges with `pulumi up`; a second preview shows no changes; a map stopped by hand
 * (through the emulator's control API) makes the preview show that map's update, and `pulumi up`
 * restarts it. Credentials reach the provider only through stack config (the client secret as a
 * secret) and appear neither in the serialized providers nor in the state.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { DualWriteConnection, DualWriteScenario } from "../../provider";
import { isWrite } from "../provider/harness";
import { EngineStack, engineCliVersion, withEngineStack } from "../support/engine";
import { emulatorProviderConfig } from "../../tools/examples";
import { startTestEmulator, type TestEmulator } from "../support/emulator";

const execFileAsync = promisify(execFile);
const ACCOUNTS = "accounts - Customers V3";
const CONTACTS = "contacts - Customers V3";
const PREREQUISITES = [
  "cdm_companies - Legal entities",
  "transactioncurrencies - Currencies",
  "msdyn_customergroups - Customer groups",
];
const ACCOUNTS_BINDING = "contoso-map-accounts-customers-v3";

describe("e2e provider: DualWriteScenario existing-existing on the real Pulumi CLI", function () {
  let emu: TestEmulator;
  let stack: EngineStack | undefined;

  function current(): EngineStack {
    if (!stack) throw new Error("the stack was not created");
    return stack;
  }

  /** The provider's settings for the emulator; the CA as a setting, not a process variable. */
  function stackConfig(): Record<string, string> {
    return {
      ...emulatorProviderConfig(emu).config,
      "dualwrite:caCertificatePath": emu.caCertPath,
    };
  }

  /** The settings kept as secrets. */
  function stackSecrets(): Record<string, string> {
    return emulatorProviderConfig(emu).secrets;
  }

  async function mapState(name: string): Promise<string> {
    const maps = await emu.control.call<
      { name: string; state: number | string; stateName?: string }[]
    >("GET", "maps?env=contoso");
    const m = maps.find((x) => x.name === name);
    return String(m?.stateName ?? m?.state);
  }

  before(async function () {
    process.stdout.write(`      Pulumi CLI ${await engineCliVersion()}\n`);
    emu = await startTestEmulator({
      seed: [{ scenario: "existing-existing", name: "contoso", size: 8 }],
      clock: { speed: 50 },
      log: () => undefined,
    });
    const env = emu.environments[0]!;
    stack = await EngineStack.create({
      projectName: "dualwrite-e2e",
      program: async () => {
        const setup = new DualWriteScenario("contoso", {
          scenario: "existing-existing",
          financeOperationsUrl: env.financeOperationsUrl,
          dataverseUrl: env.dataverseUrl,
          legalEntities: ["USMF", "DEMF"],
          bootstrapCompanies: [
            { code: "USMF", owningBusinessUnit: "Contoso US" },
            { code: "DEMF", owningBusinessUnit: "Contoso Germany" },
          ],
          maps: [
            { name: ACCOUNTS, initialSync: { master: "FinanceOperations" } },
            { name: CONTACTS, initialSync: "skip" },
          ],
        });
        return Promise.resolve({
          mapStates: setup.mapStates,
          linked: setup.linkedLegalEntities,
          syncs: setup.initialSyncResults,
        });
      },
      // Only stack config: no AZURE_* variable and no NODE_EXTRA_CA_CERTS reach the provider.
      config: stackConfig(),
      secrets: stackSecrets(),
    });
  });

  after(async function () {
    try {
      await stack?.dispose();
    } finally {
      await emu?.close();
    }
  });

  it("a first preview plans every resource and writes nothing", async function () {
    const mark = await emu.control.lastRequestSeq();
    const preview = await current().preview();
    // stack, component, connection, 2 bootstraps, 5 bindings (the 4 synced maps' initial syncs
    // are their bindings' starts: each map is started once, ADR 0006)
    expect(preview.changeSummary).to.deep.equal({ create: 10 });
    expect(preview.stdout).to.match(
      /CompanyBootstrap USMF: would stamp \d+ accounts and \d+ contacts/,
    );
    expect((await emu.control.requests(mark)).filter(isWrite)).to.deep.equal([]);
  });

  it("refuses a bad input in preview through the CLI, naming the property, with zero writes", async function () {
    const env = emu.environments[0]!;
    const mark = await emu.control.lastRequestSeq();
    let failure: unknown;
    await withEngineStack(
      {
        projectName: "dualwrite-e2e-bad",
        output: false,
        program: () => {
          new DualWriteConnection("bad", {
            scenario: "existing-existing",
            financeOperationsUrl: env.financeOperationsUrl,
            dataverseUrl: env.dataverseUrl,
            legalEntities: ["USMF", "CONTOSO"],
          });
          return Promise.resolve({});
        },
        config: stackConfig(),
        secrets: stackSecrets(),
      },
      async (bad) => {
        try {
          await bad.preview();
        } catch (e) {
          failure = e;
        }
      },
    );
    expect(String(failure))
      .to.match(/legalEntities/)
      .and.to.match(/"CONTOSO" is 7 characters long/);
    expect((await emu.control.requests(mark)).filter(isWrite)).to.deep.equal([]);
  });

  it("converges with pulumi up: link, bootstraps, maps running, initial syncs done", async function () {
    const result = await current().up();
    expect(result.summary.result).to.equal("succeeded");
    const states = result.outputs.mapStates?.value as Record<string, string>;
    expect(Object.keys(states)).to.have.members([...PREREQUISITES, ACCOUNTS, CONTACTS]);
    expect(Object.values(states).every((s) => s === "Running")).to.equal(true);
    expect(result.outputs.linked?.value).to.deep.equal(["DEMF", "USMF"]);
    const syncs = result.outputs.syncs?.value as Record<
      string,
      { legalEntity: string; status: string }[]
    >;
    expect(Object.keys(syncs)).to.have.members([...PREREQUISITES, ACCOUNTS]);
    expect(syncs[ACCOUNTS]!.map((r) => r.status)).to.deep.equal(["Succeeded", "Succeeded"]);
    expect(result.stdout).to.match(/Initial sync of accounts - Customers V3 finished/);
    expect(await mapState(ACCOUNTS)).to.match(/Running|^4$/);
  });

  it("a second preview shows no changes", async function () {
    const preview = await current().preview({ expectNoChanges: true });
    expect(Object.keys(preview.changeSummary)).to.deep.equal(["same"]);
  });

  it("refresh reads everything back without drift", async function () {
    const refresh = await current().refresh();
    expect(refresh.summary.result).to.equal("succeeded");
    await current().preview({ expectNoChanges: true });
  });

  it("a map stopped by hand shows as that map's update in preview", async function () {
    await emu.control.call("PUT", `maps/contoso/${encodeURIComponent(ACCOUNTS)}/state`, {
      state: "Stopped",
    });
    const preview = await current().preview();
    expect(preview.changeSummary).to.deep.include({ update: 1 });
    expect(preview.stdout).to.match(
      new RegExp(
        `~\\s+pulumi-nodejs:dynamic/dualwrite:EntityMapBinding\\s+${ACCOUNTS_BINDING}\\s+update`,
      ),
    );
    expect(preview.stdout).to.include(`map ${ACCOUNTS} is Stopped; declared Running`);
    // A preview never writes: the map is still stopped.
    expect(await mapState(ACCOUNTS)).to.match(/Stopped|^1$/);
  });

  it("pulumi up restarts it, and the next preview is clean again", async function () {
    const result = await current().up();
    expect(result.summary.resourceChanges).to.deep.include({ update: 1 });
    expect((result.outputs.mapStates?.value as Record<string, string>)[ACCOUNTS]).to.equal(
      "Running",
    );
    expect(await mapState(ACCOUNTS)).to.match(/Running|^4$/);
    await current().preview({ expectNoChanges: true });
  });

  it("keeps every credential out of the state and the serialized providers", async function () {
    const secrets = [emu.credentials.clientSecret, emu.dualWriteAdmin.password];
    // The checkpoint as stored, and `pulumi stack export` as a person runs it: the stack config that
    // the engine records on the default dynamic provider is there only encrypted.
    const ws = current().stack.workspace;
    const exported = await execFileAsync(
      ws.pulumiCommand.command,
      ["stack", "export", "--stack", current().name, "--non-interactive"],
      {
        cwd: ws.workDir,
        env: { ...process.env, ...ws.envVars },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    for (const text of [await current().stateText(), exported.stdout]) {
      expect(text).to.include("__provider");
      for (const secret of secrets) expect(text).to.not.include(secret);
    }
    // Even decrypted (--show-secrets), no resource holds the secret: not in its serialized
    // provider, not in its inputs or outputs. Only the engine's record of the stack config, on the
    // default provider, has it, marked secret.
    const decrypted = (await current().stack.exportStack()).deployment as {
      resources: { type: string; inputs?: unknown; outputs?: unknown }[];
    };
    const dynamic = decrypted.resources.filter((r) =>
      r.type.startsWith("pulumi-nodejs:dynamic/dualwrite:"),
    );
    expect(dynamic.length).to.equal(10 - 2); // every resource but the stack and the component
    for (const r of dynamic) {
      const text = JSON.stringify([r.inputs, r.outputs]);
      expect(text).to.include("pulumi-dualwrite/dynamic-runtime");
      for (const secret of secrets) expect(text).to.not.include(secret);
    }
    for (const [key, secret] of [
      ["dualwrite:clientSecret", secrets[0]!],
      ["dualwrite:gatewayPassword", secrets[1]!],
    ] as const) {
      const holders = decrypted.resources.filter((r) =>
        JSON.stringify([r.inputs, r.outputs]).includes(secret),
      );
      expect(
        holders.map((r) => r.type),
        key,
      ).to.deep.equal(["pulumi:providers:pulumi-nodejs"]);
      expect(JSON.stringify(holders[0]!.inputs), key).to.include(
        `"${key}":{"4dabf18193072939515e22adb298388d"`,
      );
    }
  });

  it("destroy stops the maps and resets the link without deleting business rows", async function () {
    const accounts = (await emu.control.rows("dataverse", "contoso", "accounts")).length;
    const customers = (await emu.control.rows("fno", "contoso", "CustomersV3")).length;
    const result = await current().destroy();
    expect(result.summary.result).to.equal("succeeded");
    const links = await emu.control.call<unknown[]>("GET", "links");
    expect(links).to.deep.equal([]);
    expect((await emu.control.rows("dataverse", "contoso", "accounts")).length).to.equal(accounts);
    expect((await emu.control.rows("fno", "contoso", "CustomersV3")).length).to.equal(customers);
  });
});
