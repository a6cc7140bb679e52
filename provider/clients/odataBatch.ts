/**
 * OData `$batch` (multipart/mixed, OData 4.0 part 1 §11.7) for the Dataverse and F&O clients:
 * writes a request body and reads the response, change sets included.
 *
 * Requests outside a change set run one by one (with `Prefer: odata.continue-on-error` the server
 * goes on after a failure); a change set runs all-or-nothing. The response has one part per
 * request, in order; a failed change set answers with one error part for the whole set.
 */
import { randomUUID } from "node:crypto";

/** One request inside a batch. */
export interface BatchRequest {
  readonly method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** URL relative to the service root (`accounts(…)`), or absolute. */
  readonly url: string;
  /** JSON body. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The answer to one request of a batch. */
export interface BatchResponse {
  readonly status: number;
  /** Headers, names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON when the part is JSON, else the text. */
  readonly body: unknown;
}

/** A `$batch` body and its content type. */
export interface BatchBody {
  readonly contentType: string;
  readonly body: string;
}

/**
 * Writes a `$batch` body. With `atomic`, all requests go into one change set (all or nothing;
 * GETs are not allowed there).
 */
export function writeBatch(
  requests: readonly BatchRequest[],
  options: { atomic?: boolean } = {},
): BatchBody {
  const boundary = `batch_${randomUUID()}`;
  const lines: string[] = [];
  if (options.atomic) {
    const changeset = `changeset_${randomUUID()}`;
    lines.push(`--${boundary}`, `Content-Type: multipart/mixed; boundary=${changeset}`, "");
    requests.forEach((r, i) => lines.push(`--${changeset}`, ...operation(r, String(i + 1))));
    lines.push(`--${changeset}--`);
  } else {
    for (const r of requests) lines.push(`--${boundary}`, ...operation(r));
  }
  lines.push(`--${boundary}--`, "");
  return { contentType: `multipart/mixed; boundary=${boundary}`, body: lines.join("\r\n") };
}

function operation(r: BatchRequest, contentId?: string): string[] {
  const head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];
  if (contentId !== undefined) head.push(`Content-ID: ${contentId}`);
  const inner = [`${r.method} ${r.url} HTTP/1.1`];
  const headers = {
    ...(r.body !== undefined && { "Content-Type": "application/json" }),
    ...r.headers,
  };
  for (const [name, value] of Object.entries(headers)) inner.push(`${name}: ${value}`);
  return [...head, "", ...inner, "", r.body === undefined ? "" : JSON.stringify(r.body)];
}

/**
 * Reads a `$batch` response body into one answer per part, in order (change-set parts flattened).
 * @throws Error when the body is not multipart with the given content type's boundary
 */
export function parseBatchResponse(contentType: string, body: string): BatchResponse[] {
  const boundary = boundaryOf(contentType);
  if (!boundary)
    throw new Error(`the $batch answer is not multipart/mixed (Content-Type: ${contentType})`);
  const out: BatchResponse[] = [];
  for (const part of splitMultipart(body, boundary)) {
    const { headers, content } = splitHeaders(part);
    const nested = boundaryOf(headers["content-type"] ?? "");
    if (nested) {
      for (const inner of splitMultipart(content, nested)) out.push(readHttpPart(inner));
    } else {
      out.push(readHttpPart(part));
    }
  }
  return out;
}

function readHttpPart(part: string): BatchResponse {
  const { content } = splitHeaders(part);
  const text = content.replace(/^(\r?\n)+/, "");
  const lineEnd = /\r?\n|$/.exec(text) as RegExpExecArray;
  const statusLine = text.slice(0, lineEnd.index);
  const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(statusLine);
  if (!m)
    throw new Error(
      `a $batch answer part does not start with an HTTP status line: '${statusLine.slice(0, 80)}'`,
    );
  // No leading-blank-line trimming here: a blank line right after the status line means "no headers".
  const { headers, content: raw } = splitHeaders(
    text.slice(lineEnd.index + lineEnd[0].length),
    false,
  );
  const bodyText = raw.replace(/\s+$/, "");
  let body: unknown = bodyText;
  if (bodyText && /json/i.test(headers["content-type"] ?? "")) {
    try {
      body = JSON.parse(bodyText) as unknown;
    } catch {
      body = bodyText;
    }
  }
  return { status: Number(m[1]), headers, body };
}

function boundaryOf(contentType: string): string | undefined {
  if (!/^\s*multipart\/mixed\b/i.test(contentType)) return undefined;
  const m = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

function splitMultipart(text: string, boundary: string): string[] {
  const escaped = boundary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const delimiter = new RegExp(`(?:^|\\r?\\n)--${escaped}(--)?[ \\t]*(?=\\r?\\n|$)`, "g");
  const parts: string[] = [];
  let last: number | undefined;
  for (let m = delimiter.exec(text); m; m = delimiter.exec(text)) {
    if (last !== undefined) parts.push(text.slice(last, m.index));
    last = m.index + m[0].length;
    const after = /^\r?\n/.exec(text.slice(last));
    if (after) last += after[0].length;
    if (m[1]) return parts;
  }
  throw new Error(`the $batch answer does not end with '--${boundary}--'`);
}

function splitHeaders(
  part: string,
  trimLeading = true,
): { headers: Record<string, string>; content: string } {
  const trimmed = trimLeading ? part.replace(/^(\r?\n)+/, "") : part;
  if (/^\r?\n/.test(trimmed)) return { headers: {}, content: trimmed.replace(/^\r?\n/, "") };
  const m = /\r?\n\r?\n/.exec(trimmed);
  const head = m ? trimmed.slice(0, m.index) : trimmed;
  const content = m ? trimmed.slice(m.index + m[0].length) : "";
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, content };
}
