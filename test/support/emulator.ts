/**
 * Test harness for the emulator: start one in this process, trust its CA, get credentials and
 * tokens from it with the real `@azure/identity`, and make raw HTTPS calls.
 *
 * Trusting the CA in-process: `NODE_EXTRA_CA_CERTS` is read only when Node starts, so a test
 * process that starts the emulator itself cannot use it. `trustEmulatorCa` adds the CA to Node's
 * default trust store with `tls.setDefaultCACertificates` (Node ≥ 22.19 / 24.5), which every
 * later TLS connection without an explicit `ca` uses: `@azure/identity`, `dynamics-web-api`,
 * `got`, `fetch` and `node:https` alike. Child processes (the CLI, `pulumi`) get
 * `NODE_EXTRA_CA_CERTS` through `childEnv()` instead.
 *
 * @example
 * let emu: TestEmulator;
 * before(async () => (emu = await startTestEmulator({ seed: "existing-existing" })));
 * after(() => emu.close());
 * it("answers WhoAmI", async () => {
 *   const res = await emu.request("GET", `${emu.environments[0]!.dataverseUrl}/api/data/v9.2/WhoAmI`, {
 *     token: await emu.token(emu.environments[0]!.dataverseUrl), // https://127.0.0.12:<port>
 *   });
 *   expect(res.status).to.equal(200);
 * });
 */
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import * as tls from "node:tls";
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  UsernamePasswordCredential,
} from "@azure/identity";
import {
  DUAL_WRITE_CLIENT_ID,
  GATEWAY_AUDIENCE,
  startEmulator,
  type RunningEmulator,
  type StartEmulatorOptions,
} from "../../emulator/index";

/** An answer of `TestEmulator.request`. */
export interface TestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as text. */
  readonly text: string;
  /** The body parsed as JSON (undefined when empty or not JSON). */
  readonly json: unknown;
}

/** Options of one raw request. */
export interface TestRequestOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON value (sent as `application/json`) or a raw string/Buffer (give the content type in `headers`). */
  readonly body?: unknown;
}

/** A running in-process emulator with test conveniences. */
export interface TestEmulator extends RunningEmulator {
  /** A `ClientSecretCredential` for the emulator's app (authority = the emulator). */
  secretCredential(): ClientSecretCredential;
  /** A `ClientCertificateCredential` for the emulator's app, with its client certificate. */
  certificateCredential(): ClientCertificateCredential;
  /**
   * A `UsernamePasswordCredential` for the dual-write administrator with the portal's client id:
   * delegated tokens, what the gateway wants.
   */
  adminCredential(): UsernamePasswordCredential;
  /**
   * An access token for `resource` (a URL or `https://IntegratorApp.com`; `/.default` is added):
   * the administrator's delegated token for the gateway, the app's token for everything else.
   */
  token(resource: string): Promise<string>;
  /** An app-only token for `resource`, whatever it is (the gateway refuses it by default). */
  appToken(resource: string): Promise<string>;
  /** One HTTPS request with Node's default trust store (which trusts the emulator's CA). */
  request(method: string, url: string, options?: TestRequestOptions): Promise<TestResponse>;
  /**
   * Environment for a child process: CA trust, `AZURE_*` credentials and authority host, and the
   * administrator for the gateway (`DUALWRITE_GATEWAY_USERNAME`/`_PASSWORD`).
   */
  childEnv(): NodeJS.ProcessEnv;
}

const trusted = new Set<string>();

/**
 * Makes this process trust the CA at `caCertPath` for every later TLS connection (idempotent;
 * nothing to do when the process started with `NODE_EXTRA_CA_CERTS` holding it). Throws with
 * what to do on a Node without `tls.setDefaultCACertificates` (< 22.19).
 */
export function trustEmulatorCa(caCertPath: string): void {
  const pem = readFileSync(caCertPath, "utf8").trim();
  if (trusted.has(pem) || startedTrusting(pem)) return;
  const setDefault = (tls as { setDefaultCACertificates?: (certs: string[]) => void })
    .setDefaultCACertificates;
  if (typeof setDefault !== "function") {
    throw new Error(
      `This Node (${process.version}) cannot add a CA at run time; use Node >= 22.19 or start the test ` +
        `process with NODE_EXTRA_CA_CERTS=${caCertPath}.`,
    );
  }
  setDefault([...tls.getCACertificates("default"), pem]);
  trusted.add(pem);
}

/** Whether the process was started with `NODE_EXTRA_CA_CERTS` holding this CA (e.g. by the toolchain). */
function startedTrusting(pem: string): boolean {
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (!extra) return false;
  try {
    return readFileSync(extra, "utf8").includes(pem);
  } catch {
    return false;
  }
}

/** Starts an in-process emulator (memory-only unless `dataDir` is given) and trusts its CA. */
export async function startTestEmulator(options: StartEmulatorOptions = {}): Promise<TestEmulator> {
  const emulator = await startEmulator(options);
  trustEmulatorCa(emulator.caCertPath);
  return withHelpers(emulator);
}

/** Adds the test conveniences to a running emulator (e.g. one restarted by a persistence test). */
export function withHelpers(emulator: RunningEmulator): TestEmulator {
  const { tenantId, clientId, clientSecret, certificatePath } = emulator.credentials;
  const identityOptions = { authorityHost: emulator.url, disableInstanceDiscovery: true };
  const { username, password } = emulator.dualWriteAdmin;
  let shared: ClientSecretCredential | undefined;
  let admin: UsernamePasswordCredential | undefined;
  const appToken = async (resource: string): Promise<string> => {
    shared ??= new ClientSecretCredential(tenantId, clientId, clientSecret, identityOptions);
    return (await shared.getToken(`${resource.replace(/\/$/, "")}/.default`)).token;
  };
  const helpers: Omit<TestEmulator, keyof RunningEmulator> = {
    secretCredential: () =>
      new ClientSecretCredential(tenantId, clientId, clientSecret, identityOptions),
    certificateCredential: () =>
      new ClientCertificateCredential(tenantId, clientId, { certificatePath }, identityOptions),
    adminCredential: () =>
      new UsernamePasswordCredential(
        tenantId,
        DUAL_WRITE_CLIENT_ID,
        username,
        password,
        identityOptions,
      ),
    async token(resource: string) {
      if (resource.replace(/\/$/, "").toLowerCase() !== GATEWAY_AUDIENCE.toLowerCase())
        return appToken(resource);
      admin ??= new UsernamePasswordCredential(
        tenantId,
        DUAL_WRITE_CLIENT_ID,
        username,
        password,
        identityOptions,
      );
      return (await admin.getToken(`${GATEWAY_AUDIENCE}/.default`)).token;
    },
    appToken,
    request: (method: string, url: string, options: TestRequestOptions = {}) =>
      rawRequest(method, url, options),
    childEnv: (): NodeJS.ProcessEnv => ({
      ...process.env,
      NODE_EXTRA_CA_CERTS: emulator.caCertPath,
      AZURE_AUTHORITY_HOST: emulator.url,
      AZURE_TENANT_ID: tenantId,
      AZURE_CLIENT_ID: clientId,
      AZURE_CLIENT_SECRET: clientSecret,
      DUALWRITE_GATEWAY_USERNAME: username,
      DUALWRITE_GATEWAY_PASSWORD: password,
    }),
  };
  // A prototype link, not a spread: spreading would freeze the live `environments` getter.
  return Object.assign(Object.create(emulator) as RunningEmulator, helpers);
}

/** One HTTPS request; resolves with the answer whatever its status, rejects on a network error. */
export function rawRequest(
  method: string,
  url: string,
  options: TestRequestOptions = {},
): Promise<TestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: Buffer | undefined;
  if (options.body !== undefined) {
    if (Buffer.isBuffer(options.body)) payload = options.body;
    else if (typeof options.body === "string") payload = Buffer.from(options.body);
    else {
      payload = Buffer.from(JSON.stringify(options.body));
      headers["content-type"] ??= "application/json";
    }
    headers["content-length"] = String(payload.length);
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = text === "" ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}
