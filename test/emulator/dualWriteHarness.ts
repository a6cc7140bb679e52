/**
 * Test conveniences for the gateway and runtime contract tests: a gateway client over HTTPS with
 * a real token (audience `https://IntegratorApp.com`), Dataverse and F&O calls with their own
 * tokens, a fresh environment pair per test, and polling of requests to their end.
 */
import { expect } from "chai";
import type { EnvironmentInfo } from "../../emulator/index";
import type { TestEmulator, TestResponse } from "../support/emulator";

/** The gateway's token scope (without `/.default`). */
export const gatewayAudience = "https://IntegratorApp.com";

/** Map names used across the tests. */
export const Maps = {
  legalEntities: "cdm_companies - Legal entities",
  currencies: "transactioncurrencies - Currencies",
  customerGroups: "msdyn_customergroups - Customer groups",
  accounts: "accounts - Customers V3",
  contacts: "contacts - Customers V3",
  vendors: "msdyn_vendors - Vendors V2",
} as const;

/** An `Entities` item, as far as the tests read it. */
export interface MapItem {
  leftEntity: { targetType: string; name: string };
  rightEntity: { targetType: string; name: string };
  detail: {
    tid: string;
    tName: string;
    pid: string;
    state: number;
    template: {
      id: string;
      author: string;
      version: { major: number; minor: number; build: number; revision: number };
    };
    templates: Array<{
      id: string;
      author: string;
      version: { major: number; minor: number; build: number; revision: number };
    }>;
    integrationKeys: string[];
    lastRequests: Array<{
      requestId: string;
      action: number;
      state: number;
      errorMessage: string | null;
    }>;
  };
}

/** A `Status/<id>` answer. */
export interface RequestStatus {
  requestId: string;
  action: number | string;
  state: number;
  errorMessage: string | null;
  maps: MapItem[];
}

let pairCounter = 0;

/** Polls `probe` until it returns a value other than undefined (at most `timeoutMs` real ms). */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One environment pair of a test, with clients for its three surfaces. */
export class Pair {
  private constructor(
    readonly emu: TestEmulator,
    readonly info: EnvironmentInfo,
    readonly cid: string,
  ) {}

  /** Seeds a new pair with a unique name and resolves its `cid` through the gateway. */
  static async seed(emu: TestEmulator, scenario: string, size = 10): Promise<Pair> {
    return Pair.of(
      emu,
      await emu.control.seed({ scenario, name: `${scenario}-${++pairCounter}`, size }),
    );
  }

  /** A pair the emulator has already (e.g. after a restart), with its `cid` resolved through the gateway. */
  static async of(emu: TestEmulator, info: EnvironmentInfo): Promise<Pair> {
    const probe = new Pair(emu, info, "");
    const res = await probe.dwm(
      "GET",
      `Environments?targetType=AX&identifier=${encodeURIComponent(info.financeOperationsUrl)}`,
    );
    expect(res.status, res.text).to.equal(200);
    const [env] = res.json as Array<{ cid: string }>;
    return new Pair(emu, info, env?.cid ?? "");
  }

  get name(): string {
    return this.info.name;
  }

  /** A call below `<gatewayUrl>/`. */
  async gateway(method: string, path: string, body?: unknown): Promise<TestResponse> {
    return this.emu.request(method, `${this.emu.gatewayUrl}/${path}`, {
      token: await this.emu.token(gatewayAudience),
      body,
    });
  }

  /** A call below `<gatewayUrl>/api/DualWriteManagement/1.0/`. */
  dwm(method: string, path: string, body?: unknown): Promise<TestResponse> {
    return this.gateway(method, `api/DualWriteManagement/1.0/${path}`, body);
  }

  /** A Dataverse Web API call below `api/data/v9.2/`. */
  async dv(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<TestResponse> {
    const url = `${this.info.dataverseUrl}/api/data/v9.2/${path.replace(/ /g, "%20")}`;
    return this.emu.request(method, url, {
      token: await this.emu.token(this.info.dataverseUrl),
      body,
      ...(headers ? { headers } : {}),
    });
  }

  /** An F&O OData call below `data/`. */
  async fno(method: string, path: string, body?: unknown): Promise<TestResponse> {
    const url = `${this.info.financeOperationsUrl}/data/${path.replace(/ /g, "%20")}`;
    return this.emu.request(method, url, {
      token: await this.emu.token(this.info.financeOperationsUrl),
      body,
    });
  }

  /** A control API call below `/_emulator/`. */
  control(method: string, path: string, body?: unknown): Promise<TestResponse> {
    return this.emu.request(method, `${this.emu.url}/_emulator/${path}`, { body });
  }

  /** Links the pair's F&O environment to its own Dataverse org; expects 200. */
  async link(
    legalEntities: string[],
    options: { skip?: boolean; force?: boolean } = {},
  ): Promise<TestResponse> {
    const res = await this.reset(legalEntities, options);
    expect(res.status, res.text).to.equal(200);
    return res;
  }

  /** The Reset call that links (any status). */
  reset(
    legalEntities: string[],
    options: { skip?: boolean; force?: boolean; org?: string } = {},
  ): Promise<TestResponse> {
    const org = options.org ?? this.info.dataverseUrl;
    return this.gateway(
      "POST",
      `api/ConnectionSet/${this.cid}/Reset?targetType=AX&forceReset=${options.force === true}`,
      {
        powerAppsEnvironmentName: org,
        environments: [this.info.financeOperationsUrl, org],
        legalEntities,
        skipInitialWritesForNewLegalEntities: options.skip === true,
      },
    );
  }

  /** Applies orchestration solutions and waits for the result; returns the final status. */
  async applySolutions(
    ...names: string[]
  ): Promise<{ state: number; errorMessage: string | null }> {
    const res = await this.dwm("POST", `SolutionAware/${this.cid}/RestoreTemplates`, {
      action: "2",
      solutions: names.map((uniquename) => ({ criteria: { uniquename } })),
    });
    expect(res.status, res.text).to.equal(202);
    const { requestId } = res.json as { requestId: string };
    return eventually(async () => {
      const s = await this.dwm("GET", `SolutionAware/${this.cid}/Status/${requestId}`);
      const body = s.json as { state: number; errorMessage: string | null };
      return body.state === 1 ? undefined : body;
    }, `solution request ${requestId}`);
  }

  /** Links with the given legal entities and applies the core maps. */
  async linkWithCoreMaps(legalEntities: string[]): Promise<void> {
    await this.link(legalEntities);
    const applied = await this.applySolutions("msdyn_DualWriteAppCoreMaps");
    expect(applied.state, String(applied.errorMessage)).to.equal(2);
  }

  /** Every map (`GET Entities`). */
  async maps(): Promise<MapItem[]> {
    const res = await this.dwm("GET", `Entities?targetType=AX&cid=${this.cid}`);
    expect(res.status, res.text).to.equal(200);
    return res.json as MapItem[];
  }

  /** One map by name. */
  async map(name: string): Promise<MapItem> {
    const found = (await this.maps()).find((m) => m.detail.tName === name);
    if (!found) throw new Error(`No map '${name}' in Entities.`);
    return found;
  }

  /** Waits until the map (by name) reaches `state`, as the gateway reports it. */
  async waitForState(name: string, state: number, what: string): Promise<void> {
    await eventually(
      async () => ((await this.map(name)).detail.state === state ? true : undefined),
      what,
    );
  }

  /** Posts an action for maps (by name) and answers the raw response. */
  async act(
    action: number | string,
    names: string[],
    parameters: Record<string, unknown> = { skipInitialSync: true },
  ): Promise<TestResponse> {
    const maps = await this.maps();
    const details = names.map((n) => {
      const m = maps.find((x) => x.detail.tName === n);
      if (!m) throw new Error(`No map '${n}'.`);
      return {
        tid: m.detail.tid,
        ...(Number(action) === 8 ? {} : { pid: m.detail.pid }),
        cid: this.cid,
        parameters,
      };
    });
    return this.dwm("POST", "Start", { action, details });
  }

  /** Posts an action and waits until its request completes or fails. */
  async run(
    action: number,
    names: string[],
    parameters?: Record<string, unknown>,
  ): Promise<RequestStatus> {
    const res = await this.act(action, names, parameters);
    expect(res.status, res.text).to.equal(202);
    return this.waitRequest((res.json as { requestId: string }).requestId);
  }

  /** Polls `Status/<id>` until the request is no longer Waiting. */
  waitRequest(requestId: string): Promise<RequestStatus> {
    return eventually(async () => {
      const res = await this.dwm("GET", `Status/${requestId}`);
      expect(res.status, res.text).to.equal(200);
      const body = res.json as RequestStatus;
      return body.state === 1 ? undefined : body;
    }, `request ${requestId}`);
  }

  /** Starts maps (with their prerequisites first, in the order given); expects success. */
  async startMaps(...names: string[]): Promise<void> {
    const status = await this.run(1, names);
    expect(status.state, String(status.errorMessage)).to.equal(2);
  }

  /** Runs an initial sync of one map and waits for it. */
  initialSync(
    name: string,
    master: "CRM" | "AX",
    legalEntities?: string[],
  ): Promise<RequestStatus> {
    return this.run(8, [name], {
      conflictResolution: { option: "1", master },
      ...(legalEntities ? { legalEntities } : {}),
    });
  }

  /** Rows of a Dataverse table through the control API (no paging, no token). */
  async dvRows(table: string): Promise<Array<Record<string, unknown>>> {
    return await this.emu.control.rows("dataverse", this.name, table);
  }

  /** Rows of an F&O table through the control API. */
  async fnoRows(table: string): Promise<Array<Record<string, unknown>>> {
    return await this.emu.control.rows("fno", this.name, table);
  }

  /** The `cdm_companyid` of a company code. */
  async companyId(code: string): Promise<string> {
    const row = (await this.dvRows("cdm_companies")).find((r) => r.cdm_companycode === code);
    if (!row) throw new Error(`No cdm_companies row for ${code}.`);
    return String(row.cdm_companyid);
  }

  /** The runtime's view of the pair's maps (control API). */
  async runtimeMaps(): Promise<
    Array<{ name: string; state: number; queueLength: number; catchUpErrors: unknown[] }>
  > {
    const res = await this.control("GET", `maps?env=${this.name}`);
    expect(res.status, res.text).to.equal(200);
    return res.json as Array<{
      name: string;
      state: number;
      queueLength: number;
      catchUpErrors: unknown[];
    }>;
  }
}
