/**
 * DualWriteConnection's plain inputs and outputs, and the zod schemas `check` validates them
 * with (one schema per property, so each bad property gets its own failure).
 */
import { z } from "zod";
import { defaultLegalEntities, SCENARIOS, type Scenario } from "../../scenario/scenarios";
import {
  bool,
  companyCode,
  httpsUrl,
  oneOf,
  strictObject,
  text,
  textOrObject,
  uniqueList,
  type CheckFailure,
  type PropertySchemas,
} from "../common/check";
import {
  adoptWithChangesSchema,
  onDeleteSchema,
  type OnDelete,
  type Ownership,
} from "../common/spec";

/** A legal entity to link: its code, or the code with a name and whether to create it in F&O. */
export type LegalEntityDeclaration = string | LegalEntitySpec;

/** A legal entity with options. */
export interface LegalEntitySpec {
  /** The F&O company code (`dataAreaId`), 1–4 letters or digits. */
  readonly code: string;
  /** The company's name, used when it is created. @default the code */
  readonly name?: string;
  /** Create the legal entity in F&O when it does not exist (first step of `*-existing`). */
  readonly createIfMissing?: boolean;
}

/** DualWriteConnection's inputs as the provider receives them. */
export interface DualWriteConnectionInputs {
  readonly scenario: Scenario;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly legalEntities?: LegalEntityDeclaration[];
  readonly solutions?: string[];
  readonly skipInitialWritesForNewLegalEntities?: boolean;
  readonly forceReset?: boolean;
  /** What delete does: `reset` the link or `leave` it. @default by ownership */
  readonly onDelete?: OnDelete<"reset">;
  /** Accept an adoption that removes legal entities from the link. @default false */
  readonly adoptWithChanges?: boolean;
}

/** DualWriteConnection's outputs: the inputs plus what was observed after converging. */
export interface DualWriteConnectionOutputs extends DualWriteConnectionInputs {
  /** The F&O environment id the gateway knows the link by (`cid`). */
  readonly environmentId: string;
  /** The gateway's connection set name (`cname`). */
  readonly connectionSetName: string;
  /** The legal entity codes the link holds, upper case, sorted. */
  readonly linkedLegalEntities: string[];
  /** The orchestration solutions applied on the link (declared or default). */
  readonly appliedSolutions: string[];
  /** Whether this resource made the link or adopted one that existed. */
  /** Absent in a state written before ownership was recorded: it counts as `created`. */
  readonly ownership?: Ownership;
}

/** Dual-write runs initial writes for at most this many legal entities (DW/edit-legal-entity.md). */
export const MAX_LEGAL_ENTITIES_WITH_INITIAL_WRITES = 40;
/** A link holds at most this many legal entities (DW/dual-write-troubleshooting-initial-setup.md). */
export const MAX_LEGAL_ENTITIES = 250;

const legalEntitySpec = strictObject(
  {
    code: companyCode,
    name: text("the company's name", "Contoso ABC")
      .min(1, { error: "is empty; give the company's name or leave it out" })
      .max(60, {
        error: "is longer than 60 characters, the longest company name F&O accepts",
      })
      .optional(),
    createIfMissing: bool.optional(),
  },
  "a legal entity object",
);

const solutionName = text("a solution unique name", "msdyn_DualWriteAppCoreMaps").regex(
  /^[A-Za-z][A-Za-z0-9_]*$/,
  {
    error: (i) =>
      `${JSON.stringify(i.input)} is not a solution unique name (letters, digits and _, e.g. msdyn_DualWriteAppCoreMaps)`,
  },
);

/** One zod schema per input property. */
export const connectionSchemas = {
  scenario: oneOf(SCENARIOS),
  financeOperationsUrl: httpsUrl("https://contoso.operations.dynamics.com"),
  dataverseUrl: httpsUrl("https://contoso.crm.dynamics.com"),
  legalEntities: uniqueList(
    textOrObject(
      companyCode,
      legalEntitySpec,
      'a company code such as "USMF" or { code: "USMF", createIfMissing: true }',
    ),
    "legal entities",
    legalEntityCode,
  ).optional(),
  solutions: uniqueList(solutionName, "solutions").optional(),
  skipInitialWritesForNewLegalEntities: bool.optional(),
  forceReset: bool.optional(),
  onDelete: onDeleteSchema("reset"),
  adoptWithChanges: adoptWithChangesSchema,
} satisfies PropertySchemas & Record<keyof DualWriteConnectionInputs, z.ZodType>;

/** The code of a declared legal entity, upper case (F&O compares `dataAreaId` without case). */
export function legalEntityCode(declaration: LegalEntityDeclaration): string {
  return (typeof declaration === "string" ? declaration : declaration.code).toUpperCase();
}

/**
 * The legal entity codes a connection declares (upper case, sorted), its scenario's default when
 * it declares none; undefined when it links every legal entity of F&O (the default of an existing
 * F&O environment), which only the environment can tell. What a binding checks its company codes
 * against before the link exists.
 */
export function declaredLegalEntityCodes(
  scenario: Scenario | undefined,
  legalEntities: readonly LegalEntityDeclaration[] | undefined,
): string[] | undefined {
  const codes =
    legalEntities?.map(legalEntityCode) ??
    (scenario !== undefined && (SCENARIOS as readonly string[]).includes(scenario)
      ? defaultLegalEntities(scenario)
      : undefined);
  return codes && [...new Set(codes)].sort();
}

/** The declared legal entity as an object. */
export function legalEntitySpecOf(declaration: LegalEntityDeclaration): LegalEntitySpec {
  return typeof declaration === "string"
    ? { code: declaration.toUpperCase() }
    : { ...declaration, code: declaration.code.toUpperCase() };
}

/**
 * Rules between properties, on values that passed their own schemas (`values` holds only
 * those; unknown and failed properties are absent).
 */
export function crossPropertyFailures(values: Partial<DualWriteConnectionInputs>): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const fo = values.financeOperationsUrl;
  const dv = values.dataverseUrl;
  if (fo !== undefined && dv !== undefined && sameUrl(fo, dv)) {
    failures.push({
      property: "dataverseUrl",
      reason:
        "dataverseUrl is the same address as financeOperationsUrl; give the Dataverse environment's own URL (…crm.dynamics.com).",
    });
  }
  const les = values.legalEntities;
  if (les !== undefined) {
    if (les.length > MAX_LEGAL_ENTITIES) {
      failures.push({
        property: "legalEntities",
        reason: `legalEntities lists ${les.length} legal entities; a dual-write link holds at most ${MAX_LEGAL_ENTITIES}. Split them across environments.`,
      });
    } else if (
      les.length > MAX_LEGAL_ENTITIES_WITH_INITIAL_WRITES &&
      values.skipInitialWritesForNewLegalEntities !== true
    ) {
      failures.push({
        property: "legalEntities",
        reason:
          `legalEntities lists ${les.length} legal entities, but dual-write runs initial writes for at most ` +
          `${MAX_LEGAL_ENTITIES_WITH_INITIAL_WRITES}. Link at most ${MAX_LEGAL_ENTITIES_WITH_INITIAL_WRITES}, or set ` +
          "skipInitialWritesForNewLegalEntities: true and copy the data with InitialSyncRun resources of at most 40 legal entities each.",
      });
    } else if (les.length === 0) {
      failures.push({
        property: "legalEntities",
        reason:
          "legalEntities is empty; list at least one legal entity (e.g. DAT), or leave it out for the scenario's default.",
      });
    }
  }
  return failures;
}

/** Whether two environment URLs name the same environment (case and trailing `/` ignored). */
export function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, "").toLowerCase() === b.replace(/\/+$/, "").toLowerCase();
}
