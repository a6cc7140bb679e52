/**
 * The Dataverse table "Dual Write Runtime Configurations" (`msdyn_dualwriteruntimeconfigs`): one
 * row per running map project, holding the map version and field mappings in `msdyn_unsecure`
 * (shape from third-party map viewers, see reference/dual-write-domain.md §6). Reset clears it.
 */
import type { TableSet } from "../store/tables";
import { DataverseTables } from "../store/schema";
import { guidFrom } from "./ids";
import type { MapSpec } from "./maps";

/** Writes (or refreshes) the runtime configuration row of a map project. */
export function writeRuntimeConfig(
  dv: TableSet,
  org: string,
  pid: string,
  projectName: string,
  spec: MapSpec,
  version: string,
  now: number,
): void {
  const [major, minor, build, revision] = version.split(".").map((x) => parseInt(x, 10));
  const id = guidFrom("runtimeconfig", org, pid);
  const values = {
    msdyn_name: projectName,
    msdyn_unsecure: JSON.stringify({
      ProjectId: pid,
      SourceEntityName: spec.financeOperationsEntitySet,
      SourceEnvironmentType: 1,
      DestinationEntityName: spec.dataverseEntitySet,
      DestinationEnvironmentType: 3,
      EntityMapVersion: { Major: major, Minor: minor, Build: build, Revision: revision },
      FieldMappings: spec.fieldMappings,
    }),
    modifiedon: new Date(now).toISOString(),
  };
  if (dv.get(DataverseTables.runtimeConfigs, id))
    dv.update(DataverseTables.runtimeConfigs, id, values, "runtime");
  else
    dv.insert(
      DataverseTables.runtimeConfigs,
      { msdyn_dualwriteruntimeconfigid: id, ...values },
      "runtime",
    );
}

/** Deletes every runtime configuration row (Reset link, DW/reset.md). */
export function clearRuntimeConfigs(dv: TableSet): void {
  for (const { row } of dv.all(DataverseTables.runtimeConfigs)) {
    dv.delete(
      DataverseTables.runtimeConfigs,
      dv.keyOf(DataverseTables.runtimeConfigs, row),
      "runtime",
    );
  }
}
