/**
 * The F&O OData surface: `/fno/<env>/data/…`.
 *
 * The core server matches the prefix, verifies the bearer token, applies faults (F&O's 429 +
 * `Retry-After` comes from there: F&O throttling is priority-based, not a fixed budget) and calls
 * these routes with `params.env` and `path` = the rest of the URL path, decoded. Dispatch is on
 * the first segment: service document, `$metadata`, `$batch`, or an entity set (`entitySet.ts`);
 * anything thrown becomes `{"error":{"code":"","message", [innererror]}}` (`errors.ts`).
 */
import type { EmulatorContext } from "../core/context";
import type { EmulatorRequest, EmulatorResponse, Route } from "../core/http";
import { type BatchOperation, countOperations, parseBatchRequest } from "../odata/batch";
import { runBatch } from "../odata/batchRunner";
import { WriteJournal } from "../odata/journal";
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
import {
  countRows,
  createRow,
  deleteRow,
  fnoEntitySet,
  type FnoScope,
  getRow,
  listRows,
  patchRow,
} from "./entitySet";
import { entityTypeName, fnoErrorBody, fnoErrors, toFnoError } from "./errors";

/** Most operations one F&O `$batch` may hold. */
export const FNO_BATCH_LIMIT = 5000;

/** The routes of the F&O surface (one per method; the path is matched inside). */
export function fnoRoutes(ctx: EmulatorContext): Route[] {
  const surface = new FnoSurface(ctx);
  return surfaceRoutes((req) => surface.handle(req));
}

/** Dispatches requests of the F&O surface. */
export class FnoSurface {
  constructor(private readonly ctx: EmulatorContext) {}

  /** Handles one HTTP request; throws `EmulatorHttpError` in the F&O shape. */
  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const env = req.params["env"] ?? "";
    const tables = this.ctx.fno.get(env);
    if (!tables) throw fnoErrors.unknownEnvironment(env);
    try {
      return await this.dispatch(req, this.scope(env, tables, new WriteJournal(), false));
    } catch (e) {
      throw toFnoError(e, { entitySet: resourceHead(req.path) });
    }
  }

  private scope(env: string, tables: TableSet, journal: WriteJournal, inBatch: boolean): FnoScope {
    const defaultCompany = (this.ctx.environments.get(env)?.defaultCompany ?? "DAT").toLowerCase();
    return {
      ctx: this.ctx,
      env,
      tables,
      serviceRoot: `${this.ctx.baseUrl}/fno/${env}/data`,
      defaultCompany,
      journal,
      inBatch,
    };
  }

  private async dispatch(req: EmulatorRequest, scope: FnoScope): Promise<EmulatorResponse> {
    const path = parseResourcePath(req.path);
    const method = req.method.toUpperCase();
    const only = (allowed: string): void => {
      if (method !== allowed) throw fnoErrors.methodNotAllowed(method, path.head || "/");
    };
    if (path.head === "") {
      only("GET");
      return serviceDocument(scope);
    }
    if (path.head === "$metadata") {
      only("GET");
      return metadataDocument(scope);
    }
    if (path.head === "$batch") {
      only("POST");
      if (scope.inBatch)
        throw fnoErrors.badRequest("A $batch request cannot contain another $batch request.");
      return this.batch(req, scope);
    }
    const entity = fnoEntitySet(scope.tables, path.head);
    if (!entity) throw fnoErrors.resourceNotFound(path.head);
    const [next, ...more] = path.rest;
    if (more.length > 0 || (next !== undefined && (next !== "$count" || path.key))) {
      throw fnoErrors.resourceNotFound(more[0] ?? (next as string));
    }
    if (!path.key) {
      if (next === "$count") {
        only("GET");
        return countRows(req, scope, entity);
      }
      if (method === "GET") return listRows(req, scope, entity);
      if (method === "POST") return createRow(req, scope, entity);
      throw fnoErrors.methodNotAllowed(method, entity.set);
    }
    switch (method) {
      case "GET":
        return getRow(req, scope, entity, path.key);
      case "PATCH":
        return patchRow(req, scope, entity, path.key);
      case "DELETE":
        return deleteRow(req, scope, entity, path.key);
      default:
        throw fnoErrors.methodNotAllowed(method, entity.set);
    }
  }

  /** `POST $batch`: up to 5,000 operations; change sets atomic; answers 200 multipart. */
  private async batch(req: EmulatorRequest, scope: FnoScope): Promise<EmulatorResponse> {
    const items = parseBatchRequest(header(req.headers, "content-type"), req.body);
    const count = countOperations(items);
    if (count > FNO_BATCH_LIMIT) {
      throw fnoErrors.badRequest(
        `The batch holds ${count} operations; a batch can contain up to ${FNO_BATCH_LIMIT} operations. Split the batch.`,
      );
    }
    const prefer = parsePrefer(header(req.headers, "prefer"));
    const { responses, wrote } = await runBatch(items, {
      continueOnError: prefer.continueOnError,
      execute: async (operation, journal) => {
        const inner = this.innerRequest(req, scope, operation);
        try {
          return toBatchPart(
            await this.dispatch(inner, this.scope(scope.env, scope.tables, journal, true)),
            operation.contentId,
          );
        } catch (e) {
          const error = toFnoError(e, { entitySet: resourceHead(inner.path) });
          return errorBatchPart(error, fnoErrorBody(error), operation.contentId);
        }
      },
    });
    if (wrote) await this.ctx.persist();
    return batchHttpResponse(responses);
  }

  /** Turns a batch operation into a request against this environment, whatever form its URL has. */
  private innerRequest(
    outer: EmulatorRequest,
    scope: FnoScope,
    op: BatchOperation,
  ): EmulatorRequest {
    return batchOperationRequest(outer, scope.serviceRoot, op, /^.*?\/data\//, (message) =>
      fnoErrors.badRequest(message),
    );
  }
}

/** `GET /data/`: the entity sets of the environment. */
function serviceDocument(scope: FnoScope): EmulatorResponse {
  return {
    status: 200,
    headers: { "Content-Type": "application/json; odata.metadata=minimal", "OData-Version": "4.0" },
    body: {
      "@odata.context": `${scope.serviceRoot}/$metadata`,
      value: scope.tables.tableNames().map((name) => ({ name, kind: "EntitySet", url: name })),
    },
  };
}

/** `GET /data/$metadata`: entity types with their keys (rows are free-form, so no attribute list). */
function metadataDocument(scope: FnoScope): EmulatorResponse {
  const types: string[] = [];
  const sets: string[] = [];
  for (const name of scope.tables.tableNames()) {
    const entity = fnoEntitySet(scope.tables, name);
    if (!entity) continue;
    const typeName = entityTypeName(name).replace(/^Microsoft\.Dynamics\.DataEntities\./, "");
    const keys = entity.def.keyFields.map((k) => `<PropertyRef Name="${k}"/>`).join("");
    const props = entity.def.keyFields
      .map((k) => `<Property Name="${k}" Type="Edm.String" Nullable="false"/>`)
      .join("");
    types.push(
      `<EntityType Name="${typeName}" OpenType="true"><Key>${keys}</Key>${props}</EntityType>`,
    );
    sets.push(
      `<EntitySet Name="${name}" EntityType="Microsoft.Dynamics.DataEntities.${typeName}"/>`,
    );
  }
  const body =
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>` +
    `<Schema Namespace="Microsoft.Dynamics.DataEntities" xmlns="http://docs.oasis-open.org/odata/ns/edm">` +
    types.join("") +
    `<EntityContainer Name="Resources">${sets.join("")}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`;
  return {
    status: 200,
    headers: { "Content-Type": "application/xml", "OData-Version": "4.0" },
    body: Buffer.from(body),
  };
}
