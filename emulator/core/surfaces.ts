/**
 * Which surface a request belongs to, the path below the surface's root, and the captures the
 * routes get. The host decides the service (`core/hosts.ts`); the path decides the rest:
 *
 * | host                  | path                                   | surface   | `path` given to routes | params           |
 * |-----------------------|----------------------------------------|-----------|------------------------|------------------|
 * | 127.0.0.1             | `/_emulator/<rest>`                    | control   | `<rest>`               | —                |
 * | 127.0.0.1             | `/<tenant>/<rest>`                     | identity  | `<rest>`               | `tenant`         |
 * | 127.0.0.2             | `/<rest>`                              | gateway   | `<rest>` (e.g. `api/DualWriteManagement/1.0/…`) | — |
 * | 127.0.0.(12+2i)       | `/api/data/v9.{0,1,2}/<rest>`          | dataverse | `<rest>`               | `org`, `version` |
 * | 127.0.0.(11+2i)       | `/data/<rest>`                         | fno       | `<rest>`               | `env`            |
 *
 * Another path on a Dataverse or F&O host still belongs to that surface, so its 404 has the
 * surface's shape; it has no routable path. On an address whose slot holds no environment,
 * `org`/`env` is the host's URL and the server answers the surface's "unknown environment" 404.
 */
import type { HostRoute } from "./hosts";
import type { Surface } from "./http";

/** The result of matching. */
export interface SurfaceMatch {
  readonly surface: Surface;
  /** The still-encoded path below the surface root; undefined when no route of the surface can match. */
  readonly rest?: string;
  /** Captures, decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** Whether `org`/`env` names a seeded environment (false on a free slot's address). */
  readonly known?: boolean;
}

/**
 * Matches a URL path (still percent-encoded, without query) on the routed host to its surface.
 * Without a route (a host outside the plan) the request is Entra's, as on 127.0.0.1.
 */
export function matchSurface(pathname: string, host: HostRoute | undefined): SurfaceMatch {
  switch (host?.service ?? "identity") {
    case "gateway": {
      // The gateway lives at the root of its host (DWHttp.cs:44-57 builds `<scheme>://<host>/api/…`).
      return { surface: "gateway", rest: pathname.replace(/^\//, ""), params: {} };
    }
    case "dataverse": {
      const instance = host?.pair?.name ?? host?.origin ?? "";
      const known = host?.pair !== undefined;
      const m = /^\/api\/data\/v(9\.[012])(?:\/(.*))?$/s.exec(pathname);
      if (!m) return { surface: "dataverse", params: { org: instance }, known };
      return {
        surface: "dataverse",
        rest: m[2] ?? "",
        params: { org: instance, version: m[1]! },
        known,
      };
    }
    case "fno": {
      const instance = host?.pair?.name ?? host?.origin ?? "";
      const known = host?.pair !== undefined;
      const m = /^\/data(?:\/(.*))?$/s.exec(pathname);
      if (!m) return { surface: "fno", params: { env: instance }, known };
      return { surface: "fno", rest: m[1] ?? "", params: { env: instance }, known };
    }
    case "identity": {
      if (/^\/_emulator(?:\/|$)/.test(pathname))
        return { surface: "control", rest: pathname.replace(/^\/_emulator\/?/, ""), params: {} };
      // Entra serves `/<tenant>/…` at the root of its host.
      const identity = /^\/([^/]+)\/(.*)$/s.exec(pathname);
      if (identity)
        return {
          surface: "identity",
          rest: identity[2]!,
          params: { tenant: safeDecode(identity[1]!) },
        };
      return { surface: "identity", params: {} };
    }
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
