/**
 * Persistence (ADR 0006): with a data directory an acknowledged write survives a restart (same
 * credentials, same rows); a restart seeds only missing environments; a save writes the rows that
 * changed, and deletes deleted ones; changes nobody persisted are saved in the background;
 * concurrent saves coalesce; an older emulator's `state.json` is imported once; a corrupt store
 * stops the start with a message that names the file. (A kill -9 at a million rows:
 * `volume.test.ts`.)
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { startEmulator } from "../../emulator/index";
import { defaultSettings } from "../../emulator/core/settings";
import {
  LEGACY_STATE_FILE,
  SnapshotWriter,
  STORE_FILE,
  type EmulatorSnapshot,
} from "../../emulator/store/persistence";
import { openDatabase } from "../../emulator/store/sqlite";
import { type Row, TableSet } from "../../emulator/store/tables";
import { startTestEmulator, type TestEmulator, withHelpers } from "../support/emulator";

describe("emulator persistence", () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "dw-emulator-data-"));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it("keeps a row written through the Dataverse Web API, and the credentials, across a restart", async () => {
    const first = await startTestEmulator({ dataDir, seed: "new-new" });
    const { dataverseUrl, name } = first.environments[0]!;
    const accountnumber = "PERSIST-1";
    const created = await first.request("POST", `${dataverseUrl}/api/data/v9.2/accounts`, {
      token: await first.token(dataverseUrl),
      body: { name: "Persisted Ltd", accountnumber },
    });
    expect(created.status, created.text).to.equal(204);
    const credentials = first.credentials;
    await first.close();
    await first.close(); // safe twice

    const second = withHelpers(await startEmulator({ dataDir, seed: "new-new" }));
    try {
      expect(second.credentials).to.deep.equal(credentials);
      expect(second.environments.map((e) => e.name)).to.deep.equal([name]);
      const url = second.environments[0]!.dataverseUrl;
      const found = await second.request(
        "GET",
        `${url}/api/data/v9.2/accounts?$filter=accountnumber eq '${accountnumber}'`.replace(
          / /g,
          "%20",
        ),
        {
          token: await second.token(url),
        },
      );
      expect(found.status, found.text).to.equal(200);
      expect(
        (found.json as { value: Array<{ name: string }> }).value.map((r) => r.name),
      ).to.deep.equal(["Persisted Ltd"]);
    } finally {
      await second.close();
    }
  });

  it("seeds only the environments a restored data directory lacks, and keeps settings", async () => {
    const first = await startTestEmulator({
      dataDir,
      seed: [{ scenario: "new-new", name: "dev" }],
    });
    await first.control.insertRows("dataverse", "dev", "accounts", {
      name: "Kept",
      accountnumber: "KEPT-1",
    });
    await first.control.updateSettings({ transitionMs: 7 });
    await first.close();

    const second = await startTestEmulator({
      dataDir,
      seed: [
        { scenario: "new-new", name: "dev" },
        { scenario: "new-new", name: "test" },
      ],
    });
    try {
      expect(second.environments.map((e) => e.name).sort()).to.deep.equal(["dev", "test"]);
      const dev = await second.control.rows("dataverse", "dev", "accounts");
      expect(dev.filter((r) => r.accountnumber === "KEPT-1")).to.have.length(1);
      const test = await second.control.rows("dataverse", "test", "accounts");
      expect(test.filter((r) => r.accountnumber === "KEPT-1")).to.have.length(0);
      expect((await second.control.settings()).transitionMs).to.equal(7);
    } finally {
      await second.close();
    }
  });

  it("acknowledges concurrent writes only once they are saved", async () => {
    const first = await startTestEmulator({
      dataDir,
      seed: [{ scenario: "new-new", name: "dev" }],
    });
    const numbers = Array.from({ length: 25 }, (_, i) => `CONC-${i}`);
    await Promise.all(
      numbers.map((n) =>
        first.control.insertRows("dataverse", "dev", "accounts", { name: n, accountnumber: n }),
      ),
    );
    // Read the store while the emulator still runs: no close-time save may be needed.
    const saved = savedRows(join(dataDir, STORE_FILE), "dataverse/dev", "accounts");
    await first.close();
    expect(saved.map((r) => r.accountnumber)).to.include.members(numbers);
  });

  it("saves the rows that changed, not the whole state, and deletes deleted rows", async () => {
    const first = await startTestEmulator({
      dataDir,
      seed: [{ scenario: "new-new", name: "dev" }],
    });
    try {
      const path = join(dataDir, STORE_FILE);
      const teams = savedRows(path, "dataverse/dev", "teams");
      const before = savedVersions(path);
      await first.control.insertRows("dataverse", "dev", "accounts", {
        name: "One",
        accountnumber: "ONE-1",
      });
      const after = savedVersions(path);
      const changed = [...after].filter(([key, v]) => before.get(key) !== v).map(([key]) => key);
      expect(changed).to.have.length(1);
      expect(changed[0]).to.match(/^dataverse\/dev\|accounts\|/);
      expect(savedRows(path, "dataverse/dev", "teams")).to.deep.equal(teams);

      const tables = first.context.dataverse.get("dev");
      const key = changed[0]!.split("|")[2]!;
      tables?.delete("accounts", key, "control");
      await first.context.persist();
      expect(savedVersions(path).has(changed[0]!)).to.equal(false);
    } finally {
      await first.close();
    }
  });

  it("saves changes nobody persisted in the background, shortly after", async () => {
    const first = await startTestEmulator({
      dataDir,
      seed: [{ scenario: "new-new", name: "dev" }],
    });
    try {
      first.context.dataverse
        .get("dev")
        ?.insert(
          "accounts",
          { accountid: "00000000-0000-4000-8000-0000000000b1", name: "Later" },
          "seed",
        );
      const path = join(dataDir, STORE_FILE);
      const deadline = Date.now() + 5_000;
      let saved: Row[] = [];
      while (Date.now() < deadline) {
        saved = savedRows(path, "dataverse/dev", "accounts");
        if (saved.length > 0) break;
        await new Promise((done) => setTimeout(done, 50));
      }
      expect(saved.map((r) => r.name)).to.deep.equal(["Later"]);
    } finally {
      await first.close();
    }
  });

  it("coalesces saves: one save in flight, one more for everyone who asked meanwhile", async () => {
    let captures = 0;
    const set = new TableSet("dataverse", "coalesce");
    set.define({ name: "things", keyFields: ["id"] });
    const snapshot = (): EmulatorSnapshot => ({
      format: 2,
      savedAt: "",
      clock: { now: 0, speed: 1 },
      settings: defaultSettings(),
      environments: [],
      dataverse: [set],
      fno: [],
      runtime: null,
    });
    const writer = new SnapshotWriter(dataDir, () => (captures++, snapshot()));
    try {
      set.insert("things", { id: "a" }, "seed");
      await Promise.all(Array.from({ length: 50 }, () => writer.persist()));
      expect(captures).to.equal(2);
      set.insert("things", { id: "b" }, "seed");
      await writer.persist();
      expect(captures).to.equal(3);
      expect(savedRows(join(dataDir, STORE_FILE), "dataverse/coalesce", "things")).to.deep.equal([
        { id: "a" },
        { id: "b" },
      ]);
    } finally {
      await writer.close();
    }
  });

  it("does nothing on disk without a data directory", async () => {
    const writer = new SnapshotWriter(undefined, () => {
      throw new Error("must not capture");
    });
    await writer.persist();
    expect(writer.enabled).to.equal(false);
  });

  it("imports the state.json of an older emulator once, then keeps its rows in state.db", async () => {
    const first = await startTestEmulator({
      dataDir,
      seed: [{ scenario: "new-new", name: "old" }],
    });
    const credentials = first.credentials;
    await first.control.insertRows("dataverse", "old", "accounts", {
      name: "From JSON",
      accountnumber: "JSON-1",
    });
    const legacy = legacySnapshotOf(first);
    await first.close();
    for (const file of [STORE_FILE, `${STORE_FILE}-wal`, `${STORE_FILE}-shm`])
      await rm(join(dataDir, file), { force: true });
    await writeFile(join(dataDir, LEGACY_STATE_FILE), JSON.stringify(legacy));

    const second = await startTestEmulator({ dataDir });
    try {
      expect(second.credentials).to.deep.equal(credentials);
      const accounts = await second.control.rows("dataverse", "old", "accounts");
      expect(accounts.map((r) => r.accountnumber)).to.deep.equal(["JSON-1"]);
      expect(existsSync(join(dataDir, LEGACY_STATE_FILE))).to.equal(false);
      expect(existsSync(join(dataDir, `${LEGACY_STATE_FILE}.imported`))).to.equal(true);
      expect(savedRows(join(dataDir, STORE_FILE), "dataverse/old", "accounts")).to.have.length(1);
    } finally {
      await second.close();
    }
  });

  it("refuses to start on a corrupt store or legacy snapshot, naming the file", async () => {
    await writeFile(join(dataDir, LEGACY_STATE_FILE), "{ not json");
    let message = "";
    await startEmulator({ dataDir }).catch((e: Error) => (message = e.message));
    expect(message).to.contain(join(dataDir, LEGACY_STATE_FILE)).and.to.contain("not valid JSON");

    await writeFile(join(dataDir, STORE_FILE), "this is not a database, it is text ".repeat(200));
    message = "";
    await startEmulator({ dataDir }).catch((e: Error) => (message = e.message));
    expect(message).to.contain(join(dataDir, STORE_FILE)).and.to.contain("not an emulator store");
  });
});

/** The rows of one table as `state.db` holds them, in key order. */
function savedRows(path: string, tableset: string, table: string): Row[] {
  const db = openDatabase(path);
  try {
    return db
      .prepare("SELECT data FROM rows WHERE tableset = ? AND tbl = ? ORDER BY key")
      .all(tableset, table)
      .map((r) => JSON.parse(String(r.data)) as Row);
  } finally {
    db.close();
  }
}

/** `tableset|table|key` → saved version, for every saved row. */
function savedVersions(path: string): Map<string, number> {
  const db = openDatabase(path);
  try {
    const out = new Map<string, number>();
    for (const r of db.prepare("SELECT tableset, tbl, key, version FROM rows").all())
      out.set(`${String(r.tableset)}|${String(r.tbl)}|${String(r.key)}`, Number(r.version));
    return out;
  } finally {
    db.close();
  }
}

/** The format-1 `state.json` an older emulator would have written for this one's state. */
function legacySnapshotOf(emulator: TestEmulator): unknown {
  const ctx = emulator.context;
  return {
    format: 1,
    savedAt: new Date().toISOString(),
    clock: { now: ctx.clock.now(), speed: ctx.clock.speed },
    settings: { ...ctx.settings },
    environments: [...ctx.environments.values()],
    dataverse: [...ctx.dataverse.values()].map((t) => t.snapshot()),
    fno: [...ctx.fno.values()].map((t) => t.snapshot()),
    runtime: null,
  };
}
