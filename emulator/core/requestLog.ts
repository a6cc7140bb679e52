/**
 * The request log behind `GET /_emulator/requests`: one entry per request to a surface (control
 * requests are not logged, so a test that inspects the log does not see its own inspection).
 *
 * Tests use it to count calls ("exactly two identity calls") and to prove that nothing was
 * written ("no POST/PATCH/DELETE since seq N"). It keeps the most recent entries only.
 */
import type { Surface } from "./http";

/** How a request ended. */
export type RequestOutcome =
  /** An answer was written. */
  | "answered"
  /** A `drop` fault destroyed the socket before anything was handled. */
  | "dropped"
  /** A `dropAfterCommit` fault: the handler ran (its writes committed), then the socket was destroyed. */
  | "droppedAfterCommit"
  /** The client went away before the answer was written. */
  | "aborted";

/** One logged request. No header, body or token is kept: the log can be shown without secrets. */
export interface RequestLogEntry {
  /** Increasing number, from 1; `?since=<seq>` returns later entries. */
  readonly seq: number;
  /** The `x-ms-request-id` answered to the client. */
  readonly requestId: string;
  readonly surface: Exclude<Surface, "control">;
  readonly method: string;
  /**
   * The host the request was routed by (`core/hosts.ts`), e.g. `127.0.0.12` for the Dataverse
   * environment in slot 0.
   */
  readonly host: string;
  /**
   * The environment pair the request addressed (Dataverse and F&O requests to a seeded
   * environment only).
   */
  readonly environment?: string;
  /** URL path without the query, e.g. `/api/data/v9.2/accounts`. */
  readonly path: string;
  /** The query string without `?` (empty when none). */
  readonly query: string;
  /** Status answered (or that would have been, for `droppedAfterCommit`); 0 when none. */
  status: number;
  outcome: RequestOutcome;
  /** Emulated time the request arrived, ISO 8601. */
  readonly at: string;
}

/** A bounded, in-memory request log. */
export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private nextSeq = 1;

  /** @param capacity entries kept; older ones are discarded first. @default 10000 */
  constructor(private readonly capacity = 10_000) {}

  /** Starts an entry; the server fills in status and outcome when the request ends. */
  begin(entry: Omit<RequestLogEntry, "seq" | "status" | "outcome">): RequestLogEntry {
    const full: RequestLogEntry = { ...entry, seq: this.nextSeq++, status: 0, outcome: "answered" };
    this.entries.push(full);
    if (this.entries.length > this.capacity)
      this.entries.splice(0, this.entries.length - this.capacity);
    return full;
  }

  /** Entries with `seq` greater than `since` (all when omitted), oldest first. */
  list(since = 0): RequestLogEntry[] {
    return this.entries.filter((e) => e.seq > since).map((e) => ({ ...e }));
  }

  /** The `seq` of the latest entry (0 when none): a bookmark for `list(since)`. */
  lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Forgets every entry; numbering continues, so older bookmarks stay valid. */
  clear(): void {
    this.entries = [];
  }
}
