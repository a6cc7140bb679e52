/**
 * Route plumbing both OData surfaces (Dataverse and F&O) share: the catch-all routes, the
 * entity-set name for error messages, a batch operation turned into a request, and the batch
 * answer. What differs between the surfaces (URL prefix, error shape, limits) is passed in.
 */
import type { EmulatorHttpError, EmulatorRequest, EmulatorResponse, Route } from "../core/http";
import {
  type BatchOperation,
  type BatchOperationResponse,
  type BatchResponseItem,
  writeBatchResponse,
} from "./batch";
import { toBatchPart } from "./protocol";
import { parseResourcePath } from "./resourcePath";

/** One catch-all route per method; the surface matches the path inside `handle`. */
export function surfaceRoutes(
  handle: (req: EmulatorRequest) => Promise<EmulatorResponse>,
): Route[] {
  return ["GET", "POST", "PATCH", "PUT", "DELETE"].map((method) => ({
    method,
    pattern: /^.*$/s,
    handle,
  }));
}

/** The first segment of a resource path, or `undefined` when the path does not parse. */
export function resourceHead(path: string): string | undefined {
  try {
    return parseResourcePath(path).head;
  } catch {
    return undefined;
  }
}

/** A failed batch operation as a batch part, with the surface's own error body. */
export function errorBatchPart(
  error: EmulatorHttpError,
  body: unknown,
  contentId: string | undefined,
): BatchOperationResponse {
  return toBatchPart(
    {
      status: error.status,
      headers: { ...error.headers, "Content-Type": "application/json; odata.metadata=minimal" },
      body,
    },
    contentId,
  );
}

/** The HTTP answer to a whole `$batch`: 200 multipart/mixed. */
export function batchHttpResponse(responses: readonly BatchResponseItem[]): EmulatorResponse {
  const written = writeBatchResponse(responses);
  return {
    status: 200,
    headers: { "Content-Type": written.contentType, "OData-Version": "4.0" },
    body: Buffer.from(written.body, "utf8"),
  };
}

/**
 * Turns a batch operation into a request against the same service root, whatever form its URL
 * has (absolute, root-relative or relative).
 * @param servicePrefix matches the part of a URL path up to and including the service root.
 * @param badRequest builds the surface's 400 error for a URL that is not percent-encoded correctly.
 */
export function batchOperationRequest(
  outer: EmulatorRequest,
  serviceRoot: string,
  op: BatchOperation,
  servicePrefix: RegExp,
  badRequest: (message: string) => Error,
): EmulatorRequest {
  let url = op.url;
  const absolute = /^https?:\/\/[^/]+(\/.*)?$/i.exec(url);
  if (absolute) url = absolute[1] ?? "/";
  const queryAt = url.indexOf("?");
  const pathPart = queryAt < 0 ? url : url.slice(0, queryAt);
  const search = queryAt < 0 ? "" : url.slice(queryAt);
  const relative = pathPart.replace(servicePrefix, "").replace(/^\//, "");
  let path: string;
  try {
    path = decodeURIComponent(relative);
  } catch {
    throw badRequest(`The batch operation URL '${op.url}' is not correctly percent-encoded.`);
  }
  return {
    method: op.method,
    path,
    rawUrl: `${new URL(serviceRoot).pathname}/${relative}${search}`,
    query: new URLSearchParams(search),
    headers: { ...op.headers },
    body: Buffer.from(op.body, "utf8"),
    params: outer.params,
    ...(outer.claims ? { claims: outer.claims } : {}),
  };
}
