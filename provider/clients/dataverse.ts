/**
 * Client of one Dataverse environment's Web API (`<dataverseUrl>/api/data/v9.2/`).
 *
 * | method          | HTTP                                                                   |
 * |-----------------|------------------------------------------------------------------------|
 * | list / pages    | GET <set>?$select&$filter&$orderby&$top, `Prefer: odata.maxpagesize`, then each `@odata.nextLink` |
 * | keyPages        | as pages, `$select` of one key column, read from the bytes (`keyPage.ts`) |
 * | count / countRows | GET <set>?$select=<pk>&$count=true, pages of 5,000 keys with `@odata.nextLink` above 5,000 (exact) |
 * | countCapped     | GET <set>?$count=true, one row per page (one request; exact below 5,000; shared read) |
 * | sample          | GET <set>?$select&$filter&$count=true, a page of the first few rows (one request: the count, capped at 5,000, and those rows; shared read) |
 * | listShared      | as list, shared with the other resources of the process (`sharedReads.ts`) |
 * | createOnce      | PATCH <set>(<id>) with If-None-Match: * (a create a retry cannot repeat) |
 * | get             | GET <set>(<id>)                                                        |
 * | create          | POST <set> → 204 + OData-EntityId                                      |
 * | update          | PATCH <set>(<id>) with If-Match (default `*`: never creates)           |
 * | updateMultiple / updateEach | POST <set>/Microsoft.Dynamics.CRM.UpdateMultiple, ≤ 1,000 per call; `$batch` of PATCHes where unsupported |
 * | batch           | POST $batch (≤ 1,000 requests per call)                                |
 * | whoAmI          | GET WhoAmI                                                             |
 * | integrationDetails | GET RetrieveFinanceAndOperationsIntegrationDetails                  |
 * | currentOrganization | GET RetrieveCurrentOrganization(AccessType=…'Default')            |
 *
 * Every write (create, update, `UpdateMultiple`, `$batch`) forgets the shared reads it can change
 * (those of the table it writes and those that expand; a `$batch` all of them), so that no reader
 * sees rows older than a write made through this client.
 *
 * Tokens are for the audience `<dataverseUrl>`. A `@odata.nextLink` must stay on this
 * environment's service root: the client never sends its token to another address.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { DualWriteError, HttpError, InvalidResponseError } from "../errors";
import { validate, type HttpClient } from "./http";
import {
  KeyPageSyntaxError,
  readCountPage,
  readKeyPage,
  type CountPage,
  type KeyPage,
} from "./keyPage";
import { SharedReads } from "./sharedReads";
import {
  parseBatchResponse,
  writeBatch,
  type BatchRequest,
  type BatchResponse,
} from "./odataBatch";

/** A Dataverse row as JSON. */
export type Row = Record<string, unknown>;

/** Query options of `list`. */
export interface ListOptions {
  readonly select?: readonly string[];
  /** An OData `$filter` expression. */
  readonly filter?: string;
  readonly orderby?: string;
  /** `$expand`, as written. */
  readonly expand?: string;
  /** Rows in all (stops paging once reached). */
  readonly top?: number;
  /** Rows per page (`Prefer: odata.maxpagesize`, ≤ 5,000). @default 5000 */
  readonly pageSize?: number;
}

/** Dataverse's page and `$count` ceiling. */
const MAX_PAGE = 5000;
/** Most requests in one `$batch`, and most targets of one `UpdateMultiple`. */
export const DATAVERSE_BATCH_LIMIT = 1000;

/** Whether a value is a row (a JSON object). */
function isRow(v: unknown): v is Row {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A page's rows: an array of JSON objects, checked in one pass without being copied. A page holds
 * up to 5,000 rows and a large read goes through many of them; a schema per row (zod's array of
 * objects) copies the array and allocates per row — 50 MB of garbage for a 200,000-row
 * CompanyBootstrap.
 */
const rowsSchema = z.custom<Row[]>(
  (v) => Array.isArray(v) && v.every(isRow),
  "an array of rows (JSON objects)",
);

const pageSchema = z.object({
  value: rowsSchema,
  "@odata.nextLink": z.string().optional(),
  "@odata.count": z.number().int().optional(),
  "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded": z.boolean().optional(),
});

/** A page read only to be counted: its rows are not looked into (nor copied). */
const countPageSchema = z.object({
  value: z.custom<unknown[]>((v) => Array.isArray(v), "an array"),
  "@odata.nextLink": z.string().optional(),
  "@odata.count": z.number().int().optional(),
  "@Microsoft.Dynamics.CRM.totalrecordcount": z.number().int().optional(),
  "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded": z.boolean().optional(),
});

/**
 * The preference that makes Dataverse say whether `@odata.count` hit its 5,000 cap ("Count rows
 * using OData", https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows):
 * without it the annotations are not sent and a count of 5,000 cannot be told from more.
 */
const COUNT_ANNOTATIONS =
  'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"';

/** A count of rows and what it cost. */
export interface RowCount {
  /** Rows that match; when `exact` is false, the table holds at least this many. */
  readonly rows: number;
  /**
   * Whether `rows` is the exact number. Always true from `countRows`; from `countCapped`, false
   * when the service's 5,000 cap was reached.
   */
  readonly exact: boolean;
  /** HTTP requests the count took. */
  readonly requests: number;
}

/** A count for people: `"600,000"`, or `"at least 5,000"` when it is not exact. */
export function describeRowCount(count: RowCount): string {
  const n = count.rows.toLocaleString("en-US");
  return count.exact ? n : `at least ${n}`;
}

const whoAmISchema = z.object({
  UserId: z.string(),
  BusinessUnitId: z.string(),
  OrganizationId: z.string(),
});

const integrationDetailsSchema = z.object({
  Url: z.string(),
  TenantId: z.string(),
  Id: z.string(),
});

// https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrievecurrentorganization
// (RetrieveCurrentOrganizationResponse.Detail is an OrganizationDetail complex type).
const currentOrganizationSchema = z.object({
  Detail: z.object({
    OrganizationId: z.string(),
    FriendlyName: z.string().nullish(),
    /** The Power Platform environment id (a GUID), which the dual-write gateway names environments by. */
    EnvironmentId: z.string().min(1),
    UrlName: z.string().nullish(),
    UniqueName: z.string().nullish(),
    TenantId: z.string().nullish(),
  }),
});

/** What `currentOrganization` returns (the members the provider reads). */
export type CurrentOrganization = z.output<typeof currentOrganizationSchema>["Detail"];

/** Options of `DataverseClient`. */
export interface DataverseClientOptions {
  /** Web API version. @default "v9.2" */
  readonly apiVersion?: string;
  /** Reads shared with the other resources of the process. @default a private set */
  readonly shared?: SharedReads;
}

/** What {@link DataverseClient.sample} returns: the first rows and how many match. */
export interface RowSample {
  /** The first rows that match (at most the `top` asked for). */
  readonly rows: Row[];
  /** How many rows match, capped at 5,000 (`exact` false above). */
  readonly count: RowCount;
}

/** Client of one Dataverse environment; see the file comment. */
export class DataverseClient {
  /** Service root, with a trailing slash: `<dataverseUrl>/api/data/v9.2/`. */
  readonly serviceRoot: string;
  private readonly scope: string;
  private readonly shared: SharedReads;
  /**
   * Where `UpdateMultiple` bodies are written, reused from call to call: a body of 1,000 targets
   * is ~200 KB, and a new buffer per call is memory that V8 gives back only when it next collects
   * — which buffers alone make it do only every 64 MB.
   */
  private bodyStore: Buffer | undefined;

  /** @param baseUrl the environment URL, e.g. `https://contoso.crm.dynamics.com` */
  constructor(
    baseUrl: string,
    private readonly http: HttpClient,
    options: DataverseClientOptions = {},
  ) {
    const base = baseUrl.replace(/\/+$/, "");
    this.serviceRoot = `${base}/api/data/${options.apiVersion ?? "v9.2"}/`;
    this.scope = `${base}/.default`;
    this.shared = options.shared ?? new SharedReads();
  }

  /**
   * As {@link list}, shared with every reader of the same query in this process (a read in
   * flight is joined, a recent result reused; `sharedReads.ts`): for small reference tables that
   * several resources look up in one operation, such as `cdm_companies` or `businessunits`.
   * With `fresh`, reads now (and later readers share that result).
   */
  async listShared(
    set: string,
    options: ListOptions = {},
    how: { fresh?: boolean } = {},
  ): Promise<Row[]> {
    const key = `${set} list ${JSON.stringify(options)}`;
    return this.shared.read(key, () => this.list(set, options), how);
  }

  /** Every row of a set that matches, following `@odata.nextLink` page by page. */
  async list(set: string, options: ListOptions = {}): Promise<Row[]> {
    const rows: Row[] = [];
    for await (const page of this.pages(set, options)) rows.push(...page);
    return rows;
  }

  /** The rows of a set, one page at a time (for large sets that need not sit in memory at once). */
  async *pages(set: string, options: ListOptions = {}): AsyncGenerator<Row[]> {
    const pageSize = Math.min(options.pageSize ?? MAX_PAGE, MAX_PAGE);
    const params: Record<string, string> = {};
    if (options.select?.length) params.$select = options.select.join(",");
    if (options.filter) params.$filter = options.filter;
    if (options.orderby) params.$orderby = options.orderby;
    if (options.expand) params.$expand = options.expand;
    let url: string | undefined = this.url(set, params);
    let remaining = options.top ?? Infinity;
    while (url !== undefined && remaining > 0) {
      const page = await this.getPage(url, pageSize);
      const rows = page.value.length <= remaining ? page.value : page.value.slice(0, remaining);
      remaining -= rows.length;
      if (rows.length > 0) yield rows;
      url = page["@odata.nextLink"];
    }
  }

  /**
   * The keys of the rows of a set that match, one page (up to 5,000) at a time, as {@link pages}
   * with `$select` of `key` alone: each page's keys are read from its bytes (`keyPage.ts`), so no
   * page text and no row object is made. For large sets read only for their keys (the stamping of
   * a CompanyBootstrap); a row whose key is not a string is left out.
   */
  async *keyPages(
    set: string,
    key: string,
    options: { filter?: string; pageSize?: number } = {},
  ): AsyncGenerator<string[]> {
    const pageSize = Math.min(options.pageSize ?? MAX_PAGE, MAX_PAGE);
    const params: Record<string, string> = { $select: key };
    if (options.filter) params.$filter = options.filter;
    let url: string | undefined = this.url(set, params);
    while (url !== undefined) {
      const page = await this.getKeyPage(url, pageSize, key);
      if (page.keys.length > 0) yield page.keys;
      url = page.nextLink;
    }
  }

  /**
   * How many rows of a set match, exactly, at any volume: {@link countRows}'s `rows`.
   * @param primaryKey the set's key column (the only column read).
   *   @default the set name without its plural ending, plus `id` (`accounts` → `accountid`)
   */
  async count(set: string, filter?: string, primaryKey?: string): Promise<number> {
    return (await this.countRows(set, filter, primaryKey)).rows;
  }

  /**
   * How many rows of a set match — always exact — with the fewest requests the Web API allows.
   * `@odata.count` is exact up to 5,000 ("Count rows using OData"); above that the only exact
   * documented way is to read the rows, so the first request is also the first page of the
   * rows' keys: `$select` of the primary key alone, pages of 5,000 (the largest,
   * `odata.maxpagesize`), `$count=true` and the count annotations. Up to 5,000 rows that one
   * request is the answer; above, the pages are followed and their rows counted: ⌈N / 5,000⌉
   * requests for N rows. (`RetrieveTotalRecordCount` is unfiltered and up to 24 hours old;
   * aggregate queries stop at 50,000 rows — neither is exact.)
   * @param primaryKey the set's key column (the only column read).
   *   @default the set name without its plural ending, plus `id` (`accounts` → `accountid`)
   */
  async countRows(set: string, filter?: string, primaryKey?: string): Promise<RowCount> {
    const params: Record<string, string> = {
      $select: primaryKey ?? defaultPrimaryKey(set),
      $count: "true",
    };
    if (filter) params.$filter = filter;
    // Pages of keys are counted from their bytes (`keyPage.ts`): neither their text nor their
    // rows are made.
    const first = await this.getCountedPage(this.url(set, params));
    const counted = first.count;
    const capped = first.countLimitExceeded;
    // Below the cap the count is exact; at exactly 5,000 the annotation tells whether it is.
    if (counted !== undefined && (counted < MAX_PAGE || capped === false))
      return { rows: counted, exact: true, requests: 1 };
    let rows = first.rows;
    let requests = 1;
    let next = first.nextLink;
    while (next !== undefined) {
      const page = await this.getCountedPage(next);
      requests++;
      rows += page.rows;
      next = page.nextLink;
    }
    return { rows, exact: true, requests };
  }

  /**
   * One request: `$count=true` with a one-row page. Exact below 5,000; at the cap `exact` is
   * false and `rows` is 5,000 ("at least"). For checks that only need "none", "some" or "at least
   * 5,000" (e.g. whether an environment has data).
   */
  async countCapped(set: string, filter?: string): Promise<RowCount> {
    const params: Record<string, string> = { $count: "true" };
    if (filter) params.$filter = filter;
    const url = this.url(set, params);
    // Shared (`sharedReads.ts`): a bootstrap's check, diff and create ask the same counts in one
    // operation; any write through this client forgets them, so a count after our own write is new.
    const page = await this.shared.read(`${set} count ${url}`, () => this.getCountPage(url, 1));
    const counted = page["@odata.count"];
    if (counted === undefined)
      throw new InvalidResponseError("GET", url, "no @odata.count in the answer");
    const exceeded =
      page["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] ?? counted >= MAX_PAGE;
    return { rows: counted, exact: !exceeded, requests: 1 };
  }

  /**
   * One request for the first `top` rows that match and how many match: `$count=true` with a page
   * of `top` rows ("Count rows using OData": `@odata.count` is exact up to 5,000, and the limit
   * annotation says when it is capped). For reports that show a count and the first few keys.
   */
  async sample(
    set: string,
    options: { select: readonly string[]; filter?: string; top: number },
  ): Promise<RowSample> {
    const params: Record<string, string> = { $select: options.select.join(","), $count: "true" };
    if (options.filter) params.$filter = options.filter;
    const url = this.url(set, params);
    const pageSize = Math.max(1, Math.min(options.top, MAX_PAGE));
    // Shared as countCapped's counts are: the same report is asked in check, diff and create.
    const page = await this.shared.read(`${set} sample ${pageSize} ${url}`, () =>
      this.getCountPage(url, pageSize),
    );
    const counted = page["@odata.count"];
    if (counted === undefined)
      throw new InvalidResponseError("GET", url, "no @odata.count in the answer");
    const exceeded =
      page["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] ?? counted >= MAX_PAGE;
    const rows = page.value.slice(0, options.top).filter(isRow);
    return { rows, count: { rows: counted, exact: !exceeded, requests: 1 } };
  }

  /**
   * Creates a row so that no retry can make a second one: the client chooses the primary key
   * (`id`, or a new GUID) and sends `PATCH <set>(<id>)` with `If-None-Match: *`, which creates
   * the row or, when it exists, answers 412 without touching it ("Limit upsert operations",
   * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api#limit-upsert-operations).
   * The request is therefore idempotent and is retried like a read; a 412 means a previous
   * attempt (whose answer was lost) created the row. `created` is false then.
   */
  async createOnce(
    set: string,
    body: Row,
    options: { id?: string } = {},
  ): Promise<{ id: string; created: boolean }> {
    const id = (options.id ?? randomUUID()).toLowerCase();
    const response = await this.write({
      method: "PATCH",
      url: this.url(`${set}(${id})`),
      scope: this.scope,
      json: body,
      headers: { ...ODATA_HEADERS, "If-None-Match": "*" },
      accept: [204, 201, 412],
      idempotent: true, // creates the row once; every repeat is a 412 that changes nothing
    });
    return { id, created: response.status !== 412 };
  }

  /** One row by id, or undefined when it does not exist. */
  async get(set: string, id: string, select?: readonly string[]): Promise<Row | undefined> {
    const url = this.url(`${set}(${id})`, select?.length ? { $select: select.join(",") } : {});
    const response = await this.http.request({
      method: "GET",
      url,
      scope: this.scope,
      accept: [200, 404],
      headers: ODATA_HEADERS,
    });
    if (response.status === 404) return undefined;
    return validate(z.record(z.string(), z.unknown()), response.body, "GET", url);
  }

  /**
   * Creates a row and returns its id (from `OData-EntityId`). Not idempotent: an ambiguous answer
   * surfaces as `AmbiguousResponseError`; callers that can, set the primary key in `body` and look
   * the row up with `get`.
   */
  async create(set: string, body: Row): Promise<string> {
    const url = this.url(set);
    const response = await this.write({
      method: "POST",
      url,
      scope: this.scope,
      json: body,
      headers: ODATA_HEADERS,
      accept: [204, 201],
      idempotent: false,
    });
    const located =
      header(response.headers, "odata-entityid") ?? header(response.headers, "location");
    const id = located ? /\(([^()]+)\)\s*$/.exec(located)?.[1] : undefined;
    if (!id)
      throw new InvalidResponseError("POST", url, "no OData-EntityId header with the new row's id");
    return id;
  }

  /**
   * Updates a row. `If-Match` defaults to `*`, so a missing row is a 404 error rather than a new
   * row (PATCH is an upsert without it); pass an ETag to fail with 412 when the row changed.
   */
  async update(set: string, id: string, body: Row, ifMatch = "*"): Promise<void> {
    await this.write({
      method: "PATCH",
      url: this.url(`${set}(${id})`),
      scope: this.scope,
      json: body,
      headers: { ...ODATA_HEADERS, "If-Match": ifMatch },
      accept: [204, 200],
      idempotent: true, // sets fixed values
    });
  }

  /**
   * Updates many rows of one table, each target carrying its primary key: `UpdateMultiple` in
   * chunks of at most 1,000 (each chunk all or nothing). Where the environment does not support
   * `UpdateMultiple` for the table (404, 405, 501, or Dataverse's "not supported" 400), the chunk
   * goes as a `$batch` of PATCHes instead.
   *
   * @param logicalName the table's logical name (`account`), for `@odata.type`
   * @param primaryKey the key column. @default `<logicalName>id`
   */
  async updateMultiple(
    set: string,
    logicalName: string,
    targets: readonly Row[],
    options: { primaryKey?: string; chunkSize?: number } = {},
  ): Promise<void> {
    const key = options.primaryKey ?? `${logicalName}id`;
    const chunkSize = Math.min(options.chunkSize ?? DATAVERSE_BATCH_LIMIT, DATAVERSE_BATCH_LIMIT);
    targets.forEach((t, i) => {
      if (typeof t[key] !== "string") {
        throw new DualWriteError(
          `updateMultiple(${set}): target ${i} has no '${key}' (the row's primary key).`,
          "InvalidArgument",
        );
      }
    });
    // `{"@odata.type":…,` then the target's own members (its JSON without the opening brace; it
    // has at least its key).
    const head = `${odataType(logicalName)},`;
    await this.updateInChunks(
      set,
      chunks(targets, chunkSize),
      (chunk) => ({ head, values: chunk.map((t) => JSON.stringify(t).slice(1)), tail: "" }),
      (chunk) =>
        chunk.map((t) => {
          const { [key]: id, ...columns } = t;
          return { id: String(id), columns };
        }),
    );
  }

  /**
   * Sets the same columns on many rows of one table, named by their primary keys: as
   * {@link updateMultiple}, with each request's body written straight from the keys. For large
   * stamps (CompanyBootstrap): no object per row is made, and the body is one buffer rather than
   * a JSON string and its UTF-8 copy.
   *
   * @param logicalName the table's logical name (`account`), for `@odata.type`
   * @param columns the values every row gets (as JSON: `{"msdyn_company@odata.bind": "/cdm_companies(…)"}`)
   * @param primaryKey the key column. @default `<logicalName>id`
   */
  async updateEach(
    set: string,
    logicalName: string,
    ids: readonly string[],
    columns: Row,
    options: { primaryKey?: string } = {},
  ): Promise<void> {
    const key = JSON.stringify(options.primaryKey ?? `${logicalName}id`);
    const members = JSON.stringify(columns).slice(1);
    // Each target is `{"@odata.type":…,"<key>":"<id>",<columns>}`: the same text around each id.
    const head = `${odataType(logicalName)},${key}:"`;
    const tail = members === "}" ? '"}' : `",${members}`;
    await this.updateInChunks(
      set,
      chunks(ids, DATAVERSE_BATCH_LIMIT),
      // Keys are GUIDs: written as they are, unless one holds a character JSON escapes.
      (chunk) => ({
        head,
        values: chunk.some(needsEscape)
          ? chunk.map((id) => JSON.stringify(id).slice(1, -1))
          : chunk,
        tail,
      }),
      (chunk) => chunk.map((id) => ({ id, columns })),
    );
  }

  /**
   * Sends each chunk as one `UpdateMultiple` (its `targets`), or — once the environment has said
   * it does not support it for the table — as a `$batch` of PATCHes (its `patches`).
   */
  private async updateInChunks<T>(
    set: string,
    parts: Iterable<readonly T[]>,
    targets: (chunk: readonly T[]) => Targets,
    patches: (chunk: readonly T[]) => { id: string; columns: Row }[],
  ): Promise<void> {
    let useBatch = false;
    // The body buffer is this call's until it ends (a concurrent call writes its own).
    let store = this.bodyStore;
    this.bodyStore = undefined;
    try {
      for (const chunk of parts) {
        if (!useBatch) {
          const body = writeTargets(targets(chunk), store);
          store = body.store;
          try {
            await this.write({
              method: "POST",
              url: this.url(`${set}/Microsoft.Dynamics.CRM.UpdateMultiple`),
              scope: this.scope,
              body: body.written,
              headers: { ...ODATA_HEADERS, "Content-Type": "application/json" },
              accept: [204, 200],
              idempotent: true, // sets fixed values
            });
            continue;
          } catch (error) {
            if (!updateMultipleUnsupported(error)) throw error;
            useBatch = true;
          }
        }
        const answers = await this.batch(
          patches(chunk).map(({ id, columns }) => ({
            method: "PATCH",
            url: `${set}(${id})`,
            body: columns,
            headers: { "If-Match": "*" },
          })),
        );
        throwFirstFailure(answers, `PATCH ${set}`);
      }
    } finally {
      this.bodyStore = store;
    }
  }

  /**
   * Sends requests as `$batch` calls of at most 1,000 and returns one answer per request, in
   * order. Without `atomic` the server goes on after a failure (each answer has its own status);
   * with it, each call of ≤ 1,000 is one change set (all or nothing).
   */
  async batch(
    requests: readonly BatchRequest[],
    options: { atomic?: boolean } = {},
  ): Promise<BatchResponse[]> {
    const answers: BatchResponse[] = [];
    for (const chunk of chunks(requests, DATAVERSE_BATCH_LIMIT)) {
      const { contentType, body } = writeBatch(chunk, options);
      const url = this.url("$batch");
      const response = await this.write({
        method: "POST",
        url,
        scope: this.scope,
        body,
        headers: {
          ...ODATA_HEADERS,
          "Content-Type": contentType,
          ...(!options.atomic && { Prefer: "odata.continue-on-error" }),
        },
        accept: [200],
        idempotent: chunk.every((r) => r.method !== "POST"),
      });
      let parsed: BatchResponse[];
      try {
        parsed = parseBatchResponse(header(response.headers, "content-type") ?? "", response.text);
      } catch (error) {
        throw new InvalidResponseError(
          "POST",
          url,
          error instanceof Error ? error.message : String(error),
        );
      }
      // A failed change set answers with a single part; give each of its requests that answer.
      if (options.atomic && parsed.length === 1 && chunk.length > 1)
        parsed = chunk.map(() => parsed[0] as BatchResponse);
      answers.push(...parsed);
    }
    return answers;
  }

  /** The calling user: `{UserId, BusinessUnitId, OrganizationId}`. */
  async whoAmI(): Promise<z.output<typeof whoAmISchema>> {
    return this.http.requestJson(
      {
        method: "GET",
        url: this.url("WhoAmI"),
        scope: this.scope,
        accept: [200],
        headers: ODATA_HEADERS,
      },
      whoAmISchema,
    );
  }

  /**
   * The F&O environment this Dataverse environment is paired with in Power Platform integration
   * (`{Url, TenantId, Id}`; `Id` is the F&O environment id), or undefined when it is not paired
   * (error `0x80048d0b`). Pairing is independent of the dual-write link.
   */
  async integrationDetails(): Promise<z.output<typeof integrationDetailsSchema> | undefined> {
    const url = this.url("RetrieveFinanceAndOperationsIntegrationDetails");
    const response = await this.http.request({
      method: "GET",
      url,
      scope: this.scope,
      accept: [200, 404],
      headers: ODATA_HEADERS,
    });
    if (response.status === 404) return undefined;
    return validate(integrationDetailsSchema, response.body, "GET", url);
  }

  /**
   * The organization behind this environment, with its Power Platform environment id
   * (`Detail.EnvironmentId`), from the documented `RetrieveCurrentOrganization` function.
   */
  async currentOrganization(): Promise<CurrentOrganization> {
    const body = await this.http.requestJson(
      {
        method: "GET",
        url: this.url(
          "RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default')",
        ),
        scope: this.scope,
        accept: [200],
        headers: ODATA_HEADERS,
      },
      currentOrganizationSchema,
    );
    return body.Detail;
  }

  /**
   * Sends a write and forgets the shared reads it can change before and after it, whatever its
   * outcome (a write whose answer was lost may still have changed rows): the reads of the table
   * it writes (each shared key starts with its entity set) and every read that expands into
   * another table; a `$batch` or a call outside a table forgets them all. Stamping contacts thus
   * leaves the companies and business units every bootstrap shares as they were read.
   */
  private async write(request: Parameters<HttpClient["request"]>[0]) {
    const set = this.writtenSet(request.url);
    const changed =
      set === undefined
        ? undefined
        : (key: string) => key.startsWith(`${set} `) || key.includes('"expand"');
    this.shared.invalidate(changed);
    try {
      return await this.http.request(request);
    } finally {
      this.shared.invalidate(changed);
    }
  }

  /** The entity set a write's URL addresses (`contacts` of `contacts/Microsoft.Dynamics.CRM.UpdateMultiple`). */
  private writtenSet(url: string): string | undefined {
    if (!url.startsWith(this.serviceRoot)) return undefined;
    const set = /^[A-Za-z_][A-Za-z0-9_]*/.exec(url.slice(this.serviceRoot.length))?.[0];
    // `$batch` (no match) may write anywhere.
    return set;
  }

  private async getPage(url: string, pageSize: number): Promise<z.output<typeof pageSchema>> {
    this.checkPageUrl(url);
    return this.http.requestJson(
      {
        method: "GET",
        url,
        scope: this.scope,
        accept: [200],
        headers: { ...ODATA_HEADERS, Prefer: `odata.maxpagesize=${pageSize}` },
      },
      pageSchema,
    );
  }

  /** One page of keys, read from its bytes (`keyPage.ts`). */
  private getKeyPage(url: string, pageSize: number, key: string): Promise<KeyPage> {
    return this.readPage(url, `odata.maxpagesize=${pageSize}`, (bytes) => readKeyPage(bytes, key));
  }

  /** One page of 5,000 counted with the count annotations, read from its bytes (`keyPage.ts`). */
  private getCountedPage(url: string): Promise<CountPage> {
    return this.readPage(url, `odata.maxpagesize=${MAX_PAGE}, ${COUNT_ANNOTATIONS}`, readCountPage);
  }

  /** A page read by `read` from its bytes, with the preferences `prefer`. */
  private async readPage<T>(url: string, prefer: string, read: (bytes: Buffer) => T): Promise<T> {
    this.checkPageUrl(url);
    return this.http.requestBytes(
      {
        method: "GET",
        url,
        scope: this.scope,
        accept: [200],
        headers: { ...ODATA_HEADERS, Prefer: prefer },
      },
      (response) => {
        if (!/[/+]json\b/i.test(header(response.headers, "content-type") ?? ""))
          throw new InvalidResponseError("GET", url, "the page is not JSON");
        try {
          return read(response.bytes);
        } catch (error) {
          if (error instanceof KeyPageSyntaxError)
            throw new InvalidResponseError("GET", url, error.message);
          throw error;
        }
      },
    );
  }

  /** A page's URL (a `@odata.nextLink` among them) must stay on this environment's service root. */
  private checkPageUrl(url: string): void {
    if (!url.startsWith(this.serviceRoot)) {
      throw new InvalidResponseError(
        "GET",
        url,
        `a next-page link leaves the service root ${this.serviceRoot}; not followed`,
      );
    }
  }

  /** One page read for counting (with the count annotations preference). */
  private async getCountPage(
    url: string,
    pageSize: number,
  ): Promise<z.output<typeof countPageSchema>> {
    this.checkPageUrl(url);
    return this.http.requestJson(
      {
        method: "GET",
        url,
        scope: this.scope,
        accept: [200],
        headers: {
          ...ODATA_HEADERS,
          Prefer: `odata.maxpagesize=${pageSize}, ${COUNT_ANNOTATIONS}`,
        },
      },
      countPageSchema,
    );
  }

  private url(path: string, params: Record<string, string> = {}): string {
    const query = Object.entries(params)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join("&");
    return `${this.serviceRoot}${path}${query ? `?${query}` : ""}`;
  }
}

/** Headers every Dataverse client sends (powerapps-docs, compose-http-requests). */
const ODATA_HEADERS = { "OData-MaxVersion": "4.0", "OData-Version": "4.0" } as const;

/**
 * Dataverse's key column from an entity-set name, by its plural rules: `accounts` → `accountid`,
 * `cdm_companies` → `cdm_companyid`, `msdyn_addresses` → `msdyn_addressid`.
 */
export function defaultPrimaryKey(set: string): string {
  let singular = set;
  if (/ies$/.test(set)) singular = `${set.slice(0, -3)}y`;
  else if (/(?:ss|x|ch|sh|z)es$/.test(set)) singular = set.slice(0, -2);
  else if (set.endsWith("s")) singular = set.slice(0, -1);
  return `${singular}id`;
}

/** `{"@odata.type":"Microsoft.Dynamics.CRM.<logicalName>"` — a target's first member, brace open. */
function odataType(logicalName: string): string {
  return `{"@odata.type":${JSON.stringify(`Microsoft.Dynamics.CRM.${logicalName}`)}`;
}

/** Whether JSON writes some character of `text` escaped (a quote, a backslash, a control character). */
function needsEscape(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return true;
  }
  return false;
}

/** The targets of an `UpdateMultiple`: target `i` is the text `head + values[i] + tail`. */
interface Targets {
  readonly head: string;
  readonly values: readonly string[];
  readonly tail: string;
}

/**
 * `{"Targets":[…]}` of an `UpdateMultiple`, written as UTF-8 into `store` when it is large enough
 * (else into a new buffer, returned as the next `store`): no string per target and no joined
 * string in between — at 1,000 targets that would be a ~200 KB string, which V8 keeps in its
 * large-object space until a full collection, then its UTF-8 copy.
 */
function writeTargets(
  { head, values, tail }: Targets,
  store: Buffer | undefined,
): { written: Buffer; store: Buffer } {
  const open = '{"Targets":[';
  const close = "]}";
  const around = Buffer.byteLength(head) + Buffer.byteLength(tail);
  let size = open.length + close.length + Math.max(0, values.length - 1);
  for (const v of values) size += around + Buffer.byteLength(v);
  const out = store !== undefined && store.length >= size ? store : Buffer.alloc(size);
  let at = out.write(open);
  values.forEach((v, i) => {
    if (i > 0) at += out.write(",", at);
    at += out.write(head, at);
    at += out.write(v, at);
    at += out.write(tail, at);
  });
  at += out.write(close, at);
  return { written: out.subarray(0, at), store: out };
}

function updateMultipleUnsupported(error: unknown): boolean {
  if (!(error instanceof HttpError)) return false;
  if ([404, 405, 501].includes(error.status)) return true;
  return (
    error.status === 400 &&
    /not (?:supported|enabled)|does not support/i.test(error.serverMessage ?? "")
  );
}

function throwFirstFailure(answers: readonly BatchResponse[], what: string): void {
  const failed = answers.find((a) => a.status >= 400);
  if (!failed) return;
  const count = answers.filter((a) => a.status >= 400).length;
  const error = new HttpError({
    method: "POST",
    url: "$batch",
    status: failed.status,
    body: failed.body,
  });
  throw new DualWriteError(
    `${count} of ${answers.length} ${what} requests in a $batch failed; the first: ${error.message}`,
    error.code,
    {
      cause: error,
    },
  );
}

function header(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
