/**
 * Links and legal entities: resolving environments by host, the connection set, Reset (link,
 * relink, unlink; the work happens after the transition time, as on the server) and in-place
 * legal-entity edits with their guards. Reset clears dual-write configuration, never business rows.
 *
 * Shapes: DWLibary/Struct/DWEnvironment.cs (Environments), DWLibary/Struct/DWConnectionSet.cs and
 * DWLibary/Struct/DWFieldMapping.cs:44-80 (connection set, schemas and keys),
 * DWLibary/Struct/ResetLinkPayload.cs and DWLibary/Engines/ResetLinkEngine.cs:44-147 (Reset).
 */
import type { TokenClaims } from "../core/http";
import { DataverseTables } from "../store/schema";
import { checkCompanies, disableCompany, enableCompany } from "./companies";
import { gatewayErrors } from "./errors";
import { guidFrom } from "./ids";
import { maxLegalEntitiesWithInitialWrites } from "./jobs";
import { mapSpec, type MapSpec } from "./maps";
import { normalizeCodes } from "./names";
import { complete, launch, newRequest, newStep } from "./requests";
import { clearRuntimeConfigs } from "./runtimeConfigs";
import {
  dvOf,
  dvOrgByHost,
  dvSet,
  dvUrl,
  envByCid,
  fnoEnvByHost,
  fnoSet,
  fnoUrl,
  hostOf,
  persistSoon,
  powerPlatformEnvironmentId,
  requireLink,
  type RuntimeCore,
} from "./runtimeCore";
import {
  MapState,
  RequestState,
  stoppedStates,
  type LinkEnvironment,
  type LinkState,
  type RequestRecord,
  type ResetPlan,
} from "./state";
import { isoOf, keysOf, sortedMaps } from "./views";

/** Legal entities per link (DW/dual-write-troubleshooting-initial-setup.md). */
export const maxLegalEntitiesPerLink = 250;

/** One environment of a Reset body (DWLibary/Struct/ResetLinkPayload.cs:16-24). */
export interface ResetEnvironment {
  targetType: string;
  name: string;
  displayName?: string | undefined;
  id: string;
  isDevInstance?: boolean | undefined;
  directUrl: string;
}

/**
 * Body of `POST /api/ConnectionSet/<cid>/Reset` (DWLibary/Struct/ResetLinkPayload.cs:9-14): two
 * environments link or relink, none unlinks [choice]. `skipInitialWritesForNewLegalEntities` is
 * the emulator's extension for links over 40 legal entities [choice].
 */
export interface ResetBody {
  powerAppsEnvironmentName?: string | undefined;
  environments: ResetEnvironment[];
  legalEntities?: string[] | undefined;
  skipInitialWritesForNewLegalEntities?: boolean | undefined;
}

/**
 * `GET Environments?targetType=AX&identifier=<host>`: the linked F&O environment whose URL has
 * that host name. The tool sends the host alone (DWLibary/ArgsHandler.cs:28,76-100 →
 * DWEnvCalls.cs:24-38); anything else (a URL, a host with port), an unknown host and an unlinked
 * environment answer `[]` — the tool reads `[0]` and treats a failure as "not found".
 */
export function resolveEnvironments(core: RuntimeCore, identifier: string): unknown[] {
  const host = identifier.trim();
  if (host === "" || /[/:?#@\s]/.test(host)) return [];
  const env = fnoEnvByHost(core, host);
  const link = env ? core.state.links[env.name] : undefined;
  if (!env || !link) return [];
  return [
    {
      cid: env.cid,
      cname: link.cname,
      targetType: "AX",
      displayName: link.environments.ax.displayName,
      detail: { isSolutionAware: true },
      powerAppsEnvironment: link.powerAppsEnvironment,
    },
  ];
}

/** `GET /api/ConnectionSet/<cname>` (DWLibary/Struct/DWConnectionSet.cs; read at DWCommonEngine.cs:337-411). */
export function connectionSet(core: RuntimeCore, cname: string): unknown {
  const wanted = cname.trim().toLowerCase();
  const link = Object.values(core.state.links).find((l) => l.cname === wanted);
  if (!link) throw gatewayErrors.connectionSetNotFound(cname);
  const dv = dvOf(core, link);
  const environment = (
    side: LinkEnvironment,
    targetType: "AX" | "CRM",
    directUrl: string,
    schemas: unknown[],
  ) => ({
    name: side.name,
    connectionSetName: link.cname,
    targetType,
    environmentDisplayName: side.displayName,
    powerAppsEnvironment: link.powerAppsEnvironment,
    directUrl,
    isDevInstance: side.isDevInstance,
    schemas,
  });
  return {
    id: link.cid,
    name: link.cname,
    displayName: `${link.environments.ax.displayName} - ${link.environments.crm.displayName}`,
    tenant: link.tenantId,
    forDualWrite: true,
    targetTypeList: ["AX", "CRM"],
    environments: {
      [link.environments.ax.name]: environment(
        link.environments.ax,
        "AX",
        fnoUrl(core, link.fnoEnv),
        // [choice] The tool reads only the CRM side's schemas (DWCommonEngine.cs:168-195).
        [],
      ),
      [link.environments.crm.name]: environment(
        link.environments.crm,
        "CRM",
        dvUrl(core, link.org),
        crmSchemas(link),
      ),
    },
    dualWriteDetail: {
      legalEntityMappings: {
        leftEnvironment: link.environments.ax.name,
        rightEnvironment: link.environments.crm.name,
        mappings: link.legalEntities.map((code) => ({
          left: { name: code, id: code },
          right: {
            name: code,
            id:
              dv
                ?.all(DataverseTables.companies)
                .find((r) => String(r.row.cdm_companycode).toUpperCase() === code)?.row
                .cdm_companyid ?? null,
          },
        })),
      },
      conflictResolution: { option: "1", master: "CRM" },
      isSolutionAware: true,
      solutionAwareRequests: solutionRequestsOf(core, link),
      // [choice] The emulator's legal-entity edits remember this flag (docs/emulator.md).
      skipInitialWritesForNewLegalEntities: link.skipInitialWritesForNewLegalEntities,
    },
  };
}

/**
 * The CRM schemas of a link: one per Dataverse entity set of its maps, named by the set (the
 * maps' `rightEntity.name`), with the integration keys as the `userKeys` key the tool looks for
 * (DWLibary/Engines/DWCommonEngine.cs:168-195; Struct/DWFieldMapping.cs:44-80).
 */
function crmSchemas(link: LinkState): unknown[] {
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const map of sortedMaps(link)) {
    const spec = mapSpec(map.name) as MapSpec;
    const set = spec.dataverseEntitySet;
    if (seen.has(set)) continue;
    seen.add(set);
    out.push({
      id: guidFrom("schema", link.cid, set),
      name: set,
      displayName: set,
      targetType: "CRM",
      keys: [
        {
          name: "userKeys",
          displayName: "User keys",
          fields: keysOf(link, spec),
          isIntegrationKey: true,
        },
      ],
    });
  }
  return out;
}

/** The RestoreTemplates requests of a link (DWLibary/Struct/DWConnectionSet.cs:97-106). */
function solutionRequestsOf(core: RuntimeCore, link: LinkState): unknown[] {
  return core.state.requestOrder
    .map((id) => core.state.requests[id])
    .filter(
      (r): r is RequestRecord =>
        r !== undefined &&
        r.kind === "solution" &&
        r.fnoEnv === link.fnoEnv &&
        r.generation === link.generation,
    )
    .map((r) => solutionRequestView(r));
}

/** A solution request as `SolutionAware/<cid>/Status/<id>` shows it (DWLibary/Struct/SolutionHelpers.cs:35-51). */
export function solutionRequestView(r: RequestRecord): unknown {
  const status =
    r.state === RequestState.Waiting
      ? "InProgress"
      : r.state === RequestState.Completed
        ? "Succeeded"
        : "Failed";
  return {
    requestId: r.requestId,
    action: r.action,
    createdOn: isoOf(r.createdAt),
    modifiedOn: isoOf(r.completedAt ?? r.createdAt),
    state: String(r.state),
    // [choice] The status words; the tool reads only `state` (DWSolutionEngine.cs:78-89).
    result: { message: r.errorMessage ?? "", status },
    rootActivityId: r.requestId,
  };
}

/**
 * Reset: validates the body now (400, 409), then links, relinks or unlinks after `transitionMs`
 * (the tool reads only the status, DWLibary/Engines/ResetLinkEngine.cs:81-88). Relinking clears
 * the current link's maps, keys, legal-entity mapping and initial-sync history, never business
 * rows. A newer Reset of the same environment replaces one still waiting.
 */
export function reset(
  core: RuntimeCore,
  cid: string,
  body: ResetBody,
  forceReset: boolean,
  claims?: TokenClaims,
): Record<string, never> {
  const env = envByCid(core, cid);
  const current = core.state.links[env.name];
  if (current && !forceReset) {
    const notStopped = Object.values(current.maps)
      .filter((m) => !stoppedStates.includes(m.state))
      .map((m) => m.name);
    if (notStopped.length > 0) throw gatewayErrors.mapsNotStopped(notStopped);
  }
  const plan = planReset(core, env.name, env.cid, body, claims?.tid ?? current?.tenantId ?? "");
  for (const id of core.state.requestOrder) {
    const r = core.state.requests[id];
    if (r?.kind === "reset" && r.fnoEnv === env.name && r.state === RequestState.Waiting)
      complete(core, r, "Replaced by a newer Reset of the same environment.");
  }
  const request = newRequest(core, "reset", env, current?.generation ?? 0, "Reset");
  request.reset = plan;
  launch(core, request);
  // [choice] The tool reads only the status; an empty object says "accepted".
  return {};
}

/** Validates a Reset body into a plan; throws 400/404/409. */
function planReset(
  core: RuntimeCore,
  fnoEnv: string,
  cid: string,
  body: ResetBody,
  tenantId: string,
): ResetPlan {
  const skip = body.skipInitialWritesForNewLegalEntities === true;
  const unlink: ResetPlan = {
    org: null,
    legalEntities: [],
    skipInitialWritesForNewLegalEntities: skip,
    powerAppsEnvironment: "",
    environments: null,
    tenantId,
  };
  if (body.environments.length === 0) return unlink;

  const [first, second, ...more] = body.environments;
  const ax = [first, second].find((e) => e?.targetType === "AX");
  const crm = [first, second].find((e) => e?.targetType === "CRM");
  if (more.length > 0 || !ax || !crm) {
    throw gatewayErrors.badRequest(
      'environments must hold two environments, one with targetType "CRM" (Dataverse) and one with "AX" (Finance and Operations), or none to unlink.',
    );
  }
  const axHost = hostOf(ax.directUrl);
  const axEnv = axHost === undefined ? undefined : fnoEnvByHost(core, axHost);
  if (!axEnv) {
    throw gatewayErrors.badRequest(
      `environments[AX].directUrl '${ax.directUrl}' is not the URL of a Finance and Operations environment of this emulator.`,
    );
  }
  if (axEnv.name !== fnoEnv) {
    throw gatewayErrors.badRequest(
      `environments[AX].directUrl names the Finance and Operations environment at ${axHost}, but the request is for cid ${cid} (${hostOf(fnoUrl(core, fnoEnv))}).`,
    );
  }
  const crmHost = hostOf(crm.directUrl);
  const org = crmHost === undefined ? undefined : dvOrgByHost(core, crmHost);
  if (!org) {
    throw gatewayErrors.badRequest(
      `environments[CRM].directUrl '${crm.directUrl}' is not the URL of a Dataverse environment of this emulator.`,
    );
  }
  const ppId = powerPlatformEnvironmentId(org);
  const named: Array<[string, string | undefined]> = [
    ["powerAppsEnvironmentName", body.powerAppsEnvironmentName],
    ["environments[CRM].id", crm.id],
    ["environments[AX].id", ax.id],
  ];
  for (const [what, value] of named) {
    if (value?.trim().toLowerCase() !== ppId) {
      throw gatewayErrors.badRequest(
        `${what} must be the Power Platform environment id of the Dataverse environment at ${crmHost} (${ppId}, its EnvironmentId in RetrieveCurrentOrganization); got '${value ?? ""}'.`,
      );
    }
  }
  const other = Object.values(core.state.links).find((l) => l.org === org && l.fnoEnv !== fnoEnv);
  if (other) throw gatewayErrors.dataverseAlreadyLinked(org, other.fnoEnv);
  const codes = normalizeCodes(body.legalEntities ?? []);
  checkLegalEntityCount(codes.length, skip);
  checkCompanies(codes, fnoSet(core, fnoEnv), dvSet(core, org), fnoEnv);
  const side = (e: ResetEnvironment): LinkEnvironment => ({
    name: e.name.trim(),
    displayName: e.displayName?.trim() || e.name.trim(),
    isDevInstance: e.isDevInstance === true,
  });
  return {
    org,
    legalEntities: codes,
    skipInitialWritesForNewLegalEntities: skip,
    powerAppsEnvironment: ppId,
    environments: { ax: side(ax), crm: side(crm) },
    tenantId,
  };
}

/**
 * Runs an accepted Reset after the transition time: tears the current link down and builds the
 * new one (or none). Checks again what may have changed meanwhile (another link of the org,
 * legal entities); a failure ends the request in Error and leaves the old link in place.
 */
export async function runReset(core: RuntimeCore, request: RequestRecord): Promise<void> {
  await core.ctx.clock.sleep(core.ctx.settings.transitionMs);
  if (core.closed || request.state !== RequestState.Waiting) return;
  const env = core.ctx.environments.get(request.fnoEnv);
  const plan = request.reset;
  const current = core.state.links[request.fnoEnv];
  if (!env || !plan || (current?.generation ?? 0) !== request.generation) {
    complete(core, request, "The link changed while the Reset was waiting.");
    return;
  }
  try {
    if (plan.org !== null) {
      const other = Object.values(core.state.links).find(
        (l) => l.org === plan.org && l.fnoEnv !== env.name,
      );
      if (other) throw gatewayErrors.dataverseAlreadyLinked(plan.org, other.fnoEnv);
      checkCompanies(plan.legalEntities, fnoSet(core, env.name), dvSet(core, plan.org), env.name);
    }
  } catch (e) {
    complete(core, request, e instanceof Error ? e.message : String(e));
    return;
  }
  if (current) teardown(core, current, request);
  if (plan.org !== null && plan.environments !== null) {
    // Unique across links and unlinks, so a new link never repeats a connection-set name or pid.
    const generation = ++core.state.counter;
    const link: LinkState = {
      fnoEnv: env.name,
      org: plan.org,
      cid: env.cid,
      cname: `dw-${guidFrom("connection-set", env.cid, plan.org, generation)}`,
      powerAppsEnvironment: plan.powerAppsEnvironment,
      environments: plan.environments,
      tenantId: plan.tenantId,
      generation,
      linkedAt: core.ctx.clock.now(),
      legalEntities: [],
      skipInitialWritesForNewLegalEntities: plan.skipInitialWritesForNewLegalEntities,
      appliedSolutions: [],
      integrationKeys: {},
      maps: {},
    };
    core.state.links[env.name] = link;
    const now = core.ctx.clock.now();
    for (const code of plan.legalEntities)
      enableCompany(code, fnoSet(core, env.name), dvSet(core, plan.org), plan.org, now);
    link.legalEntities = [...plan.legalEntities];
    request.generation = generation;
  }
  complete(core, request, null);
  persistSoon(core);
}

/** `PUT /api/ConnectionSet/<cid>/LegalEntities` [choice]: adds and removes legal entities in place. */
export function editLegalEntities(
  core: RuntimeCore,
  cid: string,
  requested: readonly string[],
  skipInitialWrites: boolean,
): { legalEntities: string[] } {
  const env = envByCid(core, cid);
  const link = requireLink(core, env.name);
  const codes = normalizeCodes(requested);
  const added = codes.filter((c) => !link.legalEntities.includes(c));
  const removed = link.legalEntities.filter((c) => !codes.includes(c));
  const maps = Object.values(link.maps);
  const initializing = maps.filter((m) => m.state === MapState.InitialSync).map((m) => m.name);
  if (initializing.length > 0) throw gatewayErrors.mapInitializing(initializing);
  const paused = maps.filter((m) => m.state === MapState.Paused).map((m) => m.name);
  if (removed.length > 0 && paused.length > 0) throw gatewayErrors.mapPaused(paused);
  checkLegalEntityCount(codes.length, skipInitialWrites);
  const fno = fnoSet(core, env.name);
  const dv = dvSet(core, link.org);
  checkCompanies(added, fno, dv, env.name);

  const now = core.ctx.clock.now();
  for (const code of added) enableCompany(code, fno, dv, link.org, now);
  for (const code of removed) disableCompany(code, dv, now);
  link.legalEntities = codes;
  link.skipInitialWritesForNewLegalEntities = skipInitialWrites;

  // Running and paused company maps run initial writes for the new companies. The request is the
  // runtime's own: it keeps the maps busy but is not one of their `lastRequests`.
  if (added.length > 0 && !skipInitialWrites) {
    const targets = maps.filter(
      (m) =>
        (m.state === MapState.Running || m.state === MapState.Paused) &&
        mapSpec(m.name)?.companySpecific,
    );
    if (targets.length > 0) {
      const request = newRequest(core, "legalEntities", env, link.generation, "InitialWrites");
      for (const m of targets) {
        request.steps.push(
          newStep(m.name, "initialWrites", {
            skipInitialSync: false,
            master: "AX",
            legalEntities: added,
            catchUp: "replay",
          }),
        );
        m.busyRequestId = request.requestId;
      }
      launch(core, request);
    }
  }
  return { legalEntities: [...link.legalEntities] };
}

/** Throws when a link would have more legal entities than dual-write allows. */
export function checkLegalEntityCount(count: number, skipInitialWrites: boolean): void {
  if (count > maxLegalEntitiesPerLink)
    throw gatewayErrors.tooManyLegalEntities(count, maxLegalEntitiesPerLink);
  if (!skipInitialWrites && count > maxLegalEntitiesWithInitialWrites) {
    throw gatewayErrors.tooManyLegalEntities(count, maxLegalEntitiesWithInitialWrites);
  }
}

/**
 * Ends a link's waiting requests (except `keep`, the Reset doing it) and running jobs, clears its
 * runtime configurations and forgets it.
 */
export function teardown(core: RuntimeCore, link: LinkState, keep?: RequestRecord): void {
  for (const id of core.state.requestOrder) {
    const r = core.state.requests[id];
    if (r && r !== keep && r.fnoEnv === link.fnoEnv && r.state === RequestState.Waiting) {
      complete(core, r, "The link was reset while the request was running.");
    }
  }
  for (const job of Object.values(core.state.jobs)) {
    if (job.fnoEnv === link.fnoEnv && job.state === "Running") {
      job.state = "Cancelled";
      job.finishedAt = core.ctx.clock.now();
    }
  }
  // Reset clears the Dataverse table "Dual Write Runtime Configurations" (DW/reset.md).
  const dv = core.ctx.dataverse.get(link.org);
  if (dv) clearRuntimeConfigs(dv);
  delete core.state.links[link.fnoEnv];
}
