/**
 * Runs a parsed `$batch` against a surface: operations in order, change sets all-or-nothing
 * (through a {@link WriteJournal}), `$<Content-ID>` references resolved to the URL of the row an
 * earlier operation of the same change set created, and processing stopped at the first failure
 * unless the client sent `Prefer: odata.continue-on-error`.
 */
import type {
  BatchOperation,
  BatchOperationResponse,
  BatchRequestItem,
  BatchResponseItem,
} from "./batch";
import { WriteJournal } from "./journal";

/** How a surface executes one operation of a batch. */
export interface BatchRunOptions {
  /** Keep going after a failed operation or change set. @default false */
  readonly continueOnError: boolean;
  /**
   * Runs one operation and renders its answer (errors included: a failure is a response with a
   * status of 400 or more, never a thrown error). Writes must go through `journal`.
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
    if (item.kind === "operation") {
      const journal = new WriteJournal();
      const response = await options.execute(item.operation, journal, new Map());
      journal.commit();
      wrote ||= journal.hasWrites;
      responses.push({ kind: "operation", response });
      if (response.status >= 400 && !options.continueOnError) break;
      continue;
    }
    const journal = new WriteJournal();
    const references = new Map<string, string>();
    const done: BatchOperationResponse[] = [];
    let failure: BatchOperationResponse | undefined;
    for (const operation of item.operations) {
      const response = await options.execute(
        resolveReference(operation, references),
        journal,
        references,
      );
      if (response.status >= 400) {
        failure = response;
        break;
      }
      done.push(response);
      const location = response.headers["OData-EntityId"] ?? response.headers["Location"];
      if (operation.contentId !== undefined && location)
        references.set(operation.contentId, location);
    }
    if (failure) {
      // All or nothing: undo what the change set already wrote; the set answers with the failure alone.
      journal.rollback();
      wrote ||= journal.hasWrites; // the undo writes changed row versions too
      responses.push({ kind: "operation", response: failure });
      if (!options.continueOnError) break;
    } else {
      journal.commit();
      wrote ||= journal.hasWrites;
      responses.push({ kind: "changeset", responses: done });
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
