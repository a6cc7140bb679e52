/**
 * Links and legal entities: resolving environments, the connection set, reset (link, relink,
 * unlink, with teardown of the old link) and in-place legal-entity edits with their guards.
 * Reset clears dual-write configuration, never business rows.
 */
import type { TokenClaims } from "../core/http";
import { DataverseTables } from "../store/schema";
import type { EnvironmentPair } from "../core/context";
import { checkCompanies, disableCompany, enableCompany } from "./companies";
import { gatewayErrors } from "./errors";
import { maxLegalEntitiesWithInitialWrites } from "./jobs";
import { mapSpec } from "./maps";
import { normalizeCodes, parseInstance } from "./names";
import { complete, launch, newRequest, newStep, noteRequest } from "./requests";
import { clearRuntimeConfigs } from "./runtimeConfigs";
import {
  dvOf,
  dvSet,
  dvUrl,
  envByCid,
  fnoSet,
  fnoUrl,
  linkByOrg,
  requireLink,
  type RuntimeCore,
} from "./runtimeCore";
import { MapAction, MapState, RequestState, stoppedStates, type LinkState } from "./state";

/** Legal entities per link (DW/dual-write-troubleshooting-initial-setup.md). */
export const maxLegalEntitiesPerLink = 250;

/** Body of a link / relink / unlink (`POST /api/ConnectionSet/<cid>/Reset`). */
export interface ResetBody {
  powerAppsEnvironmentName?: string;
  environments?: string[];
  legalEntities?: string[];
  skipInitialWritesForNewLegalEntities?: boolean;
}

/** `GET Environments`: the F&O environment a URL (or name) identifies, `[]` when unknown. */
export function resolveEnvironments(
  core: RuntimeCore,
  targetType: string,
  identifier: string,
): unknown[] {
  let env: EnvironmentPair | undefined;
  if (targetType.toUpperCase() === "CRM") {
    const org = parseInstance(identifier, "dataverse");
    const link = org ? linkByOrg(core, org) : undefined;
    env = link ? core.ctx.environments.get(link.fnoEnv) : undefined;
  } else {
    const name = parseInstance(identifier, "fno");
    env = name ? core.ctx.environments.get(name) : undefined;
    if (env && !core.ctx.fno.has(env.name)) env = undefined;
  }
  if (!env) return [];
  const link = core.state.links[env.name];
  return [
    {
      cid: env.cid,
      cname: env.name,
      detail: { isSolutionAware: true },
      powerAppsEnvironment: link ? dvUrl(core, link.org) : null,
      linked: link !== undefined,
    },
  ];
}

/** `GET /api/ConnectionSet/<cname>`. */
export function connectionSet(core: RuntimeCore, cname: string): unknown {
  const link =
    core.state.links[cname] ?? Object.values(core.state.links).find((l) => l.cid === cname);
  if (!link) throw gatewayErrors.connectionSetNotFound(cname);
  const dv = dvOf(core, link);
  return {
    cid: link.cid,
    cname: link.fnoEnv,
    environments: [
      { name: link.fnoEnv, targetType: "AX", directUrl: fnoUrl(core, link.fnoEnv) },
      { name: link.org, targetType: "CRM", directUrl: dvUrl(core, link.org) },
    ],
    dualWriteDetail: {
      legalEntityMappings: {
        leftEnvironment: fnoUrl(core, link.fnoEnv),
        rightEnvironment: dvUrl(core, link.org),
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
      skipInitialWritesForNewLegalEntities: link.skipInitialWritesForNewLegalEntities,
      isSolutionAware: true,
    },
  };
}

/**
 * Reset link: clears the current link's maps, keys, legal-entity mapping and initial-sync
 * history (never business rows), then links again when `body` names a Dataverse environment.
 */
export function reset(
  core: RuntimeCore,
  cid: string,
  body: ResetBody,
  forceReset: boolean,
  claims?: TokenClaims,
): { requestId: string } {
  const env = envByCid(core, cid);
  const current = core.state.links[env.name];
  const orgUrl = body.powerAppsEnvironmentName;
  let org: string | undefined;
  let codes: string[] = [];
  const skip = body.skipInitialWritesForNewLegalEntities === true;

  if (current && !forceReset) {
    const notStopped = Object.values(current.maps)
      .filter((m) => !stoppedStates.includes(m.state))
      .map((m) => m.name);
    if (notStopped.length > 0) throw gatewayErrors.mapsNotStopped(notStopped);
  }
  if (orgUrl !== undefined) {
    org = parseInstance(orgUrl, "dataverse");
    if (!org || !core.ctx.dataverse.has(org)) throw gatewayErrors.dataverseNotFound(`'${orgUrl}'`);
    for (const e of body.environments ?? []) {
      const fnoName = parseInstance(e, "fno");
      if (fnoName !== undefined && fnoName !== env.name) {
        throw gatewayErrors.badRequest(
          `environments names the Finance and Operations environment '${fnoName}', but the request is for '${env.name}' (cid ${cid}).`,
        );
      }
    }
    const other = Object.values(core.state.links).find(
      (l) => l.org === org && l.fnoEnv !== env.name,
    );
    if (other) throw gatewayErrors.dataverseAlreadyLinked(org, other.fnoEnv);
    codes = normalizeCodes(body.legalEntities ?? []);
    checkLegalEntityCount(codes.length, skip);
    checkCompanies(codes, fnoSet(core, env.name), dvSet(core, org), env.name);
  }

  // Everything is valid: tear down the old link, then build the new one.
  if (current) teardown(core, current);
  const request = newRequest(core, "reset", env, current?.generation ?? 0, "Reset");
  if (org !== undefined) {
    const generation = (current?.generation ?? 0) + 1;
    const link: LinkState = {
      fnoEnv: env.name,
      org,
      cid: env.cid,
      tenantId: claims?.tid ?? "",
      generation,
      linkedAt: core.ctx.clock.now(),
      legalEntities: [],
      skipInitialWritesForNewLegalEntities: skip,
      appliedSolutions: [],
      integrationKeys: {},
      maps: {},
    };
    core.state.links[env.name] = link;
    for (const code of codes)
      enableCompany(code, fnoSet(core, env.name), dvSet(core, org), org, core.ctx.clock.now());
    link.legalEntities = codes;
    request.generation = generation;
  }
  complete(core, request, null);
  return { requestId: request.requestId };
}

/** `PUT /api/ConnectionSet/<cid>/LegalEntities`: adds and removes legal entities in place. */
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

  // Running and paused company maps run initial writes for the new companies.
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
          newStep(m.name, MapAction.InitialSync, {
            skipInitialSync: false,
            master: "AX",
            legalEntities: added,
          }),
        );
        m.busyRequestId = request.requestId;
        noteRequest(m, request, MapAction.InitialSync);
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

/** Ends a link's waiting requests and running jobs, clears its runtime configurations and forgets it. */
export function teardown(core: RuntimeCore, link: LinkState): void {
  for (const id of core.state.requestOrder) {
    const r = core.state.requests[id];
    if (r && r.fnoEnv === link.fnoEnv && r.state === RequestState.Waiting) {
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
