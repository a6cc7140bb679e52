/**
 * Shared set-up of the client tests: an in-process emulator, a provider configuration pointing at
 * it (the real `@azure/identity` flow, trusting the emulator's CA through `caCertificatePath`),
 * and helpers to read the emulator's request log.
 */
import {
  startEmulator,
  type RequestLogEntry,
  type RunningEmulator,
  type StartEmulatorOptions,
} from "../../emulator/index";
import { createClients, type ClientOptions, type Clients } from "../../provider/clients/index";
import { readProviderConfig, type ProviderConfig } from "../../provider/config";

/** A running emulator plus what the client tests need around it. */
export interface ClientHarness {
  readonly emulator: RunningEmulator;
  /** The first seeded environment pair. */
  readonly env: RunningEmulator["environments"][number];
  /** Stack config as the dynamic provider's `configure` would see it. */
  readonly stack: Record<string, string>;
  /** The provider configuration read from `stack`. */
  config(extra?: Record<string, string>): ProviderConfig;
  /** A private set of clients (own token cache, HTTP layer and shared reads). */
  clients(options?: ClientOptions, extra?: Record<string, string>): Clients;
  /** Requests logged after `since` (a bookmark from `mark()`), optionally filtered. */
  requestsSince(
    since: number,
    filter?: (e: RequestLogEntry) => boolean,
  ): Promise<RequestLogEntry[]>;
  /** A bookmark of the request log. */
  mark(): Promise<number>;
  close(): Promise<void>;
}

/** Waits that record their length and return at once, so retry tests do not wait in real time. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: (ms: number) => {
      delays.push(ms);
      return Promise.resolve();
    },
  };
}

/** Starts an emulator seeded with `seed` and builds the harness around it. */
export async function startClientHarness(
  options: StartEmulatorOptions = {},
): Promise<ClientHarness> {
  const emulator = await startEmulator({
    seed: "existing-existing",
    size: 12,
    log: () => undefined,
    ...options,
  });
  const env = emulator.environments[0];
  if (!env) throw new Error("the emulator seeded no environment");
  const stack: Record<string, string> = {
    "dualwrite:tenantId": emulator.credentials.tenantId,
    "dualwrite:clientId": emulator.credentials.clientId,
    "dualwrite:clientSecret": emulator.credentials.clientSecret,
    "dualwrite:authorityHost": emulator.url,
    "dualwrite:gatewayUrl": emulator.gatewayUrl,
    "dualwrite:caCertificatePath": emulator.caCertPath,
    // The gateway takes delegated tokens only (TokenRefresh.cs:127-160): its own sign-in, as the
    // seeded dual-write administrator.
    "dualwrite:gatewayUsername": emulator.dualWriteAdmin.username,
    "dualwrite:gatewayPassword": emulator.dualWriteAdmin.password,
  };
  const config = (extra: Record<string, string> = {}) => {
    const values: Record<string, string> = { ...stack, ...extra };
    for (const [k, v] of Object.entries(values)) if (v === "") delete values[k];
    // An empty environment: the tests must not pick up AZURE_* variables of the machine.
    return readProviderConfig((key) => values[key], {});
  };
  return {
    emulator,
    env,
    stack,
    config,
    clients: (clientOptions = {}, extra = {}) =>
      createClients(
        config(extra),
        { dataverseUrl: env.dataverseUrl, financeOperationsUrl: env.financeOperationsUrl },
        {
          private: true,
          pollMs: 50,
          ...clientOptions,
        },
      ),
    async requestsSince(since, filter = () => true) {
      return (await emulator.control.requests(since)).filter(filter);
    },
    mark: () => emulator.control.lastRequestSeq(),
    close: () => emulator.close(),
  };
}

/** Log filter: token requests to the identity surface. */
export const isTokenRequest = (e: RequestLogEntry): boolean =>
  e.surface === "identity" && e.method === "POST" && e.path.endsWith("/oauth2/v2.0/token");
