/**
 * Builds the clients a resource needs from the provider configuration, once per process.
 *
 * One `pulumi preview`/`up` runs one provider process that serves every dynamic resource. The
 * cache here gives all resources with the same configuration one token cache, one HTTP layer
 * (one connection pool) and one client per environment, so that shared reads (`sharedReads.ts`)
 * and cached tokens actually are shared, and request counts stay flat as resources are added.
 */
import { createCredential, extraCaFromConfig, TokenProvider } from "../auth";
import { configFingerprint, describeConfig, type ProviderConfig } from "../config";
import { DualWriteError } from "../errors";
import type { TokenCredential } from "@azure/identity";
import { DataverseClient } from "./dataverse";
import { FnoClient } from "./fno";
import { GatewayClient } from "./gateway";
import { HttpClient } from "./http";
import type { RetryPolicy } from "./retry";
import { SharedReads } from "./sharedReads";

/** The environments a resource works with. */
export interface EnvironmentUrls {
  readonly dataverseUrl?: string;
  readonly financeOperationsUrl?: string;
}

/** What `createClients` returns. */
export interface Clients {
  readonly gateway: GatewayClient;
  /** The Dataverse client of `urls.dataverseUrl`; throws when that URL was not given. */
  readonly dataverse: DataverseClient;
  /** The F&O client of `urls.financeOperationsUrl`; throws when that URL was not given. */
  readonly fno: FnoClient;
  readonly http: HttpClient;
  readonly tokens: TokenProvider;
  /** The Dataverse client of another environment (same configuration). */
  dataverseFor(url: string): DataverseClient;
  /** The F&O client of another environment (same configuration). */
  fnoFor(url: string): FnoClient;
}

/** Knobs for tests and benchmarks; production code passes none. */
export interface ClientOptions {
  /** Use this credential instead of the one the configuration selects. */
  readonly credential?: TokenCredential;
  /** Extra trusted CA certificates (PEM), besides `caCertificatePath`. */
  readonly extraCaPem?: readonly string[];
  readonly retry?: Partial<RetryPolicy>;
  readonly timeoutMs?: number;
  /** Waits between retries and polls. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Poll interval of gateway requests. @default 250 */
  readonly pollMs?: number;
  /** How long shared reads may be reused. @default 5000 */
  readonly sharedReadTtlMs?: number;
  /** Skip the per-process cache (a private set of clients). @default false */
  readonly private?: boolean;
  /**
   * The provider's cancellation: the clients' waits (gateway polls, retry pauses) stop at once
   * when it is aborted (`clients/cancel.ts`). Taken when the set of clients is built.
   */
  readonly signal?: AbortSignal;
}

interface ProcessClients {
  readonly tokens: TokenProvider;
  readonly http: HttpClient;
  readonly gateway: GatewayClient;
  readonly dataverse: Map<string, DataverseClient>;
  readonly fno: Map<string, FnoClient>;
  readonly options: ClientOptions;
}

// Keyed by a one-way digest of the configuration; never written anywhere.
const cache = new Map<string, ProcessClients>();

/**
 * The clients for one configuration and the given environments, shared with every other caller
 * in this process that has the same configuration (unless `options.private`).
 */
export function createClients(
  cfg: ProviderConfig,
  urls: EnvironmentUrls = {},
  options: ClientOptions = {},
): Clients {
  let set: ProcessClients;
  if (options.private) {
    set = build(cfg, options);
  } else {
    const key = configFingerprint(cfg);
    const existing = cache.get(key);
    set = existing ?? build(cfg, options);
    if (!existing) cache.set(key, set);
  }
  const dataverseFor = (url: string): DataverseClient => {
    const k = normalize(url);
    let client = set.dataverse.get(k);
    if (!client) {
      client = new DataverseClient(k, set.http, { shared: new SharedReads(ttl(set.options)) });
      set.dataverse.set(k, client);
    }
    return client;
  };
  const fnoFor = (url: string): FnoClient => {
    const k = normalize(url);
    let client = set.fno.get(k);
    if (!client) {
      client = new FnoClient(k, set.http, { shared: new SharedReads(ttl(set.options)) });
      set.fno.set(k, client);
    }
    return client;
  };
  return {
    gateway: set.gateway,
    http: set.http,
    tokens: set.tokens,
    get dataverse(): DataverseClient {
      if (!urls.dataverseUrl) throw missingUrl("dataverseUrl");
      return dataverseFor(urls.dataverseUrl);
    },
    get fno(): FnoClient {
      if (!urls.financeOperationsUrl) throw missingUrl("financeOperationsUrl");
      return fnoFor(urls.financeOperationsUrl);
    },
    dataverseFor,
    fnoFor,
  };
}

/** Forgets every cached client set and closes their connections (tests; a new configuration). */
export function resetClientCache(): void {
  for (const set of cache.values()) set.http.close();
  cache.clear();
}

function build(cfg: ProviderConfig, options: ClientOptions): ProcessClients {
  const extraCaPem = [...(options.extraCaPem ?? []), ...extraCaFromConfig(cfg)];
  // createCredential adds the configuration's CA file itself.
  const credential =
    options.credential ?? createCredential(cfg, { extraCaPem: options.extraCaPem ?? [] });
  const tokens = new TokenProvider(credential, { describe: describeConfig(cfg) });
  const http = new HttpClient({
    tokens,
    extraCaPem,
    ...(options.retry && { retry: options.retry }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    ...(options.sleep && { sleep: options.sleep }),
    ...(options.signal && { signal: options.signal }),
  });
  const gateway = new GatewayClient(cfg.gatewayUrl, http, {
    scope: cfg.gatewayScope,
    shared: new SharedReads(ttl(options)),
    ...(options.sleep && { sleep: options.sleep }),
    ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
    ...(options.signal && { signal: options.signal }),
  });
  return { tokens, http, gateway, dataverse: new Map(), fno: new Map(), options };
}

function ttl(options: ClientOptions): { ttlMs?: number } {
  return options.sharedReadTtlMs !== undefined ? { ttlMs: options.sharedReadTtlMs } : {};
}

function normalize(url: string): string {
  return url.replace(/\/+$/, "");
}

function missingUrl(name: string): DualWriteError {
  return new DualWriteError(
    `createClients was called without ${name}, so this client is not available.`,
    "InvalidArgument",
  );
}

export {
  DataverseClient,
  describeRowCount,
  type CurrentOrganization,
  type RowCount,
  type RowSample,
  type ListOptions,
  type Row,
  DATAVERSE_BATCH_LIMIT,
} from "./dataverse";
export { FnoClient, type LegalEntity, type CompanyScope, type FnoListOptions } from "./fno";
export {
  GatewayClient,
  MapAction,
  MapState,
  RequestState,
  type ActionDetail,
  type ConnectionSet,
  type ConnectionSetEnvironment,
  type FieldMappings,
  type GatewayEnvironment,
  type GatewayLink,
  type GatewayMap,
  type GatewaySolution,
  type InitialSyncRunRecord,
  type LastRequest,
  type LegalEntitySyncResult,
  type LinkRequest,
  type MapTemplate,
  type MappingLeg,
  type RequestStatus,
  type ResetLinkEnvironment,
  type ResetLinkPayload,
  type SyncMaster,
  type WaitOptions,
} from "./gateway";
export { HttpClient, type HttpRequest, type HttpResponse, type HttpClientOptions } from "./http";
export { SharedReads } from "./sharedReads";
export type { BatchRequest, BatchResponse } from "./odataBatch";
