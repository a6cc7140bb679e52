/**
 * Set-up of the resource tests: an in-process emulator, handler contexts whose clients point at
 * it (real `@azure/identity` tokens, real HTTPS), and the request log to prove what was — and
 * was not — written.
 *
 * Each call of `ctx()` builds a fresh, private set of clients, as each `pulumi preview` or `up`
 * runs a fresh provider process: no shared read survives from one step to the next, so drift made
 * through the control API in between is seen.
 */
import {
  startEmulator,
  type RequestLogEntry,
  type RunningEmulator,
  type StartEmulatorOptions,
} from "../../emulator/index";
import { createClients } from "../../provider/clients/index";
import { readProviderConfig, type ProviderConfig } from "../../provider/config";
import {
  DEFAULT_OPTIONS,
  type HandlerContext,
  type HandlerOptions,
} from "../../provider/resources/common/handler";
import { trustEmulatorCa } from "../support/emulator";

/** An environment pair of the emulator. */
export type EnvironmentPair = RunningEmulator["environments"][number];

/** A running emulator plus what the resource tests need around it. */
export interface ResourceHarness {
  readonly emulator: RunningEmulator;
  /** The environment pair seeded under `name`. */
  env(name: string): EnvironmentPair;
  /** Stack config as the dynamic provider's `configure` sees it (`dualwrite:*`). */
  readonly stack: Readonly<Record<string, string>>;
  readonly config: ProviderConfig;
  /**
   * A fresh context (new clients, as a new provider process has); its log lines go to `logs`.
   * `signal` is the provider process's cancellation, as the runtime gives it to the clients.
   */
  ctx(options?: Partial<HandlerOptions>, extra?: { readonly signal?: AbortSignal }): HandlerContext;
  /** Every line a context printed, oldest first. */
  readonly logs: string[];
  /** A bookmark of the request log. */
  mark(): Promise<number>;
  /** Surface requests since `mark` that change something (reads sent as POST excluded). */
  writesSince(mark: number): Promise<RequestLogEntry[]>;
  /** Surface requests since `mark`. */
  requestsSince(mark: number): Promise<RequestLogEntry[]>;
  close(): Promise<void>;
}

// A POST that only reads: asking for prerequisite sequences.
const READ_POSTS = [/GetTemplatePrerequisiteSequences/];

/** Whether a logged request changes anything in an environment or the gateway. */
export function isWrite(e: RequestLogEntry): boolean {
  if (e.surface === "identity") return false; // token requests
  if (e.method === "GET" || e.method === "HEAD") return false;
  return !READ_POSTS.some((p) => p.test(e.path));
}

/** Starts an emulator with the given seeds; emulated time runs fast so waits stay short. */
export async function startResourceHarness(
  options: StartEmulatorOptions = {},
): Promise<ResourceHarness> {
  const emulator = await startEmulator({
    size: 12,
    clock: { speed: 50 },
    log: () => undefined,
    ...options,
  });
  trustEmulatorCa(emulator.caCertPath);
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
  // An empty environment: the tests must not pick up AZURE_* variables of the machine.
  const config = readProviderConfig((key) => stack[key], {});
  const logs: string[] = [];
  const opened: ReturnType<typeof createClients>[] = [];
  return {
    emulator,
    env(name) {
      const found = emulator.environments.find((e) => e.name === name);
      if (!found) throw new Error(`no environment pair named ${name}`);
      return found;
    },
    stack,
    config,
    logs,
    ctx(overrides = {}, extra = {}) {
      const clientsByKey = new Map<string, ReturnType<typeof createClients>>();
      return {
        clients(envs) {
          const key = `${envs.financeOperationsUrl}|${envs.dataverseUrl}`;
          let c = clientsByKey.get(key);
          if (!c) {
            c = createClients(config, envs, {
              private: true,
              pollMs: 20,
              ...(extra.signal && { signal: extra.signal }),
            });
            clientsByKey.set(key, c);
            opened.push(c);
          }
          return c;
        },
        log: (line) => logs.push(line),
        options: {
          ...DEFAULT_OPTIONS,
          mapActionTimeoutMs: 60_000,
          solutionTimeoutMs: 60_000,
          linkTimeoutMs: 60_000,
          initialSyncTimeoutMs: 120_000,
          progressIntervalMs: 50,
          ...overrides,
        },
      };
    },
    mark: () => emulator.control.lastRequestSeq(),
    async writesSince(mark) {
      return (await emulator.control.requests(mark)).filter(isWrite);
    },
    requestsSince: (mark) => emulator.control.requests(mark),
    async close() {
      for (const c of opened) c.http.close();
      await emulator.close();
    },
  };
}
