/**
 * EntityMapBinding's plain inputs and outputs and the zod schemas `check` validates them with.
 */
import { z } from "zod";
import {
  bool,
  companyCode,
  httpsUrl,
  oneOf,
  show,
  strictObject,
  text,
  uniqueList,
  type PropertySchemas,
} from "../common/check";
import {
  MASTERS,
  MAX_LEGAL_ENTITIES_PER_RUN,
  type LegalEntityRunResult,
  type Master,
  type MeasuredCounts,
  type RunStatus,
} from "../initialSyncRun/initialSyncRun.schema";
import {
  adoptWithChangesSchema,
  onDeleteSchema,
  type OnDelete,
  type Ownership,
} from "../common/spec";

/** The states a map can be declared in. */
export const DESIRED_STATES = ["Running", "Paused", "Stopped"] as const;
/** A declared map state. */
export type DesiredState = (typeof DESIRED_STATES)[number];

/**
 * A map configured with initial sync, as Microsoft's tool configures one (a map's `initialSync`
 * and `master`): its start from Stopped is the initial sync.
 */
export interface BindingInitialSync {
  /** Which side wins where a row exists on both. */
  readonly master: Master;
  /** Whose results to report (the sync covers every legal entity of the link). */
  readonly legalEntities?: string[];
  /** Any text; changing it (or `master`) syncs a running map again. */
  readonly trigger?: string;
  /**
   * Wait until the sync ends (the default), or return once it has started; the next `up` or
   * `refresh` collects the result.
   */
  readonly waitForCompletion?: boolean;
}

/** The initial sync a binding made, as recorded in its outputs. */
export interface BindingSyncRecord {
  /** The gateway request of the start with initial sync. */
  readonly requestId: string;
  readonly master: Master;
  readonly trigger?: string;
  /**
   * `Succeeded`; `Running` while a sync not waited for is not collected; `Failed` once a
   * `refresh` found it failed.
   */
  readonly status: RunStatus;
  /** Whether the sync was found at the gateway (started by an interrupted `up`) rather than started. */
  readonly adopted: boolean;
  /** Per legal entity: rows upserted, errors, the first errors. */
  readonly results: LegalEntityRunResult[];
  /** What the pre-flight counted in both environments. */
  readonly measuredCounts: MeasuredCounts;
  /** When the map was seen leaving InitialSync (ISO 8601); absent while it runs. */
  readonly finishedAt?: string;
}

/** EntityMapBinding's inputs as the provider receives them (connection outputs included). */
export interface EntityMapBindingInputs {
  /** The connection's F&O environment id (`cid`); unknown in a preview that creates the link. */
  readonly environmentId: string;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly mapName: string;
  readonly version?: string;
  readonly author?: string;
  readonly integrationKeys?: string[];
  readonly state?: DesiredState;
  readonly startPrerequisites?: boolean;
  readonly initialSync?: BindingInitialSync;
  /** What delete does: `stop` the map or `leave` it. @default by ownership */
  readonly onDelete?: OnDelete<"stop">;
  /** Accept an adoption that stops or switches a running map. @default false */
  readonly adoptWithChanges?: boolean;
  /**
   * The legal entities the connection declares (codes, upper case; its scenario's default when it
   * declares none), from the connection; absent when it links every legal entity of F&O.
   */
  readonly connectionLegalEntities?: string[];
  /**
   * The concrete version `version` stands for, added by `check` (`latest`: the newest published
   * now), so that the state keeps it and a newly published version shows as a change.
   */
  readonly resolvedVersion?: string;
}

/** EntityMapBinding's outputs: the inputs plus the map as observed after converging. */
export interface EntityMapBindingOutputs extends EntityMapBindingInputs {
  /** The gateway's `tid`: the ACTIVE template (version) id; it changes when the version changes. */
  readonly mapId: string;
  /** The runtime project id (`pid`); empty until the map is initialized. */
  readonly projectId: string;
  /** The map's state as observed, e.g. `Running`. */
  readonly observedState: string;
  /** The active map version, e.g. `1.0.0.5`. */
  readonly activeVersion: string;
  /** The publisher of the active version. */
  readonly activeAuthor: string;
  /** The integration keys in effect for the map's Dataverse table. */
  readonly integrationKeysInEffect: string[];
  /** The Dataverse entity set the map writes. */
  readonly dataverseEntitySet: string;
  /** The F&O entity the map reads. */
  readonly financeOperationsEntity: string;
  /** The maps this one needs Running first, in start order. */
  readonly prerequisiteMaps: string[];
  /**
   * The last initial sync this binding started (with `initialSync`); absent when it made none
   * (e.g. it adopted a map that was running already).
   */
  readonly lastInitialSync?: BindingSyncRecord;
  /** `created` when this binding brought the map into service, `adopted` when it found it running. */
  /** Absent in a state written before ownership was recorded: it counts as `created`. */
  readonly ownership?: Ownership;
}

const VERSION = /^\d+(\.\d+){3}$/;
const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** One zod schema per input property. */
export const entityMapBindingSchemas = {
  environmentId: text(
    "the connection's environment id",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
  ).min(1, {
    error: "is empty; pass the DualWriteConnection resource as `connection`",
  }),
  financeOperationsUrl: httpsUrl("https://contoso.operations.dynamics.com"),
  dataverseUrl: httpsUrl("https://contoso.crm.dynamics.com"),
  mapName: text("a map name as the dual-write workspace shows it", "accounts - Customers V3")
    .refine((v) => v.trim() !== "", {
      error: 'is empty; give the map\'s name, e.g. "accounts - Customers V3"',
    })
    .refine((v) => v.length <= 200, {
      error: "is longer than 200 characters; no dual-write map name is",
    }),
  version: text('"latest" or a map version', "1.0.0.5")
    .refine((v) => v === "latest" || VERSION.test(v), {
      error: (i) =>
        `must be "latest" or a four-part map version such as "1.0.0.5"; got ${show(i.input)}`,
    })
    .optional(),
  author: text("a map publisher", "Microsoft")
    .refine((v) => v.trim() !== "", {
      error: 'is empty; give the publisher (e.g. "Microsoft") or leave it out',
    })
    .optional(),
  integrationKeys: uniqueList(
    text("a Dataverse column or lookup path", "msdyn_company.cdm_companycode").refine(
      (v) => FIELD_PATH.test(v),
      {
        error: (i) =>
          `${show(i.input)} is not a column name or lookup path (e.g. accountnumber or msdyn_company.cdm_companycode)`,
      },
    ),
    "integration keys",
  )
    .refine((keys) => keys.length > 0, {
      error: "is empty; list the key columns, or leave it out to keep the map's keys",
    })
    .optional(),
  state: oneOf(DESIRED_STATES).optional(),
  startPrerequisites: bool.optional(),
  initialSync: strictObject(
    {
      master: oneOf(MASTERS),
      legalEntities: uniqueList(companyCode, "legal entities")
        .refine((l) => l.length > 0, {
          error:
            "is empty; list the legal entities whose results to report, or leave it out for all of the link's",
        })
        .refine((l) => l.length <= MAX_LEGAL_ENTITIES_PER_RUN, {
          error: `lists more than ${MAX_LEGAL_ENTITIES_PER_RUN} legal entities; an initial sync takes at most ${MAX_LEGAL_ENTITIES_PER_RUN}`,
        })
        .optional(),
      trigger: text("any text; change it to sync again", "2026-11-24")
        .max(200, { error: "is longer than 200 characters; a date or a short label is enough" })
        .optional(),
      waitForCompletion: bool.optional(),
    },
    'an initial-sync choice such as { master: "FinanceOperations" }',
  ).optional(),
  onDelete: onDeleteSchema("stop"),
  adoptWithChanges: adoptWithChangesSchema,
  connectionLegalEntities: uniqueList(companyCode, "legal entities").optional(),
  resolvedVersion: text("a four-part map version", "1.0.0.5")
    .refine((v) => VERSION.test(v), {
      error: (i) => `must be a four-part map version such as "1.0.0.5"; got ${show(i.input)}`,
    })
    .optional(),
} satisfies PropertySchemas & Record<keyof EntityMapBindingInputs, z.ZodType>;
