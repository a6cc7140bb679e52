/**
 * End to end, on the real Pulumi CLI (Automation API, inline programs) against an in-process
 * emulator: ownership, adoption and the preview of drift (issue 10, Required 2, 6 and 10).
 *
 * 1. A DualWriteScenario makes a link and starts its maps: the state records `created`.
 * 2. A map stopped by hand, after `pulumi refresh`, shows in `pulumi preview --diff` under its
 *    binding as `state: "Stopped" => "Running"`, as other providers show drift.
 * 3. Renaming the component without `aliases`: the new resources adopt the link and the maps, the
 *    old resources' deletes leave them alone — the whole `up` writes nothing, every map still runs.
 * 4. `pulumi up --replace` on a connection resets the old link before making the new one
 *    (`deleteBeforeReplace` set by the resource class): the link exists afterwards, made again.
 * 5. A first preview refuses, with zero writes and the property named, what `up` would refuse
 *    while the link does not exist yet: a map version no solution publishes, and a binding
 *    without its `connection` (a JavaScript program that left it out).
 */
import type * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { DualWriteConnection, DualWriteScenario, EntityMapBinding } from "../../provider";
import { isWrite } from "../provider/harness";
import { EngineStack, withEngineStack } from "../support/engine";
import { emulatorProviderConfig } from "../../tools/examples";
import { startTestEmulator, type TestEmulator } from "../support/emulator";

const LEGAL_ENTITIES = "cdm_companies - Legal entities";
const CURRENCIES = "transactioncurrencies - Currencies";

interface StateResource {
  readonly urn: string;
  readonly type: string;
  readonly inputs?: Record<string, unknown>;
  readonly outputs?: Record<string, unknown>;
}

describe("e2e ownership: adoption, renames, --replace and drift in preview on the real Pulumi CLI", function () {
  let emu: TestEmulator;
  let stack: EngineStack | undefined;

  function current(): EngineStack {
    if (!stack) throw new Error("the stack was not created");
    return stack;
  }

  /** The provider's settings for the emulator; the CA as a setting, not a process variable. */
  function config(): Record<string, string> {
    return {
      ...emulatorProviderConfig(emu).config,
      "dualwrite:caCertificatePath": emu.caCertPath,
    };
  }

  /** The settings kept as secrets. */
  function secrets(): Record<string, string> {
    return emulatorProviderConfig(emu).secrets;
  }

  function pair(name: string): { financeOperationsUrl: string; dataverseUrl: string } {
    const env = emu.environments.find((e) => e.name === name);
    if (!env) throw new Error(`no pair ${name}`);
    return env;
  }

  /** The scenario program, its component named `name`. */
  function scenario(name: string, opts: pulumi.ComponentResourceOptions = {}) {
    return () => {
      const setup = new DualWriteScenario(
        name,
        {
          scenario: "existing-existing",
          ...pair("contoso"),
          legalEntities: ["USMF"],
          maps: [
            { name: LEGAL_ENTITIES, initialSync: "skip" },
            { name: CURRENCIES, initialSync: "skip" },
          ],
        },
        opts,
      );
      return Promise.resolve({ mapStates: setup.mapStates });
    };
  }

  async function resources(s: EngineStack): Promise<StateResource[]> {
    const deployment = (await s.stack.exportStack()).deployment as { resources: StateResource[] };
    return deployment.resources;
  }

  async function mapState(name: string): Promise<string> {
    const maps = await emu.control.call<{ name: string; stateName?: string }[]>(
      "GET",
      "maps?env=contoso",
    );
    return String(maps.find((m) => m.name === name)?.stateName);
  }

  async function links(): Promise<{ fnoEnv: string; generation: number }[]> {
    return emu.control.call("GET", "links");
  }

  before(async function () {
    emu = await startTestEmulator({
      seed: [
        { scenario: "existing-existing", name: "contoso", size: 6 },
        { scenario: "new-new", name: "solo", size: 4 },
        { scenario: "existing-existing", name: "fresh", size: 4 },
      ],
      clock: { speed: 50 },
      log: () => undefined,
    });
    stack = await EngineStack.create({
      projectName: "dualwrite-ownership",
      program: scenario("contoso"),
      config: config(),
      secrets: secrets(),
    });
  });

  after(async function () {
    try {
      await stack?.dispose();
    } finally {
      await emu?.close();
    }
  });

  it("up makes the link and starts the maps; the state records that they were created", async function () {
    const result = await current().up();
    expect(result.summary.result).to.equal("succeeded");
    const dynamic = (await resources(current())).filter((r) =>
      r.type.startsWith("pulumi-nodejs:dynamic"),
    );
    expect(dynamic.length).to.equal(3);
    for (const r of dynamic) expect(r.outputs?.ownership, r.urn).to.equal("created");
    const binding = dynamic.find((r) => r.urn.endsWith("contoso-map-cdm-companies-legal-entities"));
    expect(binding?.outputs?.resolvedVersion).to.match(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it("after a refresh, a map stopped by hand shows under its binding as state: Stopped => Running", async function () {
    await emu.control.call("PUT", `maps/contoso/${encodeURIComponent(CURRENCIES)}/state`, {
      state: "Stopped",
    });
    await current().refresh();
    const preview = await current().preview({ diff: true });
    expect(preview.changeSummary).to.deep.include({ update: 1 });
    // The property that differs, under the resource, observed → declared.
    expect(preview.stdout).to.match(
      /~ pulumi-nodejs:dynamic\/dualwrite:EntityMapBinding: \(update\)\n(?:.*\n){0,16}?\s+~ state\s*: "Stopped" => "Running"/,
    );
    const up = await current().up();
    expect(up.summary.resourceChanges).to.deep.include({ update: 1 });
    expect(await mapState(CURRENCIES)).to.equal("Running");
    await current().preview({ expectNoChanges: true });
  });

  it("renaming the component without aliases adopts: the up writes nothing and every map still runs", async function () {
    const linkBefore = (await links()).find((l) => l.fnoEnv === "contoso");
    const mark = await emu.control.lastRequestSeq();
    const preview = await current().preview({ program: scenario("contoso-renamed") });
    // stack unchanged; component, connection and 2 bindings created, the old ones deleted
    expect(preview.changeSummary).to.deep.include({ create: 4, delete: 4 });
    expect(preview.stdout).to.include("creating adopts the link of F&O");
    const up = await current().up({ program: scenario("contoso-renamed") });
    expect(up.summary.result).to.equal("succeeded");
    expect(up.stdout).to.match(/another DualWriteConnection of this deployment adopted it/);
    expect((await emu.control.requests(mark)).filter(isWrite)).to.deep.equal([]);
    for (const name of [LEGAL_ENTITIES, CURRENCIES])
      expect(await mapState(name)).to.equal("Running");
    expect((await links()).find((l) => l.fnoEnv === "contoso")).to.deep.equal(linkBefore);
    const renamed = (await resources(current())).filter((r) =>
      r.type.startsWith("pulumi-nodejs:dynamic"),
    );
    expect(renamed.map((r) => r.outputs?.ownership)).to.deep.equal([
      "adopted",
      "adopted",
      "adopted",
    ]);
    await current().preview({ expectNoChanges: true, program: scenario("contoso-renamed") });
  });

  it("renaming it with aliases is no change at all (the children's names follow the component's)", async function () {
    const aliased = scenario("contoso-aliased", { aliases: [{ name: "contoso-renamed" }] });
    const mark = await emu.control.lastRequestSeq();
    const preview = await current().preview({ program: aliased });
    expect(Object.keys(preview.changeSummary).sort()).to.deep.equal(["same"]);
    const up = await current().up({ program: aliased });
    expect(up.summary.result).to.equal("succeeded");
    expect((await emu.control.requests(mark)).filter(isWrite)).to.deep.equal([]);
    const urns = (await resources(current())).map((r) => r.urn);
    expect(
      urns.filter((u) => u.endsWith("::contoso-aliased-map-cdm-companies-legal-entities")),
    ).to.have.length(1);
  });

  it("pulumi up --replace on a connection resets the old link before making the new one", async function () {
    const program = () => {
      new DualWriteConnection("solo", { scenario: "new-new", ...pair("solo") });
      return Promise.resolve({});
    };
    await withEngineStack(
      { projectName: "dualwrite-replace", program, config: config(), secrets: secrets() },
      async (s) => {
        await s.up();
        const before = (await links()).find((l) => l.fnoEnv === "solo");
        expect(before).to.not.equal(undefined);
        const urn = (await resources(s)).find((r) => r.type.endsWith("DualWriteConnection"))?.urn;
        const mark = await emu.control.lastRequestSeq();
        const result = await s.stack.up({ replace: [urn ?? ""], color: "never" });
        expect(result.summary.resourceChanges).to.deep.include({ replace: 1 });
        const resets = (await emu.control.requests(mark))
          .filter(isWrite)
          .filter((w) => w.path.endsWith("/Reset"));
        // Unlink, then link: never a create that adopts the link its delete then resets.
        expect(resets.length).to.equal(2);
        const after = (await links()).find((l) => l.fnoEnv === "solo");
        expect(after, "the link exists after the replacement").to.not.equal(undefined);
        expect(after!.generation).to.be.greaterThan(before!.generation);
        const replaced = (await resources(s)).find((r) => r.type.endsWith("DualWriteConnection"));
        expect(replaced?.outputs?.ownership).to.equal("created");
        await s.preview({ expectNoChanges: true });
      },
    );
  });

  it("a first preview refuses a map version no solution publishes, naming version, with zero writes", async function () {
    const mark = await emu.control.lastRequestSeq();
    let failure: unknown;
    const program = () => {
      const link = new DualWriteConnection("fresh", {
        scenario: "existing-existing",
        ...pair("fresh"),
        legalEntities: ["USMF"],
      });
      new EntityMapBinding("legal-entities", {
        connection: link,
        mapName: LEGAL_ENTITIES,
        version: "9.9.9.9",
      });
      return Promise.resolve({});
    };
    await withEngineStack(
      {
        projectName: "dualwrite-refuse",
        output: false,
        program,
        config: config(),
        secrets: secrets(),
      },
      async (s) => {
        try {
          await s.preview();
        } catch (e) {
          failure = e;
        }
      },
    );
    expect(String(failure))
      .to.match(/version/)
      .and.to.match(/no version 9\.9\.9\.9/);
    expect((await emu.control.requests(mark)).filter(isWrite)).to.deep.equal([]);
  });

  it("a binding without its connection (a JavaScript program) is refused naming connection, not a TypeError", async function () {
    const mark = await emu.control.lastRequestSeq();
    let failure: unknown;
    const program = () => {
      // What a JavaScript program that forgot `connection` passes.
      new EntityMapBinding("no-connection", {
        mapName: LEGAL_ENTITIES,
      } as unknown as ConstructorParameters<typeof EntityMapBinding>[1]);
      return Promise.resolve({});
    };
    await withEngineStack(
      {
        projectName: "dualwrite-noconn",
        output: false,
        program,
        config: config(),
        secrets: secrets(),
      },
      async (s) => {
        try {
          await s.preview();
        } catch (e) {
          failure = e;
        }
      },
    );
    expect(String(failure))
      .to.match(/connection is required: pass the DualWriteConnection resource/)
      .and.not.to.match(/TypeError|Cannot read properties of undefined/);
    expect((await emu.control.requests(mark)).filter(isWrite)).to.deep.equal([]);
  });
});
