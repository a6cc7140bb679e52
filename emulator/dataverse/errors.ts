/**
 * The Dataverse Web API's errors, one factory function per code (Azurite's `StorageErrorFactory`
 * style). The wire shape is `{"error":{"code":"0x…","message":"…"}}`; `innererror` was removed
 * from the Web API in 2020. Codes and messages come from
 * `powerapps-docs/developer/data-platform/webapi/compose-http-requests-handle-errors.md`,
 * `perform-conditional-operations-using-web-api.md`, `api-limits.md`, "Troubleshoot Dataverse
 * Web API client errors"
 * (https://learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/web-api-client-errors:
 * unknown segment, unknown property, invalid property in a payload, undeclared navigation
 * property), "Use an alternate key to reference a record" (key mismatch) and the "Web service
 * error codes" reference
 * (https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes:
 * `DuplicateRecordEntityKey`).
 */
import { EmulatorHttpError } from "../core/http";
import { QuerySyntaxError } from "../odata/query/lexer";
import { QueryOptionError } from "../odata/query/options";
import { ResourcePathError } from "../odata/resourcePath";
import { BatchFormatError } from "../odata/batch";
import { DuplicateKeyError, RowNotFoundError, UniqueKeyError } from "../store/tables";

/** Dataverse error codes the emulator answers with. */
export const DataverseErrorCode = {
  /** OData-level bad request: bad query option, bad payload. */
  badRequest: "0x80060888",
  /** No entity set, function or action of that name (`ResourceNotFound`; web-api-client-errors). */
  resourceNotFound: "0x8006088a",
  /**
   * Errors of the OData URI and payload readers, which carry no Dataverse code: "Could not find a
   * property named …", "Invalid property … was found in entity …" (web-api-client-errors).
   */
  odataReader: "0x0",
  /** "Error identified in Payload provided by the user for Entity …" (web-api-client-errors). */
  payload: "0x80048d19",
  /** A second row with the same alternate key values (`DuplicateRecordEntityKey`). */
  duplicateEntityKey: "0x80060892",
  /** Row not found (`ObjectDoesNotExist`). */
  notFound: "0x80040217",
  /** Duplicate key (`DuplicateRecord`). */
  duplicate: "0x80040237",
  /** Optimistic concurrency failure (`ConcurrencyVersionMismatch`). */
  versionMismatch: "0x80060882",
  /** A plug-in (here: the dual-write runtime) refused the write (`IsvAborted`). */
  pluginFailed: "0x80040265",
  /** A choice column's value is not one of its options (`PicklistValueOutOfRange`). */
  picklistOutOfRange: "0x8004431A",
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
      DataverseErrorCode.resourceNotFound,
      `Resource not found for the segment '${segment}'.`,
    );
  },
  /** 400 for a property of a query option (`$select`, `$filter`, `$orderby`, `$expand`) the type lacks. */
  propertyNotFound(logicalName: string, property: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      DataverseErrorCode.odataReader,
      `Could not find a property named '${property}' on type 'Microsoft.Dynamics.CRM.${logicalName}'.`,
    );
  },
  /**
   * 400 for a `$filter` comparison of a column with a literal of another type
   * (`customertypecode eq '3'`): Microsoft.OData's binder message (`odata/query/types.ts`), with
   * the code of the OData URI reader's other errors [choice: by analogy with "Could not find a
   * property named …"].
   */
  incompatibleOperands(message: string): EmulatorHttpError {
    return new EmulatorHttpError(400, DataverseErrorCode.odataReader, message);
  },
  /**
   * 400 for a body value of the wrong JSON type (a number for a text column, text for a choice):
   * the payload reader's failure in the envelope of "Invalid property …" (web-api-client-errors),
   * with Microsoft.OData's conversion message [choice: wording of the inner exception].
   */
  cannotConvertValue(value: unknown, edmType: string): EmulatorHttpError {
    const literal = typeof value === "string" ? value : JSON.stringify(value);
    return new EmulatorHttpError(
      400,
      DataverseErrorCode.odataReader,
      `An error occurred while validating input parameters: Microsoft.OData.ODataException: Cannot convert the literal '${literal}' to the expected type '${edmType}'.`,
    );
  },
  /**
   * 400 `0x8004431A` for a choice value the column does not have (`PicklistValueOutOfRange`, Web
   * service error codes), in the service's wording.
   */
  picklistOutOfRange(
    logicalName: string,
    column: string,
    value: number,
    options: readonly number[],
  ): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      DataverseErrorCode.picklistOutOfRange,
      `A validation error occurred. The value ${value} of '${column}' on record of type '${logicalName}' is outside the valid range. Accepted Values: ${options.join(",")}.`,
    );
  },
  /** 400 for a request body that sets a property the type lacks. */
  invalidPayloadProperty(logicalName: string, property: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      DataverseErrorCode.odataReader,
      `An error occurred while validating input parameters: Microsoft.Crm.CrmException: Invalid property '${property}' was found in entity 'Microsoft.Dynamics.CRM.${logicalName}'. ---> Microsoft.OData.ODataException: Does not support untyped value in non-open type.`,
    );
  },
  /** 400 for `<nav>@odata.bind` where `nav` is not a single-valued navigation property. */
  undeclaredNavigation(entitySet: string, nav: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      DataverseErrorCode.payload,
      `Error identified in Payload provided by the user for Entity :'${entitySet}'  ---->  InnerException : Microsoft.OData.ODataException: An undeclared property '${nav}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`,
    );
  },
  /**
   * 400 for a key predicate whose names are not the primary key nor a declared alternate key
   * (message from "Use an alternate key to reference a record"; the code is not documented, so
   * the URI reader's `0x0` [choice]).
   */
  keyMismatch(logicalName: string): EmulatorHttpError {
    const type = `Microsoft.Dynamics.CRM.${logicalName}`;
    return new EmulatorHttpError(
      400,
      DataverseErrorCode.odataReader,
      `The key in the request URI is not valid for resource '${type}'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource '${type}'.`,
    );
  },
  /**
   * 412 when a write would give a second row the values of an alternate key
   * (`DuplicateRecordEntityKey`; the message is the error code reference's, with the key name and
   * its columns; 412 as clients observe it [choice: the reference gives no status]).
   */
  duplicateEntityKey(keyName: string, columns: readonly string[]): EmulatorHttpError {
    return new EmulatorHttpError(
      412,
      DataverseErrorCode.duplicateEntityKey,
      `Entity Key ${keyName} violated. A record with the same value for ${columns.join(", ")} already exists. A duplicate record cannot be created. Select one or more unique values and try again.`,
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
  if (error instanceof UniqueKeyError)
    return dataverseErrors.duplicateEntityKey(error.uniqueKey.name, error.uniqueKey.columns);
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
