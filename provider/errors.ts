/**
 * The provider's errors: one base with a `code` and a `cause`, and one subclass per way a call can
 * fail. Messages are written for the person running `pulumi up`: they say what was attempted, what
 * came back and, where we know it, what to do. They never carry a secret: URLs lose their
 * credentials and any query parameter that is not a known-harmless one, bodies are cut short and
 * scrubbed of bearer tokens, JWTs and `*secret*`/`*password*`/`*token*` values.
 */

/** Base of every error the provider throws on purpose. */
export class DualWriteError extends Error {
  /**
   * A stable, machine-readable reason, e.g. `MapsNotStopped` (from a server body),
   * `RequestFailed`, `Timeout`, `InvalidResponse`, `Config`.
   */
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DualWriteError";
    this.code = code;
  }
}

/** A response with a status the call does not accept (after any retries). */
export class HttpError extends DualWriteError {
  /** The HTTP method, e.g. `POST`. */
  readonly method: string;
  /** The URL with credentials removed and unknown query values masked (see `redactUrl`). */
  readonly url: string;
  /** The HTTP status received. */
  readonly status: number;
  /** The first few hundred characters of the response body, scrubbed of secrets. */
  readonly body: string;
  /** The server's own error message, when the body has the `{"error":{"message"}}` shape. */
  readonly serverMessage: string | undefined;
  /** How many attempts were made (more than one when the request was retried). */
  readonly attempts: number;

  constructor(args: {
    method: string;
    url: string;
    status: number;
    body: unknown;
    attempts?: number;
    /** Why the client stopped retrying, when that is not obvious (e.g. a too-long Retry-After). */
    note?: string;
  }) {
    const { code, message } = serverError(args.body);
    const url = redactUrl(args.url);
    const body = shortBody(args.body);
    const tries =
      args.attempts !== undefined && args.attempts > 1 ? ` after ${args.attempts} attempts` : "";
    super(
      `${args.method} ${url} failed with HTTP ${args.status}${tries}` +
        (message
          ? `: ${code ? `${code}: ` : ""}${truncate(scrub(message), 300)}`
          : body
            ? `: ${body}`
            : "") +
        (args.note ? ` (${args.note})` : ""),
      code || `Http${args.status}`,
    );
    this.name = "HttpError";
    this.method = args.method;
    this.url = url;
    this.status = args.status;
    this.body = body;
    this.serverMessage = message ? scrub(message) : undefined;
    this.attempts = args.attempts ?? 1;
  }
}

/**
 * A non-idempotent request whose outcome is unknown: the connection dropped or timed out after
 * the request was sent, or the server answered 5xx. The request may or may not have taken
 * effect, so it must be looked up, never repeated blindly.
 */
export class AmbiguousResponseError extends DualWriteError {
  readonly method: string;
  readonly url: string;
  /** The status when the server answered (5xx), undefined when the connection failed. */
  readonly status: number | undefined;

  constructor(args: {
    method: string;
    url: string;
    status?: number;
    reason: string;
    cause?: unknown;
  }) {
    const url = redactUrl(args.url);
    super(
      `${args.method} ${url} may or may not have been applied (${args.reason}); ` +
        "it was not repeated because repeating it could apply it twice",
      "AmbiguousResponse",
      { cause: args.cause },
    );
    this.name = "AmbiguousResponseError";
    this.method = args.method;
    this.url = url;
    this.status = args.status;
  }
}

/** A duration as messages say it: `300 ms`, `45 s`, `15 min`, `2 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** A request or a long-running operation did not finish in time. */
export class TimeoutError extends DualWriteError {
  /** How long we waited, in milliseconds. */
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(message, "Timeout", options);
    this.name = "TimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A wait given up because the provider process was asked to stop (SIGINT/SIGTERM, or the engine's
 * `Cancel`). Whatever the gateway was doing goes on there; the next `pulumi up` finds it and
 * adopts it rather than starting it again.
 */
export class CancelledError extends DualWriteError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "Cancelled", options);
    this.name = "CancelledError";
  }
}

/** The provider's configuration is missing or wrong; `property` names the setting to fix. */
export class ConfigError extends DualWriteError {
  /** The stack config key (e.g. `dualwrite:tenantId`) or environment variable at fault. */
  readonly property: string;

  constructor(property: string, message: string) {
    super(message, "Config");
    this.name = "ConfigError";
    this.property = property;
  }
}

/** A 2xx response whose body does not have the shape the client expects. */
export class InvalidResponseError extends DualWriteError {
  constructor(method: string, url: string, detail: string) {
    super(
      `${method} ${redactUrl(url)} returned an unexpected body: ${truncate(detail, 400)}`,
      "InvalidResponse",
    );
    this.name = "InvalidResponseError";
  }
}

// Query parameters that name what was asked for and never carry a credential. Everything else
// keeps its name but loses its value: a SAS-style `sig=`, `code=` or `access_token=` must not
// reach a log.
const HARMLESS_QUERY = new Set([
  "targettype",
  "cid",
  "identifier",
  "pid",
  "forcereset",
  "cross-company",
  "api-version",
]);

/**
 * The URL as it may appear in an error: no user name or password, no fragment, and only
 * OData options (`$filter`, …) and known gateway parameters keep their values.
 * @example redactUrl("https://u:p@h/x?$top=1&sig=abc") === "https://h/x?$top=1&sig=***"
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not absolute: keep only the path, which is all we can vouch for.
    return url.split(/[?#]/, 1)[0] ?? "";
  }
  parsed.username = "";
  parsed.password = "";
  parsed.hash = "";
  const kept: string[] = [];
  for (const [name, value] of parsed.searchParams) {
    const harmless = name.startsWith("$") || HARMLESS_QUERY.has(name.toLowerCase());
    kept.push(`${name}=${harmless ? value : "***"}`);
  }
  parsed.search = "";
  return kept.length > 0 ? `${parsed.toString()}?${kept.join("&")}` : parsed.toString();
}

/**
 * Removes anything that looks like a credential from a piece of text: bearer tokens, JWTs, and
 * the values of JSON members or form fields whose names mention a secret, password, token,
 * assertion or key.
 */
export function scrub(text: string): string {
  return text
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 ***")
    .replace(/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, "***")
    .replace(
      /("[^"]*(?:secret|password|token|assertion|authorization|apikey|api_key)[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"/gi,
      '$1"***"',
    )
    .replace(
      /\b([\w-]*(?:secret|password|token|assertion|apikey|api_key)[\w-]*=)[^&\s"]+/gi,
      "$1***",
    );
}

/** The body as a short, scrubbed, single-line string for a message (≤ 300 characters). */
export function shortBody(body: unknown): string {
  if (body === undefined || body === null || body === "") return "";
  let text: string;
  if (typeof body === "string") text = body;
  else if (Buffer.isBuffer(body)) text = body.toString("utf8");
  else {
    try {
      text = JSON.stringify(body);
    } catch {
      text = Object.prototype.toString.call(body);
    }
  }
  return truncate(scrub(text).replace(/\s+/g, " ").trim(), 300);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Reads `{"error":{"code","message"}}` (Dataverse, F&O, gateway) and F&O's `innererror.message`,
 * which carries the useful part ("Write failed for table row …").
 */
function serverError(body: unknown): { code: string; message: string } {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return { code: "", message: "" };
    }
  }
  if (typeof value !== "object" || value === null || !("error" in value))
    return { code: "", message: "" };
  const error = value.error;
  if (typeof error !== "object" || error === null) return { code: "", message: "" };
  const e = error as { code?: unknown; message?: unknown; innererror?: { message?: unknown } };
  const code = typeof e.code === "string" ? e.code : "";
  let message = typeof e.message === "string" ? e.message : "";
  const inner = e.innererror?.message;
  if (typeof inner === "string" && inner && inner !== message)
    message = message ? `${message} ${inner}` : inner;
  return { code, message };
}
