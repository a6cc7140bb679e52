/**
 * DualWriteConnection against the in-process emulator: the full lifecycle, adoption, drift seen
 * by diff and read, and what the request log proves about writes.
 */
import { expect } from "chai";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type {
  DualWriteConnectionInputs,
  DualWriteConnectionOutputs,
} from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { startResourceHarness, type ResourceHarness } from "./harness";

describe("DualWriteConnection (provider, emulator)", () => {
  let h: ResourceHarness;
  before(async () => {
    h = await startResourceHarness({
      seed: [
        { scenario: "existing-existing", name: "ee" },
        { scenario: "new-new", name: "nn" },
        { scenario: "existing-new", name: "en" },
      ],
    });
  });
  after(() => h.close());

  const inputsFor = (
    name: string,
    extra: Partial<DualWriteConnectionInputs> = {},
  ): DualWriteConnectionInputs => ({
    scenario: "existing-existing",
    financeOperationsUrl: h.env(name).financeOperationsUrl,
    dataverseUrl: h.env(name).dataverseUrl,
    legalEntities: ["USMF", "DEMF"],
    ...extra,
  });

  describe("full lifecycle (existing-existing)", () => {
    let outs: DualWriteConnectionOutputs;
    let id: string;

    it("check accepts the declaration with reads only", async () => {
      const mark = await h.mark();
      const failures = await connection.check({}, { ...inputsFor("ee") }, h.ctx());
      expect(failures).to.deep.equal([]);
      expect(await h.writesSince(mark)).to.deep.equal([]);
      expect((await h.requestsSince(mark)).length).to.be.greaterThan(0);
    });

    it("create links the environments (one Reset, waited for) and applies the core solution", async () => {
      const mark = await h.mark();
      const created = await connection.create(inputsFor("ee"), h.ctx());
      const writes = await h.writesSince(mark);
      const resets = writes.filter((w) => w.path.endsWith("/Reset"));
      expect(resets.map((w) => `${w.method} ${w.path}?${w.query}`)).to.deep.equal([
        `POST /api/ConnectionSet/${h.env("ee").cid}/Reset?targetType=AX&forceReset=False`,
      ]);
      // One solution per RestoreTemplates call (DWSolutionEngine.cs:105).
      expect(writes.filter((w) => w.path.endsWith("/RestoreTemplates")).length).to.equal(
        created.outs.appliedSolutions.length,
      );
      id = created.id;
      outs = created.outs;
      expect(id).to.equal(h.env("ee").cid);
      expect(outs.linkedLegalEntities).to.deep.equal(["DEMF", "USMF"]);
      expect(outs.appliedSolutions).to.include("msdyn_DualWriteAppCoreMaps");
      expect(outs.environmentId).to.equal(h.env("ee").cid);
    });

    it("diff after create shows no change", async () => {
      const d = await connection.diff(id, outs, inputsFor("ee"), h.ctx());
      expect(d).to.include({ changes: false });
      expect(d.replaces).to.deep.equal([]);
    });

    it("create again adopts the link without writing", async () => {
      const mark = await h.mark();
      const again = await connection.create(inputsFor("ee"), h.ctx());
      expect(again.id).to.equal(id);
      expect(await h.writesSince(mark)).to.deep.equal([]);
    });

    it("a legal entity removed by hand shows in diff and read, and update puts it back", async () => {
      await h.emulator.control.call("DELETE", `links/ee/legal-entities/DEMF`);
      const d = await connection.diff(id, outs, inputsFor("ee"), h.ctx());
      expect(d.changes).to.equal(true);
      expect(d.reasons.join(" ")).to.match(/legal entities linked are USMF; declared DEMF, USMF/);
      const read = await connection.read(id, outs, h.ctx());
      expect(read?.props.linkedLegalEntities).to.deep.equal(["USMF"]);
      outs = await connection.update(id, read!.props, inputsFor("ee"), h.ctx());
      expect(outs.linkedLegalEntities).to.deep.equal(["DEMF", "USMF"]);
      expect((await connection.diff(id, outs, inputsFor("ee"), h.ctx())).changes).to.equal(false);
    });

    it("adding a legal entity updates in place", async () => {
      const news = inputsFor("ee", { legalEntities: ["USMF", "DEMF", "USRT"] });
      const d = await connection.diff(id, outs, news, h.ctx());
      expect(d).to.deep.include({ changes: true, replaces: [] });
      outs = await connection.update(id, outs, news, h.ctx());
      expect(outs.linkedLegalEntities).to.deep.equal(["DEMF", "USMF", "USRT"]);
    });

    it("changing the Dataverse URL is a delete-before-replace", async () => {
      const d = await connection.diff(
        id,
        outs,
        inputsFor("ee", { dataverseUrl: h.env("nn").dataverseUrl }),
        h.ctx(),
      );
      expect(d).to.deep.include({ changes: true, deleteBeforeReplace: true });
      expect(d.replaces).to.deep.equal(["dataverseUrl"]);
    });

    it("delete resets the link and deletes no business row", async () => {
      const accountsBefore = (await h.emulator.control.rows("dataverse", "ee", "accounts")).length;
      const customersBefore = (await h.emulator.control.rows("fno", "ee", "CustomersV3")).length;
      const mark = await h.mark();
      await connection.delete(id, outs, h.ctx());
      const writes = await h.writesSince(mark);
      expect(writes.map((w) => `${w.method} ${w.path}`)).to.deep.equal([
        `POST /api/ConnectionSet/${id}/Reset`,
      ]);
      expect(writes.filter((w) => w.method === "DELETE")).to.deep.equal([]);
      expect(await connection.read(id, outs, h.ctx())).to.equal(undefined);
      expect((await h.emulator.control.rows("dataverse", "ee", "accounts")).length).to.equal(
        accountsBefore,
      );
      expect((await h.emulator.control.rows("fno", "ee", "CustomersV3")).length).to.equal(
        customersBefore,
      );
    });

    it("delete of an unlinked environment is done", async () => {
      const mark = await h.mark();
      await connection.delete(id, outs, h.ctx());
      expect(await h.writesSince(mark)).to.deep.equal([]);
    });
  });

  describe("scenario pre-flight", () => {
    it("refuses new-new against an F&O environment that has customers, with zero writes", async () => {
      const mark = await h.mark();
      const failures = await connection.check(
        {},
        inputsFor("en", { scenario: "new-new", legalEntities: ["DAT"] }),
        h.ctx(),
      );
      expect(failures.map((f) => f.property)).to.deep.equal(["scenario"]);
      expect(failures[0]!.reason)
        .to.match(/customers/)
        .and.to.match(/"existing-new"/);
      expect(await h.writesSince(mark)).to.deep.equal([]);
    });

    it("refuses existing-new against a Dataverse that has accounts", async () => {
      const failures = await connection.check(
        {},
        inputsFor("ee", { scenario: "existing-new" }),
        h.ctx(),
      );
      expect(failures.map((f) => f.property)).to.deep.equal(["scenario"]);
      expect(failures[0]!.reason)
        .to.match(/accounts/)
        .and.to.match(/"existing-existing"/);
    });

    it("refuses a legal entity F&O does not have, naming the ones it has", async () => {
      const failures = await connection.check(
        {},
        inputsFor("ee", { legalEntities: ["USMF", "ZZZ"] }),
        h.ctx(),
      );
      expect(failures.map((f) => f.property)).to.deep.equal(["legalEntities"]);
      expect(failures[0]!.reason)
        .to.match(/ZZZ/)
        .and.to.match(/createIfMissing/);
    });

    it("new-new links DAT by default", async () => {
      const inputs: DualWriteConnectionInputs = {
        scenario: "new-new",
        financeOperationsUrl: h.env("nn").financeOperationsUrl,
        dataverseUrl: h.env("nn").dataverseUrl,
      };
      expect(await connection.check({}, { ...inputs }, h.ctx())).to.deep.equal([]);
      const { outs } = await connection.create(inputs, h.ctx());
      expect(outs.linkedLegalEntities).to.deep.equal(["DAT"]);
      await connection.delete(outs.environmentId, outs, h.ctx());
    });
  });
});
