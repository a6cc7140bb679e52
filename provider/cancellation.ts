/**
 * The provider process's cancellation: one `AbortSignal` that the clients take
 * (`createClients({ signal })`), aborted when the process is asked to stop.
 *
 * How a cancelled `pulumi up` reaches a provider (Pulumi CLI 3.274.1, read in its sources):
 *
 * | event                                   | what the provider process gets                                   |
 * |-----------------------------------------|------------------------------------------------------------------|
 * | first Ctrl-C / SIGTERM to the CLI        | the `Cancel` RPC (`deploymentExecutor.Execute` → `SignalCancellation`); the engine then waits for the operations under way |
 * | second Ctrl-C / SIGTERM (terminate)      | the plugin host is closed: SIGINT to the plugin's process group, SIGKILL 5 s later (`plugin.go` `Kill` → `cmdutil.InterruptChildren`) |
 * | a CI runner or a person stopping the tree | SIGTERM (or SIGINT) to the process                                |
 *
 * The provider plugin answers `Cancel` by aborting (`provider/plugin/main.ts`): its waits end at
 * once with a `CancelledError`, so the operation fails cleanly, the engine records it, and the
 * first Ctrl-C ends the `up` promptly. The dynamic provider's host (`@pulumi/pulumi`'s
 * `cmd/dynamic-provider`) answers `Cancel` itself and does nothing, so a dynamic provider learns of
 * a cancelled `up` only from the signal of the terminate step; {@link stopOnSignals} aborts then
 * and exits soon after, well within the 5 s the CLI allows. Either way nothing is sent to the
 * services: an initial sync keeps running at the gateway, and the next `pulumi up` adopts it.
 */

const controller = new AbortController();

/** The signal every client of this process takes; aborted once, never reset. */
export function providerSignal(): AbortSignal {
  return controller.signal;
}

/** Aborts every wait of this process (idempotent); `reason` is shown in the errors, e.g. `SIGINT`. */
export function cancelProvider(reason: string): void {
  if (!controller.signal.aborted) controller.abort(new Error(reason));
}

let inFlight = 0;
let settled: () => void = () => undefined;

/**
 * Runs one provider operation, counted: on a signal, the process exits as soon as none is under
 * way (at once when idle, as when the CLI closes the plugin after a finished `up`).
 */
export async function operation<T>(work: () => Promise<T>): Promise<T> {
  inFlight++;
  try {
    return await work();
  } finally {
    inFlight--;
    if (inFlight === 0) settled();
  }
}

let installed = false;

/** Options of {@link stopOnSignals}. */
export interface StopOnSignalsOptions {
  /**
   * How long after the signal the process exits at the latest: time for the cancelled operations
   * to answer the engine with their error. It exits earlier once none is under way. @default 1000
   */
  readonly graceMs?: number;
  /** Ends the process; tests replace it. @default process.exit */
  readonly exit?: (code: number) => void;
}

/**
 * On SIGINT or SIGTERM: aborts {@link providerSignal}, then exits (130 for SIGINT, 143 for
 * SIGTERM) once the operations under way ({@link operation}) have answered with their
 * cancellation, or after `graceMs`. Nothing is printed: the operations' errors say what happened
 * (the CLI sends SIGINT to every plugin it closes, after each `up` too). Installed once per
 * process; call it only in a provider process.
 */
export function stopOnSignals(options: StopOnSignalsOptions = {}): void {
  if (installed) return;
  installed = true;
  const graceMs = options.graceMs ?? 1000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.on(signal, () => {
      cancelProvider(signal);
      const done = (): void => exit(code);
      if (inFlight === 0) {
        done();
        return;
      }
      // Let the cancelled operations send their errors (a few milliseconds), then go.
      settled = () => setTimeout(done, 20);
      setTimeout(done, graceMs).unref();
    });
  }
}

/**
 * Whether this process is the dynamic-provider host that the Pulumi CLI starts
 * (`@pulumi/pulumi/cmd/dynamic-provider`), as opposed to a program or a test that loads the runtime.
 */
export function isDynamicProviderHost(main: string | undefined = require.main?.filename): boolean {
  return main !== undefined && /[\\/]cmd[\\/]dynamic-provider([\\/]index\.js)?$/.test(main);
}
