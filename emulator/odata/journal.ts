/**
 * A handler's view of the transaction it writes in. Every request of the Dataverse and F&O
 * surfaces, and every operation and change set of a `$batch`, runs in a transaction
 * (`emulator/store/transaction.ts`): the table set records each committed write — the client's
 * and the dual-write runtime's live-sync copy on the other side — with the row image it replaced.
 * A journal marks a savepoint of that transaction when it is made, so that a group of writes
 * inside a request (`UpdateMultiple`) can be undone on its own; the undo puts the row images back
 * without listeners, so nothing is copied to the other side and row versions are as before.
 */
import { currentTransaction, type Transaction } from "../store/transaction";
import type { Row, StoredRow, TableSet, WriteOrigin } from "../store/tables";

/** Writes of one handler, undoable back to where the journal was made. */
export class WriteJournal {
  private readonly tx: Transaction | undefined = currentTransaction();
  private readonly savepoint = this.tx?.mark() ?? 0;
  private wrote = false;

  /** True once any write went through this journal (even if it was rolled back later). */
  get hasWrites(): boolean {
    return this.wrote;
  }

  /** Inserts a row. */
  insert(set: TableSet, table: string, row: Row, origin: WriteOrigin): StoredRow {
    const stored = set.insert(table, row, origin);
    this.wrote = true;
    return stored;
  }

  /** Merges changes into a row. */
  update(set: TableSet, table: string, key: string, changes: Row, origin: WriteOrigin): StoredRow {
    const stored = set.update(table, key, changes, origin);
    this.wrote = true;
    return stored;
  }

  /** Deletes a row. */
  delete(set: TableSet, table: string, key: string, origin: WriteOrigin): void {
    set.delete(table, key, origin);
    this.wrote = true;
  }

  /**
   * Undoes every write made in this transaction since the journal was made — its own and those
   * the write listeners (live sync) made — newest first. Throws when the journal was made outside
   * a transaction (a programming error: there would be nothing to undo with).
   */
  rollback(): void {
    if (!this.tx)
      throw new Error("WriteJournal.rollback outside a transaction: run the writes in one.");
    this.tx.rollbackTo(this.savepoint);
  }

  /**
   * Takes over a nested journal that succeeded, so that an enclosing group (a change set around
   * an `UpdateMultiple`) still undoes its writes; the undo steps are the transaction's already.
   */
  absorb(nested: WriteJournal): void {
    this.wrote ||= nested.wrote;
  }

  /** Nothing to do: the enclosing transaction keeps or undoes the writes. */
  commit(): void {}
}
