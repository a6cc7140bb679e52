/**
 * Wire shapes of the DualWriteManagement gateway (docs/wire-contract.md), validated with zod at
 * the client boundary. Only the members the provider reads are declared; others are stripped.
 */
import { z } from "zod";

/** `{major, minor, build, revision}` as the gateway sends a map version. */
export const versionSchema = z.object({
  major: z.number().int(),
  minor: z.number().int(),
  build: z.number().int(),
  revision: z.number().int(),
});

/** One map version (template). */
export const templateSchema = z.object({
  id: z.string().min(1),
  author: z.string().nullish(),
  version: versionSchema,
});

/** One entry of a map's `lastRequests`. */
export const lastRequestSchema = z.object({
  requestId: z.string().min(1),
  action: z.coerce.number().int().optional(),
  state: z.coerce.number().int(),
  errorMessage: z.string().nullish(),
});

/** One item of `GET Entities` (and of `Status.maps`). */
export const entityItemSchema = z.object({
  leftEntity: z.object({ targetType: z.string().optional(), name: z.string() }).nullish(),
  rightEntity: z.object({ targetType: z.string().optional(), name: z.string() }).nullish(),
  detail: z.object({
    tid: z.string().min(1),
    tName: z.string().min(1),
    pid: z.string().nullish(),
    state: z.number().int().min(0).max(6),
    template: templateSchema.nullish(),
    templates: z.array(templateSchema).default([]),
    integrationKeys: z.array(z.string()).default([]),
    lastRequests: z.array(lastRequestSchema).default([]),
  }),
});

/** `GET Environments?targetType=AX&identifier=…`. */
export const environmentsSchema = z.array(
  z.object({
    cid: z.string().min(1),
    cname: z.string().min(1),
    powerAppsEnvironment: z.string().nullish(),
    linked: z.boolean().optional(),
  }),
);

/** `GET /api/ConnectionSet/<cname>`. */
export const connectionSetSchema = z.object({
  cid: z.string().min(1),
  cname: z.string().min(1),
  environments: z
    .array(
      z.object({
        name: z.string().nullish(),
        targetType: z.string(),
        directUrl: z.string().nullish(),
      }),
    )
    .default([]),
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
            .default([]),
        })
        .nullish(),
    })
    .nullish(),
});

/** `{requestId}` answered by every asynchronous call. */
export const requestIdSchema = z.object({ requestId: z.string().min(1) });

/** `GET Status/<requestId>`. */
export const statusSchema = z.object({
  requestId: z.string().min(1),
  action: z.coerce.number().int().optional(),
  state: z.coerce.number().int(),
  errorMessage: z.string().nullish(),
  maps: z.array(entityItemSchema).default([]),
});

/** `GET SolutionAware/<cid>/Status/<requestId>`. */
export const solutionStatusSchema = z.object({
  requestId: z.string().min(1),
  state: z.coerce.number().int(),
  errorMessage: z.string().nullish(),
});

/** `GET SolutionAware/<cid>/Solutions/`. */
export const solutionsSchema = z.array(
  z.object({
    uniqueName: z.string().min(1),
    version: z.string().nullish(),
    installed: z.boolean(),
    applied: z.boolean(),
    maps: z.array(z.string()).default([]),
  }),
);

/** `POST GetTemplatePrerequisiteSequences/<cid>`. */
export const prerequisitesSchema = z.array(z.array(z.string()));

/** `PUT /api/ConnectionSet/<cid>/LegalEntities`. */
export const legalEntitiesSchema = z.object({ legalEntities: z.array(z.string()) });

/** `POST SolutionAware/<cid>/SwitchActive/<templateId>`. */
export const switchActiveSchema = z.object({ tid: z.string().min(1), template: templateSchema });

/** `GET|POST /api/dataset/<org>/IntegrationKeys`. */
export const integrationKeysSchema = z.object({
  datasetName: z.string().nullish(),
  integrationKeys: z.record(z.string(), z.array(z.string())).default({}),
});

/** `GET /api/ProjectExecutionWithCompanies/<pid>`. */
export const projectExecutionSchema = z.object({
  projectExecutionResponses: z
    .array(
      z.object({
        legalEntityName: z.string(),
        executionStatus: z.string(),
        initialSyncRequestId: z.string().nullish(),
        upsertCount: z.number().int().default(0),
        errorCount: z.number().int().default(0),
        totalCount: z.number().int().default(0),
        taskExecutionStatuses: z
          .array(
            z.object({
              isRunning: z.boolean().optional(),
              legs: z
                .array(
                  z.object({
                    status: z.string().optional(),
                    importErrors: z
                      .array(
                        z.object({
                          recordId: z.string().nullish(),
                          sourceField: z.string().nullish(),
                          errorMessage: z.string().nullish(),
                        }),
                      )
                      .default([]),
                  }),
                )
                .default([]),
            }),
          )
          .default([]),
      }),
    )
    .default([]),
});

/** `GET <pid>/FieldMappings`. */
export const fieldMappingsSchema = z.object({
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
                .default([]),
            }),
          )
          .default([]),
      }),
    )
    .default([]),
});
