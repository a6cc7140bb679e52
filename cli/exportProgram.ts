/**
 * The files `pulumi-dualwrite export` writes, from an observed setup (pure: text in, text out,
 * the same bytes for the same setup):
 *
 * | file                          | what                                                                 |
 * |-------------------------------|----------------------------------------------------------------------|
 * | `README.md`                   | what was exported and how to use each folder                         |
 * | `typescript/index.ts`         | the program on the package's resources (`pulumi-dualwrite`)          |
 * | `typescript/Pulumi.yaml`, `package.json`, `tsconfig.json` | a Node project around it                   |
 * | `typescript/Pulumi.<stack>.yaml` | stack config: the environment URLs and the provider settings, no secret |
 * | `yaml/Pulumi.yaml`            | the same program in Pulumi YAML, on the plugin's tokens (`dualwrite:index:*`) |
 * | `yaml/Pulumi.<stack>.yaml`    | the same stack config                                                |
 * | `yaml/import.json`            | `pulumi import --file` input: one `{type, name, id}` per resource    |
 *
 * Declared: the link (scenario `existing-existing`, both URLs from stack config, its legal
 * entities and applied solutions) and one EntityMapBinding per map in use (or per map, with
 * `allMaps`) with its exact version, author, integration keys and state — exactly what `read`
 * gives for the import ids (`importedConnectionInputs`, `importedMapInputs`), so that the first
 * preview after an import shows no change. Maps are ordered prerequisites first (the catalog's,
 * `directPrerequisites`), then by name, and depend on their prerequisites.
 *
 * Not declared: CompanyBootstrap and InitialSyncRun. They are operations on business data, not
 * setup — a bootstrap stamps rows, an initial sync copies them — and their past runs cannot be
 * read back as a declaration; declaring them would make the first `up` write business data.
 */
import { directPrerequisites } from "../provider/scenario/catalog";
import type { DualWriteConnectionInputs } from "../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { formatConnectionImportId } from "../provider/resources/dualWriteConnection/connectionImport";
import { formatMapImportId } from "../provider/resources/entityMapBinding/mapImport";
import type { MapSnapshot } from "./snapshot";
import { compareText } from "./snapshot";

/** The plugin's type tokens (schema.json). */
export const TOKENS = {
  connection: "dualwrite:index:DualWriteConnection",
  map: "dualwrite:index:EntityMapBinding",
} as const;

/** What the files are made from. */
export interface ExportInput {
  /** Pulumi project name. */
  readonly project: string;
  /** Stack name (`Pulumi.<stack>.yaml`). */
  readonly stack: string;
  /** The connection's resource name. */
  readonly connectionName: string;
  /** The link's declaration (normalized URLs). */
  readonly connection: DualWriteConnectionInputs;
  /** The maps to declare. */
  readonly maps: readonly MapSnapshot[];
  /** Maps on the link not declared (not in use), for the README. */
  readonly skippedMaps: readonly string[];
  /** Non-secret provider settings, `[key, value]`, in `SETTINGS` order. */
  readonly settings: ReadonlyArray<readonly [string, string]>;
  /** Keys of the secret settings the export was read with (to set with `--secret`). */
  readonly secretSettings: readonly string[];
  /** The package version the TypeScript project depends on. */
  readonly packageVersion: string;
  /** Where the YAML project finds the plugin (`plugins.providers[].path`); none = installed. */
  readonly pluginPath?: string;
}

/** One map resource of the program. */
interface MapResource {
  readonly map: MapSnapshot;
  /** Pulumi resource name. */
  readonly name: string;
  /** TypeScript variable name. */
  readonly variable: string;
  /** Resource names of the declared maps it depends on, sorted. */
  readonly dependsOn: readonly string[];
}

/** The files, by path relative to the output folder. */
export type ExportFiles = Readonly<Record<string, string>>;

/** The TypeScript variable of the connection. */
const LINK_VARIABLE = "link";
const RESERVED = new Set([LINK_VARIABLE, "config", "pulumi", "dw"]);

/** The paths `exportFiles` writes for a stack, relative to the output folder. */
export function exportFileNames(stack: string): string[] {
  const stackFile = `Pulumi.${stack}.yaml`;
  return [
    "README.md",
    "typescript/Pulumi.yaml",
    "typescript/index.ts",
    "typescript/package.json",
    "typescript/tsconfig.json",
    `typescript/${stackFile}`,
    "yaml/Pulumi.yaml",
    `yaml/${stackFile}`,
    "yaml/import.json",
  ];
}

/** Builds every file (see the file comment); the paths are `exportFileNames(input.stack)`. */
export function exportFiles(input: ExportInput): ExportFiles {
  const resources = mapResources(input.maps, input.connectionName);
  const stackFile = `Pulumi.${input.stack}.yaml`;
  const stackConfig = stackConfigText(input);
  return {
    "README.md": readmeText(input, resources.length),
    "typescript/Pulumi.yaml": typescriptProjectText(input),
    "typescript/index.ts": typescriptProgram(input, resources),
    "typescript/package.json": `${JSON.stringify(packageJson(input), null, 2)}\n`,
    "typescript/tsconfig.json": `${JSON.stringify(TSCONFIG, null, 2)}\n`,
    [`typescript/${stackFile}`]: stackConfig,
    "yaml/Pulumi.yaml": yamlProgram(input, resources),
    [`yaml/${stackFile}`]: stackConfig,
    "yaml/import.json": `${JSON.stringify(importFile(input, resources), null, 2)}\n`,
  };
}

/** The `pulumi import --file` document: the connection, then the maps. */
export function importFile(
  input: ExportInput,
  resources: readonly MapResource[] = mapResources(input.maps, input.connectionName),
): { resources: Array<{ type: string; name: string; id: string }> } {
  const { financeOperationsUrl: fo, dataverseUrl: dv } = input.connection;
  return {
    resources: [
      { type: TOKENS.connection, name: input.connectionName, id: formatConnectionImportId(fo, dv) },
      ...resources.map((r) => ({
        type: TOKENS.map,
        name: r.name,
        id: formatMapImportId(fo, dv, r.map.name),
      })),
    ],
  };
}

/** `accounts - Customers V3` → `accounts-customers-v3`. */
export function resourceNameOf(mapName: string): string {
  const slug = mapName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return slug === "" ? "map" : slug;
}

/** `accounts-customers-v3` → `accountsCustomersV3` (a valid, unreserved identifier). */
function variableOf(name: string): string {
  const camel = name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const id = /^[a-z_$]/i.test(camel) ? camel : `map${camel}`;
  return RESERVED.has(id) ? `${id}Map` : id;
}

/**
 * The map resources in declaration order: each after the declared maps it needs (the catalog's
 * prerequisites), otherwise by map name. Names are unique: a clash gets `-2`, `-3`, ….
 */
function mapResources(maps: readonly MapSnapshot[], connectionName: string): MapResource[] {
  const byName = [...maps].sort((a, b) => compareText(a.name, b.name));
  const taken = new Set([connectionName]);
  const names = new Map<string, string>();
  const variables = new Set<string>();
  const variableOfMap = new Map<string, string>();
  for (const m of byName) {
    const base = resourceNameOf(m.name);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add(name);
    names.set(m.name, name);
    let variable = variableOf(name);
    for (let n = 2; variables.has(variable); n++) variable = `${variableOf(name)}${n}`;
    variables.add(variable);
    variableOfMap.set(m.name, variable);
  }
  const declared = new Set(byName.map((m) => m.name));
  const needs = (m: MapSnapshot): string[] =>
    directPrerequisites(m.name).filter((p) => declared.has(p) && p !== m.name);
  // Kahn's algorithm, always taking the first map by name whose prerequisites are placed.
  const placed = new Set<string>();
  const ordered: MapSnapshot[] = [];
  while (ordered.length < byName.length) {
    const next =
      byName.find((m) => !placed.has(m.name) && needs(m).every((p) => placed.has(p))) ??
      byName.find((m) => !placed.has(m.name)); // a cycle cannot happen; never loop on one
    if (!next) break;
    placed.add(next.name);
    ordered.push(next);
  }
  return ordered.map((map) => ({
    map,
    name: names.get(map.name) ?? resourceNameOf(map.name),
    variable: variableOfMap.get(map.name) ?? variableOf(resourceNameOf(map.name)),
    dependsOn: needs(map)
      .map((p) => names.get(p) ?? resourceNameOf(p))
      .sort(compareText),
  }));
}

// ── TypeScript ────────────────────────────────────────────────────────────────────────────────

function typescriptProgram(input: ExportInput, resources: readonly MapResource[]): string {
  const c = input.connection;
  const variableOfName = new Map(resources.map((r) => [r.name, r.variable]));
  const referenced = new Set(resources.flatMap((r) => r.dependsOn));
  const lines = [
    "/**",
    ` * The dual-write setup of F&O ${c.financeOperationsUrl}`,
    ` * and Dataverse ${c.dataverseUrl},`,
    " * as `pulumi-dualwrite export` read it (read-only). The environment URLs come from stack config",
    " * (financeOperationsUrl, dataverseUrl), so the same program can be promoted to other stacks.",
    " * CompanyBootstrap and InitialSyncRun are not declared: they move business data (see README.md).",
    " */",
    'import * as pulumi from "@pulumi/pulumi";',
    'import * as dw from "pulumi-dualwrite";',
    "",
    "const config = new pulumi.Config();",
    "",
    `const ${LINK_VARIABLE} = new dw.DualWriteConnection(${ts(input.connectionName)}, {`,
    `  scenario: ${ts(c.scenario)},`,
    '  financeOperationsUrl: config.require("financeOperationsUrl"),',
    '  dataverseUrl: config.require("dataverseUrl"),',
    ...(c.legalEntities ? [`  legalEntities: ${tsList(c.legalEntities.map(String))},`] : []),
    ...(c.solutions ? [`  solutions: ${tsList(c.solutions)},`] : []),
    "});",
  ];
  for (const r of resources) {
    const d = r.map.declaration;
    const lead = referenced.has(r.name) ? `const ${r.variable} = ` : "";
    const deps = r.dependsOn.map((n) => variableOfName.get(n) ?? n);
    lines.push(
      "",
      `${lead}new dw.EntityMapBinding(`,
      `  ${ts(r.name)},`,
      "  {",
      `    connection: ${LINK_VARIABLE},`,
      `    mapName: ${ts(d.mapName)},`,
      ...(d.version !== undefined ? [`    version: ${ts(d.version)},`] : []),
      ...(d.author !== undefined ? [`    author: ${ts(d.author)},`] : []),
      ...(d.integrationKeys ? [`    integrationKeys: ${tsList(d.integrationKeys)},`] : []),
      ...(d.state !== undefined ? [`    state: ${ts(d.state)},`] : []),
      deps.length > 0 ? "  }," : "  },",
      ...dependsOnLines(deps),
      ");",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** `  { dependsOn: [a, b] },`, one name a line when that is longer than 100 characters. */
function dependsOnLines(deps: readonly string[]): string[] {
  if (deps.length === 0) return [];
  const line = `  { dependsOn: [${deps.join(", ")}] },`;
  if (line.length <= 100) return [line];
  return ["  {", "    dependsOn: [", ...deps.map((d) => `      ${d},`), "    ],", "  },"];
}

function ts(value: string): string {
  return JSON.stringify(value);
}

function tsList(values: readonly string[]): string {
  return `[${values.map(ts).join(", ")}]`;
}

function typescriptProjectText(input: ExportInput): string {
  return yamlDocument([
    ["name", input.project],
    ["description", projectDescription(input)],
    ["runtime", "nodejs"],
  ]);
}

function packageJson(input: ExportInput): unknown {
  return {
    name: input.project,
    private: true,
    main: "index.ts",
    dependencies: {
      "@pulumi/pulumi": "^3.200.0",
      "pulumi-dualwrite": `^${input.packageVersion}`,
    },
    devDependencies: { "@types/node": "^22.0.0", typescript: "^5.9.0" },
  };
}

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    target: "ES2023",
    module: "commonjs",
    moduleResolution: "node",
    esModuleInterop: true,
    skipLibCheck: true,
  },
  files: ["index.ts"],
};

// ── YAML ──────────────────────────────────────────────────────────────────────────────────────

function yamlProgram(input: ExportInput, resources: readonly MapResource[]): string {
  const c = input.connection;
  const connection: YamlEntry[] = [
    ["scenario", c.scenario],
    ["financeOperationsUrl", "${financeOperationsUrl}"],
    ["dataverseUrl", "${dataverseUrl}"],
    ...(c.legalEntities ? [["legalEntities", c.legalEntities.map(String)] as YamlEntry] : []),
    ...(c.solutions ? [["solutions", [...c.solutions]] as YamlEntry] : []),
  ];
  const entries: YamlEntry[] = [
    ["name", input.project],
    ["description", projectDescription(input)],
    ["runtime", "yaml"],
    ...(input.pluginPath
      ? [
          [
            "plugins",
            [["providers", [[["name", "dualwrite"] as YamlEntry, ["path", input.pluginPath]]]]],
          ] as YamlEntry,
        ]
      : []),
    [
      "config",
      [
        ["financeOperationsUrl", [["type", "string"]]],
        ["dataverseUrl", [["type", "string"]]],
      ],
    ],
    [
      "resources",
      [
        [
          input.connectionName,
          [
            ["type", TOKENS.connection],
            ["properties", connection],
          ],
        ],
        ...resources.map((r): YamlEntry => {
          const d = r.map.declaration;
          const properties: YamlEntry[] = [
            ["connection", `\${${input.connectionName}}`],
            ["mapName", d.mapName],
            ...(d.version !== undefined ? [["version", d.version] as YamlEntry] : []),
            ...(d.author !== undefined ? [["author", d.author] as YamlEntry] : []),
            ...(d.integrationKeys
              ? [["integrationKeys", [...d.integrationKeys]] as YamlEntry]
              : []),
            ...(d.state !== undefined ? [["state", d.state] as YamlEntry] : []),
          ];
          return [
            r.name,
            [
              ["type", TOKENS.map],
              ["properties", properties],
              ...(r.dependsOn.length > 0
                ? [["options", [["dependsOn", r.dependsOn.map((n) => `\${${n}}`)]]] as YamlEntry]
                : []),
            ],
          ];
        }),
      ],
    ],
  ];
  return `${YAML_HEADER}${yamlDocument(entries)}`;
}

const YAML_HEADER =
  "# Written by `pulumi-dualwrite export` (read-only): the observed dual-write setup, on the\n" +
  "# provider plugin's tokens. Import it first (see README.md), then `pulumi preview` shows no change.\n";

function stackConfigText(input: ExportInput): string {
  const c = input.connection;
  const values: [string, string][] = [
    ...input.settings.map(([k, v]): [string, string] => [k, v]),
    [`${input.project}:financeOperationsUrl`, c.financeOperationsUrl],
    [`${input.project}:dataverseUrl`, c.dataverseUrl],
  ];
  const header = [
    "# Stack config written by `pulumi-dualwrite export`: the environment URLs and the provider",
    "# settings the export was read with. No secret is written; set them before the first preview:",
    ...(input.secretSettings.length > 0
      ? input.secretSettings.map((k) => `#   pulumi config set --secret ${k} <value>`)
      : ["#   (none were used: the credentials came from elsewhere, e.g. the Azure CLI)"]),
  ];
  return `${header.join("\n")}\n${yamlDocument([["config", values]])}`;
}

function projectDescription(input: ExportInput): string {
  return `Dual-write between ${input.connection.financeOperationsUrl} and ${input.connection.dataverseUrl}, exported by pulumi-dualwrite.`;
}

/** A YAML value: a scalar, a list of scalars, or a mapping (ordered entries). */
type YamlValue =
  string | boolean | readonly string[] | readonly YamlEntry[] | readonly YamlEntry[][];
type YamlEntry = readonly [string, YamlValue];

/** A small, deterministic YAML writer for the shapes above (keys are plain; scalars quoted when needed). */
function yamlDocument(entries: readonly YamlEntry[]): string {
  const out: string[] = [];
  writeMapping(entries, 0, out);
  return `${out.join("\n")}\n`;
}

function writeMapping(entries: readonly YamlEntry[], indent: number, out: string[]): void {
  const pad = " ".repeat(indent);
  for (const [key, value] of entries) {
    if (typeof value === "string" || typeof value === "boolean") {
      out.push(`${pad}${key}: ${scalar(value)}`);
    } else if (value.length === 0) {
      out.push(`${pad}${key}: []`);
    } else if (typeof value[0] === "string") {
      out.push(`${pad}${key}:`);
      for (const item of value as readonly string[]) out.push(`${pad}  - ${scalar(item)}`);
    } else if (isEntry(value[0])) {
      out.push(`${pad}${key}:`);
      writeMapping(value as readonly YamlEntry[], indent + 2, out);
    } else {
      // A list of mappings.
      out.push(`${pad}${key}:`);
      for (const item of value as readonly YamlEntry[][]) {
        const lines: string[] = [];
        writeMapping(item, indent + 4, lines);
        lines[0] = `${pad}  - ${(lines[0] ?? "").trimStart()}`;
        out.push(...lines);
      }
    }
  }
}

function isEntry(value: unknown): value is YamlEntry {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "string";
}

/** Plain when unambiguous, else a JSON string (which YAML reads as a double-quoted scalar). */
function scalar(value: string | boolean): string {
  if (typeof value === "boolean") return String(value);
  const plain =
    /^[A-Za-z_][A-Za-z0-9_ .()/-]*$/.test(value) &&
    !/\s$/.test(value) &&
    !/^(true|false|yes|no|on|off|null|y|n)$/i.test(value);
  return plain ? value : JSON.stringify(value);
}

/** `1 map`, `2 maps`. */
function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

// ── README ────────────────────────────────────────────────────────────────────────────────────

function readmeText(input: ExportInput, mapCount: number): string {
  const c = input.connection;
  const lines = [
    "# Exported dual-write setup",
    "",
    `Read (read-only) by \`pulumi-dualwrite export\` from F&O ${c.financeOperationsUrl} and Dataverse ${c.dataverseUrl}:`,
    `the link (${count((c.legalEntities ?? []).length, "legal entity", "legal entities")}, ${count((c.solutions ?? []).length, "solution", "solutions")}) and ${count(mapCount, "map", "maps")}.`,
    ...(input.skippedMaps.length > 0
      ? [
          "",
          `Not declared: ${input.skippedMaps.length} ${input.skippedMaps.length === 1 ? "map" : "maps"} on the link that ${input.skippedMaps.length === 1 ? "is" : "are"} stopped and never initialized`,
          "(export with `--all-maps` to declare them as Stopped).",
        ]
      : []),
    "Not declared either: CompanyBootstrap and InitialSyncRun, which move business data rather than",
    "configure the link; the rows they moved are already there.",
    "",
    `Both folders hold the same declaration and the stack config \`Pulumi.${input.stack}.yaml\``,
    "(environment URLs and provider settings, no secret: set the secrets it lists first).",
    "",
    "## yaml/ — import, then preview",
    "",
    "```sh",
    "cd yaml",
    `pulumi stack init ${input.stack}`,
    "pulumi import --file import.json --generate-code=false --yes",
    "pulumi preview   # no changes",
    "```",
    "",
    "Import ids (docs/resources.md): a DualWriteConnection is `<financeOperationsUrl>|<dataverseUrl>`,",
    "an EntityMapBinding `<financeOperationsUrl>|<dataverseUrl>|<map name>`.",
    "",
    "## typescript/ — adopt with the first `pulumi up`",
    "",
    "Dynamic resources cannot be imported. Their `create` adopts what already matches, so the first",
    "`pulumi up` of this program changes nothing in the environments (it only reads them) and records",
    "the setup in the stack; the next `pulumi preview` shows no change.",
    "",
    "```sh",
    "cd typescript",
    "npm install",
    `pulumi stack init ${input.stack}`,
    "pulumi up",
    "```",
  ];
  return `${lines.join("\n")}\n`;
}
