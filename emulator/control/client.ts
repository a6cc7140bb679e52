/**
 * A small typed client of the control API (`/_emulator/…`), for tests and scripts. It talks
 * HTTPS to a running emulator (in this process or another) and trusts the emulator's CA
 * explicitly, so it works without `NODE_EXTRA_CA_CERTS`.
 *
 * @example
 * const emu = await startEmulator({ seed: "existing-existing" });
 * await emu.control.addFault({ kind: "throttle", surface: "dataverse", count: 2, retryAfterSeconds: 1 });
 * const before = await emu.control.lastRequestSeq();
 * // … run the code under test …
 * const writes = (await emu.control.requests(before)).filter((r) => r.method !== "GET");
 */
import { request } from "node:https";
import type { EmulatorSettings } from "../core/context";
import type { FaultRule, FaultRuleInput } from "../core/faults";
import type { RequestLogEntry } from "../core/requestLog";
import type { Row } from "../store/tables";
import type { EnvironmentInfo, SeedSpec } from "./routes";

/** A control API call that did not answer 2xx. */
export class ControlApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} /_emulator/${path} answered ${status}: ${body.slice(0, 500)}`);
    this.name = "ControlApiError";
  }
}

/** The token response of `POST /_emulator/sign-in` (Entra's field names). */
export interface PortalSignIn {
  readonly token_type: "Bearer";
  readonly scope: string;
  readonly expires_in: number;
  readonly access_token: string;
  readonly refresh_token: string;
  readonly id_token: string;
  readonly client_info: string;
}

/** Which store a row call addresses. */
export type StoreName = "dataverse" | "fno";

/** Typed access to `/_emulator/…` of one emulator. */
export class EmulatorControl {
  /**
   * @param baseUrl the emulator's `https://127.0.0.1:<port>` (the control API lives on 127.0.0.1 only)
   * @param caCert the emulator's CA certificate (PEM), trusted for these calls only
   */
  constructor(
    readonly baseUrl: string,
    private readonly caCert: string,
  ) {}

  /** The fault rules in force. */
  async faults(): Promise<FaultRule[]> {
    return (await this.call<{ rules: FaultRule[] }>("GET", "faults")).rules;
  }

  /** Adds one fault rule; returns it with its id. */
  addFault(rule: FaultRuleInput): Promise<FaultRule> {
    return this.call("POST", "faults", rule);
  }

  /** Replaces every fault rule. */
  async setFaults(rules: readonly FaultRuleInput[]): Promise<FaultRule[]> {
    return (await this.call<{ rules: FaultRule[] }>("PUT", "faults", rules)).rules;
  }

  /** Removes every fault rule. */
  async clearFaults(): Promise<void> {
    await this.call("DELETE", "faults");
  }

  /** Removes one fault rule. */
  async removeFault(id: string): Promise<void> {
    await this.call("DELETE", `faults/${encodeURIComponent(id)}`);
  }

  /** The current settings. */
  settings(): Promise<EmulatorSettings> {
    return this.call("GET", "settings");
  }

  /** Changes some settings; returns all of them. */
  updateSettings(update: Partial<EmulatorSettings>): Promise<EmulatorSettings> {
    return this.call("PUT", "settings", update);
  }

  /** Emulated time and speed. */
  clock(): Promise<{ now: number; iso: string; speed: number }> {
    return this.call("GET", "clock");
  }

  /** Sets the clock speed and/or jumps emulated time forward. */
  setClock(update: {
    speed?: number;
    advanceMs?: number;
  }): Promise<{ now: number; iso: string; speed: number }> {
    return this.call("PUT", "clock", update);
  }

  /** Logged requests with `seq` greater than `since`. */
  requests(since = 0): Promise<RequestLogEntry[]> {
    return this.call("GET", `requests?since=${since}`);
  }

  /** The `seq` of the latest logged request (0 when none): a bookmark for `requests(since)`. */
  async lastRequestSeq(): Promise<number> {
    const all = await this.requests();
    return all.length === 0 ? 0 : all[all.length - 1]!.seq;
  }

  /** Empties the request log. */
  async clearRequests(): Promise<void> {
    await this.call("DELETE", "requests");
  }

  /** The environment pairs. */
  environments(): Promise<EnvironmentInfo[]> {
    return this.call("GET", "environments");
  }

  /** Seeds one more environment pair. */
  seed(spec: SeedSpec): Promise<EnvironmentInfo> {
    return this.call("POST", "seed", spec);
  }

  /** Every row of a table, as stored. */
  rows(store: StoreName, instance: string, table: string): Promise<Row[]> {
    return this.call(
      "GET",
      `${store}/${encodeURIComponent(instance)}/${encodeURIComponent(table)}`,
    );
  }

  /** One row by key (composite keys: values in key order, comma-separated); undefined when absent. */
  async row(
    store: StoreName,
    instance: string,
    table: string,
    key: string,
  ): Promise<Row | undefined> {
    try {
      return await this.call<Row>(
        "GET",
        `${store}/${encodeURIComponent(instance)}/${encodeURIComponent(table)}/${encodeURIComponent(key)}`,
      );
    } catch (e) {
      if (e instanceof ControlApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Inserts raw rows (write origin `control`; the runtime's listeners still run). */
  insertRows(
    store: StoreName,
    instance: string,
    table: string,
    rows: Row | readonly Row[],
  ): Promise<{ inserted: number; keys: string[] }> {
    return this.call(
      "POST",
      `${store}/${encodeURIComponent(instance)}/${encodeURIComponent(table)}`,
      rows,
    );
  }

  /** Changes columns of one row; returns the row. */
  patchRow(
    store: StoreName,
    instance: string,
    table: string,
    key: string,
    changes: Row,
  ): Promise<Row> {
    return this.call(
      "PATCH",
      `${store}/${encodeURIComponent(instance)}/${encodeURIComponent(table)}/${encodeURIComponent(key)}`,
      changes,
    );
  }

  /**
   * Mints a token signed by the emulated tenant with chosen claims, e.g. another tenant or an
   * already expired one (`lifetimeSeconds: -60`), to test how a surface refuses it.
   */
  async mintToken(spec: {
    audience: string;
    tenantId?: string;
    appId?: string;
    lifetimeSeconds?: number;
  }): Promise<string> {
    return (await this.call<{ access_token: string }>("POST", "tokens", spec)).access_token;
  }

  /**
   * Plays the dual-write administrator's browser sign-in at the portal: the token response the
   * portal receives, with a single-page-app refresh token (what `dualwrite:gatewayRefreshToken`
   * takes). Its secrets are the caller's to keep out of logs.
   */
  signIn(): Promise<PortalSignIn> {
    return this.call("POST", "sign-in");
  }

  /** Any control call, for routes without a typed method (e.g. the runtime's own control routes). */
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.baseUrl}/_emulator/${path}`,
        {
          method,
          ca: this.caCert,
          agent: false,
          headers: payload
            ? { "content-type": "application/json", "content-length": String(payload.length) }
            : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300)
              return reject(new ControlApiError(method, path, status, text));
            try {
              resolve((text === "" ? undefined : JSON.parse(text)) as T);
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
}
