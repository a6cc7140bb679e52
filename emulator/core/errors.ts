/**
 * Error answers in each surface's own shape, for the errors the server itself produces (unknown
 * path, bad method, bad URL, body too large, injected faults, unexpected exceptions), and the one
 * renderer that turns any `EmulatorHttpError` into a response.
 *
 * Shapes:
 * - identity (Entra ID): `{"error":"<code>","error_description":"AADSTS…","error_codes":[…],"timestamp",
 *   "trace_id","correlation_id","error_uri"}`
 * - gateway, Dataverse, F&O, control: `{"error":{"code":"<code>","message":"<sentence>", …extra}}`
 *   (F&O puts `innererror` in `extra`).
 */
import { randomUUID } from "node:crypto";
import type { EmulatorSettings } from "./context";
import { EmulatorHttpError, type EmulatorResponse, type Surface } from "./http";
import { DuplicateKeyError, RowNotFoundError, UnknownTableError } from "../store/tables";

/** Renders an error in the surface's shape, with its headers. */
export function renderError(
  surface: Surface,
  err: EmulatorHttpError,
  requestId: string,
): EmulatorResponse {
  const headers = { ...err.headers };
  if (surface === "identity") {
    const timestamp = new Date()
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d+Z$/, "Z");
    const correlationId = randomUUID();
    const codes = (err.extra.error_codes as number[] | undefined) ?? [];
    return {
      status: err.status,
      headers: { "cache-control": "no-store, no-cache", ...headers },
      body: {
        error: err.code,
        error_description: `${err.message}\r\nTrace ID: ${requestId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
        ...err.extra,
        error_codes: codes,
        timestamp,
        trace_id: requestId,
        correlation_id: correlationId,
        ...(codes[0] === undefined
          ? {}
          : { error_uri: `https://login.microsoftonline.com/error?code=${codes[0]}` }),
      },
    };
  }
  return {
    status: err.status,
    headers,
    body: { error: { code: err.code, message: err.message, ...err.extra } },
  };
}

/**
 * Turns anything a handler threw into an `EmulatorHttpError`. Store errors a handler did not
 * translate get a sensible status; anything else is a 500 (and `unexpected`, so the server logs it).
 */
export function toHttpError(
  surface: Surface,
  e: unknown,
  requestId: string,
): { error: EmulatorHttpError; unexpected: boolean } {
  if (e instanceof EmulatorHttpError) return { error: e, unexpected: false };
  if (e instanceof UnknownTableError)
    return { error: ServerErrors.notFound(surface, e.table), unexpected: false };
  if (e instanceof RowNotFoundError)
    return {
      error: new EmulatorHttpError(404, codeFor(surface, "NotFound"), e.message),
      unexpected: false,
    };
  if (e instanceof DuplicateKeyError) {
    return {
      error: new EmulatorHttpError(409, codeFor(surface, "DuplicateRecord"), e.message),
      unexpected: false,
    };
  }
  return { error: ServerErrors.internal(surface, requestId), unexpected: true };
}

function codeFor(surface: Surface, generic: string): string {
  if (surface === "dataverse") {
    return { NotFound: "0x80040217", DuplicateRecord: "0x80040237" }[generic] ?? generic;
  }
  return generic;
}

/** The server's own errors, per surface. */
export const ServerErrors = {
  /** No route (or no surface) for the path. */
  notFound(surface: Surface, path: string): EmulatorHttpError {
    switch (surface) {
      case "identity":
        return new EmulatorHttpError(
          404,
          "not_found",
          `AADSTS90010: The endpoint '${path}' does not exist in the emulated tenant.`,
          {},
          { error_codes: [90010] },
        );
      case "dataverse":
        return new EmulatorHttpError(
          404,
          "0x8006088a", // ResourceNotFound (Learn: web-api-client-errors)
          `Resource not found for the segment '${firstSegment(path)}'.`,
        );
      case "fno":
        return new EmulatorHttpError(
          404,
          "",
          `No HTTP resource was found that matches the request URI '${path}'.`,
        );
      default:
        return new EmulatorHttpError(404, "NotFound", `No resource at '${path}'.`);
    }
  },

  /**
   * A Dataverse or F&O address whose slot holds no environment (`where` is its URL), or an
   * environment whose tables are missing (`where` is its name).
   */
  unknownInstance(surface: "dataverse" | "fno", where: string): EmulatorHttpError {
    const what =
      surface === "dataverse" ? "Dataverse environment" : "Finance and Operations environment";
    return new EmulatorHttpError(
      404,
      surface === "dataverse" ? "0x80040217" : "",
      `No ${what} at '${where}' in this emulator. Seed one with POST /_emulator/seed or the --seed flag.`,
    );
  },

  methodNotAllowed(
    surface: Surface,
    method: string,
    path: string,
    allowed: readonly string[],
  ): EmulatorHttpError {
    const headers = { allow: allowed.join(", ") };
    if (surface === "identity") {
      return new EmulatorHttpError(
        405,
        "invalid_request",
        `AADSTS900561: The endpoint only accepts ${allowed.join(", ")} requests. Received a ${method} request.`,
        headers,
        { error_codes: [900561] },
      );
    }
    return new EmulatorHttpError(
      405,
      surface === "dataverse" ? "0x80060888" : "MethodNotAllowed",
      `The HTTP method '${method}' is not supported for '${path}'.`,
      headers,
    );
  },

  badRequest(surface: Surface, reason: string): EmulatorHttpError {
    if (surface === "identity")
      return new EmulatorHttpError(
        400,
        "invalid_request",
        `AADSTS900144: ${reason}`,
        {},
        { error_codes: [900144] },
      );
    return new EmulatorHttpError(
      400,
      surface === "dataverse" ? "0x80060891" : "BadRequest",
      reason,
    );
  },

  payloadTooLarge(surface: Surface, limitBytes: number): EmulatorHttpError {
    const message = `The request body is larger than ${limitBytes} bytes.`;
    if (surface === "identity")
      return new EmulatorHttpError(
        413,
        "invalid_request",
        `AADSTS900144: ${message}`,
        { connection: "close" },
        { error_codes: [900144] },
      );
    return new EmulatorHttpError(
      413,
      surface === "dataverse" ? "0x8004431a" : "RequestEntityTooLarge",
      message,
      { connection: "close" },
    );
  },

  /** An injected 429 (fault rule), with the surface's throttling wording. */
  throttled(
    surface: Surface,
    retryAfterSeconds: number,
    settings: EmulatorSettings,
  ): EmulatorHttpError {
    const headers = { "retry-after": String(retryAfterSeconds) };
    switch (surface) {
      case "identity":
        return new EmulatorHttpError(
          429,
          "temporarily_unavailable",
          `AADSTS50196: The server terminated an operation because it encountered a client request loop. Please contact your app vendor.`,
          headers,
          { error_codes: [50196] },
        );
      case "dataverse":
        return new EmulatorHttpError(
          429,
          "0x80072322",
          `Number of requests exceeded the limit of ${settings.dataverseRequestsPerWindow} over time window of 300 seconds.`,
          headers,
        );
      case "fno":
        return new EmulatorHttpError(
          429,
          "",
          `The request was throttled by priority-based throttling. Retry after ${retryAfterSeconds} seconds.`,
          headers,
        );
      default:
        return new EmulatorHttpError(
          429,
          "TooManyRequests",
          `Too many requests. Retry after ${retryAfterSeconds} seconds.`,
          headers,
        );
    }
  },

  /** An injected 5xx (fault rule). */
  serverFault(surface: Surface, status: number): EmulatorHttpError {
    switch (surface) {
      case "identity":
        return new EmulatorHttpError(
          status,
          status === 503 ? "temporarily_unavailable" : "server_error",
          `AADSTS90033: A transient error has occurred. Please try again.`,
          {},
          { error_codes: [90033] },
        );
      case "dataverse":
        return new EmulatorHttpError(status, "0x80040216", "An unexpected error occurred.");
      case "fno":
        return new EmulatorHttpError(status, "", "An error has occurred.");
      default:
        return new EmulatorHttpError(
          status,
          status === 503 ? "ServiceUnavailable" : "InternalServerError",
          "The service is temporarily unable to process the request.",
        );
    }
  },

  /** An exception the emulator did not expect: the answer names the request id to look up in its log. */
  internal(surface: Surface, requestId: string): EmulatorHttpError {
    const message = `The emulator failed unexpectedly while handling request ${requestId}; its log has the details.`;
    if (surface === "identity")
      return new EmulatorHttpError(
        500,
        "server_error",
        `AADSTS90033: ${message}`,
        {},
        { error_codes: [90033] },
      );
    return new EmulatorHttpError(
      500,
      surface === "dataverse" ? "0x80040216" : surface === "fno" ? "" : "InternalServerError",
      message,
    );
  },
};

function firstSegment(path: string): string {
  return path.split("/").find((s) => s.length > 0) ?? path;
}
