/**
 * The one HTTP layer under the three clients (gateway, Dataverse, F&O), on Node's `https`.
 *
 * Each call says which statuses it accepts and whether it may be repeated; this layer adds the
 * bearer token for the call's scope, a timeout, and retries by the rules in `retry.ts`. What it
 * throws is always one of our errors (`HttpError`, `AmbiguousResponseError`, `TimeoutError`,
 * `DualWriteError`), never Node's own, whose messages may name more of the request than we want
 * in a log.
 *
 * Not got (which the provider used before): loading got and its dependencies alone added ~16 MB
 * to the resident set of the provider process, whose whole budget for a 200,000-row
 * CompanyBootstrap is 200 MB (issue 12); what this layer needs of a client — one request, a
 * timeout, the bytes of the answer — is a few lines on `https.request`.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { createSecureContext, rootCertificates } from "node:tls";
import type { z } from "zod";
import type { TokenSource } from "../auth";
import {
  AmbiguousResponseError,
  DualWriteError,
  HttpError,
  InvalidResponseError,
  TimeoutError,
  redactUrl,
  scrub,
} from "../errors";
import {
  DEFAULT_RETRY_POLICY,
  decideRetry,
  isNotSent,
  parseRetryAfter,
  type Failure,
  type RetryPolicy,
} from "./retry";
import { cancellableSleep } from "./cancel";

/** One request, as the clients describe it. */
export interface HttpRequest {
  /** HTTP method, upper case. */
  readonly method: string;
  /** Absolute URL. */
  readonly url: string;
  /** Token scope (`<audience>/.default`); the request is sent without a token when absent. */
  readonly scope?: string;
  /** A JSON body (sent with `Content-Type: application/json`). */
  readonly json?: unknown;
  /** A raw body (e.g. a `$batch` multipart); set its content type in `headers`. */
  readonly body?: string | Buffer;
  /** Extra headers. `Authorization` is set by this layer. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The statuses that count as success; any other is an error after retries. */
  readonly accept: readonly number[];
  /**
   * Whether sending the request twice has the same effect as once. Defaults by method: GET, HEAD,
   * PUT, DELETE and OPTIONS are idempotent, POST and PATCH are not. A PATCH that sets fixed
   * values, or a POST that only reads, may say `true`.
   */
  readonly idempotent?: boolean;
  /** Timeout of each attempt. @default the client's `timeoutMs` */
  readonly timeoutMs?: number;
}

/** A response with an accepted status. */
export interface HttpResponse {
  readonly status: number;
  /** Response headers, names in lower case. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body when the response is JSON, otherwise the text ("" when empty). */
  readonly body: unknown;
  /** The body as text. */
  readonly text: string;
}

/** A response with an accepted status, its body as received (`HttpClient.requestBytes`). */
export interface HttpBytesResponse {
  readonly status: number;
  /** Response headers, names in lower case. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body's bytes (empty when there is none). */
  readonly bytes: Buffer;
}

/** Counters, for tests and benchmarks. */
export interface HttpStats {
  /** Attempts sent (retries included). */
  requests: number;
  /** Attempts that were retries. */
  retries: number;
  /** Requests repeated with a fresh token after a 401. */
  reauthentications: number;
}

/** Options of `HttpClient`. */
export interface HttpClientOptions {
  /** Where bearer tokens come from; required for requests that have a `scope`. */
  readonly tokens?: TokenSource;
  /** Retry policy (partial: the rest comes from `DEFAULT_RETRY_POLICY`). */
  readonly retry?: Partial<RetryPolicy>;
  /** Timeout of one attempt. @default 100000 (Dataverse's own limit is 2 minutes) */
  readonly timeoutMs?: number;
  /** Waits between attempts; tests inject a fast one. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source. @default Math.random */
  readonly random?: () => number;
  /** The clock used to read HTTP-date `Retry-After` values. @default Date.now */
  readonly now?: () => number;
  /** Extra trusted CA certificates (PEM), in addition to Node's defaults. */
  readonly extraCaPem?: readonly string[];
  /** Called before each attempt; for tests and progress output. Never given headers. */
  readonly onRequest?: (info: { method: string; url: string; attempt: number }) => void;
  /**
   * The provider's cancellation: when aborted, a pause between attempts ends at once with a
   * `CancelledError` (`clients/cancel.ts`) and no further attempt is sent.
   */
  readonly signal?: AbortSignal;
}

/** A real wait. */
export const realSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Sends requests with auth, timeouts and retries; see the file comment. */
export class HttpClient {
  /** Counters since creation. */
  readonly stats: HttpStats = { requests: 0, retries: 0, reauthentications: 0 };
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly agent: HttpsAgent;
  /** Where {@link requestBytes} writes bodies, reused from call to call. */
  private readStore: Buffer | undefined;

  constructor(private readonly options: HttpClientOptions = {}) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 100_000;
    this.sleep = cancellableSleep(options.sleep ?? realSleep, options.signal, "a retry");
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    // One keep-alive agent per client: requests of one deployment reuse their TLS connections.
    // `ca` replaces Node's list, so the defaults stay beside any extra CA. The CAs go in one TLS
    // context made here, not as the agent's `ca` option: the agent names its connection pools
    // by its options, `ca` included, so a `ca` list of Node's ~150 roots (~220 KB of PEM) would
    // be joined into a new string three times per request (100 MB of garbage for a 200,000-row
    // CompanyBootstrap), and each new connection would parse it again.
    const extra = options.extraCaPem ?? [];
    this.agent = new HttpsAgent({
      keepAlive: true,
      ...(extra.length > 0 && {
        secureContext: createSecureContext({ ca: [...rootCertificates, ...extra] }),
      }),
    });
  }

  /**
   * Sends a request, retrying by the rules in `retry.ts`, and returns the response when its status
   * is accepted.
   *
   * @throws HttpError for a status not accepted (after retries, when they apply)
   * @throws AmbiguousResponseError when a non-idempotent request may or may not have taken effect
   * @throws TimeoutError when every allowed attempt of an idempotent request timed out
   * @throws DualWriteError (code `Network`) for other connection failures
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    return toHttpResponse(await this.exchange(req));
  }

  /**
   * As {@link request}, with the body given to `read` as the bytes received: neither decoded into
   * a string nor parsed, and written into one buffer that this client reuses from call to call.
   * For large answers read for a few values only (a page of 5,000 Dataverse keys, `dataverse.ts`
   * `keyPages`): the text of such a page is a ~0.5 MB string that V8 keeps in its large-object
   * space until its next full collection, its parse 5,000 objects, and a new buffer per page is
   * memory given back only when V8 next collects. The bytes are valid only while `read` runs.
   */
  async requestBytes<T>(req: HttpRequest, read: (response: HttpBytesResponse) => T): Promise<T> {
    const response = await this.exchange(req);
    // The buffer is this call's until `read` returns (a concurrent call uses its own).
    const store = joined(response, this.readStore);
    this.readStore = undefined;
    try {
      return read({
        status: response.statusCode,
        headers: response.headers,
        bytes: store.subarray(0, response.length),
      });
    } finally {
      this.readStore = store;
    }
  }

  /** Sends a request with retries (see {@link request}); the response of an accepted status. */
  private async exchange(req: HttpRequest): Promise<RawResponse> {
    const idempotent = req.idempotent ?? IDEMPOTENT_METHODS.has(req.method.toUpperCase());
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) this.stats.retries++;
      const token = req.scope !== undefined ? await this.token(req.scope) : undefined;
      this.stats.requests++;
      this.options.onRequest?.({ method: req.method, url: redactUrl(req.url), attempt });

      let response: RawResponse;
      try {
        response = await this.send(req, token);
      } catch (error) {
        const failure = networkFailure(error);
        const decision = decideRetry({
          attempt,
          failure,
          idempotent,
          policy: this.policy,
          random: this.random,
        });
        if (decision.action === "retry") {
          await this.sleep(decision.delayMs);
          continue;
        }
        throw this.networkError(req, failure, error, attempt, decision.action === "ambiguous");
      }

      const status = response.statusCode;
      if (req.accept.includes(status)) return response;

      // A 401 means the token was refused before anything ran: get a fresh one and try once more,
      // whatever the method (the emulator's "token expiry" fault, a token revoked early).
      if (status === 401 && req.scope !== undefined && !reauthenticated && this.options.tokens) {
        reauthenticated = true;
        this.options.tokens.invalidate(req.scope);
        this.stats.reauthentications++;
        attempt--;
        continue;
      }

      const retryAfterMs = parseRetryAfter(response.headers["retry-after"], this.now());
      const decision = decideRetry({
        attempt,
        failure: { kind: "status", status },
        idempotent,
        retryAfterMs,
        policy: this.policy,
        random: this.random,
      });
      if (decision.action === "retry") {
        await this.sleep(decision.delayMs);
        continue;
      }
      if (decision.action === "ambiguous") {
        throw new AmbiguousResponseError({
          method: req.method,
          url: req.url,
          status,
          reason: `HTTP ${status}: ${scrub(UTF8.decode(joined(response))).slice(0, 200)}`,
        });
      }
      throw new HttpError({
        method: req.method,
        url: req.url,
        status,
        body: parseBody(response),
        attempts: attempt,
        ...(decision.why === "retryAfterTooLong" && { note: decision.reason }),
      });
    }
  }

  /**
   * Sends a request and validates its JSON body with a zod schema.
   * @throws InvalidResponseError naming the first mismatched members
   */
  async requestJson<S extends z.ZodType>(req: HttpRequest, schema: S): Promise<z.output<S>> {
    const response = await this.request(req);
    return validate(schema, response.body, req.method, req.url);
  }

  /** Closes idle keep-alive connections (the provider process exits without it too). */
  close(): void {
    this.agent.destroy();
  }

  private async token(scope: string): Promise<string> {
    if (!this.options.tokens) {
      throw new DualWriteError(
        `A request needs a token for ${scope}, but the HTTP client has no credential.`,
        "Config",
      );
    }
    return this.options.tokens.getToken(scope);
  }

  private send(req: HttpRequest, token: string | undefined): Promise<RawResponse> {
    const headers: Record<string, string> = {
      "user-agent": USER_AGENT,
      accept: "application/json",
      ...lowerCaseKeys(req.headers ?? {}),
    };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    let body: string | Buffer | undefined = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers["content-type"] ??= "application/json";
    }
    if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
    const url = new URL(req.url);
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.destroy();
        reject(error);
      };
      const options = { method: req.method, headers };
      const request =
        url.protocol === "http:"
          ? httpRequest(url, options)
          : httpsRequest(url, { ...options, agent: this.agent });
      // The whole exchange, from now to the answer's last byte (as got's `timeout.request` was).
      const timer = setTimeout(
        () => fail(new NetworkError("ETIMEDOUT", `Timeout awaiting the answer for ${timeoutMs}ms`)),
        timeoutMs,
      );
      request.on("error", (error) => fail(error));
      request.on("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", (error) => fail(error));
        response.on("aborted", () =>
          fail(new NetworkError("ECONNRESET", "the connection closed before the answer ended")),
        );
        response.on("end", () => {
          if (settled) return;
          if (!response.complete) {
            fail(new NetworkError("ECONNRESET", "the connection closed before the answer ended"));
            return;
          }
          settled = true;
          clearTimeout(timer);
          resolve({
            statusCode: response.statusCode ?? 0,
            headers: response.headers,
            chunks,
            length: chunks.reduce((sum, c) => sum + c.length, 0),
          });
        });
      });
      request.end(body);
    });
  }

  private networkError(
    req: HttpRequest,
    failure: Failure,
    error: unknown,
    attempts: number,
    ambiguous: boolean,
  ): Error {
    const code = failure.kind === "network" ? failure.code : "";
    // A clean cause: only the code and the scrubbed message.
    const cause = new Error(
      `${code}: ${error instanceof Error ? scrub(error.message) : "request failed"}`,
    );
    if (ambiguous) {
      return new AmbiguousResponseError({
        method: req.method,
        url: req.url,
        reason:
          code === "ETIMEDOUT" ? "no answer before the timeout" : `the connection failed (${code})`,
        cause,
      });
    }
    const where = `${req.method} ${redactUrl(req.url)}`;
    const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
    if (code === "ETIMEDOUT") {
      const ms = req.timeoutMs ?? this.timeoutMs;
      return new TimeoutError(`${where} got no answer within ${ms} ms${tries}`, ms, { cause });
    }
    const hint = /CERT|SIGNATURE|SELF_SIGNED|ISSUER/.test(code)
      ? " (the server's certificate is not trusted: for the emulator, set dualwrite:caCertificatePath or NODE_EXTRA_CA_CERTS to its ca.pem)"
      : "";
    return new DualWriteError(
      `${where} failed${tries}: ${cause.message}${hint}`,
      hint ? "Tls" : "Network",
      {
        cause,
      },
    );
  }
}

/**
 * Validates a response body with a zod schema at the client boundary.
 * @throws InvalidResponseError naming the first mismatched members and what was expected
 */
export function validate<S extends z.ZodType>(
  schema: S,
  body: unknown,
  method: string,
  url: string,
): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const detail = result.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(body)"}: ${issue.message}`)
    .join("; ");
  throw new InvalidResponseError(method, url, detail);
}

/** Identifies the provider in server logs (Dataverse and F&O record the user agent). */
const USER_AGENT = "pulumi-dualwrite";

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

function networkFailure(error: unknown): Failure {
  const code = (error as { code?: unknown } | null)?.code;
  const known = typeof code === "string" && code !== "" ? code : "ERR_NETWORK";
  return { kind: "network", code: known, sent: !isNotSent(known) };
}

/** A failure of the exchange itself (a timeout, an answer cut short), with its `code`. */
class NetworkError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** An answer as received: its status, headers and the pieces of its body as they came. */
interface RawResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly chunks: readonly Buffer[];
  /** The body's length in bytes. */
  readonly length: number;
}

/**
 * The body of an answer in one buffer: `store` when it is large enough (the body at its start),
 * else a new buffer — exactly the body's size without `store`, or twice it, to be kept as the
 * next store. A body that came in one piece is that piece, when there is no store to fill.
 */
function joined(response: RawResponse, store?: Buffer): Buffer {
  const { chunks, length } = response;
  if (store === undefined && chunks.length === 1) return chunks[0]!;
  const out =
    store === undefined
      ? Buffer.allocUnsafe(length)
      : store.length >= length
        ? store
        : Buffer.allocUnsafe(length * 2);
  let at = 0;
  for (const c of chunks) at += c.copy(out, at);
  return out;
}

/** Response bodies are UTF-8 (JSON, OData `$batch`, error pages). */
const UTF8 = new TextDecoder();

function toHttpResponse(response: RawResponse): HttpResponse {
  const text = UTF8.decode(joined(response));
  return {
    status: response.statusCode,
    headers: response.headers,
    body: parseText(text, response),
    text,
  };
}

function parseBody(response: RawResponse): unknown {
  return parseText(UTF8.decode(joined(response)), response);
}

function parseText(text: string, response: RawResponse): unknown {
  const type = String(response.headers["content-type"] ?? "");
  if (text && /[/+]json\b/i.test(type)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}
