/**
 * The thread that writes `state.db` (ADR 0006). `node:sqlite` is synchronous: a commit waits for
 * the disk (fsync), and a save of a million seeded rows takes seconds. Here that waiting happens
 * off the emulator's event loop, which keeps answering requests; the main thread only turns rows
 * into JSON, a chunk at a time, and posts them (`persistence.ts`).
 *
 * Messages are handled in order; only `commit`, `save` and `close` answer. A save is `begin`, any
 * number of `rows` and `drop`, then `commit` with the new `state` document (and the `tables`
 * document when it changed), all in one SQLite transaction — or, when small, all of that in one
 * `save` message. After a crash the file holds the last committed save, whole.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openDatabase, StoreWriter, type WorkerRequest } from "./sqlite";

/** Data the worker starts with. */
export interface WorkerData {
  readonly path: string;
}

if (parentPort) {
  const port = parentPort;
  const { path } = workerData as WorkerData;
  const writer = new StoreWriter(openDatabase(path));
  port.on("message", (message: WorkerRequest) => {
    const reply = writer.handle(message);
    if (reply) port.postMessage(reply);
  });
}
