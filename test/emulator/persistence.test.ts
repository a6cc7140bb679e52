/**
 * Persistence: with a data directory an acknowledged write survives a restart (same credentials,
 * same rows); a restart seeds only missing environments; concurrent saves coalesce; a corrupt
 * snapshot stops the start with a message that names the file.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { startEmulator } from "../../emulator/index";
import {
  SnapshotWriter,
  STATE_FILE,
  type EmulatorSnapshot,
} from "../../emulator/store/persistence";
import { startTestEmulator, withHelpers } from "../support/emulator";

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
    // Read the file while the emulator still runs: no close-time save may be needed.
    const saved = JSON.parse(await readFile(join(dataDir, STATE_FILE), "utf8")) as EmulatorSnapshot;
    await first.close();
    const accounts = saved.dataverse
      .find((s) => s.instance === "dev")!
      .tables.accounts!.rows.map(([, r]) => r.row.accountnumber);
    expect(accounts).to.include.members(numbers);
  });

  it("coalesces saves: one write in flight, one more for everyone who asked meanwhile", async () => {
    let captures = 0;
    const snapshot: EmulatorSnapshot = {
      format: 1,
      savedAt: "",
      clock: { now: 0, speed: 1 },
      settings: {
        tokenLifetimeSeconds: 1,
        jobRowsPerSecond: 1,
        transitionMs: 1,
        dataverseRequestsPerWindow: 1,
        dataverseConcurrentRequests: 1,
        dataverseExecutionMsPerWindow: 1,
      },
      environments: [],
      dataverse: [],
      fno: [],
      runtime: null,
    };
    const writer = new SnapshotWriter(dataDir, () => (captures++, snapshot));
    await Promise.all(Array.from({ length: 50 }, () => writer.persist()));
    expect(captures).to.equal(2);
    await writer.persist();
    expect(captures).to.equal(3);
    await writer.close();
  });

  it("does nothing on disk without a data directory", async () => {
    const writer = new SnapshotWriter(undefined, () => {
      throw new Error("must not capture");
    });
    await writer.persist();
    expect(writer.enabled).to.equal(false);
  });

  it("refuses to start on a corrupt snapshot, naming the file", async () => {
    await writeFile(join(dataDir, STATE_FILE), "{ not json");
    let message = "";
    await startEmulator({ dataDir }).catch((e: Error) => (message = e.message));
    expect(message).to.contain(join(dataDir, STATE_FILE)).and.to.contain("not valid JSON");
  });
});
