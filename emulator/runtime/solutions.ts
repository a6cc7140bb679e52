/**
 * Applying orchestration solutions ("Apply Solution"): the Dataverse org must have the solution
 * and the solutions it needs installed, at the required versions (the `solutions` table says which
 * are installed); applied solutions publish their maps, Stopped, without a project, at their
 * newest version.
 */
import type { TableSet } from "../store/tables";
import { DataverseTables } from "../store/schema";
import {
  compareVersions,
  defaultTemplate,
  mapsOfSolution,
  requiredDataverseSolutions,
  requiredSolutionVersions,
  versionText,
} from "./maps";
import { cellText } from "./names";
import { MapState, type LinkState } from "./state";

/** The installed version of a Dataverse solution, or undefined. */
export function installedSolution(
  dv: TableSet | undefined,
  uniqueName: string,
): { version: string } | undefined {
  const row = dv
    ?.all(DataverseTables.solutions)
    .find((r) => cellText(r.row.uniquename).toLowerCase() === uniqueName.toLowerCase())?.row;
  return row ? { version: cellText(row.version) || "0.0.0.0" } : undefined;
}

/**
 * Why `solutions` cannot be applied to an org (the first missing or stale Dataverse solution, in
 * the real service's words), or null when they can.
 */
export function checkSolutionsInstalled(
  dv: TableSet | undefined,
  org: string,
  solutions: readonly string[],
): string | null {
  for (const solution of solutions) {
    const needed = [...new Set([...(requiredDataverseSolutions[solution] ?? []), solution])];
    for (const dep of needed) {
      const required = requiredSolutionVersions[dep] ?? "1.0.0.0";
      const installed = installedSolution(dv, dep);
      if (!installed) {
        return `Dynamics 365 for Sales solution '${dep}' is missing. Required version: '${required}'. Install it in the Dataverse environment '${org}', then apply '${solution}' again.`;
      }
      if (compareVersions(installed.version, required) < 0) {
        return `Dynamics 365 for Sales solution '${dep}' has version mismatch. Version: '${installed.version}' Required version: '${required}'`;
      }
    }
  }
  return null;
}

/** Marks solutions applied and publishes their maps (maps already there keep their state). */
export function applySolutionMaps(link: LinkState, solutions: readonly string[]): void {
  for (const solution of solutions) {
    if (!link.appliedSolutions.includes(solution)) link.appliedSolutions.push(solution);
    for (const spec of mapsOfSolution(solution)) {
      if (link.maps[spec.name]) continue;
      const t = defaultTemplate(spec);
      link.maps[spec.name] = {
        name: spec.name,
        state: MapState.Stopped,
        // A published map has no project until action "8" initializes it.
        pid: null,
        activeTemplate: { author: t.author, version: versionText(t.version) },
        lastRequests: [],
        queue: [],
        catchUpErrors: [],
        busyRequestId: null,
        executions: {},
      };
    }
  }
}
