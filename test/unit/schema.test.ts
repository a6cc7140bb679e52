/**
 * `schema.json` (the package schema, name `dualwrite`) against the TypeScript surface: for each
 * resource and the component, the `Args` interface must have exactly the schema's input
 * properties, with the same optionality and types, and the class's `pulumi.Output` properties
 * must match the schema's outputs; nested object types likewise. The TypeScript side is read
 * with the compiler API from the sources, so a field added to one side only fails here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import ts from "typescript";

interface SchemaProperty {
  type?: string;
  $ref?: string;
  items?: SchemaProperty;
  additionalProperties?: SchemaProperty;
  oneOf?: SchemaProperty[];
  description?: string;
  enum?: { value: string }[];
}
interface SchemaObject {
  description?: string;
  properties?: Record<string, SchemaProperty>;
  required?: string[];
  inputProperties?: Record<string, SchemaProperty>;
  requiredInputs?: string[];
  enum?: { value: string }[];
  isComponent?: boolean;
}
interface Schema {
  name: string;
  types: Record<string, SchemaObject>;
  resources: Record<string, SchemaObject>;
}

/** A property as both sides describe it: a canonical type text and whether it must be given. */
interface Shape {
  readonly type: string;
  readonly required: boolean;
}

const repoRoot = path.resolve(__dirname, "..", "..", "..");
const TOKEN = "dualwrite:index:";

/** The TypeScript names behind each schema token. */
const RESOURCES: Record<string, { args: string; cls: string }> = {
  DualWriteConnection: { args: "DualWriteConnectionArgs", cls: "DualWriteConnection" },
  CompanyBootstrap: { args: "CompanyBootstrapArgs", cls: "CompanyBootstrap" },
  EntityMapBinding: { args: "EntityMapBindingArgs", cls: "EntityMapBinding" },
  InitialSyncRun: { args: "InitialSyncRunArgs", cls: "InitialSyncRun" },
  DualWriteScenario: { args: "DualWriteScenarioArgs", cls: "DualWriteScenario" },
};
const OBJECT_TYPES: Record<string, string[]> = {
  LegalEntity: ["LegalEntityArgs", "LegalEntitySpec"],
  ScenarioMap: ["ScenarioMapArgs"],
  ScenarioInitialSync: ["ScenarioInitialSyncArgs"],
  BindingInitialSync: ["BindingInitialSyncArgs", "BindingInitialSync"],
  BindingSyncRecord: ["BindingSyncRecord"],
  BootstrapCompany: ["BootstrapCompanyArgs"],
  LegalEntityRunResult: ["LegalEntityRunResult"],
  MeasuredCounts: ["MeasuredCounts"],
  ResourceTimeouts: ["ResourceTimeoutsArgs", "ResourceTimeouts"],
  RowProblem: ["RowProblem"],
};

/** The schema type name of a TypeScript interface (`LegalEntityArgs` → `LegalEntity`). */
function schemaTypeOf(tsName: string): string | undefined {
  return Object.entries(OBJECT_TYPES).find(([, names]) => names.includes(tsName))?.[0];
}

// ── the TypeScript side ──────────────────────────────────────────────────────────────────────

class TypeScriptSurface {
  private readonly checker: ts.TypeChecker;
  private readonly interfaces = new Map<string, ts.InterfaceDeclaration>();
  private readonly classes = new Map<string, ts.ClassDeclaration>();

  constructor() {
    const program = ts.createProgram([path.join(repoRoot, "provider", "index.ts")], {
      strict: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      noEmit: true,
    });
    this.checker = program.getTypeChecker();
    for (const file of program.getSourceFiles()) {
      if (!file.fileName.startsWith(path.join(repoRoot, "provider"))) continue;
      ts.forEachChild(file, (node) => {
        if (ts.isInterfaceDeclaration(node)) this.interfaces.set(node.name.text, node);
        if (ts.isClassDeclaration(node) && node.name) this.classes.set(node.name.text, node);
      });
    }
  }

  /** The members of an interface. */
  interfaceShape(name: string): Record<string, Shape> {
    const decl = this.interfaces.get(name);
    if (!decl) throw new Error(`interface ${name} not found under provider/`);
    const out: Record<string, Shape> = {};
    for (const m of decl.members) {
      if (!ts.isPropertySignature(m) || !m.type) continue;
      out[m.name.getText()] = {
        type: this.canonical(m.type),
        required: m.questionToken === undefined,
      };
    }
    return out;
  }

  /** The `pulumi.Output` properties of a class (required unless `| undefined`). */
  outputShape(name: string): Record<string, Shape> {
    const decl = this.classes.get(name);
    if (!decl) throw new Error(`class ${name} not found under provider/`);
    const out: Record<string, Shape> = {};
    for (const m of decl.members) {
      if (!ts.isPropertyDeclaration(m) || !m.type || !ts.isTypeReferenceNode(m.type)) continue;
      if (!/^(pulumi\.)?Output$/.test(m.type.typeName.getText())) continue;
      const inner = m.type.typeArguments?.[0];
      if (!inner) continue;
      const optional =
        ts.isUnionTypeNode(inner) &&
        inner.types.some((t) => t.kind === ts.SyntaxKind.UndefinedKeyword);
      out[m.name.getText()] = { type: this.canonical(inner), required: !optional };
    }
    return out;
  }

  /** A canonical text of a type: Input/Output unwrapped, aliases of literal unions as enums. */
  canonical(node: ts.TypeNode): string {
    if (ts.isParenthesizedTypeNode(node)) return this.canonical(node.type);
    if (ts.isArrayTypeNode(node)) return `array<${this.canonical(node.elementType)}>`;
    if (ts.isUnionTypeNode(node)) {
      const members = node.types.filter((t) => t.kind !== ts.SyntaxKind.UndefinedKeyword);
      if (members.every((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal)))
        return this.enumOf(node);
      const parts = [...new Set(members.map((t) => this.canonical(t)))].sort();
      return parts.length === 1 ? (parts[0] ?? "?") : `oneOf(${parts.join(",")})`;
    }
    if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal)) return "string";
    if (node.kind === ts.SyntaxKind.StringKeyword) return "string";
    if (node.kind === ts.SyntaxKind.NumberKeyword) return "number";
    if (node.kind === ts.SyntaxKind.BooleanKeyword) return "boolean";
    if (ts.isTypeReferenceNode(node)) {
      const name = node.typeName.getText();
      const args = node.typeArguments ?? [];
      if (/^(pulumi\.)?(Input|Output)$/.test(name) && args[0]) return this.canonical(args[0]);
      if (name === "Record" && args[1]) return `map<${this.canonical(args[1])}>`;
      const objectType = schemaTypeOf(name);
      if (objectType) return `object(${objectType})`;
      if (this.classes.has(name)) return `resource(${name})`;
      return this.enumOf(node);
    }
    return `unsupported(${node.getText()})`;
  }

  private enumOf(node: ts.TypeNode): string {
    const type = this.checker.getTypeFromTypeNode(node);
    const members = type.isUnion() ? type.types : [type];
    const values = members.filter((t) => t.isStringLiteral()).map((t) => t.value);
    if (values.length !== members.length || values.length === 0)
      return `unsupported(${node.getText()})`;
    return `enum(${values.sort().join("|")})`;
  }
}

// ── the schema side ──────────────────────────────────────────────────────────────────────────

function canonicalSchema(schema: Schema, p: SchemaProperty): string {
  if (p.$ref?.startsWith(`#/types/${TOKEN}`)) {
    const name = p.$ref.slice(`#/types/${TOKEN}`.length);
    const target = schema.types[`${TOKEN}${name}`];
    if (!target) return `missing-type(${name})`;
    return target.enum
      ? `enum(${target.enum
          .map((e) => e.value)
          .sort()
          .join("|")})`
      : `object(${name})`;
  }
  if (p.$ref?.startsWith(`#/resources/${TOKEN}`))
    return `resource(${p.$ref.slice(`#/resources/${TOKEN}`.length)})`;
  if (p.oneOf) {
    const parts = [...new Set(p.oneOf.map((x) => canonicalSchema(schema, x)))].sort();
    return parts.length === 1 ? (parts[0] ?? "?") : `oneOf(${parts.join(",")})`;
  }
  if (p.type === "array" && p.items) return `array<${canonicalSchema(schema, p.items)}>`;
  if (p.type === "object" && p.additionalProperties)
    return `map<${canonicalSchema(schema, p.additionalProperties)}>`;
  if (p.type === "integer") return "number";
  return p.type ?? "untyped";
}

function schemaShape(
  schema: Schema,
  properties: Record<string, SchemaProperty> | undefined,
  required: string[] | undefined,
): Record<string, Shape> {
  const out: Record<string, Shape> = {};
  for (const [name, p] of Object.entries(properties ?? {})) {
    out[name] = { type: canonicalSchema(schema, p), required: (required ?? []).includes(name) };
  }
  return out;
}

/** Every disagreement between the schema and the TypeScript surface, one line each. */
function schemaDisagreements(schema: Schema, surface: TypeScriptSurface): string[] {
  const problems: string[] = [];
  const compare = (
    where: string,
    fromSchema: Record<string, Shape>,
    fromTs: Record<string, Shape>,
  ): void => {
    for (const name of new Set([...Object.keys(fromSchema), ...Object.keys(fromTs)])) {
      const a = fromSchema[name];
      const b = fromTs[name];
      if (!a) problems.push(`${where}.${name}: in TypeScript, missing from schema.json`);
      else if (!b) problems.push(`${where}.${name}: in schema.json, missing from TypeScript`);
      else {
        if (a.type !== b.type)
          problems.push(`${where}.${name}: schema.json says ${a.type}, TypeScript says ${b.type}`);
        if (a.required !== b.required)
          problems.push(
            `${where}.${name}: required in ${a.required ? "schema.json" : "TypeScript"} only`,
          );
      }
    }
  };
  for (const [token, names] of Object.entries(RESOURCES)) {
    const resource = schema.resources[`${TOKEN}${token}`];
    if (!resource) {
      problems.push(`${token}: no resource ${TOKEN}${token} in schema.json`);
      continue;
    }
    compare(
      `${token} inputs`,
      schemaShape(schema, resource.inputProperties, resource.requiredInputs),
      surface.interfaceShape(names.args),
    );
    compare(
      `${token} outputs`,
      schemaShape(schema, resource.properties, resource.required),
      surface.outputShape(names.cls),
    );
    if ((resource.isComponent ?? false) !== (token === "DualWriteScenario"))
      problems.push(`${token}: isComponent is wrong`);
  }
  for (const [token, tsNames] of Object.entries(OBJECT_TYPES)) {
    const type = schema.types[`${TOKEN}${token}`];
    if (!type) {
      problems.push(`${token}: no type ${TOKEN}${token} in schema.json`);
      continue;
    }
    for (const tsName of tsNames)
      compare(
        `${token} (${tsName})`,
        schemaShape(schema, type.properties, type.required),
        surface.interfaceShape(tsName),
      );
  }
  return problems;
}

describe("schema.json and the TypeScript surface agree", function () {
  let schema: Schema;
  let surface: TypeScriptSurface;

  before(function () {
    schema = JSON.parse(fs.readFileSync(path.join(repoRoot, "schema.json"), "utf8")) as Schema;
    surface = new TypeScriptSurface();
  });

  it("names the package dualwrite, with the four resources and the component", () => {
    expect(schema.name).to.equal("dualwrite");
    expect(Object.keys(schema.resources).sort()).to.deep.equal(
      Object.keys(RESOURCES)
        .map((r) => `${TOKEN}${r}`)
        .sort(),
    );
  });

  it("has no disagreement in property names, optionality or types", () => {
    expect(schemaDisagreements(schema, surface)).to.deep.equal([]);
  });

  it("describes every input and output for users", () => {
    const missing: string[] = [];
    for (const [token, r] of Object.entries(schema.resources)) {
      if (!r.description) missing.push(token);
      for (const [name, p] of Object.entries({ ...r.inputProperties, ...r.properties }))
        if (!p.description) missing.push(`${token}.${name}`);
    }
    expect(missing).to.deep.equal([]);
  });

  it("fails when the two sides disagree (a removed input, a type change, an optionality change)", () => {
    const broken = JSON.parse(JSON.stringify(schema)) as Schema;
    const connection = broken.resources[`${TOKEN}DualWriteConnection`]!;
    delete connection.inputProperties!.forceReset;
    connection.inputProperties!.solutions = { type: "string", description: "now a string" };
    connection.requiredInputs = [...(connection.requiredInputs ?? []), "legalEntities"];
    expect(schemaDisagreements(broken, surface)).to.deep.equal([
      "DualWriteConnection inputs.legalEntities: required in schema.json only",
      "DualWriteConnection inputs.solutions: schema.json says string, TypeScript says array<string>",
      "DualWriteConnection inputs.forceReset: in TypeScript, missing from schema.json",
    ]);
  });
});
