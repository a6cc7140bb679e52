/**
 * InitialSyncRun's plain inputs and outputs and the zod schemas `check` validates them with.
 */
import { z } from "zod";
import {
  bool,
  companyCode,
  httpsUrl,
  oneOf,
  text,
  uniqueList,
  type PropertySchemas,
} from "../common/check";

/** Which side wins when a row exists on both during the initial sync. */
export const MASTERS = ["Dataverse", "FinanceOperations"] as const;
/** An initial-sync master. */
export type Master = (typeof MASTERS)[number];

/** At most this many legal entities take part in one initial sync (DW/initial-sync-guidance.md). */
export const MAX_LEGAL_ENTITIES_PER_RUN = 40;
/** Rows per legal entity per run (DW/initial-sync-guidance.md). */
export const MAX_ROWS_PER_LEGAL_ENTITY = 500_000;
/** Rows above which a Dataverse → F&O leg is not advised for single-threaded tables. */
export const MAX_DATAVERSE_TO_FO_ROWS = 70_000;
/** Maps with this many lookups or more cannot initial-sync from Dataverse. */
export const MAX_LOOKUPS_FROM_DATAVERSE = 10;

/** InitialSyncRun's inputs as the provider receives them (the binding's outputs included). */
export interface InitialSyncRunInputs {
  readonly environmentId: string;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly mapName: string;
  readonly master: Master;
  /** Whose results are reported (a run always covers every legal entity of the link). */
  readonly legalEntities?: string[];
  /** The link's legal entities, as the connection declares them: what a run covers. */
  readonly linkedLegalEntities?: string[];
  readonly trigger?: string;
  /**
   * Wait until the job ends (the default), or return once it has started and let a later `up` or
   * `refresh` collect its result.
   */
  readonly waitForCompletion?: boolean;
  /**
   * The request id of the initial sync the map's binding recorded (`lastInitialSync.requestId`):
   * a new run adopts only a job newer than it. Derived from `entityMap`.
   */
  readonly bindingSyncRequestId?: string;
}

/** What one legal entity's initial sync did. */
export interface LegalEntityRunResult {
  readonly legalEntity: string;
  /** The gateway's `executionStatus` text, as reported (not interpreted). */
  readonly status: string;
  readonly upserted: number;
  readonly errors: number;
  readonly total: number;
  readonly firstErrors: string[];
}

/** Rows counted before the run, per legal entity. */
export interface MeasuredCounts {
  readonly financeOperations: Record<string, number>;
  readonly dataverse: Record<string, number>;
}

/** InitialSyncRun's outputs. */
export interface InitialSyncRunOutputs extends InitialSyncRunInputs {
  /** The gateway request id of the run (the last one, after a `trigger` change ran it again). */
  readonly requestId: string;
  /**
   * `Succeeded`; `Running` when the job was not waited for (`waitForCompletion: false`) and not
   * collected yet; `Failed` when a later `refresh` found it failed. A failed run that `up` waited
   * for raises an error and is not recorded.
   */
  readonly status: RunStatus;
  /** Whether the job was found at the gateway (started by an interrupted `up`) rather than started. */
  readonly adopted: boolean;
  /** Per legal entity: rows upserted, errors, the first errors. */
  readonly results: LegalEntityRunResult[];
  /** What the pre-flight counted in both environments. */
  readonly measuredCounts: MeasuredCounts;
  /** When the run was seen ended (ISO 8601); absent while it runs. */
  readonly finishedAt?: string;
}

/** Where a recorded run stands. */
export type RunStatus = "Running" | "Succeeded" | "Failed";

/** One zod schema per input property. */
export const initialSyncRunSchemas = {
  environmentId: text(
    "the connection's environment id",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
  ).min(1, {
    error: "is empty; pass the EntityMapBinding resource as `entityMap`",
  }),
  financeOperationsUrl: httpsUrl("https://contoso.operations.dynamics.com"),
  dataverseUrl: httpsUrl("https://contoso.crm.dynamics.com"),
  mapName: text("a map name", "accounts - Customers V3").refine((v) => v.trim() !== "", {
    error: "is empty; pass the EntityMapBinding resource as `entityMap`",
  }),
  master: oneOf(MASTERS),
  legalEntities: uniqueList(companyCode, "legal entities")
    .refine((l) => l.length > 0, {
      error:
        "is empty; list the legal entities whose results to report, or leave it out for all of the link's",
    })
    .refine((l) => l.length <= MAX_LEGAL_ENTITIES_PER_RUN, {
      error: (i) =>
        `lists ${(i.input as unknown[]).length} legal entities; an initial sync takes at most ${MAX_LEGAL_ENTITIES_PER_RUN}, and it covers every legal entity of the link: link at most ${MAX_LEGAL_ENTITIES_PER_RUN}`,
    })
    .optional(),
  linkedLegalEntities: z
    .array(z.string({ error: "must be a list of company codes" }), {
      error: "must be a list of company codes",
    })
    .optional(),
  trigger: text("any text; change it to run again", "2026-11-24")
    .max(200, { error: "is longer than 200 characters; a date or a short label is enough" })
    .optional(),
  waitForCompletion: bool.optional(),
  bindingSyncRequestId: z.string({ error: "must be a request id" }).optional(),
} satisfies PropertySchemas & Record<keyof InitialSyncRunInputs, z.ZodType>;
