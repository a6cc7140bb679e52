/**
 * Runs a parsed `$batch` against a surface: operations in order, each operation and each change
 * set in a transaction of its own (`emulator/store/transaction.ts`), `$<Content-ID>` references
 * resolved to the URL of the row an earlier operation of the same change set created, and
 * processing stopped at the first failure unless the client sent `Prefer: odata.continue-on-error`.
 *
 * A change set is all or nothing ("Execute batch operations using the Web API" § Change sets;
 * F&O "Open Data Protocol (OData)" § Run multiple requests in a single transaction): when one of
 * its operations fails, the transaction is rolled back — the earlier operations' writes and the
 * live-sync copies they made on the other side of a dual-write link are put back as they were,
 * without any compensating write — and the set answers with the failing part alone. A failed
 * operation outside a change set leaves nothing behind either.
 */
import type {
  BatchOperation,
  BatchOperationResponse,
  BatchRequestItem,
  BatchResponseItem,
} from "./batch";
import { WriteJournal } from "./journal";
import { runInTransaction } from "../store/transaction";

/** How a surface executes one operation of a batch. */
export interface BatchRunOptions {
  /** Keep going after a failed operation or change set. @default false */
  readonly continueOnError: boolean;
  /**
   * Runs one operation and renders its answer (errors included: a failure is a response with a
   * status of 400 or more, never a thrown error). Writes go through `journal` (or straight to the
   * table sets: the transaction records them either way).
   * `references` maps the Content-IDs seen so far in the current change set to entity URLs.
   */
  execute(
    operation: BatchOperation,
    journal: WriteJournal,
    references: ReadonlyMap<string, string>,
  ): Promise<BatchOperationResponse>;
}

/** Runs the batch; returns the response items and whether any write was kept. */
export async function runBatch(
  items: readonly BatchRequestItem[],
  options: BatchRunOptions,
): Promise<{ responses: BatchResponseItem[]; wrote: boolean }> {
  const responses: BatchResponseItem[] = [];
  let wrote = false;
  for (const item of items) {
    const operations = item.kind === "operation" ? [item.operation] : item.operations;
    const outcome = await runInTransaction(async (tx) => {
      const journal = new WriteJournal();
      const references = new Map<string, string>();
      const done: BatchOperationResponse[] = [];
      for (const operation of operations) {
        const response = await options.execute(
          resolveReference(operation, references),
          journal,
          references,
        );
        if (response.status >= 400) {
          // All or nothing: put back what the set (or the failed operation) wrote, on both sides.
          tx.rollback();
          return { failure: response, done };
        }
        done.push(response);
        const location = response.headers["OData-EntityId"] ?? response.headers["Location"];
        if (operation.contentId !== undefined && location)
          references.set(operation.contentId, location);
      }
      wrote ||= tx.hasWrites;
      return { done };
    });
    if ("failure" in outcome && outcome.failure) {
      responses.push({ kind: "operation", response: outcome.failure });
      if (!options.continueOnError) break;
    } else if (item.kind === "operation") {
      responses.push({ kind: "operation", response: outcome.done[0] as BatchOperationResponse });
    } else {
      responses.push({ kind: "changeset", responses: outcome.done });
    }
  }
  return { responses, wrote };
}

/** Replaces a leading `$<id>` in the URL with the entity URL that Content-ID produced. */
function resolveReference(
  operation: BatchOperation,
  references: ReadonlyMap<string, string>,
): BatchOperation {
  const m = /^\$([A-Za-z0-9_.-]+)(.*)$/s.exec(operation.url);
  if (!m) return operation;
  const target = references.get(m[1] as string);
  return target ? { ...operation, url: target + (m[2] as string) } : operation;
}
