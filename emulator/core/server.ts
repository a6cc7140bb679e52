/**
 * The emulator's one HTTPS server and its request pipeline.
 *
 * Every request goes through the same steps, in this order (each is commented where it happens
 * in `handle`):
 *
 *  1. request id        — every answer carries `x-ms-request-id`, also used in error bodies and logs
 *  2. control bypass    — `/_emulator/…` skips logging, faults and auth (tests drive it)
 *  3. surface match     — which service the host is (`Host` header, else the local address:
 *                         `core/hosts.ts`), the path below its root, captures (`org`, `env`, `tenant`)
 *  4. request log       — method and path now, status and outcome at the end
 *  5. faults            — latency, injected 429/5xx, dropped connection (nothing read or answered)
 *  6. auth              — bearer token for gateway, Dataverse and F&O (signature, audience, tenant, expiry)
 *  7. body              — read up to the size limit (413 beyond)
 *  8. route dispatch    — free environment address → 404; first route matching method and path; 405/404 otherwise
 *  9. error rendering   — any thrown error becomes an answer in the surface's shape (non-HTTP errors: 500, logged)
 * 10. answer & log      — write the answer (or drop it after commit), record status and outcome
 *
 * Handlers never see `http.ServerResponse`: they return an `EmulatorResponse` or throw an
 * `EmulatorHttpError`, so a malformed request can only ever produce an answer, never a crash.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import type { EmulatorContext } from "./context";
import { renderError, ServerErrors, toHttpError } from "./errors";
import type { FaultEngine } from "./faults";
import type { EmulatorRequest, EmulatorResponse, Route, Surface, TokenClaims } from "./http";
import type { RequestLog, RequestLogEntry, RequestOutcome } from "./requestLog";
import { matchSurface } from "./surfaces";

/** Default request body limit: 50 MB (Dataverse `$batch` bodies can be large). */
export const DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024;

/** What the pipeline needs; built by `startEmulator`. */
export interface PipelineDeps {
  readonly ctx: EmulatorContext;
  readonly faults: FaultEngine;
  readonly requestLog: RequestLog;
  /** Routes per surface, tried in order. */
  readonly routes: Readonly<Record<Surface, readonly Route[]>>;
  /**
   * Verifies the bearer token of a gateway/Dataverse/F&O request (throws a 401 `EmulatorHttpError`).
   * `origin` is the routed host's `https://<address>:<port>` (an environment's token audience).
   */
  readonly authenticate: (
    surface: Surface,
    req: IncomingMessage,
    origin: string,
  ) => Promise<TokenClaims>;
  /** Diagnostics (unexpected errors); never given secrets. */
  readonly log: (line: string) => void;
  /** @default DEFAULT_MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
  /** Called with the log entry once a surface request has been answered or dropped. */
  readonly onRequestEnd?: (entry: RequestLogEntry) => void;
}

/** The request handler plus a way to wait for requests still being handled. */
export interface Pipeline {
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Resolves when no request is being handled (or after `timeoutMs`). */
  drain(timeoutMs: number): Promise<void>;
}

/** Builds the request pipeline described at the top of this file. */
export function createPipeline(deps: PipelineDeps): Pipeline {
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const inFlight = new Set<Promise<void>>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // 1. Request id: echo the client's correlation id too, as Microsoft services do.
    const requestId = randomUUID();
    res.setHeader("x-ms-request-id", requestId);
    const clientRequestId = req.headers["client-request-id"];
    if (typeof clientRequestId === "string") res.setHeader("client-request-id", clientRequestId);

    const method = (req.method ?? "GET").toUpperCase();
    const rawUrl = req.url ?? "/";
    const url = parseUrl(rawUrl);

    // 2 + 3. Control bypass and surface match: the host picks the service, the path the rest.
    const host = deps.ctx.hosts.route(req.headers.host, req.socket.localAddress);
    const matched = matchSurface(url?.pathname ?? "/", host);
    const match = url ? matched : { surface: matched.surface, params: {} };
    const surface = match.surface;

    // 4. Request log (control requests are not logged: a test must not see its own inspection).
    const entry: RequestLogEntry | undefined =
      surface === "control"
        ? undefined
        : deps.requestLog.begin({
            requestId,
            surface,
            method,
            host: host?.address ?? "",
            ...(host?.pair ? { environment: host.pair.name } : {}),
            path: url?.pathname ?? rawUrl,
            query: url?.search.replace(/^\?/, "") ?? "",
            at: new Date(deps.ctx.clock.now()).toISOString(),
          });
    let finished = false;
    res.on("close", () => {
      if (entry && !finished && entry.outcome === "answered") entry.outcome = "aborted";
    });

    let response: EmulatorResponse;
    let dropAfterCommit = false;
    let pendingLatencyMs = 0;
    const serviceTime = async (): Promise<void> => {
      const ms = pendingLatencyMs;
      pendingLatencyMs = 0;
      if (ms > 0) await delay(ms);
    };
    try {
      if (!url) throw ServerErrors.badRequest(surface, `The request URL '${rawUrl}' is not valid.`);

      // 5. Faults (never on control). On Dataverse and F&O the latency is the service's own time:
      //    the handler spends it after admitting the request (`serviceTime`, below).
      if (surface !== "control") {
        const decision = deps.faults.decide(surface, method, url.pathname, host?.pair?.name);
        if (
          decision.latencyMs > 0 &&
          (surface === "dataverse" || surface === "fno") &&
          decision.terminal === undefined
        )
          pendingLatencyMs = decision.latencyMs;
        else if (decision.latencyMs > 0) await delay(decision.latencyMs);
        const terminal = decision.terminal;
        if (terminal?.kind === "drop") {
          finished = true;
          req.socket.destroy();
          end(entry, "dropped");
          return;
        }
        if (terminal) res.setHeader("x-emulator-fault", terminal.ruleId);
        if (terminal?.kind === "throttle")
          throw ServerErrors.throttled(surface, terminal.retryAfterSeconds, deps.ctx.settings);
        if (terminal?.kind === "error") throw ServerErrors.serverFault(surface, terminal.status);
        dropAfterCommit = decision.dropAfterCommitRuleId !== undefined;
      }

      // 6. Auth: gateway, Dataverse and F&O need a bearer token for their audience.
      let claims: TokenClaims | undefined;
      if (
        (surface === "gateway" || surface === "dataverse" || surface === "fno") &&
        match.rest !== undefined
      ) {
        claims = await deps.authenticate(surface, req, host?.origin ?? deps.ctx.baseUrl);
      }

      // 7. Body.
      const body = await readBody(req, maxBodyBytes, surface);

      // 8. Route dispatch.
      response = await dispatch(deps, {
        surface,
        method,
        rest: match.rest,
        prefixParams: match.params,
        known: match.known !== false,
        rawUrl,
        url,
        req,
        body,
        claims,
        ...(pendingLatencyMs > 0 ? { serviceTime } : {}),
      });
    } catch (e) {
      // 9. Error rendering: everything becomes an answer in the surface's shape.
      const { error, unexpected } = toHttpError(surface, e, requestId);
      if (unexpected)
        deps.log(`[${requestId}] ${method} ${url?.pathname ?? rawUrl} failed: ${describe(e)}`);
      response = renderError(surface, error, requestId);
    }

    // Latency the handler did not spend (it failed before, or does not count requests in flight).
    await serviceTime();

    // 10. Answer (or drop after commit) and log the status.
    if (entry) entry.status = response.status;
    finished = true;
    if (dropAfterCommit) {
      req.socket.destroy();
      end(entry, "droppedAfterCommit");
      return;
    }
    write(res, response, requestId, deps, surface);
    end(entry, "answered");
  }

  function end(entry: RequestLogEntry | undefined, outcome: RequestOutcome): void {
    if (!entry) return;
    // A client that went away first stays "aborted", whatever the handler did afterwards.
    if (entry.outcome !== "aborted") entry.outcome = outcome;
    deps.onRequestEnd?.(entry);
  }

  return {
    handler(req, res) {
      const p = handle(req, res)
        .catch((e: unknown) => {
          // Last resort: the pipeline itself failed (e.g. writing headers). Never crash the process.
          deps.log(`request pipeline failed: ${describe(e)}`);
          if (!res.headersSent) {
            res.writeHead(500, { "content-type": "application/json" });
            res.end(
              '{"error":{"code":"InternalServerError","message":"The emulator failed unexpectedly."}}',
            );
          } else {
            res.destroy();
          }
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    },
    async drain(timeoutMs) {
      const timeout = delay(timeoutMs, undefined, { ref: false });
      await Promise.race([Promise.allSettled([...inFlight]), timeout]);
    },
  };
}

/** Inputs of route dispatch. */
interface DispatchInput {
  readonly surface: Surface;
  readonly method: string;
  readonly rest: string | undefined;
  readonly prefixParams: Readonly<Record<string, string>>;
  /** False when the request addressed an environment address no pair holds. */
  readonly known: boolean;
  readonly rawUrl: string;
  readonly url: URL;
  readonly req: IncomingMessage;
  readonly body: Buffer;
  readonly claims: TokenClaims | undefined;
  readonly serviceTime?: () => Promise<void>;
}

async function dispatch(deps: PipelineDeps, input: DispatchInput): Promise<EmulatorResponse> {
  const { surface, method, rest, url } = input;
  if (rest === undefined) throw ServerErrors.notFound(surface, url.pathname);

  // A Dataverse org or F&O environment must exist at this host before any of its routes can answer.
  if (
    surface === "dataverse" &&
    (!input.known || !deps.ctx.dataverse.has(input.prefixParams.org ?? ""))
  ) {
    throw ServerErrors.unknownInstance("dataverse", input.prefixParams.org ?? "");
  }
  if (surface === "fno" && (!input.known || !deps.ctx.fno.has(input.prefixParams.env ?? ""))) {
    throw ServerErrors.unknownInstance("fno", input.prefixParams.env ?? "");
  }

  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch {
    throw ServerErrors.badRequest(
      surface,
      `The request path '${rest}' has an invalid percent-encoding.`,
    );
  }

  const allowed: string[] = [];
  for (const route of deps.routes[surface]) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const request: EmulatorRequest = {
      method,
      path,
      rawUrl: input.rawUrl,
      query: url.searchParams,
      headers: input.req.headers,
      body: input.body,
      params: { ...input.prefixParams, ...m.groups },
      ...(input.claims ? { claims: input.claims } : {}),
      ...(input.serviceTime ? { serviceTime: input.serviceTime } : {}),
    };
    return await route.handle(request);
  }
  if (allowed.length > 0)
    throw ServerErrors.methodNotAllowed(surface, method, url.pathname, [...new Set(allowed)]);
  throw ServerErrors.notFound(surface, surface === "dataverse" ? path : url.pathname);
}

/**
 * Reads the whole body. Beyond the limit it keeps draining (so the 413 can still be written on a
 * healthy connection) but stops storing.
 */
function readBody(req: IncomingMessage, limit: number, surface: Surface): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on("end", () =>
      size > limit
        ? reject(ServerErrors.payloadTooLarge(surface, limit))
        : resolve(Buffer.concat(chunks)),
    );
    // A client that goes away mid-body gets nothing; the 400 only keeps the log honest.
    req.on("error", () =>
      reject(ServerErrors.badRequest(surface, "The request body was not received completely.")),
    );
  });
}

/** Serializes an `EmulatorResponse`: JSON values as JSON, strings as text, bytes as they are. */
function write(
  res: ServerResponse,
  response: EmulatorResponse,
  requestId: string,
  deps: PipelineDeps,
  surface: Surface,
): void {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(response.headers ?? {})) headers[k.toLowerCase()] = v;
  let payload: Buffer | undefined;
  const body = response.body;
  const noBody =
    response.status === 204 || response.status === 304 || body === undefined || body === null;
  if (!noBody) {
    if (Buffer.isBuffer(body)) {
      payload = body;
      headers["content-type"] ??= "application/octet-stream";
    } else if (typeof body === "string") {
      payload = Buffer.from(body, "utf8");
      headers["content-type"] ??= "text/plain; charset=utf-8";
    } else {
      payload = Buffer.from(JSON.stringify(body), "utf8");
      headers["content-type"] ??= "application/json; charset=utf-8";
    }
  }
  headers["content-length"] = String(payload?.length ?? 0);
  try {
    res.writeHead(response.status, headers);
  } catch (e) {
    // A handler produced an invalid header (e.g. a newline in a value): answer a shaped 500.
    deps.log(`[${requestId}] invalid response headers: ${describe(e)}`);
    const fallback = renderError(surface, ServerErrors.internal(surface, requestId), requestId);
    const text = Buffer.from(JSON.stringify(fallback.body));
    res.writeHead(500, {
      "content-type": "application/json; charset=utf-8",
      "content-length": String(text.length),
    });
    res.end(text);
    return;
  }
  res.end(payload);
}

function parseUrl(rawUrl: string): URL | undefined {
  try {
    // The host is irrelevant: only path and query are used.
    return new URL(rawUrl, "https://127.0.0.1");
  } catch {
    return undefined;
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
