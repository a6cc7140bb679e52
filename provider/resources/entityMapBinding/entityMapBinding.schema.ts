/**
 * EntityMapBinding's plain inputs and outputs and the zod schemas `check` validates them with.
 */
import { z } from "zod";
import {
  bool,
  httpsUrl,
  oneOf,
  show,
  text,
  uniqueList,
  type PropertySchemas,
} from "../common/check";

/** The states a map can be declared in. */
export const DESIRED_STATES = ["Running", "Paused", "Stopped"] as const;
/** A declared map state. */
export type DesiredState = (typeof DESIRED_STATES)[number];

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
}

/** EntityMapBinding's outputs: the inputs plus the map as observed after converging. */
export interface EntityMapBindingOutputs extends EntityMapBindingInputs {
  /** The gateway's map id (`tid`). */
  readonly mapId: string;
  /** The runtime project id (`pid`, `DWM-…`). */
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
} satisfies PropertySchemas & Record<keyof EntityMapBindingInputs, z.ZodType>;
