/**
 * Transactions over table sets: an undo log of row images, so that a group of writes (a `$batch`
 * change set, one request, `UpdateMultiple`) succeeds or fails as a whole — on both sides of a
 * dual-write link.
 *
 * A real change set is one database transaction ("Execute batch operations using the Web API",
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api;
 * "Open Data Protocol (OData)", https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/odata
 * § Run multiple requests in a single transaction), and dual-write's live sync runs inside the
 * user's transaction ("a failure on one side fails the user's transaction on the other",
 * dual-write-troubleshooting-live-sync). The emulator models that with one *ambient* transaction
 * per async context (`AsyncLocalStorage`): every committed write of any `TableSet` made while a
 * transaction is current — the client's own write and the runtime's live-sync copy on the other
 * side alike — records the row image it replaced. Rolling back puts those images back, newest
 * first, **without listeners**: no compensating write exists, so live sync copies nothing and row
 * versions (ETags) are as before. Other state changed inside the transaction (the runtime's queue
 * of a paused map) registers its own undo with `onRollback`.
 *
 * Isolation: a change set never waits on I/O between its first write and its last (handlers
 * persist once, after the writes), so the event loop does not turn and no other request can touch
 * the rows it holds meanwhile — the equivalent of the database's row locks. The save itself runs
 * inside the request's transaction, so a request whose save fails is rolled back rather than left
 * applied in memory only; because other requests may run during that save, an undo step puts a
 * row back only while the row still holds the version this transaction wrote (a later writer
 * wins, nothing of theirs is lost).
 *
 * Hook for the store (`tables.ts`): after each committed insert, update or delete a table set
 * calls `currentTransaction()?.recordRow(this, table, key, previous, written)`, and it implements
 * `restoreRow` (put a row image back, indexes included, no listeners).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { StoredRow } from "./tables";

/** What a transaction needs from a table set to undo a write. */
export interface RestorableTables {
  /**
   * Puts the row stored under `key` back to `previous` (row and version), or removes it when
   * `previous` is undefined (the write created it) — but only while the row is still `written`
   * (same version; undefined: still absent after a delete). Runs no listener.
   */
  restoreRow(
    table: string,
    key: string,
    previous: StoredRow | undefined,
    written: StoredRow | undefined,
  ): void;
}

/** One transaction: the undo steps of the writes made while it was current. */
export class Transaction {
  private readonly undo: Array<() => void> = [];
  private state: "open" | "committed" | "rolledBack" = "open";
  private wrote = false;

  /** @param parent the transaction this one is nested in (a savepoint of it), if any */
  constructor(readonly parent?: Transaction) {}

  /** Whether writes still join this transaction. */
  get open(): boolean {
    return this.state === "open";
  }

  /** Whether any row was written in this transaction (rolled back or not). */
  get hasWrites(): boolean {
    return this.wrote;
  }

  /**
   * Records a committed write: the image it replaced (`previous`, undefined when it created the
   * row) and the one it left (`written`, undefined when it deleted the row).
   */
  recordRow(
    tables: RestorableTables,
    table: string,
    key: string,
    previous: StoredRow | undefined,
    written: StoredRow | undefined,
  ): void {
    if (!this.open) return;
    this.wrote = true;
    this.undo.push(() => tables.restoreRow(table, key, previous, written));
  }

  /** Registers an undo step for state outside the tables (run on rollback, newest first). */
  onRollback(step: () => void): void {
    if (this.open) this.undo.push(step);
  }

  /** A savepoint: the position to roll back to with {@link rollbackTo}. */
  mark(): number {
    return this.undo.length;
  }

  /**
   * Undoes the steps recorded after `mark`, newest first, and keeps the transaction open. Every
   * step runs even when one fails; the first failure is rethrown afterwards (it is a bug: a
   * restore only puts back what this transaction replaced).
   */
  rollbackTo(mark: number): void {
    let failure: unknown;
    while (this.undo.length > mark) {
      const step = this.undo.pop() as () => void;
      try {
        step();
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== undefined)
      throw failure instanceof Error
        ? failure
        : new Error("A rollback step failed.", { cause: failure });
  }

  /** Undoes everything and closes the transaction. */
  rollback(): void {
    if (!this.open) return;
    this.state = "rolledBack";
    this.rollbackTo(0);
  }

  /**
   * Closes the transaction keeping its writes. A nested transaction hands its undo steps to its
   * parent, which can still roll them back.
   */
  commit(): void {
    if (!this.open) return;
    this.state = "committed";
    if (this.parent?.open) {
      this.parent.undo.push(...this.undo);
      this.parent.wrote ||= this.wrote;
    }
    this.undo.length = 0;
  }
}

const ambient = new AsyncLocalStorage<Transaction>();

/**
 * The transaction writes of this async context join, or undefined. A closed transaction is never
 * current (timers scheduled during a request keep its context after it ended).
 */
export function currentTransaction(): Transaction | undefined {
  const tx = ambient.getStore();
  return tx?.open ? tx : undefined;
}

/**
 * Runs `fn` in a new transaction (nested in the current one, if any). It commits when `fn`
 * resolves and rolls back when `fn` throws; `fn` may also roll back itself and return normally
 * (a failed change set answers with an error part instead of throwing).
 */
export async function runInTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
  const tx = new Transaction(currentTransaction());
  let result: T;
  try {
    result = await ambient.run(tx, () => fn(tx));
  } catch (e) {
    tx.rollback();
    throw e;
  }
  tx.commit();
  return result;
}
