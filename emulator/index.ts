/**
 * `startEmulator`: one HTTPS listener on loopback that plays Microsoft Entra ID, the
 * DualWriteManagement gateway, any number of Dataverse and F&O environments, and the dual-write
 * runtime between them. This file wires the parts together; each part lives in its own folder:
 *
 * | part                     | where                                   |
 * |--------------------------|-----------------------------------------|
 * | pipeline, TLS, clock, faults, request log, settings | `core/`      |
 * | Entra ID (tokens, OpenID metadata, bearer checks)   | `identity/`  |
 * | gateway / Dataverse / F&O surfaces                  | `gateway/`, `dataverse/`, `fno/` |
 * | dual-write runtime and seeds                        | `runtime/`, `seeds/` |
 * | control API `/_emulator/…`                          | `control/` (+ `runtime/control.ts`) |
 * | persistence                                         | `store/persistence.ts` |
 *
 * @example
 * const emu = await startEmulator({ seed: "existing-existing" });
 * const credential = new ClientSecretCredential(emu.credentials.tenantId, emu.credentials.clientId,
 *   emu.credentials.clientSecret, { authorityHost: emu.url, disableInstanceDiscovery: true });
 * // … talk to emu.environments[0].dataverseUrl …
 * await emu.close();
 */
import { mkdir } from "node:fs/promises";
import type { Server } from "node:https";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { ScaledClock } from "./core/clock";
import type { EmulatorContext, EmulatorSettings } from "./core/context";
import { FaultEngine, type FaultRuleInput } from "./core/faults";
import { EmulatorHttpError, type Route, type Surface } from "./core/http";
import { RequestLog, type RequestLogEntry } from "./core/requestLog";
import { createHttpsServer, createPipeline } from "./core/server";
import { applySettings, defaultSettings, parseSettingsUpdate } from "./core/settings";
import { defaultTlsDir, ensureTlsMaterial } from "./core/tls";
import { EmulatorControl } from "./control/client";
import {
  controlRoutes,
  environmentInfo,
  type EnvironmentInfo,
  type SeedSpec,
} from "./control/routes";
import { dataverseRoutes } from "./dataverse/routes";
import { fnoRoutes } from "./fno/routes";
import { gatewayRoutes } from "./gateway/routes";
import { authenticate } from "./identity/authenticate";
import { loadOrCreateRegistration } from "./identity/registration";
import { identityRoutes } from "./identity/routes";
import { GATEWAY_AUDIENCE, TokenService } from "./identity/tokens";
import { runtimeControlRoutes } from "./runtime/control";
import { DualWriteRuntime } from "./runtime/runtime";
import { seedEnvironment } from "./seeds/index";
import {
  captureSnapshot,
  readSnapshot,
  restoreSnapshot,
  SnapshotWriter,
} from "./store/persistence";

export type { EmulatorContext, EmulatorSettings, EnvironmentPair, Clock } from "./core/context";
export type { FaultKind, FaultRule, FaultRuleInput, FaultSurface } from "./core/faults";
export type { RequestLogEntry, RequestOutcome } from "./core/requestLog";
export type { EnvironmentInfo, SeedSpec } from "./control/routes";
export { ControlApiError, EmulatorControl, type StoreName } from "./control/client";
export { GATEWAY_AUDIENCE } from "./identity/tokens";
export { defaultTlsDir, TLS_DIR_ENV } from "./core/tls";

/** Options of `startEmulator`. Every one is optional. */
export interface StartEmulatorOptions {
  /** TCP port on 127.0.0.1. @default 0 (a free port; read `url`) */
  readonly port?: number;
  /**
   * Directory for persistent state (`state.json`, `identity.json`). Without it the emulator is
   * memory-only and its credentials are new on every start.
   */
  readonly dataDir?: string;
  /**
   * Directory of the CA, server and client certificates.
   * @default `$DUALWRITE_EMULATOR_TLS_DIR`, else the user cache dir (`defaultTlsDir()`)
   */
  readonly tlsDir?: string;
  /**
   * Environment pairs to seed: a scenario name, or a list of `{ scenario, name?, size? }`. With a
   * restored data directory only pairs whose name is missing are seeded.
   */
  readonly seed?: string | SeedSpec | ReadonlyArray<string | SeedSpec>;
  /** Default `size` for seeds that do not give one (rows per table per company). */
  readonly size?: number;
  /** Emulated clock. @default { speed: 1 } (or the speed saved in the data directory) */
  readonly clock?: { readonly speed?: number };
  /** Fault rules in force from the start (see `FaultRuleInput`). */
  readonly faults?: readonly FaultRuleInput[];
  /** Settings to change from their defaults (they override saved ones). */
  readonly settings?: Partial<EmulatorSettings>;
  /** Where diagnostics go (unexpected errors only; never secrets). @default standard error */
  readonly log?: (line: string) => void;
  /** Called when a request to a surface has been answered or dropped (the CLI's `--verbose`). */
  readonly onRequest?: (entry: RequestLogEntry) => void;
}

/** The credentials of the emulated tenant's one app registration. */
export interface EmulatorCredentials {
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** PEM file with the client certificate and its private key (for `ClientCertificateCredential`). */
  readonly certificatePath: string;
}

/** A running emulator. */
export interface RunningEmulator {
  /** `https://127.0.0.1:<port>`: the identity authority host (`authorityHost`) and base of every surface. */
  readonly url: string;
  readonly port: number;
  /** The CA certificate to trust (`NODE_EXTRA_CA_CERTS`, or `ca` of an HTTPS agent). */
  readonly caCertPath: string;
  readonly credentials: EmulatorCredentials;
  /** `https://127.0.0.1:<port>/gateway`; token scope `https://IntegratorApp.com/.default`. */
  readonly gatewayUrl: string;
  /** The environment pairs, as they are now (pairs seeded later through the control API included). */
  readonly environments: readonly EnvironmentInfo[];
  /** Typed client of the control API. */
  readonly control: EmulatorControl;
  /** The live context, for in-process tests that inspect tables directly. */
  readonly context: EmulatorContext;
  /** Stops the server, waits for requests in flight and pending saves. Safe to call more than once. */
  close(): Promise<void>;
}

/** Starts an emulator. Resolves once it listens and its seeds are loaded. */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `port: expected an integer from 0 to 65535 (0 picks a free port), got ${String(options.port)}.`,
    );
  }
  const log =
    options.log ?? ((line: string) => void process.stderr.write(`[dualwrite-emulator] ${line}\n`));
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  const seeds = normalizeSeeds(options.seed, options.size);
  // Validate caller input before anything is written or bound.
  const settingsUpdate = parseSettingsUpdate(options.settings ?? {});
  const faults = new FaultEngine();
  if (options.faults) faults.replace(options.faults);

  const tls = await ensureTlsMaterial(
    options.tlsDir === undefined ? defaultTlsDir() : resolve(options.tlsDir),
  );
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  const registration = await loadOrCreateRegistration(dataDir, tls.clientCert);
  const snapshot = dataDir === undefined ? undefined : await readSnapshot(dataDir);
  // Emulated time never goes back across a restart (rows carry emulated timestamps).
  const clock = new ScaledClock(
    options.clock?.speed ?? snapshot?.clock.speed ?? 1,
    Math.max(snapshot?.clock.now ?? 0, Date.now()),
  );

  const server = createHttpsServer({ key: tls.serverKey, cert: tls.serverCert });
  const actualPort = await listen(server, port);
  const url = `https://127.0.0.1:${actualPort}`;

  try {
    const settings = defaultSettings();
    const ctx: EmulatorContext = {
      baseUrl: url,
      clock,
      settings,
      environments: new Map(),
      dataverse: new Map(),
      fno: new Map(),
      // `writer` needs the runtime, which needs the context: the closure bridges the cycle.
      persist: () => writer.persist(),
    };
    const runtime = new DualWriteRuntime(ctx);
    const writer = new SnapshotWriter(dataDir, () => captureSnapshot(ctx, runtime));
    if (snapshot) restoreSnapshot(ctx, runtime, snapshot);
    applySettings(settings, settingsUpdate);

    const tokens = new TokenService(registration, () => url);
    const requestLog = new RequestLog();

    const seed = async (spec: SeedSpec): Promise<EnvironmentInfo> => {
      const name = spec.name ?? spec.scenario;
      if (ctx.environments.has(name)) {
        throw new EmulatorHttpError(
          409,
          "EnvironmentExists",
          `An environment pair named '${name}' exists already; choose another name.`,
        );
      }
      const pair = seedEnvironment(ctx, runtime, {
        scenario: spec.scenario,
        name,
        ...(spec.size === undefined ? {} : { size: spec.size }),
      });
      await ctx.persist();
      return environmentInfo(url, pair);
    };
    for (const spec of seeds) {
      if (!ctx.environments.has(spec.name ?? spec.scenario)) await seed(spec);
    }

    const info = () => ({
      url,
      tenantId: registration.tenantId,
      clientId: registration.clientId,
      gatewayUrl: `${url}/gateway`,
      gatewayAudience: GATEWAY_AUDIENCE,
      caCertPath: tls.caCertPath,
      clientCertificatePath: tls.clientCertificatePath,
      persistent: dataDir !== undefined,
      ...(dataDir === undefined ? {} : { dataDir }),
    });
    const routes: Record<Surface, readonly Route[]> = {
      identity: identityRoutes({ tokens, settings, baseUrl: () => url }),
      gateway: gatewayRoutes(ctx, runtime),
      dataverse: dataverseRoutes(ctx, runtime),
      fno: fnoRoutes(ctx),
      control: [
        ...controlRoutes({ ctx, clock, faults, requestLog, tokens, seed, info }),
        ...runtimeControlRoutes(ctx, runtime),
      ],
    };
    const pipeline = createPipeline({
      ctx,
      faults,
      requestLog,
      routes,
      log,
      ...(options.onRequest ? { onRequestEnd: options.onRequest } : {}),
      authenticate: (surface, req, params) =>
        authenticate(tokens, surface, req.headers.authorization, params, url),
    });
    server.on("request", pipeline.handler);
    await ctx.persist();

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        const closed = new Promise<void>((done) => server.close(() => done()));
        server.closeIdleConnections();
        await pipeline.drain(5000);
        server.closeAllConnections();
        await closed;
        // Background jobs stop first, so the last save below is the last save at all.
        runtime.close();
        await writer.close();
        clock.dispose();
      })());

    return {
      url,
      port: actualPort,
      caCertPath: tls.caCertPath,
      credentials: {
        tenantId: registration.tenantId,
        clientId: registration.clientId,
        clientSecret: registration.clientSecret,
        certificatePath: tls.clientCertificatePath,
      },
      gatewayUrl: `${url}/gateway`,
      get environments() {
        return [...ctx.environments.values()].map((p) => environmentInfo(url, p));
      },
      control: new EmulatorControl(url, tls.caCert),
      context: ctx,
      close,
    };
  } catch (e) {
    server.close();
    server.closeAllConnections();
    clock.dispose();
    throw e;
  }
}

/** Seeds as a list of specs; `size` fills in where a spec has none. */
function normalizeSeeds(seed: StartEmulatorOptions["seed"], size: number | undefined): SeedSpec[] {
  if (size !== undefined && (!Number.isInteger(size) || size < 0)) {
    throw new RangeError(
      `size: expected a non-negative integer (rows per table per company), got ${size}.`,
    );
  }
  if (seed === undefined) return [];
  const list =
    typeof seed === "string" || !Array.isArray(seed)
      ? [seed as string | SeedSpec]
      : (seed as ReadonlyArray<string | SeedSpec>);
  const specs = list.map((s) => (typeof s === "string" ? { scenario: s } : s));
  const names = new Set<string>();
  for (const [i, s] of specs.entries()) {
    if (typeof s.scenario !== "string" || s.scenario === "")
      throw new TypeError(
        `seed[${i}].scenario: expected a scenario name such as 'existing-existing'.`,
      );
    const name = s.name ?? s.scenario;
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(name)) {
      throw new TypeError(
        `seed[${i}].name: '${name}' must be letters, digits, '-' or '_' (it becomes part of URLs).`,
      );
    }
    if (names.has(name))
      throw new TypeError(`seed[${i}].name: '${name}' is used twice; give each pair its own name.`);
    names.add(name);
  }
  return specs.map((s) => ({
    ...s,
    ...(s.size === undefined && size !== undefined ? { size } : {}),
  }));
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((done, fail) => {
    const onError = (e: NodeJS.ErrnoException) => {
      fail(
        e.code === "EADDRINUSE"
          ? new Error(
              `Port ${port} on 127.0.0.1 is in use; choose another --port (0 picks a free one).`,
              { cause: e },
            )
          : e,
      );
    };
    server.once("error", onError);
    // Loopback only: the emulator hands out tokens for anyone who asks with its credentials.
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError);
      done((server.address() as AddressInfo).port);
    });
  });
}
