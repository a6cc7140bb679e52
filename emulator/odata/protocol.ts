/**
 * Small OData protocol helpers shared by both surfaces: headers (`Prefer`, `If-Match`), JSON
 * bodies, next-page links and how a handler answer becomes a `$batch` part. (Dataverse's paging
 * cookie is in `emulator/dataverse/paging.ts`; F&O pages with `$skip`.)
 */
import type { IncomingHttpHeaders } from "node:http";
import type { EmulatorResponse } from "../core/http";
import type { BatchOperationResponse } from "./batch";

/** A column value as text (strings as they are, anything else as JSON), for URLs and messages. */
export function asText(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value) ?? "");
}

/** One header's value, whatever its case and multiplicity. */
export function header(
  headers: IncomingHttpHeaders | Readonly<Record<string, string>>,
  name: string,
): string | undefined {
  const v = (headers as Record<string, string | string[] | undefined>)[name.toLowerCase()];
  return Array.isArray(v) ? v.join(", ") : v;
}

/** The `Prefer` preferences the emulator understands. */
export interface Preferences {
  readonly returnRepresentation: boolean;
  readonly maxPageSize?: number;
  /** Value of `odata.include-annotations`, without quotes. */
  readonly includeAnnotations?: string;
  readonly continueOnError: boolean;
}

/** Parses a `Prefer` header: `return=representation, odata.maxpagesize=10`. */
export function parsePrefer(value: string | undefined): Preferences {
  let returnRepresentation = false;
  let maxPageSize: number | undefined;
  let includeAnnotations: string | undefined;
  let continueOnError = false;
  // Preferences are comma-separated, but a quoted value may hold commas of its own
  // (`odata.include-annotations="A,B"`, as "Count rows using OData" sends it).
  for (const raw of (value ?? "").match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const item = raw.trim();
    const eq = item.indexOf("=");
    const name = (eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase();
    const arg =
      eq < 0
        ? ""
        : item
            .slice(eq + 1)
            .trim()
            .replace(/^"|"$/g, "");
    if (name === "return" && arg === "representation") returnRepresentation = true;
    else if (name === "odata.maxpagesize" && /^\d+$/.test(arg) && Number(arg) > 0)
      maxPageSize = Number(arg);
    else if (name === "odata.include-annotations") includeAnnotations = arg;
    else if (name === "odata.continue-on-error" && arg !== "false") continueOnError = true;
  }
  return {
    returnRepresentation,
    ...(maxPageSize !== undefined ? { maxPageSize } : {}),
    ...(includeAnnotations !== undefined ? { includeAnnotations } : {}),
    continueOnError,
  };
}

/** Whether an `odata.include-annotations` preference asks for `annotation` (`*`, exact, or `ns.*`). */
export function wantsAnnotation(preference: string | undefined, annotation: string): boolean {
  if (!preference) return false;
  return preference.split(",").some((p) => {
    const pattern = p.trim();
    if (pattern === "*" || pattern === annotation) return true;
    return pattern.endsWith(".*") && annotation.startsWith(pattern.slice(0, -1));
  });
}

/** A weak ETag for a row version: `W/"42"`. */
export function weakEtag(version: number | string): string {
  return `W/"${version}"`;
}

/** Whether a conditional header's value (`*`, or a comma list of ETags) matches `current`. */
export function etagMatches(condition: string, current: string): boolean {
  const norm = (e: string): string => e.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
  return condition.split(",").some((c) => c.trim() === "*" || norm(c) === norm(current));
}

/** A JSON request body, or an error message for the surface to wrap. */
export function readJsonObject(
  body: Buffer,
): { value: Record<string, unknown> } | { error: string } {
  const text = body.toString("utf8").trim();
  if (text === "") return { error: "The request body is empty; a JSON object is required." };
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { error: "The request body must be a JSON object." };
    }
    return { value: value as Record<string, unknown> };
  } catch (e) {
    return { error: `The request body is not valid JSON: ${(e as Error).message}` };
  }
}

/** Rebuilds a request URL with some query parameters replaced (undefined removes one). */
export function withQuery(
  baseUrl: string,
  rawUrl: string,
  changes: Readonly<Record<string, string | undefined>>,
): string {
  const url = new URL(rawUrl, baseUrl);
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  // Keep `$` readable in links and spaces as `%20`, as the real services write them (the
  // form encoding's `+` is only ever a space here: a literal `+` is `%2B`).
  return `${baseUrl}${url.pathname}${url.search.replace(/%24/g, "$").replace(/\+/g, "%20")}`;
}

/** Serializes a handler's answer as a `$batch` part. */
export function toBatchPart(
  response: EmulatorResponse,
  contentId: string | undefined,
): BatchOperationResponse {
  const headers: Record<string, string> = { "OData-Version": "4.0", ...response.headers };
  let body = "";
  if (Buffer.isBuffer(response.body)) body = response.body.toString("utf8");
  else if (typeof response.body === "string") body = response.body;
  else if (response.body !== undefined) {
    body = JSON.stringify(response.body);
    headers["Content-Type"] ??= "application/json; odata.metadata=minimal";
  }
  return {
    status: response.status,
    headers,
    body,
    ...(contentId !== undefined ? { contentId } : {}),
  };
}
