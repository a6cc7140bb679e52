/**
 * The files `pulumi-dualwrite export` writes, from a setup given by hand (no emulator): the exact
 * TypeScript program, YAML program, stack config and import ids of a small setup; the order of
 * maps (prerequisites first, then by name) and their dependsOn; unique resource names; YAML
 * scalars that would read as something else quoted; no secret value anywhere.
 */
import { expect } from "chai";
import {
  exportFileNames,
  exportFiles,
  importFile,
  resourceNameOf,
  type ExportInput,
} from "../../cli/exportProgram";
import type { MapSnapshot } from "../../cli/snapshot";
import { importedConnectionInputs } from "../../provider/resources/dualWriteConnection/connectionImport";
import type { EntityMapBindingInputs } from "../../provider/resources/entityMapBinding/entityMapBinding.schema";

const FO = "https://contoso.operations.dynamics.com";
const DV = "https://contoso.crm.dynamics.com";

function map(
  name: string,
  declaration: Partial<EntityMapBindingInputs>,
  state = "Running",
): MapSnapshot {
  return {
    name,
    state,
    version: declaration.version,
    author: declaration.author,
    integrationKeys: declaration.integrationKeys ?? [],
    dataverseEntitySet: name.split(" - ")[0] ?? name,
    initialized: true,
    inUse: true,
    declaration: {
      environmentId: "cid",
      financeOperationsUrl: FO,
      dataverseUrl: DV,
      mapName: name,
      ...declaration,
    },
  };
}

const ACCOUNTS = map("accounts - Customers V3", {
  version: "1.0.0.5",
  author: "Microsoft",
  integrationKeys: ["accountnumber", "msdyn_company.cdm_companycode"],
  state: "Running",
});
const COMPANIES = map("cdm_companies - Legal entities", {
  version: "1.0.0.1",
  author: "Microsoft",
  state: "Paused",
});

function input(maps: readonly MapSnapshot[], extra: Partial<ExportInput> = {}): ExportInput {
  return {
    project: "contoso-dw",
    stack: "prod",
    connectionName: "contoso",
    connection: importedConnectionInputs({
      financeOperationsUrl: FO,
      dataverseUrl: DV,
      linkedLegalEntities: ["USMF", "DEMF"],
      appliedSolutions: ["msdyn_DualWriteAppCoreMaps"],
    }),
    maps,
    skippedMaps: ["uoms - Units"],
    settings: [
      ["dualwrite:tenantId", "72f988bf-86f1-41af-91ab-2d7cd011db47"],
      [
        "dualwrite:gatewayUrl",
        "https://projectmanagementservice.weu.gateway.prod.island.powerapps.com",
      ],
      ["dualwrite:gatewayUsername", "dw@contoso.com"],
    ],
    secretSettings: ["dualwrite:clientSecret", "dualwrite:gatewayPassword"],
    packageVersion: "0.1.0",
    ...extra,
  };
}

describe("export: the files written", () => {
  it("writes exactly the files it names", () => {
    expect(Object.keys(exportFiles(input([ACCOUNTS]))).sort()).to.deep.equal(
      exportFileNames("prod").sort(),
    );
  });

  it("declares the link and each map in TypeScript, prerequisites first", () => {
    const files = exportFiles(input([ACCOUNTS, COMPANIES]));
    const program = files["typescript/index.ts"] ?? "";
    const body = program.slice(program.indexOf("const link"));
    expect(body).to.equal(
      [
        'const link = new dw.DualWriteConnection("contoso", {',
        '  scenario: "existing-existing",',
        '  financeOperationsUrl: config.require("financeOperationsUrl"),',
        '  dataverseUrl: config.require("dataverseUrl"),',
        '  legalEntities: ["DEMF", "USMF"],',
        '  solutions: ["msdyn_DualWriteAppCoreMaps"],',
        "});",
        "",
        "const cdmCompaniesLegalEntities = new dw.EntityMapBinding(",
        '  "cdm-companies-legal-entities",',
        "  {",
        "    connection: link,",
        '    mapName: "cdm_companies - Legal entities",',
        '    version: "1.0.0.1",',
        '    author: "Microsoft",',
        '    state: "Paused",',
        "  },",
        ");",
        "",
        "new dw.EntityMapBinding(",
        '  "accounts-customers-v3",',
        "  {",
        "    connection: link,",
        '    mapName: "accounts - Customers V3",',
        '    version: "1.0.0.5",',
        '    author: "Microsoft",',
        '    integrationKeys: ["accountnumber", "msdyn_company.cdm_companycode"],',
        '    state: "Running",',
        "  },",
        "  { dependsOn: [cdmCompaniesLegalEntities] },",
        ");",
        "",
      ].join("\n"),
    );
    expect(program).to.contain('import * as dw from "pulumi-dualwrite";');
  });

  it("declares the same in YAML on the plugin's tokens, and the import ids in the same order", () => {
    const files = exportFiles(input([ACCOUNTS, COMPANIES], { pluginPath: "/opt/dualwrite/bin" }));
    const yaml = files["yaml/Pulumi.yaml"] ?? "";
    expect(yaml.slice(yaml.indexOf("name:"))).to.equal(
      [
        "name: contoso-dw",
        `description: "Dual-write between ${FO} and ${DV}, exported by pulumi-dualwrite."`,
        "runtime: yaml",
        "plugins:",
        "  providers:",
        "    - name: dualwrite",
        '      path: "/opt/dualwrite/bin"',
        "config:",
        "  financeOperationsUrl:",
        "    type: string",
        "  dataverseUrl:",
        "    type: string",
        "resources:",
        "  contoso:",
        '    type: "dualwrite:index:DualWriteConnection"',
        "    properties:",
        "      scenario: existing-existing",
        '      financeOperationsUrl: "${financeOperationsUrl}"',
        '      dataverseUrl: "${dataverseUrl}"',
        "      legalEntities:",
        "        - DEMF",
        "        - USMF",
        "      solutions:",
        "        - msdyn_DualWriteAppCoreMaps",
        "  cdm-companies-legal-entities:",
        '    type: "dualwrite:index:EntityMapBinding"',
        "    properties:",
        '      connection: "${contoso}"',
        "      mapName: cdm_companies - Legal entities",
        '      version: "1.0.0.1"',
        "      author: Microsoft",
        "      state: Paused",
        "  accounts-customers-v3:",
        '    type: "dualwrite:index:EntityMapBinding"',
        "    properties:",
        '      connection: "${contoso}"',
        "      mapName: accounts - Customers V3",
        '      version: "1.0.0.5"',
        "      author: Microsoft",
        "      integrationKeys:",
        "        - accountnumber",
        "        - msdyn_company.cdm_companycode",
        "      state: Running",
        "    options:",
        "      dependsOn:",
        '        - "${cdm-companies-legal-entities}"',
        "",
      ].join("\n"),
    );
    expect(JSON.parse(files["yaml/import.json"] ?? "")).to.deep.equal({
      resources: [
        { type: "dualwrite:index:DualWriteConnection", name: "contoso", id: `${FO}|${DV}` },
        {
          type: "dualwrite:index:EntityMapBinding",
          name: "cdm-companies-legal-entities",
          id: `${FO}|${DV}|cdm_companies - Legal entities`,
        },
        {
          type: "dualwrite:index:EntityMapBinding",
          name: "accounts-customers-v3",
          id: `${FO}|${DV}|accounts - Customers V3`,
        },
      ],
    });
  });

  it("writes stack config with the URLs and settings, and names the secrets without their values", () => {
    const files = exportFiles(input([ACCOUNTS]));
    const config = files["yaml/Pulumi.prod.yaml"] ?? "";
    expect(files["typescript/Pulumi.prod.yaml"]).to.equal(config);
    expect(config).to.equal(
      [
        "# Stack config written by `pulumi-dualwrite export`: the environment URLs and the provider",
        "# settings the export was read with. No secret is written; set them before the first preview:",
        "#   pulumi config set --secret dualwrite:clientSecret <value>",
        "#   pulumi config set --secret dualwrite:gatewayPassword <value>",
        "config:",
        '  dualwrite:tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47"',
        '  dualwrite:gatewayUrl: "https://projectmanagementservice.weu.gateway.prod.island.powerapps.com"',
        '  dualwrite:gatewayUsername: "dw@contoso.com"',
        `  contoso-dw:financeOperationsUrl: "${FO}"`,
        `  contoso-dw:dataverseUrl: "${DV}"`,
        "",
      ].join("\n"),
    );
  });

  it("gives every map a unique resource and variable name", () => {
    const a = map("a b - X", { state: "Running" });
    const b = map("a-b - x", { state: "Running" });
    const clash = map("contoso", { state: "Stopped" });
    expect(resourceNameOf("msdyn_customergroups - Customer groups")).to.equal(
      "msdyn-customergroups-customer-groups",
    );
    const names = importFile(input([b, a, clash])).resources.map((r) => r.name);
    expect(names).to.deep.equal(["contoso", "a-b-x", "a-b-x-2", "contoso-2"]);
    const program = exportFiles(input([b, a, clash]))["typescript/index.ts"] ?? "";
    expect(program).to.contain('"a-b-x-2"');
  });

  it("quotes YAML scalars that would read as booleans or numbers", () => {
    const no = map("no - Norway", {
      version: "2.0.0.0",
      author: "ON",
      integrationKeys: ["yes"],
      state: "Stopped",
    });
    const yaml = exportFiles(input([no]))["yaml/Pulumi.yaml"] ?? "";
    expect(yaml).to.contain('      author: "ON"\n');
    expect(yaml).to.contain('        - "yes"\n');
    expect(yaml).to.contain('      version: "2.0.0.0"\n');
    expect(yaml).to.contain("      mapName: no - Norway\n");
  });

  it("says in the README what is not declared", () => {
    const readme = exportFiles(input([ACCOUNTS]))["README.md"] ?? "";
    expect(readme).to.contain("2 legal entities, 1 solution) and 1 map.");
    expect(readme).to.contain(
      "Not declared: 1 map on the link that is stopped and never initialized",
    );
    expect(readme).to.contain("CompanyBootstrap and InitialSyncRun");
    expect(readme).to.contain("pulumi import --file import.json --generate-code=false --yes");
  });
});
