/**
 * The service document, `$metadata` and the unbound functions of the Dataverse surface.
 *
 * | request | answer |
 * |---|---|
 * | `GET ` (service root) | 200 `{@odata.context, value:[{name, kind:"EntitySet", url}]}` |
 * | `GET $metadata` | 200 CSDL XML: entity types with keys, lookups and the declared columns of `tableSchemas.ts` (other tables: open types) |
 * | `GET WhoAmI` / `WhoAmI()` | 200 `{BusinessUnitId, UserId, OrganizationId}` |
 * | `GET RetrieveFinanceAndOperationsIntegrationDetails` | 200 `{Url, TenantId, Id}` of the F&O environment the org is integrated with in Power Platform (its seeded pair, linked for dual-write or not); 404 `0x80048d0b` when not integrated |
 * | `GET RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default')` | 200 `{Detail:{OrganizationId, FriendlyName, OrganizationVersion, EnvironmentId, UrlName, UniqueName, TenantId, Geo, Endpoints, …}}` |
 * | `GET RetrieveTotalRecordCount(EntityNames=[…])` | 200 `{EntityRecordCountCollection:{Count, Keys, Values}}` |
 */
import type { EmulatorContext } from "../core/context";
import type { EmulatorRequest, EmulatorResponse } from "../core/http";
import { asText } from "../odata/protocol";
import { guidFrom, powerPlatformEnvironmentId } from "../runtime/ids";
import { EDM_TYPE_OF } from "./columnTypes";
import { dataverseErrors } from "./errors";
import { snapshotRecordCount } from "./recordCountSnapshot";
import { type DataverseScope, entitySetInfo } from "./rows";
import { tableSchema } from "./tableSchemas";

const JSON_HEADERS = {
  "Content-Type": "application/json; odata.metadata=minimal",
  "OData-Version": "4.0",
} as const;

/** `GET <root>/`: the entity sets of the org. */
export function serviceDocument(scope: DataverseScope): EmulatorResponse {
  return {
    status: 200,
    headers: { ...JSON_HEADERS },
    body: {
      "@odata.context": `${scope.serviceRoot}/$metadata`,
      value: scope.tables.tableNames().map((name) => ({ name, kind: "EntitySet", url: name })),
    },
  };
}

function xml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/** `GET <root>/$metadata`: a CSDL document with each table's key and lookups. */
export function metadataDocument(scope: DataverseScope): EmulatorResponse {
  const types: string[] = [];
  const sets: string[] = [];
  for (const name of scope.tables.tableNames()) {
    const info = entitySetInfo(scope.tables, name);
    if (!info) continue;
    const navs = Object.entries(info.def.lookups ?? {})
      .map(([nav, l]) => {
        const target = entitySetInfo(scope.tables, l.targetSet);
        return `<Property Name="${xml(l.column)}" Type="Edm.Guid"/><NavigationProperty Name="${xml(nav)}" Type="mscrm.${xml(target?.logicalName ?? l.targetSet)}"/>`;
      })
      .join("");
    // Declared tables list their columns with the Web API's Edm types and are closed types;
    // the others stay open (any column), as the surface treats them.
    const declared = tableSchema(name)?.columns;
    const lookupColumns = new Set(Object.values(info.def.lookups ?? {}).map((l) => l.column));
    const columns = Object.entries(declared ?? {})
      .filter(([column]) => column !== info.primaryKey && !lookupColumns.has(column))
      .map(([column, spec]) => `<Property Name="${xml(column)}" Type="${EDM_TYPE_OF[spec.type]}"/>`)
      .join("");
    types.push(
      `<EntityType Name="${xml(info.logicalName)}"${declared ? "" : ` OpenType="true"`}><Key><PropertyRef Name="${xml(info.primaryKey)}"/></Key><Property Name="${xml(info.primaryKey)}" Type="Edm.Guid" Nullable="false"/>${columns}${navs}</EntityType>`,
    );
    sets.push(
      `<EntitySet Name="${xml(name)}" EntityType="Microsoft.Dynamics.CRM.${xml(info.logicalName)}"/>`,
    );
  }
  const body =
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>` +
    `<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">` +
    types.join("") +
    `<EntityContainer Name="System">${sets.join("")}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`;
  return {
    status: 200,
    headers: { "Content-Type": "application/xml", "OData-Version": "4.0" },
    body: Buffer.from(body),
  };
}

/** The id of the org's organization record: stable per org name. */
export function organizationId(org: string): string {
  return guidFrom("dataverse-organization", org);
}

/** The application user the emulator maps a token's `appid` to: stable per org and app. */
export function applicationUserId(org: string, appId: string): string {
  return guidFrom("dataverse-systemuser", org, appId);
}

/** `GET WhoAmI`: the caller's application user, the root business unit and the organization. */
export function whoAmI(req: EmulatorRequest, scope: DataverseScope): EmulatorResponse {
  return {
    status: 200,
    headers: { ...JSON_HEADERS },
    body: {
      "@odata.context": `${scope.serviceRoot}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
      BusinessUnitId: rootBusinessUnitId(scope),
      UserId: applicationUserId(scope.org, req.claims?.appid ?? "anonymous"),
      OrganizationId: organizationId(scope.org),
    },
  };
}

/** The business unit without a parent (seeded with the org); a stable id when none is seeded. */
function rootBusinessUnitId(scope: DataverseScope): string {
  const info = entitySetInfo(scope.tables, "businessunits");
  if (info) {
    const parentColumn =
      info.def.lookups?.["parentbusinessunitid"]?.column ?? "_parentbusinessunitid_value";
    const root = scope.tables
      .all(info.set)
      .find((r) => r.row[parentColumn] === null || r.row[parentColumn] === undefined);
    if (root) return asText(root.row[info.primaryKey]);
  }
  return guidFrom("dataverse-root-businessunit", scope.org);
}

/** The F&O environment an org is integrated with, as `RetrieveFinanceAndOperationsIntegrationDetails` returns it. */
export interface IntegrationDetails {
  /** The F&O environment's URL. */
  readonly Url: string;
  readonly TenantId: string;
  /** The F&O environment id. */
  readonly Id: string;
}

/** The part of the dual-write runtime this surface calls. */
export interface IntegrationDetailsSource {
  /**
   * The F&O environment a Dataverse org is integrated with (`tenantId`: the caller's tenant), or
   * undefined when it is not integrated.
   */
  integrationDetails(org: string, tenantId: string): IntegrationDetails | undefined;
}

/** The runtime, if `startEmulator` attached one to the context (the field is optional on purpose). */
function runtimeOf(ctx: EmulatorContext): Partial<IntegrationDetailsSource> | undefined {
  return (ctx as EmulatorContext & { runtime?: Partial<IntegrationDetailsSource> }).runtime;
}

/**
 * `GET RetrieveFinanceAndOperationsIntegrationDetails`: the F&O environment the org is integrated
 * with in Power Platform, independent of the dual-write link (its `Id` is the gateway's `cid`,
 * which is how a client finds the cid of an environment that is not linked yet).
 */
export function retrieveIntegrationDetails(
  req: EmulatorRequest,
  scope: DataverseScope,
  runtime?: IntegrationDetailsSource,
): EmulatorResponse {
  const source = runtime ?? runtimeOf(scope.ctx);
  const details = source?.integrationDetails?.(scope.org, req.claims?.tid ?? "");
  if (!details) throw dataverseErrors.notLinked();
  return {
    status: 200,
    headers: { ...JSON_HEADERS },
    body: {
      "@odata.context": `${scope.serviceRoot}/$metadata#Microsoft.Dynamics.CRM.RetrieveFinanceAndOperationsIntegrationDetailsResponse`,
      Url: details.Url,
      TenantId: details.TenantId,
      Id: details.Id,
    },
  };
}

/** The `EndpointAccessType` values (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/endpointaccesstype). */
const endpointAccessTypes = ["Default", "Internet", "Intranet"];

/**
 * `GET RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default')`
 * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrievecurrentorganization,
 * response `{Detail: OrganizationDetail}`,
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/organizationdetail).
 * `EnvironmentId` is the org's Power Platform environment id, a GUID stable per org, which the
 * gateway calls `powerAppsEnvironment`. `Geo` and the version are the emulator's [choice].
 */
export function retrieveCurrentOrganization(
  req: EmulatorRequest,
  scope: DataverseScope,
): EmulatorResponse {
  const m =
    /^RetrieveCurrentOrganization\(\s*AccessType\s*=\s*(?:Microsoft\.Dynamics\.CRM\.)?EndpointAccessType'([A-Za-z]+)'\s*\)$/.exec(
      req.path,
    );
  const accessType = m?.[1];
  if (!accessType || !endpointAccessTypes.includes(accessType)) {
    throw dataverseErrors.badRequest(
      "RetrieveCurrentOrganization needs the parameter AccessType, e.g. RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default').",
    );
  }
  // The org's URL is the service root without `/api/data/v9.x`.
  const orgUrl = scope.serviceRoot.replace(/\/api\/data\/v[\d.]+$/, "");
  const endpoints: Array<[string, string]> = [
    ["WebApplication", `${orgUrl}/`],
    ["OrganizationService", `${orgUrl}/XRMServices/2011/Organization.svc`],
    ["OrganizationDataService", `${orgUrl}/XRMServices/2011/OrganizationData.svc`],
  ];
  return {
    status: 200,
    headers: { ...JSON_HEADERS },
    body: {
      "@odata.context": `${scope.serviceRoot}/$metadata#Microsoft.Dynamics.CRM.RetrieveCurrentOrganizationResponse`,
      Detail: {
        OrganizationId: organizationId(scope.org),
        FriendlyName: scope.org,
        OrganizationVersion: "9.2.24031.1",
        EnvironmentId: powerPlatformEnvironmentId(scope.org),
        DatacenterId: guidFrom("dataverse-datacenter"),
        Geo: "NA",
        TenantId: req.claims?.tid ?? "",
        UrlName: scope.org,
        UniqueName: scope.org,
        State: "Enabled",
        OrganizationType: "Customer",
        SchemaType: "Standard",
        Endpoints: {
          Count: endpoints.length,
          IsReadOnly: false,
          Keys: endpoints.map(([k]) => k),
          Values: endpoints.map(([, v]) => v),
        },
      },
    },
  };
}

/**
 * `GET RetrieveTotalRecordCount(EntityNames=['account','contact'])` (or with a parameter alias,
 * `EntityNames=@p1&@p1=["account"]`): the full row count per logical name.
 * Unlike `$count`, it is not capped at 5,000; it is a snapshot up to 24 hours old
 * (`recordCountSnapshot.ts`).
 */
export function retrieveTotalRecordCount(
  req: EmulatorRequest,
  scope: DataverseScope,
): EmulatorResponse {
  const m = /^RetrieveTotalRecordCount\(\s*EntityNames\s*=\s*(.*?)\s*\)$/s.exec(req.path);
  if (!m) {
    throw dataverseErrors.badRequest(
      "RetrieveTotalRecordCount needs the parameter EntityNames, e.g. RetrieveTotalRecordCount(EntityNames=['account']).",
    );
  }
  let text = m[1] as string;
  if (text.startsWith("@")) text = req.query.get(text) ?? "";
  let names: unknown;
  try {
    names = JSON.parse(text.replace(/'/g, '"'));
  } catch {
    names = undefined;
  }
  if (!Array.isArray(names) || !names.every((n): n is string => typeof n === "string")) {
    throw dataverseErrors.badRequest(
      `EntityNames must be a list of logical names such as ['account','contact']; got ${text || "nothing"}.`,
    );
  }
  const values = names.map((name) => {
    const set = scope.tables
      .tableNames()
      .find((t) => entitySetInfo(scope.tables, t)?.logicalName === name);
    if (!set) {
      throw dataverseErrors.badRequest(
        `The entity with a name = '${name}' with namemapping = 'Logical' was not found in the MetadataCache.`,
      );
    }
    return snapshotRecordCount(scope.tables, set, scope.ctx.clock.now(), () =>
      scope.tables.count(set),
    );
  });
  return {
    status: 200,
    headers: { ...JSON_HEADERS },
    body: {
      "@odata.context": `${scope.serviceRoot}/$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse`,
      EntityRecordCountCollection: {
        Count: names.length,
        IsReadOnly: false,
        Keys: names,
        Values: values,
      },
    },
  };
}
