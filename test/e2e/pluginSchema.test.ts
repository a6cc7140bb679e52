/**
 * `schema.json` against the provider plugin: the schema the plugin serves over the real gRPC
 * interface (`pulumi package get-schema <plugin>`, the CLI starting bin/pulumi-resource-dualwrite)
 * is `schema.json`, and what it declares is what the plugin can serve — each resource's inputs are
 * the lifecycle's inputs (with the reference inputs in place of what they resolve to), and the
 * provider configuration is the settings the provider reads.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { SETTINGS } from "../../provider/config";
import type { ResourceKind } from "../../provider/dynamic/adapter";
import { DERIVED_INPUTS, REFERENCE_INPUTS } from "../../provider/plugin/references";
import { companyBootstrapSchemas } from "../../provider/resources/companyBootstrap/companyBootstrap.schema";
import { connectionSchemas } from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingSchemas } from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import { initialSyncRunSchemas } from "../../provider/resources/initialSyncRun/initialSyncRun.schema";
import { TIMED_RESOURCES, TIMEOUTS_PROPERTY } from "../../provider/resources/common/timeouts";
import { loadToolchain } from "../../tools/toolchain";

interface Property {
  readonly $ref?: string;
}
interface Schema {
  readonly name: string;
  readonly version: string;
  readonly config: { readonly variables: Record<string, { secret?: boolean }> };
  readonly resources: Record<
    string,
    {
      readonly inputProperties?: Record<string, Property>;
      readonly properties?: Record<string, Property>;
      readonly isComponent?: boolean;
    }
  >;
}

/**
 * The inputs each resource's lifecycle validates (its zod schemas), plus the adapters' own
 * `timeouts` on the resources that have long waits (resources/common/timeouts.ts).
 */
const LIFECYCLE_INPUTS: Readonly<Record<ResourceKind, readonly string[]>> = {
  DualWriteConnection: [...Object.keys(connectionSchemas), ...timed("DualWriteConnection")],
  CompanyBootstrap: [...Object.keys(companyBootstrapSchemas), ...timed("CompanyBootstrap")],
  EntityMapBinding: [...Object.keys(entityMapBindingSchemas), ...timed("EntityMapBinding")],
  InitialSyncRun: [...Object.keys(initialSyncRunSchemas), ...timed("InitialSyncRun")],
};

/**
 * Lifecycle inputs that `check` itself fills in (never declared by a program, so not schema
 * inputs, but kept as outputs): the concrete version that `version: "latest"` stands for.
 */
const RESOLVED_BY_CHECK: Readonly<Record<ResourceKind, readonly string[]>> = {
  DualWriteConnection: [],
  CompanyBootstrap: [],
  EntityMapBinding: ["resolvedVersion"],
  InitialSyncRun: [],
};

function timed(kind: ResourceKind): string[] {
  return TIMED_RESOURCES.includes(kind) ? [TIMEOUTS_PROPERTY] : [];
}

describe("schema.json is the schema the provider plugin serves", function () {
  this.timeout(120_000);
  const toolchain = loadToolchain();
  let fileSchema: Schema;
  let served: Schema;

  before(async function () {
    fileSchema = JSON.parse(
      fs.readFileSync(path.join(toolchain.repoRoot, "schema.json"), "utf8"),
    ) as Schema;
    const plugin = path.join(toolchain.repoRoot, "bin", "pulumi-resource-dualwrite");
    const { stdout } = await promisify(execFile)(
      path.join(toolchain.binDir, "pulumi"),
      ["package", "get-schema", plugin, "--non-interactive"],
      { env: toolchain.env, maxBuffer: 16 * 1024 * 1024 },
    );
    served = JSON.parse(stdout) as Schema;
  });

  it("serves schema.json exactly (GetSchema through the CLI)", function () {
    expect(served).to.deep.equal(fileSchema);
    expect(served.name).to.equal("dualwrite");
  });

  it("declares, for each resource, the lifecycle's inputs (references in place of what they resolve to)", function () {
    for (const kind of Object.keys(LIFECYCLE_INPUTS) as ResourceKind[]) {
      const resource = served.resources[`dualwrite:index:${kind}`];
      expect(resource, kind).to.not.equal(undefined);
      const inputs = resource?.inputProperties ?? {};
      const references = Object.entries(inputs)
        .filter(([, p]) => p.$ref?.startsWith("#/resources/"))
        .map(([name, p]) => [name, p.$ref?.replace("#/resources/dualwrite:index:", "")]);
      expect(Object.fromEntries(references), `${kind} reference inputs`).to.deep.equal(
        REFERENCE_INPUTS[kind],
      );
      const declared = Object.keys(inputs).filter((name) => !(name in REFERENCE_INPUTS[kind]));
      expect(
        [...declared, ...DERIVED_INPUTS[kind], ...RESOLVED_BY_CHECK[kind]].sort(),
        `${kind} inputs`,
      ).to.deep.equal([...LIFECYCLE_INPUTS[kind]].sort());
      // Every lifecycle input is also an output: diff, read and delete work from the state alone.
      const outputs = Object.keys(resource?.properties ?? {});
      for (const name of LIFECYCLE_INPUTS[kind])
        expect(outputs, `${kind} outputs`).to.include(name);
    }
  });

  it("declares the component DualWriteScenario", function () {
    expect(served.resources["dualwrite:index:DualWriteScenario"]?.isComponent).to.equal(true);
  });

  it("declares every provider setting as config, the secret ones secret", function () {
    const settings = Object.keys(SETTINGS).sort();
    expect(Object.keys(served.config.variables).sort()).to.deep.equal(settings);
    const secret = Object.entries(served.config.variables)
      .filter(([, v]) => v.secret === true)
      .map(([k]) => k)
      .sort();
    expect(secret).to.deep.equal([
      "clientCertificatePassword",
      "clientSecret",
      "gatewayPassword",
      "gatewayRefreshToken",
    ]);
  });
});
