/**
 * `--config <file>`: provider settings from a file of `dualwrite:<name>: value` lines, named as
 * in stack config, so a stack file (`Pulumi.<stack>.yaml`) can be given as it is:
 *
 * ```yaml
 * config:
 *   dualwrite:tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
 *   dualwrite:gatewayUrl: https://projectmanagementservice.weu-il107.gateway.prod.island.powerapps.com
 *   dualwrite:clientSecret:
 *     secure: v1:…
 * ```
 *
 * Only `dualwrite:` keys with a plain value are read (other lines are ignored). A `secure:`
 * value is encrypted with the stack's secrets provider, which this command does not hold: it
 * is reported by name, and the setting falls back to its environment variable as the provider's
 * own would when unset. This is a line reader for that one shape, not a YAML parser.
 */
import { readFileSync } from "node:fs";
import { UsageError } from "./command";

/** What a settings file holds. */
export interface ConfigFile {
  /** The path as given. */
  readonly path: string;
  /** Plain values by full key (`dualwrite:tenantId`). */
  readonly values: Readonly<Record<string, string>>;
  /** Keys whose value is encrypted (`secure:`), so not read. */
  readonly encrypted: readonly string[];
}

const KEY_LINE = /^(\s*)(dualwrite:[A-Za-z0-9_]+)\s*:(.*)$/;
const SECURE_LINE = /^(\s*)secure\s*:/;

/**
 * Reads a settings file.
 * @throws UsageError when the file cannot be read or a value is malformed
 */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(
      `--config: cannot read '${path}'${typeof code === "string" ? ` (${code})` : ""}.`,
    );
  }
  return parseConfigText(text, path);
}

/**
 * Parses the text of a settings file (see the file comment).
 * @throws UsageError naming the line of a malformed value
 */
export function parseConfigText(text: string, path: string): ConfigFile {
  const lines = text.split(/\r?\n/);
  const values: Record<string, string> = {};
  const encrypted: string[] = [];
  lines.forEach((line, i) => {
    const m = KEY_LINE.exec(line);
    if (!m) return;
    const indent = m[1]!.length;
    const key = m[2]!;
    const raw = stripComment(m[3]!).trim();
    if (raw === "") {
      // A nested value: `secure: …` on the next line, indented deeper.
      const next = lines[i + 1] ?? "";
      const nested = SECURE_LINE.exec(next);
      if (nested && nested[1]!.length > indent) encrypted.push(key);
      return;
    }
    values[key] = unquote(raw, path, i + 1);
  });
  return { path, values, encrypted };
}

/** A `#` comment after a plain value ends the value (YAML: only after a space). */
function stripComment(value: string): string {
  const trimmed = value.trimStart();
  if (trimmed.startsWith('"') || trimmed.startsWith("'")) return value;
  const at = value.search(/\s#/);
  return at < 0 ? value : value.slice(0, at);
}

/** A plain, `"double"` (JSON escapes) or `'single'` (`''` for a quote) value; a comment may follow. */
function unquote(value: string, path: string, line: number): string {
  if (value.startsWith('"')) {
    const m = /^("(?:[^"\\]|\\.)*")\s*(?:#.*)?$/.exec(value);
    if (m) {
      try {
        return JSON.parse(m[1]!) as string;
      } catch {
        // Reported below.
      }
    }
    throw new UsageError(`--config: ${path}:${line}: a double-quoted value is not closed.`);
  }
  if (value.startsWith("'")) {
    const m = /^'((?:[^']|'')*)'\s*(?:#.*)?$/.exec(value);
    if (!m) throw new UsageError(`--config: ${path}:${line}: a single-quoted value is not closed.`);
    return m[1]!.replace(/''/g, "'");
  }
  return value;
}
