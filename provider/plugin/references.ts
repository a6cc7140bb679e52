/**
 * Inputs that name another resource (`connection`, `entityMap`), turned into the values the
 * lifecycles take.
 *
 * In `schema.json` a CompanyBootstrap, an EntityMapBinding or an InitialSyncRun takes the resource
 * it belongs to, not copies of its outputs. The dynamic resources copy those outputs in the
 * program (`args.connection.financeOperationsUrl`, …); a plugin receives only a reference, the
 * referenced resource's URN and id (`pulumirpc` ResourceReference). The engine runs one plugin
 * process per provider instance, and a resource is registered only once the resources it names
 * have their id, so by the time a dependent is checked, this process has already checked (and
 * diffed, created or read) the resource it names: {@link SeenResources} keeps, per URN, what
 * that showed, and {@link resolveReferences} reads it back. Nothing here is persisted.
 *
 * | resource         | reference   | values taken from the named resource                                 |
 * |------------------|-------------|----------------------------------------------------------------------|
 * | CompanyBootstrap | connection  | financeOperationsUrl, dataverseUrl, connectionLegalEntities (its declared legal entities) |
 * | EntityMapBinding | connection  | environmentId (the connection's id), financeOperationsUrl, dataverseUrl |
 * | InitialSyncRun   | entityMap   | environmentId, financeOperationsUrl, dataverseUrl, mapName, bindingSyncRequestId (its `lastInitialSync.requestId`); linkedLegalEntities: its connection's declared legal entities |
 */
import type { ResourceKind } from "../dynamic/adapter";
import { containsUnknown, UNKNOWN, type CheckFailure } from "../resources/common/check";
import {
  declaredLegalEntityCodes,
  type LegalEntityDeclaration,
} from "../resources/dualWriteConnection/dualWriteConnection.schema";
import type { Scenario } from "../scenario/scenarios";
import { isResourceRef, type ResourceRef } from "./wire";

/** Which inputs of each resource name another resource, and of which kind. */
export const REFERENCE_INPUTS: Readonly<
  Record<ResourceKind, Readonly<Record<string, ResourceKind>>>
> = {
  DualWriteConnection: {},
  CompanyBootstrap: { connection: "DualWriteConnection" },
  EntityMapBinding: { connection: "DualWriteConnection" },
  InitialSyncRun: { entityMap: "EntityMapBinding" },
};

/** The lifecycle inputs each resource takes from the resources it names (the table above). */
export const DERIVED_INPUTS: Readonly<Record<ResourceKind, readonly string[]>> = {
  DualWriteConnection: [],
  CompanyBootstrap: ["financeOperationsUrl", "dataverseUrl", "connectionLegalEntities"],
  EntityMapBinding: [
    "environmentId",
    "financeOperationsUrl",
    "dataverseUrl",
    "connectionLegalEntities",
  ],
  InitialSyncRun: [
    "environmentId",
    "financeOperationsUrl",
    "dataverseUrl",
    "mapName",
    "linkedLegalEntities",
    "bindingSyncRequestId",
  ],
};

type Values = Record<string, unknown>;

/** What the resources of this process showed, by URN, for the resources that name them. */
export class SeenResources {
  private readonly byUrn = new Map<string, Values>();

  /** Adds (or overwrites) what `urn` shows. */
  remember(urn: string, values: Values): void {
    this.byUrn.set(urn, { ...this.byUrn.get(urn), ...values });
  }

  /** What `urn` showed, or undefined when this process has not seen it. */
  get(urn: string): Values | undefined {
    return this.byUrn.get(urn);
  }
}

/** The outcome of {@link resolveReferences}. */
export interface Resolved {
  /** The derived lifecycle inputs (values may be {@link UNKNOWN} in a preview). */
  readonly values: Values;
  /** One failure per reference input that is missing or names nothing this process knows. */
  readonly failures: CheckFailure[];
}

/** What the lifecycle of `kind` takes from the resources its inputs name (see the file table). */
export function resolveReferences(
  kind: ResourceKind,
  inputs: Readonly<Values>,
  seen: SeenResources,
): Resolved {
  const failures: CheckFailure[] = [];
  const values: Values = {};
  for (const [property, target] of Object.entries(REFERENCE_INPUTS[kind])) {
    const value = inputs[property];
    if (value === UNKNOWN) {
      for (const key of DERIVED_INPUTS[kind]) values[key] = UNKNOWN;
      continue;
    }
    if (!isResourceRef(value)) {
      failures.push({
        property,
        reason:
          value === undefined
            ? `is required: pass the ${target} resource this ${kind} belongs to.`
            : `must be a ${target} resource (a reference to it, e.g. \${myConnection} in YAML), not a ${Array.isArray(value) ? "list" : typeof value}.`,
      });
      continue;
    }
    const shown = seen.get(value.urn);
    if (!shown) {
      failures.push({
        property,
        reason: `names ${value.urn}, which this provider instance does not manage: declare the ${target} in the same stack, with the same provider as this ${kind}.`,
      });
      continue;
    }
    Object.assign(values, derive(kind, value, shown, seen));
  }
  return { values, failures };
}

function derive(kind: ResourceKind, ref: ResourceRef, shown: Values, seen: SeenResources): Values {
  const pick = (from: Values, key: string): unknown => from[key] ?? UNKNOWN;
  switch (kind) {
    case "CompanyBootstrap":
      return {
        financeOperationsUrl: pick(shown, "financeOperationsUrl"),
        dataverseUrl: pick(shown, "dataverseUrl"),
        // The legal entities the connection declares, for the company code's check (absent: it
        // links every legal entity of F&O, or its declaration is not known yet).
        ...(Array.isArray(shown.legalEntityCodes) && {
          connectionLegalEntities: shown.legalEntityCodes,
        }),
      };
    case "EntityMapBinding":
      return {
        // The connection's id is its F&O environment id (the gateway's `cid`).
        environmentId: ref.id,
        financeOperationsUrl: pick(shown, "financeOperationsUrl"),
        dataverseUrl: pick(shown, "dataverseUrl"),
        // The legal entities the connection declares, for the binding's check (not a derived
        // input of the schema's: absent, the binding reads them at the gateway).
        ...(Array.isArray(shown.legalEntityCodes) && {
          connectionLegalEntities: shown.legalEntityCodes,
        }),
      };
    case "InitialSyncRun": {
      const connectionUrn = shown.connectionUrn;
      const connection = typeof connectionUrn === "string" ? seen.get(connectionUrn) : undefined;
      return {
        environmentId: pick(shown, "environmentId"),
        financeOperationsUrl: pick(shown, "financeOperationsUrl"),
        dataverseUrl: pick(shown, "dataverseUrl"),
        mapName: pick(shown, "mapName"),
        // What the connection declares (known in a preview that makes the link), else what it
        // recorded it links.
        linkedLegalEntities: !connection
          ? UNKNOWN
          : Array.isArray(connection.legalEntityCodes)
            ? connection.legalEntityCodes
            : pick(connection, "linkedLegalEntities"),
        // None recorded is a value too (the binding made no sync), not an unknown one.
        ...(typeof shown.bindingSyncRequestId === "string" && {
          bindingSyncRequestId: shown.bindingSyncRequestId,
        }),
      };
    }
    case "DualWriteConnection":
      return {};
  }
}

/** The legal entity codes a connection's values declare, when they are known. */
function legalEntityCodesOf(values: Readonly<Values>): string[] | undefined {
  const { scenario, legalEntities } = values;
  if (containsUnknown(scenario) || containsUnknown(legalEntities)) return undefined;
  const wellFormed =
    legalEntities === undefined ||
    (Array.isArray(legalEntities) &&
      legalEntities.every(
        (le) =>
          typeof le === "string" ||
          (typeof le === "object" && le !== null && typeof (le as Values).code === "string"),
      ));
  if (!wellFormed) return undefined;
  return declaredLegalEntityCodes(
    typeof scenario === "string" ? (scenario as Scenario) : undefined,
    legalEntities as LegalEntityDeclaration[] | undefined,
  );
}

/**
 * What a resource shows to the resources that name it, from its lifecycle values (checked inputs,
 * or outputs). `references` are its own reference inputs (an EntityMapBinding's connection).
 */
export function shownBy(
  kind: ResourceKind,
  values: Readonly<Values>,
  references: Readonly<Values>,
): Values {
  switch (kind) {
    case "DualWriteConnection":
      return {
        financeOperationsUrl: values.financeOperationsUrl,
        dataverseUrl: values.dataverseUrl,
        legalEntityCodes: legalEntityCodesOf(values),
        ...(values.linkedLegalEntities !== undefined && {
          linkedLegalEntities: values.linkedLegalEntities,
        }),
      };
    case "EntityMapBinding": {
      const connection = references.connection;
      return {
        environmentId: values.environmentId,
        financeOperationsUrl: values.financeOperationsUrl,
        dataverseUrl: values.dataverseUrl,
        mapName: values.mapName,
        ...(isResourceRef(connection) && { connectionUrn: connection.urn }),
        ...(typeof syncRequestId(values.lastInitialSync) === "string" && {
          bindingSyncRequestId: syncRequestId(values.lastInitialSync),
        }),
      };
    }
    case "CompanyBootstrap":
    case "InitialSyncRun":
      return {};
  }
}

/** The request id of a binding's `lastInitialSync`, when it has one. */
function syncRequestId(record: unknown): string | undefined {
  if (typeof record !== "object" || record === null) return undefined;
  const id = (record as { requestId?: unknown }).requestId;
  return typeof id === "string" ? id : undefined;
}
