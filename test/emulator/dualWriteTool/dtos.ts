/**
 * The tool's answer DTOs (microsoft/Dual-write-automations @ f14edd6, `DWLibary/Struct/`),
 * transcribed property by property with their C# types, and TypeScript views of what the
 * contract suite reads from them. `deserialize(Type, text)` (./newtonsoft.ts) fills them as
 * `JsonConvert.DeserializeObject` would at the call site named on each.
 */
import type { CsType, Shape } from "./newtonsoft";

const str = "string" as const;
const list = (of: CsType): CsType => ({ list: of });
const struct = (shape: Shape): CsType => ({ struct: shape });
const klass = (shape: Shape): CsType => ({ class: shape });

// ── Environments: Struct/DWEnvironment.cs:13-27, read as List<DWEnvironment> (DWEnvCalls.cs:37) ──

const DWEnvironment: Shape = {
  cid: str,
  cname: str,
  targetType: str,
  displayName: str,
  detail: struct({ isSolutionAware: "bool" }),
  powerAppsEnvironment: str,
  foEnvironment: str,
};

/** `List<DWEnvironment>` (`DWEnvCalls.cs:37`). */
export const EnvironmentList: CsType = list(struct(DWEnvironment));

/** A `DWEnvironment` as read. */
export interface DWEnvironmentView {
  cid: string | null;
  cname: string | null;
  targetType: string | null;
  displayName: string | null;
  detail: { isSolutionAware: boolean };
  powerAppsEnvironment: string | null;
}

// ── Maps: Struct/DWMaps.cs:13-102, read as List<DWMap> (DWCommonEngine.cs:87, DWMapEngine.cs:1881) ──

const DWMapVersion = struct({
  major: "int",
  minor: "int",
  build: "int",
  revision: "int",
  majorRevision: "int",
  minorRevision: "int",
});

const DWMapTemplate = struct({
  id: str,
  name: str,
  readOnly: "bool",
  displayName: str,
  author: str,
  version: DWMapVersion,
  tags: list(str),
  description: str,
  createdDateTime: "DateTime",
});

const DWMapLastRequest = struct({
  requestId: str,
  action: str,
  createdOn: "DateTime",
  modifiedOn: "DateTime",
  state: str,
  errorMessage: str,
  errorUri: str,
  rootActivityId: str,
});

const DWMapEntity = struct({ targetType: str, name: str, displayName: str });

const DWMap: Shape = {
  leftEntity: DWMapEntity,
  rightEntity: DWMapEntity,
  detail: struct({
    tid: str,
    tName: str,
    tags: list(str),
    templates: list(DWMapTemplate),
    template: DWMapTemplate,
    pid: str,
    lastRequest: DWMapLastRequest,
    // `state` is a string whose setter runs Convert.ToInt16 (Struct/DWMaps.cs:73-85): checked
    // separately by `mapStatusOf`.
    state: str,
    actions: list(str),
    lastRequests: list(DWMapLastRequest),
    isProjectDeleted: "bool",
    // `Group group` (Struct/Groups.cs) is the tool's own grouping, filled from its config file.
  }),
};

/** `List<DWMap>` (`DWCommonEngine.cs:87`, `DWMapEngine.cs:1881`). */
export const MapList: CsType = list(struct(DWMap));

/** A `DWMapTemplate` as read. */
export interface DWMapTemplateView {
  id: string | null;
  name: string | null;
  author: string | null;
  version: { major: number; minor: number; build: number; revision: number };
  createdDateTime: string;
}

/** A `DWMapLastRequest` as read. */
export interface DWMapLastRequestView {
  requestId: string | null;
  action: string | null;
  createdOn: string;
  modifiedOn: string;
  state: string | null;
  errorMessage: string | null;
}

/** A `DWMap` as read. */
export interface DWMapView {
  leftEntity: { targetType: string | null; name: string | null; displayName: string | null };
  rightEntity: { targetType: string | null; name: string | null; displayName: string | null };
  detail: {
    tid: string | null;
    tName: string | null;
    templates: DWMapTemplateView[] | null;
    template: DWMapTemplateView;
    pid: string | null;
    state: string | null;
    actions: string[] | null;
    lastRequests: DWMapLastRequestView[] | null;
    isProjectDeleted: boolean;
  };
}

/**
 * `DWMapDetail.mapStatus`: the setter of `state` runs `Convert.ToInt16(value)`
 * (`Struct/DWMaps.cs:80-84`), which throws on anything but an integer text (null gives 0).
 */
export function mapStatusOf(map: DWMapView): number {
  const state = map.detail.state;
  if (state === null) return 0;
  if (!/^\s*[+-]?\d+\s*$/.test(state) || Math.abs(Number(state)) > 32767) {
    throw new Error(`Convert.ToInt16("${state}") throws (map ${map.detail.tName})`);
  }
  return Number(state);
}

/** `MapsRequestResponse` (`Struct/MapsHelper.cs:45-48`; `DWMapEngine.cs:1840`). */
export const MapsRequestResponse: CsType = struct({ requestId: str });

/** `List<List<string>>` (`DWMapEngine.cs:1569`). */
export const PrerequisiteSequences: CsType = list(list(str));

// ── Connection set: Struct/DWConnectionSet.cs:15-150 with Schema/Key from Struct/DWFieldMapping.cs ──

const TypeDetails = struct({
  $type: str,
  type: str,
  length: "int",
  isMultiLine: "bool",
  precision: "int?",
  minimumValue: "double?",
  maximumValue: "double?",
  isDateOnly: "bool?",
  relatedEntity: str,
  navigationPropertyName: str,
});

const Field = struct({
  $id: str,
  name: str,
  displayName: str,
  isRequired: "bool",
  isRetrievable: "bool",
  isReadonly: "bool",
  typeDetails: TypeDetails,
  parentRelationDataSetName: str,
  parentRelationEntitySchemaName: str,
  nestedParentRelationEntitySchemaName: str,
});

const Key = struct({
  name: str,
  displayName: str,
  fields: list(str),
  isIntegrationKey: "bool",
  isPrimaryKey: "bool",
  isCustomized: "bool",
  isHardcoded: "bool",
  message: str,
});

const AuthorizedUser = struct({ user: str, permissions: list(str) });

// Struct/DWFieldMapping.cs:62-80
const Schema = struct({
  $id: str,
  targetType: str,
  refreshState: str,
  name: str,
  displayName: str,
  fields: list(Field),
  keys: list(Key),
  tenant: str,
  primaryCompanyContextField: str,
  authorizedUsers: list(AuthorizedUser),
  id: str,
  owner: str,
  tags: list("object"),
  singletonName: str,
  companyContextFields: list(str),
});

// Struct/DWConnectionSet.cs:15-32
const DWConnSetEnvironment = struct({
  name: str,
  connectionSetName: str,
  targetType: str,
  sharedEnums: list("object"),
  schemas: list(Schema),
  connectionDisplayName: str,
  environmentDisplayName: str,
  metadataUrl: str,
  environmentInfo: str,
  powerAppsEnvironment: str,
  directUrl: str,
  isDevInstance: "bool",
  bypassApiHubConnector: "bool",
  needsIntegrationKey: "bool",
  excludeHardCodedIntegrationKeys: "bool",
});

const NameId = struct({ name: str, id: str });

// Struct/DWConnectionSet.cs:116-133
const DualWriteDetail = struct({
  trialExpiresOn: "DateTime",
  legalEntityMappings: struct({
    leftEnvironment: str,
    rightEnvironment: str,
    mappings: list(struct({ left: NameId, right: NameId })),
  }),
  conflictResolution: struct({ option: str, master: str }),
  alertSettings: list(
    struct({
      name: str,
      state: str,
      errorTypes: list(str),
      threshold: struct({ count: "int", interval: "int", unitOfTime: str }),
      action: str,
    }),
  ),
  autoPauseThresholdSettings: list("object"),
  isOnFirstPartyAuth: "bool",
  isSolutionAware: "bool",
  solutionAwareRequests: list(
    struct({
      requestId: str,
      action: str,
      createdOn: "DateTime",
      modifiedOn: "DateTime",
      state: str,
      result: struct({ message: str, status: str }),
      rootActivityId: str,
    }),
  ),
  actionDetails: list("object"),
  errorTableNames: list(str),
  dualWriteScheduleLogicAppRunId: str,
  scheduledRequests: list(
    struct({ activityType: str, lastExecutionTime: "DateTime", frequency: str, interval: "int" }),
  ),
  isTrialEnvironment: "bool",
  errorTableUpdateInProgress: "bool",
  catchupCleanupTriggerName: str,
});

/** `DWConnectionSet` (`Struct/DWConnectionSet.cs:135-150`; `DWCommonEngine.cs:383`). */
export const ConnectionSet: CsType = struct({
  name: str,
  displayName: str,
  environments: { dict: DWConnSetEnvironment },
  targetTypeList: list(str),
  dataPartitionMappings: list(
    struct({
      firstPartitionEnvName: str,
      firstPartition: str,
      secondPartitionEnvName: str,
      secondPartition: str,
    }),
  ),
  tenant: str,
  forDualWrite: "bool",
  dualWriteDetail: DualWriteDetail,
  bypassApiHubConnector: "bool",
  id: str,
  owner: str,
  createdDateTime: "DateTime",
  tags: list("object"),
});

/** A `Key` as read. */
export interface KeyView {
  name: string | null;
  displayName: string | null;
  fields: string[] | null;
}

/** A `Schema` as read. */
export interface SchemaView {
  id: string | null;
  name: string | null;
  keys: KeyView[] | null;
}

/** A `DWConnSetEnvironment` as read. */
export interface ConnSetEnvironmentView {
  name: string | null;
  connectionSetName: string | null;
  targetType: string | null;
  schemas: SchemaView[] | null;
  environmentDisplayName: string | null;
  powerAppsEnvironment: string | null;
  directUrl: string | null;
  isDevInstance: boolean;
}

/** A `DWConnectionSet` as read. */
export interface ConnectionSetView {
  id: string | null;
  name: string | null;
  environments: Record<string, ConnSetEnvironmentView> | null;
  dualWriteDetail: {
    legalEntityMappings: {
      mappings: Array<{
        left: { name: string | null; id: string | null };
        right: { name: string | null; id: string | null };
      }> | null;
    };
  };
}

/**
 * `DWCommonEngine.getConnectionSetEnvironment` (`DWCommonEngine.cs:127-153`): the first entry
 * whose targetType is "CRM" or contains "CDS" (CE), or is "AX" (FO).
 */
export function connectionSetEnvironment(
  set: ConnectionSetView,
  side: "CE" | "FO",
): ConnSetEnvironmentView | undefined {
  return Object.values(set.environments ?? {}).find((env) =>
    side === "CE"
      ? env.targetType === "CRM" || (env.targetType ?? "").includes("CDS")
      : env.targetType === "AX",
  );
}

/**
 * `DWCommonEngine.getIntegrationKey` (`DWCommonEngine.cs:168-195`): on the CE environment, the
 * schema named like the map's `rightEntity.name`, its key `userKeys`, else `userKey`
 * (upper-cased compare); the fields when that key has a display name (198-208).
 */
export function currentKeyList(set: ConnectionSetView, map: DWMapView): string[] {
  const ce = connectionSetEnvironment(set, "CE");
  if (ce?.connectionSetName == null) return [];
  const schema = (ce.schemas ?? []).find((s) => s.name === map.rightEntity.name);
  if (schema?.id == null) return [];
  const keys = schema.keys ?? [];
  let key = keys.find((k) => (k.name ?? "").toUpperCase() === "USERKEYS");
  if (key?.displayName == null) key = keys.find((k) => (k.name ?? "").toUpperCase() === "USERKEY");
  return key?.displayName != null ? (key.fields ?? []) : [];
}

// ── Field mappings: Struct/DWFieldMapping.cs:82-204, read as DWFieldMapping (DWCommonEngine.cs:304) ──

const FMVersion = struct({
  major: "int",
  minor: "int",
  build: "int",
  revision: "int",
  majorRevision: "int",
  minorRevision: "int",
});

/** `DWFieldMapping` (`Struct/DWFieldMapping.cs:177-204`). */
export const FieldMappingsDto: CsType = struct({
  name: str,
  displayName: str,
  environments: list(
    struct({
      name: str,
      connectionSetName: str,
      targetType: str,
      sharedEnums: list("object"),
      schemas: list(Schema),
      connectionDisplayName: str,
      environmentDisplayName: str,
      metadataUrl: str,
      environmentInfo: str,
      powerAppsEnvironment: str,
      isDevInstance: "bool",
      bypassApiHubConnector: "bool",
      needsIntegrationKey: "bool",
      excludeHardCodedIntegrationKeys: "bool",
      directUrl: str,
    }),
  ),
  targetTypeList: list(str),
  entityMappingTasks: list(
    struct({
      name: str,
      order: "int",
      connectionSetName: str,
      leftEnvironmentType: str,
      centerEnvironmentType: str,
      rightEnvironmentType: str,
      leftEnvironment: str,
      centerEnvironment: str,
      leftPartitionName: str,
      centerPartitionName: str,
      legs: list(
        struct({
          id: str,
          sourceEnvironment: str,
          sourceSchema: str,
          sourceEnvironmentType: str,
          sourceFilter: str,
          isSourceFilterEditable: "bool",
          destinationEnvironment: str,
          destinationSchema: str,
          destinationEnvironmentType: str,
          reversedSourceFilter: str,
          fieldMappings: list(
            struct({
              // DWEnums.DWSyncDirection (DWEnums.cs:81-89)
              syncDirection: { enum: { Both: 3, FOOnly: 1, CEOnly: 2 } },
              sourceField: str,
              destinationField: str,
              valueTransforms: list(
                struct({
                  $type: str,
                  transformType: str,
                  valueMap: { dict: str },
                  defaultValue: str,
                  createValuesOnDestination: "bool",
                }),
              ),
              isSystemGenerated: "bool",
              destinationLookupFieldRelatedEntity: str,
            }),
          ),
          entityFileFormat: str,
          deleteNonMatchingData: "bool",
        }),
      ),
    }),
  ),
  validationIssues: list("object"),
  projectState: str,
  isPQOnlineFlow: "bool",
  maxCrmIo: "int",
  useCrmOdataExport: "bool",
  createImportErrorFile: "bool",
  autoRetryFailedImportRecords: "bool",
  templateIdentifier: struct({ name: str, version: FMVersion, id: str, displayName: str }),
  isDataManagementProject: "bool",
  dataManagementOperation: str,
  tenant: str,
  isDualWriteProject: "bool",
  isDualWriteEnabled: "bool",
  skipInitialSync: "bool",
  areKeysMismatched: "bool",
  authorizedUsers: list(AuthorizedUser),
  id: str,
  owner: str,
  createdDateTime: "DateTime",
  tags: list("object"),
});

/** A `DWFieldMapping` as read. */
export interface FieldMappingsView {
  name: string | null;
  id: string | null;
  entityMappingTasks: Array<{
    name: string | null;
    legs: Array<{
      sourceSchema: string | null;
      destinationSchema: string | null;
      sourceFilter: string | null;
      reversedSourceFilter: string | null;
      fieldMappings: Array<{
        syncDirection: number;
        sourceField: string | null;
        destinationField: string | null;
      }> | null;
    }> | null;
  }> | null;
  templateIdentifier: { name: string | null; id: string | null };
}

// ── Solutions: Struct/SolutionList.cs:13-22, Struct/SolutionHelpers.cs:12-50 ──

/** `List<DWSolution>` (`DWCommonEngine.cs:239`; `Struct/SolutionList.cs:13-22`, a class). */
export const SolutionList: CsType = list(
  klass({
    description: str,
    friendlyname: str,
    ismanaged: "bool",
    solutionid: str,
    id: str,
    uniquename: str,
    version: str,
  }),
);

/** A `DWSolution` as read. */
export interface DWSolutionView {
  uniquename: string | null;
  version: string | null;
  friendlyname: string | null;
  ismanaged: boolean;
  solutionid: string | null;
  id: string | null;
}

/** `SolutionRequestResponse` (`Struct/SolutionHelpers.cs:28-31`; `DWSolutionEngine.cs:134`). */
export const SolutionRequestResponse: CsType = struct({ requestId: str });

/** `SolutionResult` (`Struct/SolutionHelpers.cs:35-50`; `DWSolutionEngine.cs:75`). */
export const SolutionResult: CsType = struct({
  requestId: str,
  action: str,
  createdOn: "DateTime",
  modifiedOn: "DateTime",
  state: str,
  result: struct({ message: str, status: str }),
  rootActivityId: str,
});

/** A `SolutionResult` as read. */
export interface SolutionResultView {
  requestId: string | null;
  action: string | null;
  state: string | null;
  result: { message: string | null; status: string | null };
}

// ── Initial sync: Struct/InitialSyncDetails.cs:13-92, read as InitialSyncDetails (DWMapEngine.cs:1622) ──

const SyncError = struct({ recordId: str, sourceField: str, errorMessage: str });

const SyncLeg = klass({
  displayName: str,
  status: str,
  details: str,
  exportStatus: str,
  exportDetails: str,
  exportJob: str,
  exportStarted: "DateTime",
  exportFinished: "DateTime",
  exportRecordCount: "int",
  exportRecordErrorCount: "int",
  exportNewVersionToken: str,
  exportRangeInfo: struct({ start: str, end: str }),
  importStatus: str,
  importDetails: str,
  importJob: str,
  importStarted: "DateTime",
  importFinished: "DateTime",
  importRecordsInsertedCount: "int",
  importRecordsUpdatedCount: "int",
  importRecordsErrorCount: "int",
  exportErrors: list(SyncError),
  exportUri: str,
  importErrors: list(SyncError),
  importErrorUri: str,
});

/** `InitialSyncDetails` (`Struct/InitialSyncDetails.cs:88-92`). */
export const InitialSyncDetails: CsType = struct({
  projectName: str,
  projectExecutionResponses: list(
    struct({
      responseId: str,
      displayName: str,
      projectName: str,
      legalEntityName: str,
      legalEntityId: str,
      schedule: str,
      submittedOn: "DateTime",
      executionStatus: str,
      lastExecutionStatusChangeOn: "DateTime",
      taskExecutionStatuses: list(
        struct({ name: str, status: str, isRunning: "bool", legs: list(SyncLeg) }),
      ),
      runtimeMappingExecutionRequestName: str,
      isDataManagementProject: "bool",
      dataManagementOperation: str,
      tenant: str,
      initialSyncRequestId: str,
      id: str,
      upsertCount: "int",
      errorCount: "int",
      owner: str,
      createdDateTime: "DateTime",
      tags: list("object"),
    }),
  ),
});

/** A `ProjectExecutionRespons` as read. */
export interface ProjectExecutionView {
  legalEntityName: string | null;
  legalEntityId: string | null;
  executionStatus: string | null;
  initialSyncRequestId: string | null;
  id: string | null;
  upsertCount: number;
  errorCount: number;
  taskExecutionStatuses: Array<{
    isRunning: boolean;
    legs: Array<{
      displayName: string | null;
      status: string | null;
      importErrors: Array<{ errorMessage: string | null }> | null;
      exportErrors: Array<{ errorMessage: string | null }> | null;
    }> | null;
  }> | null;
}

/** An `InitialSyncDetails` as read. */
export interface InitialSyncDetailsView {
  projectName: string | null;
  projectExecutionResponses: ProjectExecutionView[] | null;
}
