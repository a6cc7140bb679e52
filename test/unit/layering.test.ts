/**
 * Layering: the emulator is a model of Microsoft's services, never of our provider, so no file
 * under `emulator/` may import from `provider/` (issue 8, Required 3). Facts both sides share
 * live in `facts/`, which imports from neither. The test reads the TypeScript sources (not
 * dist/), lists every import specifier with the compiler's own pre-processor (static imports,
 * re-exports, `import()` and `require()`), resolves relative specifiers against the importing
 * file and maps the package's self-references (`pulumi-dualwrite`, `…/dynamic-runtime`) to the
 * folders tsconfig.json "paths" name.
 */
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import * as ts from "typescript";

/** The repository root: the nearest folder above this file that holds package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

const root = repoRoot();

/** The package's self-references and the source each resolves to (tsconfig.json "paths"). */
const selfReferences: Readonly<Record<string, string>> = {
  "pulumi-dualwrite": "provider/index.ts",
  "pulumi-dualwrite/dynamic-runtime": "provider/dynamic/runtime.ts",
  "pulumi-dualwrite/emulator": "emulator/index.ts",
};

/** Every `.ts` file under `dir` (relative to the root), skipping nothing but node_modules. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") out.push(...sourceFiles(rel));
    } else if (entry.name.endsWith(".ts")) {
      out.push(rel);
    }
  }
  return out;
}

/**
 * The repository-relative path (forward slashes) an import specifier of `file` names, or
 * undefined for a package outside the repository.
 */
function resolveSpecifier(file: string, specifier: string): string | undefined {
  const self = selfReferences[specifier];
  if (self !== undefined) return self;
  if (!specifier.startsWith(".")) return undefined;
  const target = resolve(root, dirname(file), specifier);
  return relative(root, target).split(sep).join("/");
}

/** One import of one file. */
interface ImportEdge {
  readonly file: string;
  readonly specifier: string;
  readonly target: string | undefined;
}

/** The imports of a source text, as the TypeScript pre-processor finds them. */
function importsOf(file: string, text: string): ImportEdge[] {
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map((ref) => ({
    file,
    specifier: ref.fileName,
    target: resolveSpecifier(file, ref.fileName),
  }));
}

/** The imports of `files` whose target lies under one of `forbidden` (folder names). */
function crossings(files: readonly string[], forbidden: readonly string[]): ImportEdge[] {
  return files
    .flatMap((file) => importsOf(file, readFileSync(join(root, file), "utf8")))
    .filter((edge) =>
      forbidden.some((folder) => edge.target === folder || edge.target?.startsWith(`${folder}/`)),
    );
}

/** A readable list of offending imports for the failure message. */
function describeEdges(edges: readonly ImportEdge[]): string {
  return edges.map((e) => `${e.file}: "${e.specifier}"`).join("\n");
}

describe("layering", () => {
  it("finds every kind of import, so a clean result means something", () => {
    const text = [
      `import { a } from "../../provider/x";`,
      `export { b } from "../../provider/y";`,
      `import type { C } from "../../provider/z";`,
      `const d = require("../../provider/w");`,
      `async function e() { return import("../../provider/v"); }`,
      `import f from "pulumi-dualwrite";`,
      `import { g } from "./sibling";`,
      `import * as h from "node:fs";`,
    ].join("\n");
    const edges = importsOf("emulator/runtime/example.ts", text);
    expect(edges.map((e) => e.target)).to.deep.equal([
      "provider/x",
      "provider/y",
      "provider/z",
      "provider/w",
      "provider/v",
      "provider/index.ts",
      "emulator/runtime/sibling",
      undefined,
    ]);
  });

  it("emulator/ imports nothing from provider/", () => {
    const files = sourceFiles("emulator");
    expect(files.length, "emulator sources found").to.be.greaterThan(10);
    const bad = crossings(files, ["provider"]);
    expect(bad, describeEdges(bad)).to.deep.equal([]);
  });

  it("facts/ imports from neither provider/ nor emulator/", () => {
    const files = sourceFiles("facts");
    expect(files).to.include.members(["facts/mapCatalog.ts", "facts/scenarios.ts"]);
    const bad = crossings(files, ["provider", "emulator"]);
    expect(bad, describeEdges(bad)).to.deep.equal([]);
  });
});
