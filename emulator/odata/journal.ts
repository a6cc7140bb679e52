/**
 * Atomic groups of writes (a `$batch` change set, `UpdateMultiple`) over a {@link TableSet}, which
 * has no transactions of its own. Every write goes through a journal that remembers how to undo
 * it; when a later write in the group fails, the journal replays the inverse writes in reverse
 * order. The inverse writes pass through the table set's listeners like any other write, so the
 * dual-write runtime copies the undo to the other side exactly as it copied the original write.
 */
import type { Row, StoredRow, TableSet, WriteOrigin } from "../store/tables";

/** Records writes so that they can be rolled back. */
export class WriteJournal {
  private readonly undo: Array<() => void> = [];
  private wrote = false;

  /** True once any write went through this journal (even if it was rolled back later). */
  get hasWrites(): boolean {
    return this.wrote;
  }

  /** Inserts a row and remembers to delete it. */
  insert(set: TableSet, table: string, row: Row, origin: WriteOrigin): StoredRow {
    const stored = set.insert(table, row, origin);
    this.wrote = true;
    const key = set.keyOf(table, stored.row);
    this.undo.push(() => set.delete(table, key, origin));
    return stored;
  }

  /** Merges changes into a row and remembers its previous content. */
  update(set: TableSet, table: string, key: string, changes: Row, origin: WriteOrigin): StoredRow {
    const before = set.get(table, key)?.row;
    const stored = set.update(table, key, changes, origin);
    this.wrote = true;
    if (before) {
      this.undo.push(() => {
        // `update` merges, so columns the write added are cleared explicitly.
        const restore: Row = { ...before };
        for (const column of Object.keys(stored.row))
          if (!(column in before)) restore[column] = undefined;
        set.update(table, key, restore, origin);
      });
    }
    return stored;
  }

  /** Deletes a row and remembers to insert it again. */
  delete(set: TableSet, table: string, key: string, origin: WriteOrigin): void {
    const before = set.get(table, key)?.row;
    set.delete(table, key, origin);
    this.wrote = true;
    if (before) this.undo.push(() => set.insert(table, before, origin));
  }

  /**
   * Undoes every recorded write, newest first. An undo step that fails is skipped (the row was
   * changed meanwhile by something else); the others still run.
   */
  rollback(): void {
    while (this.undo.length > 0) {
      const step = this.undo.pop() as () => void;
      try {
        step();
      } catch {
        // Best effort: see the doc comment.
      }
    }
  }

  /**
   * Takes over the undo steps of a nested journal that succeeded, so that an enclosing group
   * (a change set around an `UpdateMultiple`) can still roll them back.
   */
  absorb(nested: WriteJournal): void {
    this.undo.push(...nested.undo.splice(0));
    this.wrote ||= nested.wrote;
  }

  /** Forgets the recorded writes (the group succeeded). */
  commit(): void {
    this.undo.length = 0;
  }
}
