/**
 * `startEmulator`: HTTPS on loopback, one port, one address per service (`core/hosts.ts`), that
 * plays Microsoft Entra ID, the DualWriteManagement gateway, any number of Dataverse and F&O
 * environments, and the dual-write runtime between them. This file wires the parts together;
 * each part lives in its own folder:
 *
 * | part                     | where                                   |
 * |--------------------------|-----------------------------------------|
 * | pipeline, listeners, address plan, TLS, clock, faults, request log, settings | `core/` |
 * | Entra ID (tokens, OpenID metadata, bearer checks)   | `identity/`  |
 * | gateway / Dataverse / F&O surfaces                  | `gateway/`, `dataverse/`, `fno/` |
 * | dual-write runtime and seeds                        | `runtime/`, `seeds/` |
 * | control API `/_emulator/…`                          | `control/` (+ `runtime/control.ts`) |
 * | persistence                                         | `store/persistence.ts` |
 *
 * @example
 * const emu = await startEmulator({ seed: "existing-existing" });
 * const app = new ClientSecretCredential(emu.credentials.tenantId, emu.credentials.clientId,
 *   emu.credentials.clientSecret, { authorityHost: emu.url, disableInstanceDiscovery: true });
 * // … talk to emu.environments[0].dataverseUrl (https://127.0.0.12:<port>) with `app` …
 * const admin = new UsernamePasswordCredential(emu.credentials.tenantId, DUAL_WRITE_CLIENT_ID,
 *   emu.dualWriteAdmin.username, emu.dualWriteAdmin.password,
 *   { authorityHost: emu.url, disableInstanceDiscovery: true });
 * // … and to emu.gatewayUrl (https://127.0.0.2:<port>) with `admin` …
 * await emu.close();
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { ScaledClock } from "./core/clock";
import type { EmulatorContext, EmulatorSettings, EnvironmentPair } from "./core/context";
import { FaultEngine, type FaultRuleInput } from "./core/faults";
import { GATEWAY_ADDRESS, HostPlan, IDENTITY_ADDRESS } from "./core/hosts";
import { EmulatorHttpError, type Route, type Surface } from "./core/http";
import { Listeners } from "./core/listeners";
import { RequestLog, type RequestLogEntry } from "./core/requestLog";
import { createPipeline } from "./core/server";
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
import { identityControlRoutes, identityRoutes } from "./identity/routes";
import { FIRST_PARTY_CLIENT_ID, GATEWAY_AUDIENCE, TokenService } from "./identity/tokens";
import { runtimeControlRoutes } from "./runtime/control";
import { DualWriteRuntime } from "./runtime/runtime";
import { seedEnvironment } from "./seeds/index";
import {
  captureSnapshot,
  readSnapshot,
  restoreSnapshot,
  SnapshotWriter,
  type EmulatorSnapshot,
} from "./store/persistence";

export type { EmulatorContext, EmulatorSettings, EnvironmentPair, Clock } from "./core/context";
export type { FaultKind, FaultRule, FaultRuleInput, FaultSurface } from "./core/faults";
export type { RequestLogEntry, RequestOutcome } from "./core/requestLog";
export type { EnvironmentInfo, SeedSpec } from "./control/routes";
export {
  ControlApiError,
  EmulatorControl,
  type PortalSignIn,
  type StoreName,
} from "./control/client";
export {
  FIRST_PARTY_CLIENT_ID as DUAL_WRITE_CLIENT_ID,
  GATEWAY_AUDIENCE,
  PORTAL_ORIGIN,
  PORTAL_REDIRECT_URI,
} from "./identity/tokens";
export {
  GATEWAY_ADDRESS,
  IDENTITY_ADDRESS,
  MAX_ENVIRONMENT_SLOTS,
  dataverseAddress,
  fnoAddress,
} from "./core/hosts";
export { defaultTlsDir, TLS_DIR_ENV } from "./core/tls";

/** Options of `startEmulator`. Every one is optional. */
export interface StartEmulatorOptions {
  /**
   * TCP port, the same on every address of the plan (127.0.0.1, 127.0.0.2, 127.0.0.11, …).
   * @default 0 (a port free on all of them; read `url`)
   */
  readonly port?: number;
  /**
   * Directory for persistent state (`state.db`, `identity.json`). Without it the emulator is
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

/** The seeded dual-write administrator: the user the gateway's delegated tokens are for. */
export interface DualWriteAdmin {
  /** `dwadmin@<tenant domain>` (the tokens' `upn`). */
  readonly username: string;
  readonly password: string;
}

/** A running emulator. */
export interface RunningEmulator {
  /** `https://127.0.0.1:<port>`: the identity authority host (`authorityHost`) and the control API. */
  readonly url: string;
  readonly port: number;
  /** The CA certificate to trust (`NODE_EXTRA_CA_CERTS`, or `ca` of an HTTPS agent). */
  readonly caCertPath: string;
  /** The app registration (app-only tokens: Dataverse, F&O; the gateway only with `gatewayAcceptsAppTokens`). */
  readonly credentials: EmulatorCredentials;
  /**
   * The dual-write administrator, for delegated gateway tokens: the password grant of client
   * `DUAL_WRITE_CLIENT_ID` (`UsernamePasswordCredential`).
   */
  readonly dualWriteAdmin: DualWriteAdmin;
  /** `https://127.0.0.2:<port>`, no path; token scope `https://IntegratorApp.com/.default`. */
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

  const environments = new Map<string, EnvironmentPair>();
  const hosts = new HostPlan(0, environments);
  const listeners = new Listeners({ key: tls.serverKey, cert: tls.serverCert });
  const restored = snapshot === undefined ? undefined : withSlots(snapshot);
  // Identity, the gateway and every restored environment listen from the start; pairs seeded
  // later get their two addresses when they are seeded.
  const actualPort = await listeners.start(port, [
    IDENTITY_ADDRESS,
    GATEWAY_ADDRESS,
    ...(restored?.environments ?? []).flatMap((p) => HostPlan.addressesOf(p)),
  ]);
  hosts.setPort(actualPort);
  const url = hosts.identityUrl;

  try {
    const settings = defaultSettings();
    const ctx: EmulatorContext = {
      baseUrl: url,
      hosts,
      clock,
      settings,
      environments,
      dataverse: new Map(),
      fno: new Map(),
      // `writer` needs the runtime, which needs the context: the closure bridges the cycle.
      persist: () => writer.persist(),
    };
    const runtime = new DualWriteRuntime(ctx);
    const writer = new SnapshotWriter(dataDir, () => captureSnapshot(ctx, runtime));
    if (restored) restoreSnapshot(ctx, runtime, restored);
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
      let slot: number;
      try {
        slot = hosts.nextSlot();
        for (const address of HostPlan.addressesOf({ slot })) await listeners.add(address);
      } catch (e) {
        throw new EmulatorHttpError(503, "NoAddress", (e as Error).message);
      }
      const pair = seedEnvironment(ctx, runtime, {
        scenario: spec.scenario,
        name,
        slot,
        ...(spec.size === undefined ? {} : { size: spec.size }),
      });
      await ctx.persist();
      return environmentInfo(hosts, pair);
    };
    for (const spec of seeds) {
      if (!ctx.environments.has(spec.name ?? spec.scenario)) await seed(spec);
    }

    const info = () => ({
      url,
      tenantId: registration.tenantId,
      tenantDomain: registration.domain,
      clientId: registration.clientId,
      gatewayUrl: hosts.gatewayUrl,
      gatewayAudience: GATEWAY_AUDIENCE,
      dualWriteClientId: FIRST_PARTY_CLIENT_ID,
      // The username only: `info` is secret-free.
      dualWriteAdmin: { username: registration.admin.username },
      caCertPath: tls.caCertPath,
      clientCertificatePath: tls.clientCertificatePath,
      persistent: dataDir !== undefined,
      ...(dataDir === undefined ? {} : { dataDir }),
    });
    const identityDeps = { tokens, settings, baseUrl: () => url };
    const routes: Record<Surface, readonly Route[]> = {
      identity: identityRoutes(identityDeps),
      gateway: gatewayRoutes(ctx, runtime),
      dataverse: dataverseRoutes(ctx, runtime),
      fno: fnoRoutes(ctx),
      control: [
        ...controlRoutes({ ctx, clock, faults, requestLog, tokens, seed, info }),
        ...identityControlRoutes(identityDeps),
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
      authenticate: (surface, req, origin) =>
        authenticate(tokens, settings, surface, req.headers.authorization, origin, url),
    });
    listeners.setHandler(pipeline.handler);
    await ctx.persist();

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        const closed = listeners.close();
        listeners.closeIdleConnections();
        await pipeline.drain(5000);
        listeners.closeAllConnections();
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
      dualWriteAdmin: {
        username: registration.admin.username,
        password: registration.admin.password,
      },
      gatewayUrl: hosts.gatewayUrl,
      get environments() {
        return [...ctx.environments.values()].map((p) => environmentInfo(hosts, p));
      },
      control: new EmulatorControl(url, tls.caCert),
      context: ctx,
      close,
    };
  } catch (e) {
    listeners.closeAllConnections();
    await listeners.close();
    clock.dispose();
    throw e;
  }
}

/**
 * A snapshot whose pairs all have a slot: one saved before the address plan existed gets slots
 * in its saved order (the order they were seeded in).
 */
function withSlots(snapshot: EmulatorSnapshot): EmulatorSnapshot {
  const pairs = snapshot.environments as Array<Partial<EnvironmentPair> & { name: string }>;
  const used = new Set(pairs.map((p) => p.slot).filter((s): s is number => s !== undefined));
  let next = 0;
  const environments = pairs.map((p) => {
    if (p.slot !== undefined) return p as EnvironmentPair;
    while (used.has(next)) next++;
    used.add(next);
    return { ...p, slot: next } as EnvironmentPair;
  });
  return { ...snapshot, environments };
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
      throw new TypeError(`seed[${i}].name: '${name}' must be letters, digits, '-' or '_'.`);
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
