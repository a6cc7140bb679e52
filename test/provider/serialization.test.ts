/**
 * The dynamic providers as Pulumi serializes them into state: small, secret-free, and working
 * when loaded the way the `pulumi-resource-pulumi-nodejs` host loads them (require-from-string,
 * module paths from the provider process's working directory), with credentials given only to
 * `configure`. The runtime is found by the absolute path the program captured, also from a
 * directory where `pulumi-dualwrite` does not resolve (a transitive or pnpm install); when that
 * path is gone (the project moved, another machine), at the same place below `node_modules`, and
 * last by the package name (docs/adr/0004).
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import {
  delegatingProvider,
  dynamicProvider,
  pathWithinNodeModules,
  RUNTIME_MODULE,
  runtimePath,
  type ResourceKind,
} from "../../provider/dynamic/adapter";
import { resetClientCache } from "../../provider/clients/index";
import * as runtime from "../../provider/dynamic/runtime";
import { startResourceHarness, type ResourceHarness } from "./harness";

// The host's loader (a dependency of @pulumi/pulumi).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireFromString = require("require-from-string") as (code: string) => {
  handler: () => pulumi.dynamic.ResourceProvider;
};

const KINDS: readonly ResourceKind[] = [
  "DualWriteConnection",
  "CompanyBootstrap",
  "EntityMapBinding",
  "InitialSyncRun",
];

/** What `new dynamic.Resource` stores in `__provider`. */
async function serialized(
  kind: ResourceKind,
  provider: pulumi.dynamic.ResourceProvider = dynamicProvider(kind),
): Promise<string> {
  return (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text;
}

/**
 * Runs `body` with `cwd` as the working directory, as the provider process has its program's
 * folder: require-from-string takes its module paths from it, and the runtime lookup reads it at
 * each call.
 */
async function inDirectory<T>(cwd: string, body: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(cwd);
  try {
    return await body();
  } finally {
    process.chdir(before);
  }
}

/** Loads a serialized provider as the host does, in `cwd`, and configures and checks it. */
function loadAndCheckIn(cwd: string, text: string): Promise<void> {
  return inDirectory(cwd, () => configureAndCheck(requireFromString(text).handler()));
}

/** A directory outside the repository, where `pulumi-dualwrite` does not resolve. */
function foreignDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), "pulumi-dualwrite-nowhere-"));
  // From a module in that directory (`require.resolve` with `paths` would try this package's
  // self-reference first).
  const fromThere = createRequire(join(dir, "program.js"));
  expect(() => fromThere.resolve(RUNTIME_MODULE)).to.throw(/Cannot find module/);
  return dir;
}

let h: ResourceHarness;

/** Configures a loaded provider with the harness's stack and checks a good connection. */
async function configureAndCheck(provider: pulumi.dynamic.ResourceProvider): Promise<void> {
  await provider.configure!({
    config: { get: (key: string) => h.stack[key], require: (key: string) => h.stack[key] ?? "" },
  });
  const env = h.env("ee");
  const result = await provider.check!(
    {},
    {
      scenario: "existing-existing",
      financeOperationsUrl: env.financeOperationsUrl,
      dataverseUrl: env.dataverseUrl,
      legalEntities: ["USMF"],
    },
  );
  expect(result.failures).to.deep.equal([]);
}

describe("serialized dynamic providers", () => {
  before(async () => {
    h = await startResourceHarness({ seed: [{ scenario: "existing-existing", name: "ee" }] });
  });
  after(async () => {
    resetClientCache();
    await h.close();
  });

  it("one provider object per resource type", () => {
    for (const kind of KINDS) expect(dynamicProvider(kind)).to.equal(dynamicProvider(kind));
    expect(new Set(KINDS.map(dynamicProvider)).size).to.equal(KINDS.length);
  });

  it("captures the real path of this copy's runtime, the same in every serialization", async () => {
    expect(runtimePath()).to.equal(realpathSync(require.resolve(RUNTIME_MODULE)));
    expect(runtimePath()).to.match(/[/\\]dist[/\\]provider[/\\]dynamic[/\\]runtime\.js$/);
    for (const kind of KINDS) expect(await serialized(kind)).to.equal(await serialized(kind));
  });

  it("knows a runtime's place below node_modules: npm, nested, pnpm, linked", () => {
    const file = "dist/provider/dynamic/runtime.js";
    expect(pathWithinNodeModules(`/p/node_modules/pulumi-dualwrite/${file}`)).to.equal(
      `pulumi-dualwrite/${file}`,
    );
    expect(
      pathWithinNodeModules(`/p/node_modules/acme/node_modules/pulumi-dualwrite/${file}`),
    ).to.equal(`acme/node_modules/pulumi-dualwrite/${file}`);
    expect(
      pathWithinNodeModules(
        `C:\\p\\node_modules\\.pnpm\\pulumi-dualwrite@0.1.0\\node_modules\\pulumi-dualwrite\\dist\\x.js`,
      ),
    ).to.equal(".pnpm/pulumi-dualwrite@0.1.0/node_modules/pulumi-dualwrite/dist/x.js");
    // A linked checkout (this repository) is in no node_modules folder.
    expect(pathWithinNodeModules(`/src/pulumi-dualwrite/${file}`)).to.equal("");
  });

  for (const kind of KINDS) {
    it(`${kind}: captures four strings and loads the runtime inside each method`, async () => {
      const text = await serialized(kind);
      expect(text).to.include(`kind: "${kind}"`);
      expect(text).to.include(`runtimeFile: ${JSON.stringify(runtimePath())}`);
      expect(text).to.include(
        `withinNodeModules: ${JSON.stringify(pathWithinNodeModules(runtimePath()))}`,
      );
      expect(text).to.include(`runtimeModule: "${RUNTIME_MODULE}"`);
      expect(text.match(/\bruntime\(\)/g)).to.have.length(7);
      expect(text.match(/require\(runtimeFile\)/g)).to.have.length(1);
      expect(text.match(/require\(candidate\)/g)).to.have.length(1);
      expect(text.match(/require\.resolve\(runtimeModule,/g)).to.have.length(1);
      // Nothing else is inlined: no module of ours, no SDK, no client, no config.
      expect(text.length).to.be.below(6_000);
      for (const word of [
        "readProviderConfig",
        "createClients",
        "got",
        "@azure/identity",
        "zod",
        "__awaiter",
      ]) {
        expect(text).not.to.include(word);
      }
    });
  }

  it("holds no secret even after the provider process was configured with one", async () => {
    runtime.configure((key) => h.stack[key]);
    runtime.context().clients({
      financeOperationsUrl: h.env("ee").financeOperationsUrl,
      dataverseUrl: h.env("ee").dataverseUrl,
    });
    for (const kind of KINDS) {
      const text = await serialized(kind);
      for (const secret of [
        h.emulator.credentials.clientSecret,
        h.emulator.credentials.tenantId,
        h.emulator.credentials.clientId,
      ]) {
        expect(text).not.to.include(secret);
      }
    }
  });

  it("works when loaded as the host loads it: configure gets the credentials, check reads the emulator", async () => {
    const text = await serialized("DualWriteConnection");
    const provider = requireFromString(text).handler();
    await provider.configure!({
      config: { get: (key: string) => h.stack[key], require: (key: string) => h.stack[key] ?? "" },
    });
    const env = h.env("ee");
    const good = {
      scenario: "existing-existing",
      financeOperationsUrl: env.financeOperationsUrl,
      dataverseUrl: env.dataverseUrl,
      legalEntities: ["USMF"],
      __provider: text,
    };
    const mark = await h.mark();
    expect(await provider.check!({}, good)).to.deep.include({ failures: [] });
    expect((await h.requestsSince(mark)).some((r) => r.surface === "gateway")).to.equal(true);
    const bad = await provider.check!({}, { ...good, legalEntities: ["TOOLONG"] });
    expect(bad.failures?.map((f) => f.property)).to.deep.equal(["legalEntities"]);
    expect(await h.writesSince(mark)).to.deep.equal([]);
  });
  it("loads the runtime by its captured path where the package name does not resolve (transitive or pnpm install)", async () => {
    const dir = foreignDirectory();
    try {
      await loadAndCheckIn(dir, await serialized("DualWriteConnection"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("finds the runtime below node_modules above the working directory when the captured path is gone (a moved pnpm project)", async () => {
    // A pnpm layout: the package only under node_modules/.pnpm, nothing at node_modules/pulumi-dualwrite.
    const project = foreignDirectory();
    try {
      const store = join(
        project,
        "node_modules",
        ".pnpm",
        "pulumi-dualwrite@0.1.0",
        "node_modules",
      );
      mkdirSync(store, { recursive: true });
      symlinkSync(process.cwd(), join(store, "pulumi-dualwrite"));
      const subfolder = join(project, "infra");
      mkdirSync(subfolder);
      const moved = delegatingProvider(
        "DualWriteConnection",
        join(tmpdir(), "moved-away", "node_modules", "pulumi-dualwrite", "runtime.js"),
        ".pnpm/pulumi-dualwrite@0.1.0/node_modules/pulumi-dualwrite/dist/provider/dynamic/runtime.js",
        RUNTIME_MODULE,
      );
      await loadAndCheckIn(subfolder, await serialized("DualWriteConnection", moved));
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it("finds the runtime through pnpm's hoisting folder when its store folder changed (an upgrade)", async () => {
    // After an upgrade pnpm's store folder has another name; node_modules/.pnpm/node_modules
    // links the package whatever its version.
    const project = foreignDirectory();
    try {
      const hoisted = join(project, "node_modules", ".pnpm", "node_modules");
      mkdirSync(hoisted, { recursive: true });
      symlinkSync(process.cwd(), join(hoisted, "pulumi-dualwrite"));
      const subfolder = join(project, "infra");
      mkdirSync(subfolder);
      const upgraded = delegatingProvider(
        "DualWriteConnection",
        join(tmpdir(), "moved-away", "node_modules", "pulumi-dualwrite", "runtime.js"),
        ".pnpm/pulumi-dualwrite@0.0.9/node_modules/pulumi-dualwrite/dist/provider/dynamic/runtime.js",
        RUNTIME_MODULE,
      );
      await loadAndCheckIn(subfolder, await serialized("DualWriteConnection", upgraded));
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it("falls back to the package name when neither place exists (state written from a linked checkout)", async () => {
    const moved = delegatingProvider(
      "DualWriteConnection",
      join(tmpdir(), "moved-away", "pulumi-dualwrite", "runtime.js"),
      "",
      RUNTIME_MODULE,
    );
    // The repository root, where node_modules/pulumi-dualwrite resolves (tools/setup.js links it).
    await loadAndCheckIn(process.cwd(), await serialized("DualWriteConnection", moved));
  });

  it("says where it looked, and what to do, when the runtime is nowhere", async () => {
    const gone = join(tmpdir(), "moved-away", "runtime.js");
    const dir = foreignDirectory();
    try {
      const text = await serialized(
        "DualWriteConnection",
        delegatingProvider(
          "DualWriteConnection",
          gone,
          "pulumi-dualwrite/runtime.js",
          RUNTIME_MODULE,
        ),
      );
      let failure: unknown;
      await inDirectory(dir, () =>
        requireFromString(text).handler().configure!({
          config: { get: () => undefined, require: () => "" },
        }),
      ).catch((e: unknown) => (failure = e));
      expect(String(failure))
        .to.include(gone)
        .and.to.include("node_modules/pulumi-dualwrite/runtime.js")
        .and.to.include(RUNTIME_MODULE)
        .and.to.include("npm install pulumi-dualwrite");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
