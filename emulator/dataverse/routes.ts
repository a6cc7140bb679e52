/**
 * The Dataverse Web API surface: `https://<environment host>/api/data/v9.x/…` (the host picks
 * `org`, core/hosts.ts).
 *
 * The core server matches the prefix, verifies the bearer token and calls these routes with
 * `params.org` and `path` = the rest of the URL path, decoded. Each request then goes through:
 *
 * 1. the org lookup (404 when the emulator has no such org);
 * 2. service protection per user (429 + `Retry-After`; `x-ms-ratelimit-*` headers on every
 *    admitted answer; see `serviceProtection.ts`), then the latency of a fault rule, if any;
 * 3. dispatch on the first path segment: service document, `$metadata`, `$batch`, the functions
 *    of `functions.ts` (`WhoAmI`, `RetrieveFinanceAndOperationsIntegrationDetails`,
 *    `RetrieveTotalRecordCount`), or an entity set (`entitySet.ts`);
 * 4. error mapping: anything thrown becomes `{"error":{"code","message"}}` (`errors.ts`).
 *
 * Step 3 runs in a transaction (`emulator/store/transaction.ts`); `$batch` runs its operations
 * through step 3 again, one transaction per operation or change set.
 */
import type { EmulatorContext } from "../core/context";
import {
  EmulatorHttpError,
  type EmulatorRequest,
  type EmulatorResponse,
  type Route,
} from "../core/http";
import { type BatchOperation, countOperations, parseBatchRequest } from "../odata/batch";
import { runBatch } from "../odata/batchRunner";
import { WriteJournal } from "../odata/journal";
import { principalOf } from "../odata/principal";
import { header, parsePrefer, toBatchPart } from "../odata/protocol";
import { parseResourcePath } from "../odata/resourcePath";
import {
  batchHttpResponse,
  batchOperationRequest,
  errorBatchPart,
  resourceHead,
  surfaceRoutes,
} from "../odata/surface";
import type { TableSet } from "../store/tables";
import { runInTransaction } from "../store/transaction";
import {
  countRows,
  createRow,
  deleteRow,
  getRow,
  listRows,
  patchRow,
  updateMultiple,
} from "./entitySet";
import { dataverseErrorBody, dataverseErrors, toDataverseError } from "./errors";
import {
  type IntegrationDetailsSource,
  metadataDocument,
  retrieveCurrentOrganization,
  retrieveIntegrationDetails,
  retrieveTotalRecordCount,
  serviceDocument,
  whoAmI,
} from "./functions";
import { type DataverseScope, entitySetInfo } from "./rows";
import { ServiceProtection } from "./serviceProtection";

/** Most operations one `$batch` may hold. */
export const DATAVERSE_BATCH_LIMIT = 1000;

const UPDATE_MULTIPLE = "Microsoft.Dynamics.CRM.UpdateMultiple";

/**
 * The routes of the Dataverse surface (one per method; the path is matched inside).
 * @param runtime answers `RetrieveFinanceAndOperationsIntegrationDetails`; without it the surface
 * looks for `ctx.runtime`, and answers "not linked" when neither exists.
 */
export function dataverseRoutes(ctx: EmulatorContext, runtime?: IntegrationDetailsSource): Route[] {
  const surface = new DataverseSurface(ctx, runtime);
  return surfaceRoutes((req) => surface.handle(req));
}

/** Holds the per-surface state (service-protection counters) and dispatches requests. */
export class DataverseSurface {
  /** Service-protection usage per user (`principalOf`). */
  readonly protection: ServiceProtection;

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly runtime?: IntegrationDetailsSource,
  ) {
    this.protection = new ServiceProtection(ctx.clock, ctx.settings);
  }

  /** Handles one HTTP request; throws `EmulatorHttpError` in the Dataverse shape. */
  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const org = req.params["org"] ?? "";
    const tables = this.ctx.dataverse.get(org);
    if (!tables) throw dataverseErrors.unknownOrganization(org);
    const principal = principalOf(req.claims);
    const admission = this.protection.admit(principal);
    try {
      // The latency of a fault rule is spent here, while the request counts as in flight.
      await req.serviceTime?.();
      // One transaction per request: a write whose live-sync copy fails, or whose save fails,
      // leaves neither side changed (`emulator/store/transaction.ts`).
      const response = await runInTransaction(() =>
        this.dispatch(req, this.scope(req, org, tables, new WriteJournal(), new Map(), false)),
      );
      return { ...response, headers: { ...response.headers, ...admission.headers() } };
    } catch (e) {
      const error = toDataverseError(e, { entitySet: resourceHead(req.path) });
      throw new EmulatorHttpError(
        error.status,
        error.code,
        error.message,
        { ...error.headers, ...admission.headers() },
        error.extra,
      );
    } finally {
      admission.release();
    }
  }

  private scope(
    req: EmulatorRequest,
    org: string,
    tables: TableSet,
    journal: WriteJournal,
    references: ReadonlyMap<string, string>,
    inBatch: boolean,
  ): DataverseScope {
    const given =
      req.params["version"] ?? /\/api\/data\/v(9\.[0-2])(?:[/?]|$)/.exec(req.rawUrl)?.[1];
    const version = `v${given ?? "9.2"}`;
    return {
      ctx: this.ctx,
      org,
      tables,
      serviceRoot: `${this.ctx.hosts.dataverseUrl(org)}/api/data/${version}`,
      journal,
      references,
      inBatch,
    };
  }

  private async dispatch(req: EmulatorRequest, scope: DataverseScope): Promise<EmulatorResponse> {
    const method = req.method.toUpperCase();
    // Its collection-valued parameter is not a key predicate, so it is read before path parsing.
    if (/^RetrieveTotalRecordCount(\(|$)/.test(req.path)) {
      if (method !== "GET")
        throw dataverseErrors.methodNotAllowed(method, "RetrieveTotalRecordCount");
      return retrieveTotalRecordCount(req, scope);
    }
    if (/^RetrieveCurrentOrganization(\(|$)/.test(req.path)) {
      if (method !== "GET")
        throw dataverseErrors.methodNotAllowed(method, "RetrieveCurrentOrganization");
      return retrieveCurrentOrganization(req, scope);
    }
    const path = parseResourcePath(req.path);
    const only = (allowed: string): void => {
      if (method !== allowed) throw dataverseErrors.methodNotAllowed(method, path.head || "/");
    };
    switch (path.head) {
      case "":
        only("GET");
        return serviceDocument(scope);
      case "$metadata":
        only("GET");
        return metadataDocument(scope);
      case "$batch":
        only("POST");
        if (scope.inBatch)
          throw dataverseErrors.badRequest(
            "A $batch request cannot contain another $batch request.",
          );
        return this.batch(req, scope);
      case "WhoAmI":
        only("GET");
        return whoAmI(req, scope);
      case "RetrieveFinanceAndOperationsIntegrationDetails":
        only("GET");
        return retrieveIntegrationDetails(req, scope, this.runtime);
    }
    const info = entitySetInfo(scope.tables, path.head);
    if (!info) throw dataverseErrors.resourceNotFound(path.head);
    const [next, ...more] = path.rest;
    if (more.length > 0) throw dataverseErrors.resourceNotFound(more[0] as string);
    if (!path.key) {
      if (next === undefined) {
        if (method === "GET") return listRows(req, scope, info);
        if (method === "POST") return createRow(req, scope, info);
        throw dataverseErrors.methodNotAllowed(method, info.set);
      }
      if (next === "$count") {
        only("GET");
        return countRows(req, scope, info);
      }
      if (next === UPDATE_MULTIPLE) {
        only("POST");
        return updateMultiple(req, scope, info);
      }
      throw dataverseErrors.resourceNotFound(next);
    }
    if (next !== undefined) {
      only("GET");
      return getRow(req, scope, info, path.key, next);
    }
    switch (method) {
      case "GET":
        return getRow(req, scope, info, path.key);
      case "PATCH":
        return patchRow(req, scope, info, path.key);
      case "DELETE":
        return deleteRow(req, scope, info, path.key);
      default:
        throw dataverseErrors.methodNotAllowed(method, info.set);
    }
  }

  /**
   * `POST $batch`: up to 1,000 operations; change sets atomic (with the live-sync copies they
   * cause); answers 200 multipart. The batch is one request for service protection.
   */
  private async batch(req: EmulatorRequest, scope: DataverseScope): Promise<EmulatorResponse> {
    const items = parseBatchRequest(header(req.headers, "content-type"), req.body);
    const count = countOperations(items);
    if (count > DATAVERSE_BATCH_LIMIT) {
      throw dataverseErrors.badRequest(
        `Number of requests in the batch (${count}) exceeds the limit of ${DATAVERSE_BATCH_LIMIT}. Split the batch.`,
      );
    }
    const prefer = parsePrefer(header(req.headers, "prefer"));
    const { responses, wrote } = await runBatch(items, {
      continueOnError: prefer.continueOnError,
      execute: async (operation, journal, references) => {
        const inner = this.innerRequest(req, scope, operation);
        try {
          const innerScope = this.scope(inner, scope.org, scope.tables, journal, references, true);
          const response = await this.dispatch(inner, innerScope);
          const located = response.headers?.["OData-EntityId"];
          const withLocation =
            located && response.status < 300
              ? { ...response, headers: { ...response.headers, Location: located } }
              : response;
          return toBatchPart(withLocation, operation.contentId);
        } catch (e) {
          const error = toDataverseError(e, { entitySet: resourceHead(inner.path) });
          return errorBatchPart(error, dataverseErrorBody(error), operation.contentId);
        }
      },
    });
    if (wrote) await this.ctx.persist();
    return batchHttpResponse(responses);
  }

  /** Turns a batch operation into a request against this org, whatever form its URL has. */
  private innerRequest(
    outer: EmulatorRequest,
    scope: DataverseScope,
    op: BatchOperation,
  ): EmulatorRequest {
    return batchOperationRequest(
      outer,
      scope.serviceRoot,
      op,
      /^.*\/api\/data\/v9\.\d\//,
      (message) => dataverseErrors.badRequest(message),
    );
  }
}
