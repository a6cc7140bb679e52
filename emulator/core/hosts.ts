/**
 * The emulator's address plan: every emulated service has a host of its own, as it has in
 * Microsoft's cloud, and every host is a loopback address on the emulator's one port.
 *
 * | address              | serves                                              | URL                          |
 * |----------------------|-----------------------------------------------------|------------------------------|
 * | `127.0.0.1`          | Entra ID (`/<tenant>/…`) and the control API (`/_emulator/…`) | `url`, the `authorityHost` |
 * | `127.0.0.2`          | the DualWriteManagement gateway, at the root of its host | `gatewayUrl`            |
 * | `127.0.0.(11+2i)`    | F&O environment in slot i, OData at `/data/…`       | `financeOperationsUrl`       |
 * | `127.0.0.(12+2i)`    | Dataverse environment in slot i, Web API at `/api/data/v9.x/…` | `dataverseUrl`    |
 *
 * Why hosts and not paths: the real gateway identifies an F&O environment by its host name alone
 * (`ArgsHandler.cs` `parseUriHostname`, DWEnvCalls.cs:24-38) and builds its own URLs from
 * `scheme://host` (DWHttp.cs:44-57, EdgeUniversal.cs:301-321), and Dataverse and F&O serve their
 * APIs at the root of their host (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors,
 * https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/odata). A slot is
 * given to an environment pair when it is seeded and saved with it, so URLs survive a restart.
 *
 * A request's service is chosen by the hostname of its `Host` header; when that names no address
 * of the plan (or is missing), by the local address the connection arrived on.
 */
import type { EnvironmentPair } from "./context";

/** Entra ID and the control API. */
export const IDENTITY_ADDRESS = "127.0.0.1";

/** The DualWriteManagement gateway. */
export const GATEWAY_ADDRESS = "127.0.0.2";

/** Last octet of slot 0's F&O address (its Dataverse address is the next one). */
const FIRST_ENVIRONMENT_OCTET = 11;

/** Highest last octet used (127.0.0.255 is avoided: some tools read it as a broadcast address). */
const LAST_OCTET = 254;

/** How many environment pairs one emulator can serve: slots 0..121 (127.0.0.11 to 127.0.0.254). */
export const MAX_ENVIRONMENT_SLOTS = Math.floor((LAST_OCTET - FIRST_ENVIRONMENT_OCTET + 1) / 2);

/** The F&O address of a slot. */
export function fnoAddress(slot: number): string {
  return `127.0.0.${FIRST_ENVIRONMENT_OCTET + 2 * checkSlot(slot)}`;
}

/** The Dataverse address of a slot. */
export function dataverseAddress(slot: number): string {
  return `127.0.0.${FIRST_ENVIRONMENT_OCTET + 1 + 2 * checkSlot(slot)}`;
}

/**
 * Every address the server certificate names, so that environments seeded later (control API,
 * restarts) need no new certificate: 127.0.0.1 to 127.0.0.254.
 */
export function certificateAddresses(): string[] {
  return Array.from({ length: LAST_OCTET }, (_, i) => `127.0.0.${i + 1}`);
}

/** What an address of the plan serves. */
export type AddressRole =
  | { readonly service: "identity" }
  | { readonly service: "gateway" }
  | { readonly service: "fno" | "dataverse"; readonly slot: number };

/** The role of an IPv4 loopback address in the plan; undefined for any other address. */
export function roleOfAddress(address: string): AddressRole | undefined {
  const m = /^127\.0\.0\.(\d{1,3})$/.exec(address);
  if (!m) return undefined;
  const octet = Number(m[1]);
  if (octet === 1) return { service: "identity" };
  if (octet === 2) return { service: "gateway" };
  if (octet < FIRST_ENVIRONMENT_OCTET || octet > LAST_OCTET) return undefined;
  const offset = octet - FIRST_ENVIRONMENT_OCTET;
  return { service: offset % 2 === 0 ? "fno" : "dataverse", slot: Math.floor(offset / 2) };
}

/**
 * The hostname of a `Host` header or URL authority, lower-cased, without port or IPv6 brackets.
 * `localhost` counts as 127.0.0.1 (the certificate names it). Undefined when empty.
 */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  let host = hostHeader.trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(host);
  if (bracketed) host = bracketed[1]!;
  else host = host.replace(/:\d*$/, "");
  if (host === "localhost") return IDENTITY_ADDRESS;
  // An IPv4 address on an IPv6 socket reads `::ffff:127.0.0.11`.
  host = host.replace(/^::ffff:/, "");
  return host === "" ? undefined : host;
}

/** Where a request goes: the service and, for an environment address, its pair (if seeded). */
export interface HostRoute {
  readonly service: AddressRole["service"];
  /** The address the request was routed by. */
  readonly address: string;
  /** `https://<address>:<port>`: the service's base URL (and, for environments, the token audience). */
  readonly origin: string;
  /** The environment pair at this address; undefined on identity/gateway and on a free slot. */
  readonly pair?: EnvironmentPair;
}

/** The address plan of one running emulator (its port and its environment pairs). */
export class HostPlan {
  /**
   * @param port the one TCP port every address listens on (0 until the listeners are up)
   * @param environments the live pairs (slots are read from them)
   */
  constructor(
    private port: number,
    private readonly environments: ReadonlyMap<string, EnvironmentPair>,
  ) {}

  /** Sets the port once the listeners are bound. */
  setPort(port: number): void {
    this.port = port;
  }

  /** `https://<address>:<port>`. */
  origin(address: string): string {
    return `https://${address}:${this.port}`;
  }

  /** Entra ID's authority host and the control API's base: `https://127.0.0.1:<port>`. */
  get identityUrl(): string {
    return this.origin(IDENTITY_ADDRESS);
  }

  /** The gateway's base URL, no path: `https://127.0.0.2:<port>`. */
  get gatewayUrl(): string {
    return this.origin(GATEWAY_ADDRESS);
  }

  /** `https://127.0.0.(11+2i):<port>` of the pair named `name`. Throws for an unknown name. */
  fnoUrl(name: string): string {
    return this.origin(fnoAddress(this.pair(name).slot));
  }

  /** `https://127.0.0.(12+2i):<port>` of the pair named `name`. Throws for an unknown name. */
  dataverseUrl(name: string): string {
    return this.origin(dataverseAddress(this.pair(name).slot));
  }

  /**
   * The environment pair whose `side` a host or URL names: a bare host (`127.0.0.11`), a host
   * with port, or an absolute URL (any path). Undefined when it names no seeded environment of
   * that side (or a URL on another port).
   */
  environmentAt(hostOrUrl: string, side: "fno" | "dataverse"): EnvironmentPair | undefined {
    const text = hostOrUrl.trim();
    let host: string | undefined;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
      try {
        const url = new URL(text);
        if (url.port !== "" && Number(url.port) !== this.port) return undefined;
        host = hostnameOf(url.host);
      } catch {
        return undefined;
      }
    } else {
      const m = /^([^/:]+)(?::(\d+))?\/?$/.exec(text);
      if (!m || (m[2] !== undefined && Number(m[2]) !== this.port)) return undefined;
      host = hostnameOf(m[1]);
    }
    const role = host === undefined ? undefined : roleOfAddress(host);
    if (!role || role.service !== side) return undefined;
    return this.pairAtSlot(role.slot);
  }

  /**
   * Routes a request: by the `Host` header when it names an address of the plan, else by the
   * local address of the connection. Undefined when neither is an address of the plan.
   */
  route(hostHeader: string | undefined, localAddress: string | undefined): HostRoute | undefined {
    for (const candidate of [hostnameOf(hostHeader), hostnameOf(localAddress)]) {
      if (candidate === undefined) continue;
      const role = roleOfAddress(candidate);
      if (!role) continue;
      const base = { service: role.service, address: candidate, origin: this.origin(candidate) };
      if (role.service === "identity" || role.service === "gateway") return base;
      const pair = this.pairAtSlot(role.slot);
      return pair ? { ...base, pair } : base;
    }
    return undefined;
  }

  /** The lowest slot no pair holds. Throws when all `MAX_ENVIRONMENT_SLOTS` are taken. */
  nextSlot(): number {
    const used = new Set([...this.environments.values()].map((p) => p.slot));
    for (let slot = 0; slot < MAX_ENVIRONMENT_SLOTS; slot++) if (!used.has(slot)) return slot;
    throw new RangeError(
      `This emulator serves at most ${MAX_ENVIRONMENT_SLOTS} environment pairs (127.0.0.11 to 127.0.0.254); start another emulator for more.`,
    );
  }

  /** The addresses a pair listens on. */
  static addressesOf(pair: Pick<EnvironmentPair, "slot">): [string, string] {
    return [fnoAddress(pair.slot), dataverseAddress(pair.slot)];
  }

  private pairAtSlot(slot: number): EnvironmentPair | undefined {
    for (const pair of this.environments.values()) if (pair.slot === slot) return pair;
    return undefined;
  }

  private pair(name: string): EnvironmentPair {
    const pair = this.environments.get(name);
    if (!pair) throw new RangeError(`No environment pair named '${name}'.`);
    return pair;
  }
}

function checkSlot(slot: number): number {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_ENVIRONMENT_SLOTS)
    throw new RangeError(
      `Environment slot ${slot} is outside 0..${MAX_ENVIRONMENT_SLOTS - 1} (127.0.0.11 to 127.0.0.254).`,
    );
  return slot;
}
