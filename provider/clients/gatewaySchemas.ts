/**
 * Wire shapes of the DualWriteManagement gateway (docs/wire-contract.md), validated with zod at
 * the client boundary. They follow the DTOs of Microsoft's own tool, microsoft/Dual-write-automations
 * at f14edd6 (cited as `DWLibary/<file>:<line>`). Only the members the provider reads are declared;
 * others are stripped. States and action codes are strings in those DTOs; both schemas below read
 * a string or a number, so a gateway that sends either is understood.
 */
import { z } from "zod";

/**
 * A state number sent as a JSON string (`"4"`, as `DWMapDetail.state` and `DWMapLastRequest.state`
 * declare it: DWLibary/Struct/DWMaps.cs:57,74) or as a number.
 */
export const stateNumber = z.preprocess(
  (v) => (typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
  z.number().int(),
);

/** An action code, a string on the wire (`MapStartStopAction.action`, Struct/MapsHelper.cs:39-43); numbers are read as their text. */
export const actionCode = z.preprocess((v) => (typeof v === "number" ? String(v) : v), z.string());

/** `{major, minor, build, revision}` as the gateway sends a map version (Struct/DWMaps.cs:27-35). */
export const versionSchema = z.object({
  major: z.number().int(),
  minor: z.number().int(),
  build: z.number().int(),
  revision: z.number().int(),
});

/** One map version (template), Struct/DWMaps.cs:37-48. */
export const templateSchema = z.object({
  id: z.string().min(1),
  name: z.string().nullish(),
  author: z.string().nullish(),
  version: versionSchema,
});

/** One entry of a map's `lastRequests` (Struct/DWMaps.cs:51-61). */
export const lastRequestSchema = z.object({
  requestId: z.string().min(1),
  action: actionCode.nullish(),
  /** When the request was made (Struct/DWMaps.cs:55, a `DateTime`). */
  createdOn: z.string().nullish(),
  /** When it last changed — for a finished request, when it ended (Struct/DWMaps.cs:51-61). */
  modifiedOn: z.string().nullish(),
  state: stateNumber,
  errorMessage: z.string().nullish(),
});

/** One item of `GET Entities` and of `GET Status/<requestId>` (Struct/DWMaps.cs:64-102). */
export const entityItemSchema = z.object({
  leftEntity: z.object({ targetType: z.string().nullish(), name: z.string() }).nullish(),
  rightEntity: z.object({ targetType: z.string().nullish(), name: z.string() }).nullish(),
  detail: z.object({
    /** The ACTIVE template id (== `template.id`; toolbAX live capture). */
    tid: z.string().min(1),
    tName: z.string().min(1),
    /** Absent on a map that was never initialized (DWMapEngine.cs:1355). */
    pid: z.string().nullish(),
    state: stateNumber.pipe(z.number().min(0).max(6)),
    template: templateSchema.nullish(),
    templates: z.array(templateSchema).nullish(),
    actions: z.array(actionCode).nullish(),
    lastRequests: z.array(lastRequestSchema).nullish(),
  }),
});

/** `GET Entities?targetType=AX&cid=…` (DWCommonEngine.cs:87). */
export const entityItemsSchema = z.array(entityItemSchema);

/** `GET Status/<requestId>`: the maps of the request (DWMapEngine.cs:1881). */
export const statusSchema = z.array(entityItemSchema);

/** `GET Environments?targetType=AX&identifier=<host>` (DWEnvCalls.cs:332, Struct/DWEnvironment.cs). */
export const environmentsSchema = z.array(
  z.object({
    cid: z.string().min(1),
    cname: z.string().min(1),
    targetType: z.string().nullish(),
    displayName: z.string().nullish(),
    /** The Power Platform environment id of the linked Dataverse (ResetLinkEngine.cs:131). */
    powerAppsEnvironment: z.string().nullish(),
  }),
);

/** One key of a schema in the connection set (Struct/DWFieldMapping.cs:44-54). */
const keySchema = z.object({
  name: z.string(),
  displayName: z.string().nullish(),
  fields: z.array(z.string()).nullish(),
});

/** One environment of a connection set (Struct/DWConnectionSet.cs:15-32). */
const connectionSetEnvironmentSchema = z.object({
  name: z.string(),
  targetType: z.string(),
  environmentDisplayName: z.string().nullish(),
  powerAppsEnvironment: z.string().nullish(),
  directUrl: z.string().nullish(),
  isDevInstance: z.boolean().nullish(),
  /** A LIST of schemas (Struct/DWConnectionSet.cs:21, Struct/DWFieldMapping.cs:62-80). */
  schemas: z.array(z.object({ name: z.string(), keys: z.array(keySchema).nullish() })).nullish(),
});

/** `GET /api/ConnectionSet/<cname>` (DWCommonEngine.cs:383, Struct/DWConnectionSet.cs:135-150). */
export const connectionSetSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  /** Keyed by environment name (Struct/DWConnectionSet.cs:139). */
  environments: z.record(z.string(), connectionSetEnvironmentSchema).nullish(),
  dualWriteDetail: z
    .object({
      legalEntityMappings: z
        .object({
          mappings: z
            .array(
              z.object({
                left: z.object({ name: z.string(), id: z.string().nullish() }),
                right: z.object({ name: z.string().nullish(), id: z.string().nullish() }).nullish(),
              }),
            )
            .nullish(),
        })
        .nullish(),
    })
    .nullish(),
});

/** `{requestId}` answered by `Start` and `RestoreTemplates` (Struct/MapsHelper.cs:45-48, Struct/SolutionHelpers.cs:28-31). */
export const requestIdSchema = z.object({ requestId: z.string().min(1) });

/** `GET SolutionAware/<cid>/Status/<requestId>` (Struct/SolutionHelpers.cs:35-51). */
export const solutionStatusSchema = z.object({
  requestId: z.string().min(1),
  action: actionCode.nullish(),
  state: stateNumber,
  result: z.object({ message: z.string().nullish(), status: z.string().nullish() }).nullish(),
});

/** `GET SolutionAware/<cid>/Solutions/` (DWCommonEngine.cs:239, Struct/SolutionList.cs). */
export const solutionsSchema = z.array(
  z.object({
    uniquename: z.string().min(1),
    version: z.string().nullish(),
    friendlyname: z.string().nullish(),
    ismanaged: z.boolean().nullish(),
    solutionid: z.string().nullish(),
    id: z.string().nullish(),
    description: z.string().nullish(),
  }),
);

/** `POST GetTemplatePrerequisiteSequences/<cid>` (DWMapEngine.cs:1569). */
export const prerequisitesSchema = z.array(z.array(z.string()));

/** `GET /api/ProjectExecutionWithCompanies/<pid>` (DWMapEngine.cs:1622, Struct/InitialSyncDetails.cs). */
export const projectExecutionSchema = z.object({
  projectName: z.string().nullish(),
  projectExecutionResponses: z
    .array(
      z.object({
        legalEntityName: z.string(),
        /** When the run was submitted (Struct/InitialSyncDetails.cs:45, a `DateTime`). */
        submittedOn: z.string().nullish(),
        /** Shown as text only: the tool never compares its values. */
        executionStatus: z.string().nullish(),
        initialSyncRequestId: z.string().nullish(),
        upsertCount: z.number().int().nullish(),
        errorCount: z.number().int().nullish(),
        taskExecutionStatuses: z
          .array(
            z.object({
              legs: z
                .array(
                  z.object({
                    exportRecordCount: z.number().int().nullish(),
                    importErrors: z.array(importErrorSchema()).nullish(),
                    exportErrors: z.array(importErrorSchema()).nullish(),
                  }),
                )
                .nullish(),
            }),
          )
          .nullish(),
      }),
    )
    .nullish(),
});

/** `GET <pid>/FieldMappings` (DWCommonEngine.cs:304, Struct/DWFieldMapping.cs:177-204). */
export const fieldMappingsSchema = z.object({
  /** The project name that `POST /api/Project/<name>/Refresh` takes (DWMapEngine.cs:1439). */
  name: z.string().nullish(),
  id: z.string().nullish(),
  entityMappingTasks: z
    .array(
      z.object({
        legs: z
          .array(
            z.object({
              sourceSchema: z.string().nullish(),
              destinationSchema: z.string().nullish(),
              sourceFilter: z.string().nullish(),
              reversedSourceFilter: z.string().nullish(),
              fieldMappings: z
                .array(
                  z.object({
                    sourceField: z.string().nullish(),
                    destinationField: z.string().nullish(),
                    syncDirection: z.union([z.string(), z.number()]).nullish(),
                  }),
                )
                .nullish(),
            }),
          )
          .nullish(),
      }),
    )
    .nullish(),
});

/** `{recordId, sourceField, errorMessage}` (Struct/InitialSyncDetails.cs:19-24). */
function importErrorSchema() {
  return z.object({
    recordId: z.string().nullish(),
    sourceField: z.string().nullish(),
    errorMessage: z.string().nullish(),
  });
}
