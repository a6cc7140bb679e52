/**
 * OData `$batch` in its multipart/mixed form (OData 4.0 part 1 §11.7): a parser for requests and a
 * writer for responses, shared by the Dataverse and F&O surfaces.
 *
 * A request body is a list of parts separated by `--<boundary>` lines. A part is either one
 * operation (`Content-Type: application/http`, then an HTTP request line, headers, blank line,
 * body) or a change set (`Content-Type: multipart/mixed; boundary=changeset_…`) holding further
 * operations that must succeed or fail together. Responses use `batchresponse_<guid>` and
 * `changesetresponse_<guid>` boundaries: dynamics-web-api recognises a batch answer by the
 * literal `--batchresponse_`.
 */
import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";

/** One operation inside a batch. */
export interface BatchOperation {
  readonly method: string;
  /** The URL as written in the request line: absolute, absolute path, relative, or `$1…`. */
  readonly url: string;
  /** Headers of the inner request, names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** `Content-ID` of the MIME part, used for `$<id>` references inside a change set. */
  readonly contentId?: string;
}

/** A top-level batch part. */
export type BatchRequestItem =
  | { readonly kind: "operation"; readonly operation: BatchOperation }
  | { readonly kind: "changeset"; readonly operations: readonly BatchOperation[] };

/** A malformed batch body; surfaces answer 400. */
export class BatchFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BatchFormatError";
  }
}

/** Reads the `boundary` parameter of a multipart content type. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/mixed\b/i.test(contentType)) return undefined;
  const m = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Parses a `$batch` request body. Throws {@link BatchFormatError}. */
export function parseBatchRequest(
  contentType: string | undefined,
  body: Buffer | string,
): BatchRequestItem[] {
  const boundary = boundaryOf(contentType);
  if (!boundary) {
    throw new BatchFormatError(
      "The batch request must have a 'Content-Type' header of 'multipart/mixed' with a boundary parameter.",
    );
  }
  const items: BatchRequestItem[] = [];
  for (const part of splitMultipart(
    typeof body === "string" ? body : body.toString("utf8"),
    boundary,
  )) {
    const { headers, content } = splitHeaders(part);
    const partType = headers["content-type"] ?? "";
    const changesetBoundary = boundaryOf(partType);
    if (changesetBoundary) {
      const operations = splitMultipart(content, changesetBoundary).map((p) =>
        readOperation(p, true),
      );
      for (const op of operations) {
        if (op.method === "GET") {
          throw new BatchFormatError("A change set may not contain a GET request.");
        }
      }
      items.push({ kind: "changeset", operations });
    } else {
      items.push({ kind: "operation", operation: readOperation(part, false) });
    }
  }
  return items;
}

/** Number of operations in a parsed batch, change set members included. */
export function countOperations(items: readonly BatchRequestItem[]): number {
  return items.reduce((n, i) => n + (i.kind === "operation" ? 1 : i.operations.length), 0);
}

/** The parts between `--boundary` lines, without the closing delimiter's epilogue. */
function splitMultipart(text: string, boundary: string): string[] {
  const escaped = boundary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const delimiter = new RegExp(`(?:^|\\r?\\n)--${escaped}(--)?[ \\t]*(?=\\r?\\n|$)`, "g");
  const parts: string[] = [];
  let last: number | undefined;
  let closed = false;
  for (let m = delimiter.exec(text); m; m = delimiter.exec(text)) {
    if (last !== undefined) parts.push(text.slice(last, m.index));
    // Skip the line break that ends the delimiter line.
    last = m.index + m[0].length;
    const after = /^\r?\n/.exec(text.slice(last));
    if (after) last += after[0].length;
    if (m[1]) {
      closed = true;
      break;
    }
  }
  if (last === undefined)
    throw new BatchFormatError(`The batch body has no part delimited by '--${boundary}'.`);
  if (!closed) throw new BatchFormatError(`The batch body does not end with '--${boundary}--'.`);
  return parts;
}

/** Splits a MIME part (or an HTTP message) at its first blank line. */
function splitHeaders(part: string): {
  headers: Record<string, string>;
  content: string;
  firstLine?: string;
} {
  const m = /\r?\n\r?\n/.exec(part);
  const head = m ? part.slice(0, m.index) : part;
  const content = m ? part.slice(m.index + m[0].length) : "";
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, content };
}

/** Reads one `application/http` part into an operation. */
function readOperation(part: string, inChangeset: boolean): BatchOperation {
  const { headers: mime, content } = splitHeaders(part.replace(/^(\r?\n)+/, ""));
  const type = mime["content-type"] ?? "";
  if (!/^application\/http\b/i.test(type)) {
    throw new BatchFormatError(
      inChangeset
        ? "Each part of a change set must have 'Content-Type: application/http'."
        : "Each batch part must have 'Content-Type: application/http' or be a multipart/mixed change set.",
    );
  }
  const text = content.replace(/^(\r?\n)+/, "");
  const lineEnd = /\r?\n|$/.exec(text) as RegExpExecArray;
  const requestLine = text.slice(0, lineEnd.index).trim();
  const m = /^([A-Z]+)\s+(\S+)(?:\s+HTTP\/\d(?:\.\d)?)?$/.exec(requestLine);
  if (!m)
    throw new BatchFormatError(
      `The batch part's request line '${requestLine}' is not 'METHOD URL HTTP/1.1'.`,
    );
  const rest = text.slice(lineEnd.index + lineEnd[0].length);
  // A request without headers and body has no blank line; treat all of it as headers.
  const { headers, content: body } = splitHeaders(rest);
  const contentId = mime["content-id"] ?? headers["content-id"];
  return {
    method: m[1] as string,
    url: m[2] as string,
    headers,
    body: body.replace(/\s+$/, ""),
    ...(contentId !== undefined ? { contentId } : {}),
  };
}

/** The answer to one operation, as it goes into the batch response. */
export interface BatchOperationResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Serialized body (JSON or text); empty for 204. */
  readonly body: string;
  readonly contentId?: string;
}

/** A top-level part of a batch response. */
export type BatchResponseItem =
  | { readonly kind: "operation"; readonly response: BatchOperationResponse }
  | { readonly kind: "changeset"; readonly responses: readonly BatchOperationResponse[] };

/** Serializes a batch response; returns the body and its `Content-Type` header value. */
export function writeBatchResponse(items: readonly BatchResponseItem[]): {
  contentType: string;
  body: string;
} {
  const boundary = `batchresponse_${randomUUID()}`;
  const lines: string[] = [];
  for (const item of items) {
    lines.push(`--${boundary}`);
    if (item.kind === "operation") {
      lines.push(...operationPart(item.response));
    } else {
      const cs = `changesetresponse_${randomUUID()}`;
      lines.push(`Content-Type: multipart/mixed; boundary=${cs}`, "");
      for (const r of item.responses) {
        lines.push(`--${cs}`, ...operationPart(r));
      }
      lines.push(`--${cs}--`);
    }
  }
  lines.push(`--${boundary}--`, "");
  return { contentType: `multipart/mixed; boundary=${boundary}`, body: lines.join("\r\n") };
}

function operationPart(r: BatchOperationResponse): string[] {
  const lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];
  if (r.contentId !== undefined) lines.push(`Content-ID: ${r.contentId}`);
  lines.push("", `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ""}`.trimEnd());
  for (const [name, value] of Object.entries(r.headers)) lines.push(`${name}: ${value}`);
  lines.push("", r.body);
  return lines;
}
