/**
 * Test conveniences for the gateway and runtime tests, speaking the dialect of Microsoft's own
 * tool (microsoft/Dual-write-automations @ f14edd6, `DWLibary/`): a gateway client over HTTPS
 * with the administrator's delegated token, Dataverse and F&O calls with the app's tokens, a fresh
 * environment pair per test, linking with the tool's Reset body, action codes as strings, and
 * request outcomes read from the maps' `lastRequests` as the tool reads them.
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

/** The action codes of `POST Start` (DWLibary/Engines/DWMapEngine.cs:1711-1738). */
export const Action = { start: "1", stop: "4", pause: "5", resume: "6", init: "8" } as const;

/** Map states as the gateway writes them (strings, DWLibary/DWEnums.cs:43-56). */
export const State = {
  stopped: "1",
  initialSync: "2",
  catchUp: "3",
  running: "4",
  paused: "5",
  notRunning: "6",
} as const;

/** A template (map version) of an `Entities` item. */
export interface TemplateItem {
  id: string;
  name: string;
  author: string;
  version: { major: number; minor: number; build: number; revision: number };
}

/** A `lastRequests` entry. */
export interface LastRequest {
  requestId: string;
  action: string;
  state: string;
  errorMessage: string | null;
}

/** An `Entities` item, as far as the tests read it. */
export interface MapItem {
  leftEntity: { targetType: string; name: string };
  rightEntity: { targetType: string; name: string };
  detail: {
    tid: string;
    tName: string;
    pid?: string;
    state: string;
    actions: string[];
    template: TemplateItem;
    templates: TemplateItem[];
    lastRequests: LastRequest[];
  };
}

/** The outcome of a map request, read from `Status/<id>` as the tool does. */
export interface RequestStatus {
  requestId: string;
  /** `"2"` when every map's part completed, `"3"` when one failed. */
  state: string;
  /** The failed parts' messages, joined; null when none failed. */
  errorMessage: string | null;
  maps: MapItem[];
}

/** A solution request's status (DWLibary/Struct/SolutionHelpers.cs:35-51). */
export interface SolutionStatus {
  requestId: string;
  action: string;
  state: string;
  result: { message: string; status: string };
}

/** A connection set, as far as the tests read it (DWLibary/Struct/DWConnectionSet.cs). */
export interface ConnectionSetItem {
  id: string;
  name: string;
  environments: Record<
    string,
    {
      name: string;
      targetType: string;
      directUrl: string;
      powerAppsEnvironment: string;
      environmentDisplayName: string;
      isDevInstance: boolean;
      schemas: Array<{ name: string; keys: Array<{ name: string; fields: string[] }> }>;
    }
  >;
  dualWriteDetail: {
    legalEntityMappings: {
      leftEnvironment: string;
      rightEnvironment: string;
      mappings: Array<{ left: { name: string; id: string }; right: { name: string; id: unknown } }>;
    };
  };
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

/** The host name of a URL (how the gateway names environments). */
export function hostOf(url: string): string {
  return new URL(url).hostname;
}

/** One environment pair of a test, with clients for its three surfaces. */
export class Pair {
  private constructor(
    readonly emu: TestEmulator,
    readonly info: EnvironmentInfo,
    /** The F&O environment id, from Dataverse `RetrieveFinanceAndOperationsIntegrationDetails`. */
    readonly cid: string,
    /** The Dataverse org's Power Platform environment id (`RetrieveCurrentOrganization`). */
    readonly powerAppsEnvironment: string,
  ) {}

  /** Seeds a new pair with a unique name. */
  static async seed(emu: TestEmulator, scenario: string, size = 10): Promise<Pair> {
    return Pair.of(
      emu,
      await emu.control.seed({ scenario, name: `${scenario}-${++pairCounter}`, size }),
    );
  }

  /**
   * A pair the emulator has already (e.g. after a restart). Its cid comes from Dataverse, which
   * knows the F&O environment it is integrated with whether or not dual-write links them.
   */
  static async of(emu: TestEmulator, info: EnvironmentInfo): Promise<Pair> {
    const probe = new Pair(emu, info, "", "");
    const details = await probe.dv("GET", "RetrieveFinanceAndOperationsIntegrationDetails");
    expect(details.status, details.text).to.equal(200);
    const org = await probe.dv(
      "GET",
      "RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default')",
    );
    expect(org.status, org.text).to.equal(200);
    return new Pair(
      emu,
      info,
      (details.json as { Id: string }).Id,
      (org.json as { Detail: { EnvironmentId: string } }).Detail.EnvironmentId,
    );
  }

  get name(): string {
    return this.info.name;
  }

  /** The F&O environment's host name: the gateway's `identifier`. */
  get fnoHost(): string {
    return hostOf(this.info.financeOperationsUrl);
  }

  /** A call below `<gatewayUrl>/` with the administrator's delegated token. */
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

  /** `GET Environments?targetType=AX&identifier=<host>` (DWLibary/DWEnvCalls.cs:24-38). */
  async environments(identifier = this.fnoHost): Promise<Array<Record<string, unknown>>> {
    const res = await this.dwm(
      "GET",
      `Environments?targetType=AX&identifier=${encodeURIComponent(identifier)}`,
    );
    expect(res.status, res.text).to.equal(200);
    return res.json as Array<Record<string, unknown>>;
  }

  /** The connection-set name of the current link, or undefined when not linked. */
  async cname(): Promise<string | undefined> {
    const [env] = await this.environments();
    return env ? String(env.cname) : undefined;
  }

  /** The connection set of the current link (expects one). */
  async connectionSet(): Promise<ConnectionSetItem> {
    const cname = await this.cname();
    expect(cname, `${this.name} is linked`).to.be.a("string");
    const res = await this.gateway("GET", `api/ConnectionSet/${String(cname)}`);
    expect(res.status, res.text).to.equal(200);
    return res.json as ConnectionSetItem;
  }

  /**
   * The Reset body the tool sends (DWLibary/Struct/ResetLinkPayload.cs): the CRM environment, then the
   * AX one, named by their hosts (the project's choice for a new link), with the Dataverse org's
   * Power Platform environment id.
   */
  resetBody(
    legalEntities: string[],
    options: { skip?: boolean; org?: Pair } = {},
  ): Record<string, unknown> {
    const org = options.org ?? this;
    return {
      powerAppsEnvironmentName: org.powerAppsEnvironment,
      environments: [
        {
          targetType: "CRM",
          name: hostOf(org.info.dataverseUrl),
          displayName: hostOf(org.info.dataverseUrl),
          id: org.powerAppsEnvironment,
          isDevInstance: false,
          directUrl: org.info.dataverseUrl,
        },
        {
          targetType: "AX",
          name: this.fnoHost,
          displayName: this.fnoHost,
          id: org.powerAppsEnvironment,
          isDevInstance: false,
          directUrl: this.info.financeOperationsUrl,
        },
      ],
      legalEntities,
      ...(options.skip === undefined ? {} : { skipInitialWritesForNewLegalEntities: options.skip }),
    };
  }

  /** The Reset call (any status) with `body`. */
  resetWith(body: unknown, force = false): Promise<TestResponse> {
    return this.gateway(
      "POST",
      `api/ConnectionSet/${this.cid}/Reset?targetType=AX&forceReset=${force ? "True" : "False"}`,
      body,
    );
  }

  /** The Reset call that links (any status). */
  reset(
    legalEntities: string[],
    options: { skip?: boolean; force?: boolean; org?: Pair } = {},
  ): Promise<TestResponse> {
    return this.resetWith(this.resetBody(legalEntities, options), options.force === true);
  }

  /**
   * Links (or relinks) the pair's F&O environment to its own Dataverse org (or `org`'s); expects
   * the Reset accepted and waits until the new link shows in Environments.
   */
  async link(
    legalEntities: string[],
    options: { skip?: boolean; force?: boolean; org?: Pair } = {},
  ): Promise<TestResponse> {
    const before = await this.cname();
    const res = await this.reset(legalEntities, options);
    expect(res.status, res.text).to.equal(200);
    await eventually(async () => {
      const now = await this.cname();
      return now !== undefined && now !== before ? now : undefined;
    }, `the link of ${this.name}`);
    return res;
  }

  /** Unlinks (Reset with no environments, the project's choice) and waits until it is gone. */
  async unlink(force = false): Promise<TestResponse> {
    const res = await this.resetWith(
      { powerAppsEnvironmentName: this.powerAppsEnvironment, environments: [], legalEntities: [] },
      force,
    );
    expect(res.status, res.text).to.equal(200);
    await eventually(
      async () => ((await this.cname()) === undefined ? true : undefined),
      `${this.name} unlinked`,
    );
    return res;
  }

  /** Applies one orchestration solution and waits for the result; returns the final status. */
  async applySolution(name: string): Promise<SolutionStatus> {
    const res = await this.dwm("POST", `SolutionAware/${this.cid}/RestoreTemplates`, {
      action: "2",
      solutions: [{ criteria: { uniquename: name } }],
    });
    expect(res.status, res.text).to.equal(200);
    const { requestId } = res.json as { requestId: string };
    return eventually(async () => {
      const s = await this.dwm("GET", `SolutionAware/${this.cid}/Status/${requestId}`);
      expect(s.status, s.text).to.equal(200);
      const body = s.json as SolutionStatus;
      return body.state === "1" ? undefined : body;
    }, `solution request ${requestId}`);
  }

  /** Links with the given legal entities, applies the core maps and initializes them ("8"). */
  async linkWithCoreMaps(legalEntities: string[]): Promise<void> {
    await this.link(legalEntities);
    const applied = await this.applySolution("msdyn_DualWriteAppCoreMaps");
    expect(applied.state, applied.result.message).to.equal("2");
    await this.initMaps();
  }

  /** Initializes every map that has no project yet, in one `"8"` request. */
  async initMaps(): Promise<void> {
    const names = (await this.maps()).filter((m) => m.detail.pid === undefined);
    if (names.length === 0) return;
    const status = await this.run(
      Action.init,
      names.map((m) => m.detail.tName),
    );
    expect(status.state, String(status.errorMessage)).to.equal("2");
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
  async waitForState(name: string, state: string, what: string): Promise<void> {
    await eventually(
      async () => ((await this.map(name)).detail.state === state ? true : undefined),
      what,
    );
  }

  /**
   * Posts an action for maps (by name) with the tool's details: `tid` = the active template id,
   * `pid` and `parameters` except for `"8"` (DWLibary/Engines/DWMapEngine.cs:1740-1815).
   * `parameters` undefined leaves them out (as bulk pause and resume do).
   */
  async act(
    action: string,
    names: string[],
    parameters?: Record<string, unknown>,
  ): Promise<TestResponse> {
    const maps = await this.maps();
    const details = names.map((n) => {
      const m = maps.find((x) => x.detail.tName === n);
      if (!m) throw new Error(`No map '${n}'.`);
      return {
        tid: m.detail.tid,
        ...(action === Action.init || m.detail.pid === undefined ? {} : { pid: m.detail.pid }),
        cid: this.cid,
        ...(action === Action.init || parameters === undefined ? {} : { parameters }),
      };
    });
    return this.dwm("POST", "Start", { action, details });
  }

  /** Posts an action and waits until every map's part of the request has ended. */
  async run(
    action: string,
    names: string[],
    parameters?: Record<string, unknown>,
  ): Promise<RequestStatus> {
    const res = await this.act(action, names, parameters);
    expect(res.status, res.text).to.equal(200);
    return this.waitRequest((res.json as { requestId: string }).requestId);
  }

  /**
   * Polls `Status/<id>` until the request's entry in every listed map's `lastRequests` is `"2"`
   * or `"3"` (DWLibary/Engines/DWMapEngine.cs:1880-1912).
   */
  waitRequest(requestId: string): Promise<RequestStatus> {
    return eventually(async () => {
      const res = await this.dwm("GET", `Status/${requestId}`);
      expect(res.status, res.text).to.equal(200);
      const maps = res.json as MapItem[];
      const entries = maps.map((m) => m.detail.lastRequests.find((r) => r.requestId === requestId));
      if (entries.length === 0 || entries.some((e) => e === undefined || e.state === "1"))
        return undefined;
      const failed = entries.filter((e) => e?.state === "3");
      return {
        requestId,
        state: failed.length > 0 ? "3" : "2",
        errorMessage: failed.length > 0 ? failed.map((e) => e?.errorMessage).join(" ") : null,
        maps,
      };
    }, `request ${requestId}`);
  }

  /** Starts maps (prerequisites first, in the order given) without initial sync; expects success. */
  async startMaps(...names: string[]): Promise<void> {
    const status = await this.run(Action.start, names, startParameters(true, "CRM"));
    expect(status.state, String(status.errorMessage)).to.equal("2");
  }

  /** Runs an initial sync of one stopped map (a start with `skipInitialSync:false`) and waits for it. */
  initialSync(name: string, master: "CRM" | "AX"): Promise<RequestStatus> {
    return this.run(Action.start, [name], startParameters(false, master));
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

/** The parameters of a start as the tool sends them (DWLibary/Struct/MapsHelper.cs:13-23). */
export function startParameters(
  skipInitialSync: boolean,
  master: "CRM" | "AX",
): Record<string, unknown> {
  return { skipInitialSync, conflictResolution: { option: "1", master } };
}
