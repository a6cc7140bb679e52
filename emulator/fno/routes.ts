/**
 * The F&O OData surface: `https://<environment host>/data/…` (the host picks `env`, core/hosts.ts).
 *
 * The core server matches the prefix, verifies the bearer token, applies fault rules and calls
 * these routes with `params.env` and `path` = the rest of the URL path, decoded. Each request then
 * goes through:
 *
 * 1. the environment lookup (404 when the emulator has no such environment);
 * 2. throttling per user (429 + `Retry-After`, `throttling.ts`), then the latency of a fault
 *    rule, if any;
 * 3. dispatch on the first segment: service document, `$metadata`, `$batch`, or an entity set
 *    (`entitySet.ts`, with the declared fields of `entitySchemas.ts` checked by `fields.ts`), in
 *    a transaction (`emulator/store/transaction.ts`): a write whose live-sync copy fails leaves
 *    neither side changed; `$batch` runs each operation and change set in a transaction of its own;
 * 4. error mapping: anything thrown becomes `{"error":{"code":"","message", [innererror]}}` (`errors.ts`).
 */
import type { EmulatorContext } from "../core/context";
import type { EmulatorRequest, EmulatorResponse, Route } from "../core/http";
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
  fnoEntitySet,
  type FnoScope,
  getRow,
  listRows,
  patchRow,
} from "./entitySet";
import { entityTypeName, fnoErrorBody, fnoErrors, toFnoError } from "./errors";
import { enumTypesXml, propertiesXml } from "./fields";
import { FnoThrottling } from "./throttling";

/** Most operations one F&O `$batch` may hold. */
export const FNO_BATCH_LIMIT = 5000;

/** The routes of the F&O surface (one per method; the path is matched inside). */
export function fnoRoutes(ctx: EmulatorContext): Route[] {
  const surface = new FnoSurface(ctx);
  return surfaceRoutes((req) => surface.handle(req));
}

/** Holds the per-surface state (throttling counters) and dispatches requests. */
export class FnoSurface {
  /** Requests per user in the throttling window. */
  readonly throttling: FnoThrottling;

  constructor(private readonly ctx: EmulatorContext) {
    this.throttling = new FnoThrottling(ctx.clock, ctx.settings);
  }

  /** Handles one HTTP request; throws `EmulatorHttpError` in the F&O shape. */
  async handle(req: EmulatorRequest): Promise<EmulatorResponse> {
    const env = req.params["env"] ?? "";
    const tables = this.ctx.fno.get(env);
    if (!tables) throw fnoErrors.unknownEnvironment(env);
    this.throttling.admit(principalOf(req.claims));
    try {
      await req.serviceTime?.();
      return await runInTransaction(() =>
        this.dispatch(req, this.scope(env, tables, new WriteJournal(), false)),
      );
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
      serviceRoot: `${this.ctx.hosts.fnoUrl(env)}/data`,
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

  /**
   * `POST $batch`: up to 5,000 operations; change sets atomic (with the live-sync copies they
   * cause); answers 200 multipart.
   */
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

/**
 * `GET /data/$metadata`: the enum types, and the entity types with their keys and declared fields
 * (`entitySchemas.ts`; an entity without a schema stays an open type).
 */
function metadataDocument(scope: FnoScope): EmulatorResponse {
  const types: string[] = [];
  const sets: string[] = [];
  for (const name of scope.tables.tableNames()) {
    const entity = fnoEntitySet(scope.tables, name);
    if (!entity) continue;
    const typeName = entityTypeName(name).replace(/^Microsoft\.Dynamics\.DataEntities\./, "");
    const keys = entity.def.keyFields.map((k) => `<PropertyRef Name="${k}"/>`).join("");
    const declared = propertiesXml(name, entity.def.keyFields);
    const props =
      declared ||
      entity.def.keyFields
        .map((k) => `<Property Name="${k}" Type="Edm.String" Nullable="false"/>`)
        .join("");
    types.push(
      `<EntityType Name="${typeName}"${declared ? "" : ` OpenType="true"`}><Key>${keys}</Key>${props}</EntityType>`,
    );
    sets.push(
      `<EntitySet Name="${name}" EntityType="Microsoft.Dynamics.DataEntities.${typeName}"/>`,
    );
  }
  const body =
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>` +
    `<Schema Namespace="Microsoft.Dynamics.DataEntities" xmlns="http://docs.oasis-open.org/odata/ns/edm">` +
    enumTypesXml() +
    types.join("") +
    `<EntityContainer Name="Resources">${sets.join("")}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`;
  return {
    status: 200,
    headers: { "Content-Type": "application/xml", "OData-Version": "4.0" },
    body: Buffer.from(body),
  };
}
