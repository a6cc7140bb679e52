/**
 * Messages from the plugin to the person running Pulumi, shown under the resource they concern.
 *
 * A provider plugin's stdout carries its port and nothing else the engine shows, and the SDK's
 * `pulumi.log` reaches the engine only inside `construct`/`call` (sdk/nodejs/log/index.ts uses the
 * engine address that those requests set). Custom-resource operations therefore log through the
 * engine's `Log` RPC directly, with the resource's URN, on the address the engine passes as the
 * plugin's first argument. Messages never hold a secret: the lifecycles' messages name
 * environments, maps and companies only.
 */
import * as path from "node:path";

/** Severity of a message. */
export type LogLevel = "info" | "warning";

/** Sends one message to the engine, under `urn` (or the stack when undefined). */
export type EngineLog = (level: LogLevel, message: string, urn: string | undefined) => void;

interface EngineClient {
  log(request: unknown, callback: (error: unknown) => void): void;
}

/* eslint-disable @typescript-eslint/no-require-imports -- the SDK's own copies of grpc and the protos */
/**
 * A logger that talks to the engine at `engineAddress`; messages go to stderr (which the engine
 * keeps in its debug log) when there is no engine address or a call fails.
 */
export function engineLogger(engineAddress: string | undefined): EngineLog {
  const fallback: EngineLog = (level, message) => process.stderr.write(`[${level}] ${message}\n`);
  if (!engineAddress) return fallback;
  const sdkRoot = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
  const load = (id: string): unknown => require(require.resolve(id, { paths: [sdkRoot] }));
  const grpc = load("@grpc/grpc-js") as {
    credentials: { createInsecure(): unknown };
  };
  const services = load("@pulumi/pulumi/proto/engine_grpc_pb") as {
    EngineClient: new (address: string, credentials: unknown) => EngineClient;
  };
  const protos = load("@pulumi/pulumi/proto/engine_pb") as {
    LogRequest: new () => {
      setSeverity(value: number): void;
      setMessage(value: string): void;
      setUrn(value: string): void;
    };
    LogSeverity: Record<string, number>;
  };
  const client = new services.EngineClient(engineAddress, grpc.credentials.createInsecure());
  return (level, message, urn) => {
    const request = new protos.LogRequest();
    request.setSeverity(protos.LogSeverity[level === "warning" ? "WARNING" : "INFO"] ?? 1);
    request.setMessage(message);
    if (urn) request.setUrn(urn);
    client.log(request, (error) => {
      if (error) fallback(level, message, urn);
    });
  };
}
/* eslint-enable @typescript-eslint/no-require-imports */
