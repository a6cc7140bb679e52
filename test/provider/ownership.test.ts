/**
 * Ownership and adoption (issue 10, Required 2 and 3) against the in-process emulator: each
 * resource records whether it made what it manages or adopted it; deleting an adopted link or map
 * leaves it as found unless `onDelete` says otherwise; a create that adopts and would change what
 * runs is refused in preview (zero writes), naming each change and the input that accepts it; a
 * delete later in the same deployment leaves what another resource adopted (a rename without
 * aliases); `version: "latest"` is resolved to a concrete version kept in the state, and a newer
 * published version shows in preview as the switch it is.
 */
import { expect } from "chai";
import { Claims } from "../../provider/resources/common/spec";
import type { HandlerContext } from "../../provider/resources/common/handler";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type {
  DualWriteConnectionInputs,
  DualWriteConnectionOutputs,
} from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type {
  EntityMapBindingInputs,
  EntityMapBindingOutputs,
} from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import { startResourceHarness, type ResourceHarness } from "./harness";

const ACCOUNTS = "accounts - Customers V3";
const LEGAL_ENTITIES = "cdm_companies - Legal entities";
const CURRENCIES = "transactioncurrencies - Currencies";
const GROUPS = "msdyn_customergroups - Customer groups";

describe("ownership and adoption (provider, emulator)", function () {
  this.timeout(120_000);
  let h: ResourceHarness;

  before(async () => {
    h = await startResourceHarness({
      seed: [
        { scenario: "existing-existing", name: "ee" },
        { scenario: "existing-existing", name: "adopt" },
      ],
    });
  });
  after(() => h.close());

  const linkInputs = (
    name: string,
    extra: Partial<DualWriteConnectionInputs> = {},
  ): DualWriteConnectionInputs => ({
    scenario: "existing-existing",
    financeOperationsUrl: h.env(name).financeOperationsUrl,
    dataverseUrl: h.env(name).dataverseUrl,
    legalEntities: ["USMF", "DEMF"],
    ...extra,
  });
  const mapInputs = (
    link: DualWriteConnectionOutputs,
    mapName: string,
    extra: Partial<EntityMapBindingInputs> = {},
  ): EntityMapBindingInputs => ({
    environmentId: link.environmentId,
    financeOperationsUrl: link.financeOperationsUrl,
    dataverseUrl: link.dataverseUrl,
    mapName,
    ...extra,
  });
  const mapState = async (env: string, name: string): Promise<string> => {
    const maps = await h.emulator.control.call<{ name: string; stateName?: string }[]>(
      "GET",
      `maps?env=${env}`,
    );
    return String(maps.find((x) => x.name === name)?.stateName);
  };
  const linked = async (env: string): Promise<string[] | undefined> => {
    const links = await h.emulator.control.call<{ fnoEnv: string; legalEntities?: string[] }[]>(
      "GET",
      "links",
    );
    const link = links.find((l) => l.fnoEnv === env);
    return link && (link.legalEntities ?? []).map((c) => c.toUpperCase()).sort();
  };
  /** The failures of `check` and the writes it made. */
  async function checked(
    run: () => Promise<{ property: string; reason: string }[]>,
  ): Promise<{ failures: { property: string; reason: string }[]; writes: unknown[] }> {
    const mark = await h.mark();
    const failures = await run();
    return { failures, writes: await h.writesSince(mark) };
  }

  describe("a link made here, and one adopted", () => {
    let made: DualWriteConnectionOutputs;
    let adopted: DualWriteConnectionOutputs;
    const maps: Record<string, EntityMapBindingOutputs> = {};

    before(async () => {
      made = (await connection.create(linkInputs("adopt"), h.ctx())).outs;
    });

    it("records created when it made the link", () => {
      expect(made.ownership).to.equal("created");
    });

    it("records adopted when the link existed, and the create writes nothing", async () => {
      const mark = await h.mark();
      adopted = (await connection.create(linkInputs("adopt"), h.ctx())).outs;
      expect(adopted.ownership).to.equal("adopted");
      expect(await h.writesSince(mark)).to.deep.equal([]);
      expect(h.logs.join("\n")).to.include("creating adopts the link of F&O");
    });

    it("refuses in preview an adoption that would remove legal entities, naming them, with zero writes", async () => {
      const { failures, writes } = await checked(() =>
        connection.check({}, { ...linkInputs("adopt", { legalEntities: ["USMF"] }) }, h.ctx()),
      );
      expect(failures.map((f) => f.property)).to.deep.equal(["legalEntities"]);
      expect(failures[0]!.reason)
        .to.match(/removes DEMF from the link/)
        .and.to.match(/adoptWithChanges: true/);
      expect(writes).to.deep.equal([]);
    });

    it("accepts it with adoptWithChanges; an adoption that only adds is accepted and says what up will change", async () => {
      expect(
        await connection.check(
          {},
          { ...linkInputs("adopt", { legalEntities: ["USMF"], adoptWithChanges: true }) },
          h.ctx(),
        ),
      ).to.deep.equal([]);
      h.logs.length = 0;
      const failures = await connection.check(
        {},
        { ...linkInputs("adopt", { legalEntities: ["USMF", "DEMF", "USRT"] }) },
        h.ctx(),
      );
      expect(failures).to.deep.equal([]);
      // Adding is no disruption: accepted without the input, but said.
      expect(h.logs.join("\n")).to.match(/pulumi up will change it: .*adds USRT/);
    });

    it("deleting the adopted link leaves it as found (zero writes); onDelete: reset resets it", async () => {
      // Maps: one found running (adopted), one found stopped and started (created).
      for (const name of [LEGAL_ENTITIES, CURRENCIES, GROUPS])
        maps[name] = (await binding.create(mapInputs(made, name), h.ctx())).outs;
      expect(maps[GROUPS]!.ownership).to.equal("created");
      const again = (await binding.create(mapInputs(made, GROUPS), h.ctx())).outs;
      expect(again.ownership).to.equal("adopted");

      let mark = await h.mark();
      await binding.delete("x", again, h.ctx());
      expect(await h.writesSince(mark), "adopted map left running").to.deep.equal([]);
      expect(await mapState("adopt", GROUPS)).to.equal("Running");

      mark = await h.mark();
      await connection.delete(adopted.environmentId, adopted, h.ctx());
      expect(await h.writesSince(mark), "adopted link left").to.deep.equal([]);
      expect(await linked("adopt")).to.deep.equal(["DEMF", "USMF"]);
      expect(h.logs.join("\n")).to.include('set onDelete: "reset" to reset it on delete');

      // The one that made them cleans up: maps stopped, then the link reset.
      for (const name of [GROUPS, CURRENCIES, LEGAL_ENTITIES])
        await binding.delete("x", maps[name]!, h.ctx());
      expect(await mapState("adopt", GROUPS)).to.equal("Stopped");
      await connection.delete(adopted.environmentId, { ...adopted, onDelete: "reset" }, h.ctx());
      expect(await linked("adopt")).to.equal(undefined);
    });

    it("a state written before ownership existed cleans up on delete, as then", async () => {
      const fresh = (await connection.create(linkInputs("adopt"), h.ctx())).outs;
      expect(fresh.ownership).to.equal("created");
      const older: DualWriteConnectionOutputs = { ...fresh };
      delete (older as { ownership?: unknown }).ownership;
      await connection.delete(fresh.environmentId, older, h.ctx());
      expect(await linked("adopt")).to.equal(undefined);
    });
  });

  describe("a map that runs", () => {
    let link: DualWriteConnectionOutputs;
    let accounts: EntityMapBindingOutputs;

    before(async () => {
      link = (await connection.create(linkInputs("ee"), h.ctx())).outs;
      for (const name of [LEGAL_ENTITIES, CURRENCIES, GROUPS])
        await binding.create(mapInputs(link, name), h.ctx());
      accounts = (await binding.create(mapInputs(link, ACCOUNTS), h.ctx())).outs;
      expect(accounts.activeVersion).to.equal("1.0.0.5");
    });

    it("refuses in preview an adoption that would switch its version, with the switch named and zero writes", async () => {
      const { failures, writes } = await checked(() =>
        binding.check({}, { ...mapInputs(link, ACCOUNTS, { version: "1.0.0.4" }) }, h.ctx()),
      );
      expect(failures.map((f) => f.property)).to.deep.equal(["version"]);
      expect(failures[0]!.reason)
        .to.include("switch 1.0.0.5 → 1.0.0.4 (stops the map for the switch)")
        .and.to.include("adoptWithChanges: true");
      expect(writes).to.deep.equal([]);
    });

    it("refuses an adoption that would change its keys or stop it, naming each change", async () => {
      const { failures, writes } = await checked(() =>
        binding.check(
          {},
          {
            ...mapInputs(link, ACCOUNTS, {
              integrationKeys: ["accountnumber"],
              state: "Stopped",
            }),
          },
          h.ctx(),
        ),
      );
      expect(failures.map((f) => f.property).sort()).to.deep.equal(["integrationKeys", "state"]);
      expect(failures.find((f) => f.property === "state")!.reason).to.match(
        /is Running; declared Stopped: stops it/,
      );
      expect(failures.find((f) => f.property === "integrationKeys")!.reason).to.match(
        /stops the map to set them/,
      );
      expect(writes).to.deep.equal([]);
    });

    it("create refuses the same adoption when preview was skipped, before any write", async () => {
      const mark = await h.mark();
      let error: unknown;
      try {
        await binding.create(mapInputs(link, ACCOUNTS, { version: "1.0.0.4" }), h.ctx());
      } catch (e) {
        error = e;
      }
      expect(String(error)).to.include("switch 1.0.0.5 → 1.0.0.4");
      expect(await h.writesSince(mark)).to.deep.equal([]);
      expect(await mapState("ee", ACCOUNTS)).to.equal("Running");
    });

    it("adoptWithChanges accepts it: the map is switched, and the binding owns an adopted map", async () => {
      const outs = (
        await binding.create(
          mapInputs(link, ACCOUNTS, { version: "1.0.0.4", adoptWithChanges: true }),
          h.ctx(),
        )
      ).outs;
      expect(outs).to.include({ ownership: "adopted", activeVersion: "1.0.0.4" });
      expect(outs.resolvedVersion).to.equal("1.0.0.4");
    });

    it("latest resolves to a concrete version in check; a newer published version shows as the switch it is", async () => {
      // The state of a binding made when 1.0.0.4 was the newest: resolved to it, running it.
      const old = { ...accounts, activeVersion: "1.0.0.4", resolvedVersion: "1.0.0.4" };
      const declared = mapInputs(link, ACCOUNTS);
      const resolved = await binding.resolveInputs!({ ...old }, { ...declared }, h.ctx());
      expect(resolved).to.deep.equal({ resolvedVersion: "1.0.0.5" });
      const d = await binding.diff("x", old, { ...declared, ...resolved }, h.ctx());
      expect(d.changes).to.equal(true);
      expect(d.properties).to.include("resolvedVersion");
      expect(d.reasons.join("\n")).to.include(
        "switch 1.0.0.4 → 1.0.0.5 (stops the map for the switch)",
      );
      // Nothing published since: no change.
      const same = await binding.diff(
        "x",
        { ...accounts, version: "1.0.0.4", activeVersion: "1.0.0.4", resolvedVersion: "1.0.0.4" },
        { ...mapInputs(link, ACCOUNTS, { version: "1.0.0.4" }), resolvedVersion: "1.0.0.4" },
        h.ctx(),
      );
      expect(same).to.deep.include({ changes: false });
    });

    it("a delete later in the same deployment leaves what another resource adopted (a rename without aliases)", async () => {
      // One deployment: one provider process, one set of claims.
      const deployment: HandlerContext = { ...h.ctx(), claims: new Claims() };
      const renamed = await binding.create(
        mapInputs(link, ACCOUNTS, { version: "1.0.0.4" }),
        deployment,
      );
      expect(renamed.outs.ownership).to.equal("adopted");
      const renamedLink = await connection.create(linkInputs("ee"), deployment);
      expect(renamedLink.outs.ownership).to.equal("adopted");
      const mark = await h.mark();
      // The old URNs' deletes: a binding that started the map, a connection that made the link.
      await binding.delete("x", { ...accounts, ownership: "created" }, deployment);
      await connection.delete(link.environmentId, { ...link, ownership: "created" }, deployment);
      expect(await h.writesSince(mark)).to.deep.equal([]);
      expect(await mapState("ee", ACCOUNTS)).to.equal("Running");
      expect(await linked("ee")).to.deep.equal(["DEMF", "USMF"]);
      expect(h.logs.join("\n")).to.match(/another EntityMapBinding of this deployment adopted it/);
    });

    it("onDelete: leave keeps a map this binding started running", async () => {
      const mark = await h.mark();
      await binding.delete("x", { ...accounts, ownership: "created", onDelete: "leave" }, h.ctx());
      expect(await h.writesSince(mark)).to.deep.equal([]);
      expect(await mapState("ee", ACCOUNTS)).to.equal("Running");
    });
  });
});
