/**
 * The F&O OData service's errors, one factory function per case. The wire shape is
 * `{"error":{"code":"","message":"…"}}`; write failures add an `innererror` with the X++ infolog,
 * as the real service does
 * (`{"code":"","message":"An error has occurred.","innererror":{"message":"Write failed for table
 * row of type 'CustCustomerV3Entity'. Infolog: …","type":"Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException","stacktrace":""}}`).
 */
import { EmulatorHttpError } from "../core/http";
import { BatchFormatError } from "../odata/batch";
import { QuerySyntaxError } from "../odata/query/lexer";
import { QueryOptionError } from "../odata/query/options";
import { ResourcePathError } from "../odata/resourcePath";
import { DuplicateKeyError, RowNotFoundError } from "../store/tables";
import { FNO_ENTITY_SCHEMAS, FNO_NAMESPACE, fnoEntitySchema } from "./entitySchemas";

/** The .NET type the real service names in `innererror.type` for write failures. */
export const AX_WRITE_EXCEPTION =
  "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException";

/** `Microsoft.Dynamics.DataEntities.CustomerV3` for `CustomersV3`. */
export function entityTypeName(set: string): string {
  const declared = fnoEntitySchema(set)?.entityType;
  return `${FNO_NAMESPACE}.${declared ?? set.replace(/ies$/, "y").replace(/s$/, "")}`;
}

/** `CustCustomerV3Entity` for `CustomersV3`. */
export function aotEntityName(set: string): string {
  if (FNO_ENTITY_SCHEMAS.some((s) => s.aotEntity === set) || set.endsWith("Entity")) return set;
  const schema = fnoEntitySchema(set);
  return schema?.aotEntity ?? `${set}Entity`;
}

/** Factory of F&O errors. */
export const fnoErrors = {
  /** 404 for an unknown entity set or segment. */
  resourceNotFound(segment: string): EmulatorHttpError {
    return new EmulatorHttpError(404, "", `Resource not found for the segment '${segment}'.`);
  },
  /** 404 for an unknown environment (the host would not resolve in real life). */
  unknownEnvironment(env: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "",
      `The Finance and Operations environment '${env}' does not exist in this emulator. Seed it first (see docs/emulator.md).`,
    );
  },
  /** 404 for a key that names no row. */
  rowNotFound(set: string): EmulatorHttpError {
    return new EmulatorHttpError(404, "", `Resource not found for the segment '${set}'.`);
  },
  /** 400 for a key predicate that does not give every key property. */
  keyMismatch(set: string, keyFields: readonly string[]): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "",
      `The number of keys specified in the URI does not match number of key properties for the resource '${entityTypeName(set)}'. Give every key property: ${set}(${keyFields.map((k) => `${k}='…'`).join(",")}).`,
    );
  },
  /** 400 for anything malformed at the OData level. */
  badRequest(message: string): EmulatorHttpError {
    return new EmulatorHttpError(400, "", message);
  },
  /**
   * 400 for a `$select`, `$filter` or `$orderby` name the entity type lacks (names are
   * case-sensitive): Microsoft.OData's URI reader message, which F&O's OData service passes on.
   */
  propertyNotFound(set: string, property: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "",
      `Could not find a property named '${property}' on type '${entityTypeName(set)}'.`,
    );
  },
  /** 400 for a body property the entity type lacks: Microsoft.OData's payload reader message. */
  payloadPropertyNotFound(set: string, property: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "",
      `The property '${property}' does not exist on type '${entityTypeName(set)}'. Make sure to only use property names that are defined by the type.`,
    );
  },
  /** 400 for a body value that cannot be read as the field's type (Microsoft.OData's wording). */
  cannotConvertValue(value: unknown, edmType: string): EmulatorHttpError {
    const literal = typeof value === "string" ? value : JSON.stringify(value);
    return new EmulatorHttpError(
      400,
      "",
      `Cannot convert the literal '${literal}' to the expected type '${edmType}'.`,
    );
  },
  /** 400 for an enum member the enum type does not have (Microsoft.OData's wording). */
  invalidEnumMember(member: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "",
      `The string '${member}' is not a valid enumeration type constant.`,
    );
  },
  /**
   * 400 for an enum field compared with `gt`/`ge`/`lt`/`le`: "The operations supported for enums
   * are eq and ne" (odata.md § Using Enums) [choice: wording].
   */
  enumOperatorNotSupported(field: string, operator: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "",
      `The operator '${operator}' is not supported for the enum property '${field}'; the operations supported for enums are eq and ne.`,
    );
  },
  /**
   * 429 from F&O's throttling (`throttling.ts`), with `Retry-After` in seconds
   * ("Throttling prioritization": a "Too many requests" error) [choice: message wording].
   */
  throttled(retryAfterSeconds: number): EmulatorHttpError {
    return new EmulatorHttpError(
      429,
      "",
      `The request was throttled by priority-based throttling. Retry after ${retryAfterSeconds} seconds.`,
      { "Retry-After": String(retryAfterSeconds) },
    );
  },
  /** 405 for a verb the resource does not take. */
  methodNotAllowed(method: string, segment: string): EmulatorHttpError {
    return new EmulatorHttpError(
      405,
      "",
      `The HTTP method '${method}' is not allowed on the resource '${segment}'.`,
    );
  },
  /** 412 for a stale `If-Match`. */
  preconditionFailed(): EmulatorHttpError {
    return new EmulatorHttpError(
      412,
      "",
      "The ETag value in the request header does not match with the current ETag value of the object.",
    );
  },
  /** 500 write failure with the infolog text, as `AxODataWriteException`. */
  writeFailed(set: string, infolog: string): EmulatorHttpError {
    return new EmulatorHttpError(
      500,
      "",
      "An error has occurred.",
      {},
      {
        innererror: {
          message: `Write failed for table row of type '${aotEntityName(set)}'. Infolog: ${infolog}`,
          type: AX_WRITE_EXCEPTION,
          stacktrace: "",
        },
      },
    );
  },
};

/**
 * Turns anything a handler or a write listener threw into an F&O error. A write the dual-write
 * runtime refused (an error carrying `status`/`code`) becomes the `AxODataWriteException` the real
 * service answers when the synchronous dual-write call to Dataverse fails.
 */
export function toFnoError(
  error: unknown,
  context: { entitySet?: string } = {},
): EmulatorHttpError {
  if (error instanceof EmulatorHttpError) return asFnoShape(error);
  if (
    error instanceof QuerySyntaxError ||
    error instanceof QueryOptionError ||
    error instanceof ResourcePathError ||
    error instanceof BatchFormatError
  ) {
    return fnoErrors.badRequest(error.message);
  }
  const set = context.entitySet ?? "(unknown)";
  if (error instanceof DuplicateKeyError) {
    return fnoErrors.writeFailed(
      error.table,
      `Error: Cannot create a record in ${error.table}. The record already exists.`,
    );
  }
  if (error instanceof RowNotFoundError) return fnoErrors.rowNotFound(error.table);
  if (error instanceof Error) {
    const carried = error as Error & { status?: unknown; code?: unknown };
    if (typeof carried.status === "number" || typeof carried.code === "string") {
      return fnoErrors.writeFailed(set, error.message);
    }
    return new EmulatorHttpError(
      500,
      "",
      "An error has occurred.",
      {},
      {
        innererror: { message: error.message, type: "System.Exception", stacktrace: "" },
      },
    );
  }
  return new EmulatorHttpError(500, "", "An error has occurred.");
}

/**
 * An error thrown with an `innererror` (the dual-write runtime's live-sync veto) in the envelope the
 * real service uses for write failures: 500, empty code, "An error has occurred.", the infolog in
 * `innererror.message`. Other errors pass unchanged.
 */
function asFnoShape(error: EmulatorHttpError): EmulatorHttpError {
  const inner = error.extra["innererror"];
  if (inner === null || typeof inner !== "object" || (error.status === 500 && error.code === ""))
    return error;
  const { message, type } = inner as { message?: unknown; type?: unknown };
  // The real infolog names the AOT entity (`CustCustomerV3Entity`), not the entity set.
  const text = (typeof message === "string" ? message : error.message).replace(
    /^Write failed for table row of type '([^']+)'/,
    (_m, set: string) => `Write failed for table row of type '${aotEntityName(set)}'`,
  );
  return new EmulatorHttpError(500, "", "An error has occurred.", error.headers, {
    ...error.extra,
    innererror: {
      message: text,
      type: typeof type === "string" ? type : AX_WRITE_EXCEPTION,
      stacktrace: "",
    },
  });
}

/** The wire body of an F&O error. */
export function fnoErrorBody(error: EmulatorHttpError): { error: Record<string, unknown> } {
  return { error: { code: error.code, message: error.message, ...error.extra } };
}
