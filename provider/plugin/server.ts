/**
 * What `@pulumi/pulumi/provider`'s gRPC server (v3.270) leaves out, added around it.
 *
 * The plugin runs on the SDK's `main()` with a `Provider` implementation. That server drops three
 * fields of the ResourceProvider protocol (sdk/nodejs/provider/server.ts) that this plugin needs:
 *
 * | protocol field                              | the SDK's server             | here                                  |
 * |---------------------------------------------|------------------------------|----------------------------------------|
 * | `ConfigureRequest.variables`                | ignored (no `configure` hook) | handed to `onConfigure`                |
 * | `Create/Read/Update/DeleteRequest.timeout`  | not passed to the provider    | {@link currentRequest}`.timeoutSeconds` |
 * | `DiffResponse.detailedDiff` / `diffs`       | never set                     | filled from {@link currentRequest}`.detailedDiff` |
 *
 * `main()` registers its service implementation with `grpc.Server.prototype.addService` of the
 * `@grpc/grpc-js` copy that `@pulumi/pulumi` loads; {@link extendProviderServer} wraps that one
 * call, for the ResourceProvider service only, so that each request runs in an
 * `AsyncLocalStorage` scope the provider methods can read and write. Everything else is the SDK's.
 * Should a later SDK pass these fields itself, this file goes.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import * as path from "node:path";
import { REFERENCE_INPUTS } from "./references";

/** How one property differs, in the protocol's terms (`pulumirpc.PropertyDiff.Kind`). */
export type PropertyDiffKind =
  "add" | "addReplace" | "delete" | "deleteReplace" | "update" | "updateReplace";

/** The request being served, as far as the SDK's server does not pass it on. */
export interface RequestScope {
  /** The gRPC method, e.g. `create`. */
  readonly method: string;
  /**
   * The engine's timeout for this operation in seconds (the resource's `customTimeouts`), or 0
   * when none was given.
   */
  readonly timeoutSeconds: number;
  /** When the request arrived (ms since the epoch): the deadline counts from here. */
  readonly startedAt: number;
  /** Set by `diff`: the top-level properties that differ, and how. */
  detailedDiff?: Readonly<Record<string, PropertyDiffKind>>;
}

const scopes = new AsyncLocalStorage<RequestScope>();

/** The scope of the gRPC request being served, or undefined outside one (tests). */
export function currentRequest(): RequestScope | undefined {
  return scopes.getStore();
}

/** Runs `work` as the request `scope` (what the wrapped server does per request; for tests). */
export function runInRequestScope<T>(scope: RequestScope, work: () => T): T {
  return scopes.run(scope, work);
}

/**
 * `ConfigureRequest.variables`: the provider's configuration, `dualwrite:<key>` → value (secrets
 * decrypted; non-strings as JSON). The engine sends the keys as `dualwrite:config:<key>`
 * (sdk/go/common/resource/plugin/provider_plugin.go `Configure`); they arrive here without `config:`.
 */
export type ConfigureHook = (variables: ReadonlyMap<string, string>) => void;

type Callback = (error: unknown, response?: unknown) => void;
type Handler = (call: { request: Record<string, unknown> }, callback: Callback) => unknown;

/* eslint-disable @typescript-eslint/no-require-imports -- the SDK's own copies of grpc and the protos */
function sdkRequire<T>(id: string): T {
  const sdkRoot = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
  return require(require.resolve(id, { paths: [sdkRoot] })) as T;
}

interface GrpcModule {
  Server: {
    prototype: { addService: (this: unknown, service: unknown, implementation: object) => void };
  };
}
interface ProviderProtos {
  PropertyDiff: { new (): ProtoPropertyDiff; Kind: Record<string, number> };
}
interface ProtoPropertyDiff {
  setKind(kind: number): void;
  setInputdiff(value: boolean): void;
}
interface ProtoDiffResponse {
  setHasdetaileddiff(value: boolean): void;
  setDiffsList(value: string[]): void;
  getDetaileddiffMap(): { set(key: string, value: ProtoPropertyDiff): void };
}
/* eslint-enable @typescript-eslint/no-require-imports */

const KIND_NAMES: Readonly<Record<PropertyDiffKind, string>> = {
  add: "ADD",
  addReplace: "ADD_REPLACE",
  delete: "DELETE",
  deleteReplace: "DELETE_REPLACE",
  update: "UPDATE",
  updateReplace: "UPDATE_REPLACE",
};

let installed = false;

/**
 * Makes the ResourceProvider service that `main()` registers pass on what the SDK drops (see the
 * file comment). Call it once, before `main()`.
 */
export function extendProviderServer(onConfigure: ConfigureHook): void {
  if (installed) return;
  installed = true;
  const grpc = sdkRequire<GrpcModule>("@grpc/grpc-js");
  const services = sdkRequire<{ ResourceProviderService: unknown }>(
    "@pulumi/pulumi/proto/provider_grpc_pb",
  );
  const protos = sdkRequire<ProviderProtos>("@pulumi/pulumi/proto/provider_pb");
  const addService = grpc.Server.prototype.addService;
  grpc.Server.prototype.addService = function (service: unknown, implementation: object): void {
    const wrapped =
      service === services.ResourceProviderService
        ? wrapImplementation(implementation as Record<string, Handler>, onConfigure, protos)
        : implementation;
    addService.call(this, service, wrapped);
  };
}

function wrapImplementation(
  implementation: Record<string, Handler>,
  onConfigure: ConfigureHook,
  protos: ProviderProtos,
): object {
  const original = (name: string): Handler => {
    const handler = implementation[name];
    if (typeof handler !== "function") throw new Error(`the SDK's provider server has no ${name}`);
    return handler.bind(implementation);
  };
  const timed =
    (name: string): Handler =>
    (call, callback) => {
      const getTimeout = call.request.getTimeout as (() => number) | undefined;
      const scope: RequestScope = {
        method: name,
        timeoutSeconds: typeof getTimeout === "function" ? getTimeout.call(call.request) : 0,
        startedAt: Date.now(),
      };
      return scopes.run(scope, () => original(name)(call, callback));
    };
  const wrapped: Record<string, Handler> = Object.create(implementation) as Record<string, Handler>;
  wrapped.configure = (call, callback) => {
    const getVariables = call.request.getVariablesMap as
      (() => { entries(): Iterable<[string, string]> }) | undefined;
    const entries =
      typeof getVariables === "function" ? [...getVariables.call(call.request).entries()] : [];
    const variables = new Map<string, string>(
      entries.map(([key, value]) => [key.replace(/^([^:]+):config:/, "$1:"), value]),
    );
    try {
      onConfigure(variables);
    } catch (error) {
      callback(error);
      return undefined;
    }
    return original("configure")(call, callback);
  };
  for (const name of ["create", "read", "update", "delete"]) wrapped[name] = timed(name);
  wrapped.diff = (call, callback) => {
    const scope: RequestScope = { method: "diff", timeoutSeconds: 0, startedAt: Date.now() };
    const withDetails: Callback = (error, response) => {
      if (!error && response && scope.detailedDiff) {
        addDetailedDiff(response as ProtoDiffResponse, scope.detailedDiff, protos);
      }
      callback(error, response);
    };
    return scopes.run(scope, () => original("diff")(call, withDetails));
  };
  return wrapped;
}

/** Input properties that name another resource; only the old inputs hold them. */
const referenceInputs: ReadonlySet<string> = new Set(
  Object.values(REFERENCE_INPUTS).flatMap((inputs) => Object.keys(inputs)),
);

function addDetailedDiff(
  response: ProtoDiffResponse,
  detailed: Readonly<Record<string, PropertyDiffKind>>,
  protos: ProviderProtos,
): void {
  const map = response.getDetaileddiffMap();
  for (const [key, kind] of Object.entries(detailed)) {
    const diff = new protos.PropertyDiff();
    diff.setKind(protos.PropertyDiff.Kind[KIND_NAMES[kind]] ?? 4);
    // Every difference is between the declared inputs and the old state. Its old value is shown
    // from the old outputs, which hold the inputs and, after a refresh, the drift it recorded
    // in them (observed → declared); a reference input is shown from the old inputs, the only
    // place that holds it.
    diff.setInputdiff(referenceInputs.has(key));
    map.set(key, diff);
  }
  response.setDiffsList(Object.keys(detailed));
  response.setHasdetaileddiff(true);
}
