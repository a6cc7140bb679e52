/**
 * The emulator's HTTP plumbing types, shared by every surface.
 *
 * A surface (identity, gateway, dataverse, fno, control) is a list of routes. The server in
 * `emulator/core/server.ts` matches the path prefix, authenticates, applies faults, calls the
 * route's handler and serializes its answer; handlers never touch `http.ServerResponse`.
 */
import type { IncomingHttpHeaders } from "node:http";

/** Which emulated service a request belongs to (also the fault and request-log key). */
export type Surface = "identity" | "gateway" | "dataverse" | "fno" | "control";

/** A parsed request as handlers see it. */
export interface EmulatorRequest {
  readonly method: string;
  /** Path below the surface prefix, e.g. `accounts(…)` for Dataverse, decoded. */
  readonly path: string;
  /** Full original path with query, as sent. */
  readonly rawUrl: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** Raw body bytes (empty for GET). */
  readonly body: Buffer;
  /** Surface-specific route parameters (e.g. `org` for Dataverse, `env` for F&O). */
  readonly params: Readonly<Record<string, string>>;
  /** Claims of the verified bearer token; undefined on identity and control routes. */
  readonly claims?: TokenClaims;
  /**
   * Spends the latency a `latency` fault rule gave this request, inside the service (Dataverse
   * and F&O: after service protection admitted it, so that concurrent slow requests count as in
   * flight). The server waits whatever a handler did not spend before answering, so the total
   * latency is the same either way. Absent when there is none.
   */
  readonly serviceTime?: () => Promise<void>;
}

/** The claims the emulator puts in, and checks on, access tokens. */
export interface TokenClaims {
  readonly aud: string;
  readonly tid: string;
  readonly appid: string;
  readonly exp: number;
  readonly iss: string;
  /** Delegated permissions (e.g. `user_impersonation`); absent on an app-only token. */
  readonly scp?: string;
  /** The signed-in user's principal name (delegated tokens only). */
  readonly upn?: string;
  /** The signed-in user's object id, or the app's on an app-only token. */
  readonly oid?: string;
}

/** What a handler returns; the server writes it. */
export interface EmulatorResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON value (serialized with `application/json`), a string or raw bytes. */
  readonly body?: unknown;
}

/** One route of a surface. */
export interface Route {
  readonly method: string;
  /** A regular expression over `EmulatorRequest.path`; named groups become `params`. */
  readonly pattern: RegExp;
  readonly handle: (req: EmulatorRequest) => EmulatorResponse | Promise<EmulatorResponse>;
}

/**
 * A route over a path pattern: anchored, a leading slash tolerated, and its named groups handed
 * to `handle` as `params`.
 */
export function pathRoute(
  method: string,
  pattern: string,
  handle: (
    req: EmulatorRequest,
    params: Readonly<Record<string, string | undefined>>,
  ) => EmulatorResponse | Promise<EmulatorResponse>,
): Route {
  const regex = new RegExp(`^/?${pattern}$`);
  return {
    method,
    pattern: regex,
    handle: (req) => handle(req, regex.exec(req.path)?.groups ?? {}),
  };
}

/** A 200 answer with a JSON body. */
export function ok(body: unknown): EmulatorResponse {
  return { status: 200, body };
}

/**
 * An error a handler throws to answer with a status and the surface's own error shape. The
 * server renders it with the surface's error formatter, so handlers stay shape-agnostic.
 */
export class EmulatorHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    /** Extra members for the body, e.g. F&O `innererror`. */
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = "EmulatorHttpError";
  }
}
