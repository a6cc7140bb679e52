/**
 * The Dataverse Web API's errors, one factory function per code (Azurite's `StorageErrorFactory`
 * style). The wire shape is `{"error":{"code":"0x…","message":"…"}}`; `innererror` was removed
 * from the Web API in 2020. Codes and messages come from
 * `powerapps-docs/developer/data-platform/webapi/compose-http-requests-handle-errors.md`,
 * `perform-conditional-operations-using-web-api.md` and `api-limits.md`.
 */
import { EmulatorHttpError } from "../core/http";
import { QuerySyntaxError } from "../odata/query/lexer";
import { QueryOptionError } from "../odata/query/options";
import { ResourcePathError } from "../odata/resourcePath";
import { BatchFormatError } from "../odata/batch";
import { DuplicateKeyError, RowNotFoundError } from "../store/tables";

/** Dataverse error codes the emulator answers with. */
export const DataverseErrorCode = {
  /** OData-level bad request: unknown segment, bad query option, bad payload. */
  badRequest: "0x80060888",
  /** Row not found (`ObjectDoesNotExist`). */
  notFound: "0x80040217",
  /** Duplicate key (`DuplicateRecord`). */
  duplicate: "0x80040237",
  /** Optimistic concurrency failure (`ConcurrencyVersionMismatch`). */
  versionMismatch: "0x80060882",
  /** A plug-in (here: the dual-write runtime) refused the write (`IsvAborted`). */
  pluginFailed: "0x80040265",
  /** Service protection: number of requests. */
  tooManyRequests: "0x80072322",
  /** Service protection: execution time. */
  tooMuchExecutionTime: "0x80072321",
  /** Service protection: concurrent requests. */
  tooManyConcurrent: "0x80072326",
  /** The environment is not linked to Finance and Operations. */
  notLinked: "0x80048d0b",
  /** Unexpected failure. */
  internal: "0x80040216",
} as const;

/** Factory of Dataverse errors. */
export const dataverseErrors = {
  /** 404 for an entity set, function or segment that does not exist. */
  resourceNotFound(segment: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      DataverseErrorCode.badRequest,
      `Resource not found for the segment '${segment}'.`,
    );
  },
  /** 404 for an unknown org (the host would not resolve in real life). */
  unknownOrganization(org: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      DataverseErrorCode.notFound,
      `The Dataverse environment '${org}' does not exist in this emulator. Seed it first (see docs/emulator.md).`,
    );
  },
  /** 404 for a row looked up by primary key. */
  rowNotFound(logicalName: string, id: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      DataverseErrorCode.notFound,
      `${logicalName} With Id = ${id} Does Not Exist`,
    );
  },
  /** 404 for a row looked up by alternate key. */
  rowNotFoundByKey(logicalName: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      DataverseErrorCode.notFound,
      `A record with the specified key values does not exist in ${logicalName} entity`,
    );
  },
  /** 400 for anything malformed at the OData level. */
  badRequest(message: string): EmulatorHttpError {
    return new EmulatorHttpError(400, DataverseErrorCode.badRequest, message);
  },
  /** 405 for a verb the resource does not take. */
  methodNotAllowed(method: string, segment: string): EmulatorHttpError {
    return new EmulatorHttpError(
      405,
      DataverseErrorCode.badRequest,
      `The HTTP method '${method}' is not allowed on the resource '${segment}'.`,
    );
  },
  /** 412 when `If-None-Match: *` (or a create) meets an existing row. */
  duplicateRecord(): EmulatorHttpError {
    return new EmulatorHttpError(
      412,
      DataverseErrorCode.duplicate,
      "A record with matching key values already exists.",
    );
  },
  /** 412 when `If-Match` carries a stale ETag. */
  versionMismatch(): EmulatorHttpError {
    return new EmulatorHttpError(
      412,
      DataverseErrorCode.versionMismatch,
      "The version of the existing record doesn't match the RowVersion property provided.",
    );
  },
  /** 400 when the dual-write runtime (a synchronous plug-in in real life) refuses the write. */
  liveSyncFailed(message: string): EmulatorHttpError {
    return new EmulatorHttpError(400, DataverseErrorCode.pluginFailed, message);
  },
  /** 429: requests per window. */
  tooManyRequests(limit: number, retryAfterSeconds: number): EmulatorHttpError {
    return new EmulatorHttpError(
      429,
      DataverseErrorCode.tooManyRequests,
      `Number of requests exceeded the limit of ${limit} over time window of 300 seconds.`,
      { "Retry-After": String(retryAfterSeconds) },
    );
  },
  /** 429: execution time per window. */
  tooMuchExecutionTime(limitMs: number, retryAfterSeconds: number): EmulatorHttpError {
    return new EmulatorHttpError(
      429,
      DataverseErrorCode.tooMuchExecutionTime,
      `Combined execution time of incoming requests exceeded limit of ${limitMs} milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
      { "Retry-After": String(retryAfterSeconds) },
    );
  },
  /** 429: concurrent requests. */
  tooManyConcurrent(limit: number, retryAfterSeconds: number): EmulatorHttpError {
    return new EmulatorHttpError(
      429,
      DataverseErrorCode.tooManyConcurrent,
      `Number of concurrent requests exceeded the limit of ${limit}.`,
      { "Retry-After": String(retryAfterSeconds) },
    );
  },
  /** `RetrieveFinanceAndOperationsIntegrationDetails` on an environment without a link. */
  notLinked(): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      DataverseErrorCode.notLinked,
      "This environment is not linked to a Finance and Operations environment.",
    );
  },
};

/**
 * Turns anything a handler or a write listener threw into a Dataverse error. The dual-write
 * runtime signals a vetoed write with an error that carries `status` and/or `code`; its message
 * becomes the `0x80040265` plug-in failure text the real service shows ("Unable to write data to
 * entity … Writes to … failed with error message …").
 */
export function toDataverseError(
  error: unknown,
  context: { entitySet?: string } = {},
): EmulatorHttpError {
  if (error instanceof EmulatorHttpError) return error;
  if (
    error instanceof QuerySyntaxError ||
    error instanceof QueryOptionError ||
    error instanceof ResourcePathError ||
    error instanceof BatchFormatError
  ) {
    return dataverseErrors.badRequest(error.message);
  }
  if (error instanceof DuplicateKeyError) return dataverseErrors.duplicateRecord();
  if (error instanceof RowNotFoundError) return dataverseErrors.rowNotFound(error.table, error.key);
  if (error instanceof Error) {
    const carried = error as Error & { status?: unknown; code?: unknown };
    if (typeof carried.status === "number" || typeof carried.code === "string") {
      const message = /^Unable to write data to entity/.test(error.message)
        ? error.message
        : `Unable to write data to entity ${context.entitySet ?? "(unknown)"}. ${error.message}`;
      const status =
        typeof carried.status === "number" && carried.status >= 400 ? carried.status : 400;
      return new EmulatorHttpError(status, DataverseErrorCode.pluginFailed, message);
    }
    return new EmulatorHttpError(
      500,
      DataverseErrorCode.internal,
      `An unexpected error occurred: ${error.message}`,
    );
  }
  return new EmulatorHttpError(500, DataverseErrorCode.internal, "An unexpected error occurred.");
}

/** The wire body of a Dataverse error. */
export function dataverseErrorBody(error: EmulatorHttpError): { error: Record<string, unknown> } {
  return { error: { code: error.code, message: error.message, ...error.extra } };
}
