/**
 * Client of one Finance and Operations environment's OData service (`<financeOperationsUrl>/data/`).
 *
 * | method            | HTTP                                                                  |
 * |-------------------|-----------------------------------------------------------------------|
 * | legalEntities     | GET LegalEntities?$select=LegalEntityId,Name, then each `@odata.nextLink` (shared read) |
 * | createLegalEntity | POST LegalEntities; after an ambiguous answer, GET LegalEntities('<code>') |
 * | count             | GET <set>/$count?cross-company=true&$filter=dataAreaId eq '<code>'    |
 * | list              | GET <set>?…, then each `@odata.nextLink`                              |
 *
 * Tokens are for the audience `<financeOperationsUrl>`. Without `cross-company=true` F&O answers
 * for the caller's default company only, so every company-scoped read here says which it wants.
 */
import { z } from "zod";
import { AmbiguousResponseError, InvalidResponseError } from "../errors";
import { validate, type HttpClient } from "./http";
import { SharedReads } from "./sharedReads";

/** A legal entity (company) of the environment. */
export interface LegalEntity {
  /** Company code, e.g. `USMF`. */
  readonly code: string;
  readonly name: string;
}

/** Which companies a company-scoped query covers. */
export interface CompanyScope {
  /** Query all companies (`cross-company=true`). Ignored when `dataAreaId` is given. */
  readonly crossCompany?: boolean;
  /** One company (its code, any case); implies cross-company with a `dataAreaId` filter. */
  readonly dataAreaId?: string;
  /** An extra OData `$filter` expression. */
  readonly filter?: string;
}

/** Query options of `list`. */
export interface FnoListOptions extends CompanyScope {
  readonly select?: readonly string[];
  readonly orderby?: string;
  /** Rows in all (stops paging once reached). */
  readonly top?: number;
}

const pageSchema = z.object({
  value: z.array(z.record(z.string(), z.unknown())),
  "@odata.nextLink": z.string().optional(),
});

const legalEntitySchema = z.object({
  LegalEntityId: z.string().min(1),
  Name: z.string().nullish(),
});

/** Options of `FnoClient`. */
export interface FnoClientOptions {
  /** Shared-read cache; pass one per process, configuration and environment. @default a new one */
  readonly shared?: SharedReads;
}

/** Client of one F&O environment; see the file comment. */
export class FnoClient {
  /** `<financeOperationsUrl>/data/`. */
  readonly serviceRoot: string;
  /** Shared reads of this client; invalidated by every write through it. */
  readonly shared: SharedReads;
  private readonly scope: string;

  /** @param baseUrl the environment URL, e.g. `https://contoso.operations.dynamics.com` */
  constructor(
    baseUrl: string,
    private readonly http: HttpClient,
    options: FnoClientOptions = {},
  ) {
    const base = baseUrl.replace(/\/+$/, "");
    this.serviceRoot = `${base}/data/`;
    this.scope = `${base}/.default`;
    this.shared = options.shared ?? new SharedReads();
  }

  /**
   * The environment's legal entities, sorted by code. Concurrent and near-simultaneous calls share
   * one read; `fresh` forces a new one.
   */
  async legalEntities(options: { fresh?: boolean } = {}): Promise<LegalEntity[]> {
    return this.shared.read(
      "legalEntities",
      async () => {
        const rows = await this.list("LegalEntities", { select: ["LegalEntityId", "Name"] });
        return rows
          .map((row, i) =>
            validate(legalEntitySchema, row, "GET", `${this.serviceRoot}LegalEntities[${i}]`),
          )
          .map((le) => ({ code: le.LegalEntityId.toUpperCase(), name: le.Name ?? "" }))
          .sort((a, b) => a.code.localeCompare(b.code));
      },
      options,
    );
  }

  /**
   * Creates a legal entity. After an ambiguous answer the company is looked up: present → done;
   * absent → sent once more (a second ambiguous answer is final).
   */
  async createLegalEntity(code: string, name: string): Promise<void> {
    for (let round = 1; ; round++) {
      this.shared.invalidate();
      try {
        await this.http.request({
          method: "POST",
          url: `${this.serviceRoot}LegalEntities`,
          scope: this.scope,
          json: { LegalEntityId: code, Name: name },
          accept: [201, 204],
          idempotent: false,
        });
        return;
      } catch (error) {
        if (!(error instanceof AmbiguousResponseError)) throw error;
        if (await this.hasLegalEntity(code)) return;
        if (round >= 2) throw error;
      } finally {
        this.shared.invalidate();
      }
    }
  }

  /** How many rows of an entity set match, for one company, all companies or the default one. */
  async count(entitySet: string, scope: CompanyScope = {}): Promise<number> {
    const url = this.url(`${entitySet}/$count`, companyParams(scope));
    const response = await this.http.request({
      method: "GET",
      url,
      scope: this.scope,
      accept: [200],
    });
    const n = typeof response.body === "number" ? response.body : Number(response.text.trim());
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidResponseError(
        "GET",
        url,
        `expected a row count, got '${response.text.slice(0, 40)}'`,
      );
    return n;
  }

  /** Every matching row of an entity set, following `@odata.nextLink`. */
  async list(entitySet: string, options: FnoListOptions = {}): Promise<Record<string, unknown>[]> {
    const params = companyParams(options);
    if (options.select?.length) params.$select = options.select.join(",");
    if (options.orderby) params.$orderby = options.orderby;
    let url: string | undefined = this.url(entitySet, params);
    let remaining = options.top ?? Infinity;
    const rows: Record<string, unknown>[] = [];
    while (url !== undefined && remaining > 0) {
      if (!url.startsWith(this.serviceRoot)) {
        throw new InvalidResponseError(
          "GET",
          url,
          `a next-page link leaves the service root ${this.serviceRoot}; not followed`,
        );
      }
      const page: z.output<typeof pageSchema> = await this.http.requestJson(
        { method: "GET", url, scope: this.scope, accept: [200] },
        pageSchema,
      );
      const taken = page.value.slice(0, remaining);
      rows.push(...taken);
      remaining -= taken.length;
      url = page["@odata.nextLink"];
    }
    return rows;
  }

  private async hasLegalEntity(code: string): Promise<boolean> {
    const url = this.url(`LegalEntities('${odataString(code)}')`);
    const response = await this.http.request({
      method: "GET",
      url,
      scope: this.scope,
      accept: [200, 404],
    });
    return response.status === 200;
  }

  private url(path: string, params: Record<string, string> = {}): string {
    const query = Object.entries(params)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join("&");
    return `${this.serviceRoot}${path}${query ? `?${query}` : ""}`;
  }
}

function companyParams(scope: CompanyScope): Record<string, string> {
  const params: Record<string, string> = {};
  const filters: string[] = [];
  if (scope.dataAreaId !== undefined) {
    params["cross-company"] = "true";
    filters.push(`dataAreaId eq '${odataString(scope.dataAreaId.toLowerCase())}'`);
  } else if (scope.crossCompany) {
    params["cross-company"] = "true";
  }
  if (scope.filter) filters.push(filters.length > 0 ? `(${scope.filter})` : scope.filter);
  if (filters.length > 0) params.$filter = filters.join(" and ");
  return params;
}

/** Escapes a value for a single-quoted OData string literal. */
function odataString(value: string): string {
  return value.replace(/'/g, "''");
}
