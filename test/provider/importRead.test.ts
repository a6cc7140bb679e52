/**
 * `read` by import id alone (what `pulumi import` calls: an id, no state) for DualWriteConnection
 * and EntityMapBinding, against the in-process emulator, on a link whose legal entities were
 * declared unsorted, with a map at an older version, other keys and Paused, and a map stopped by
 * hand: the read rebuilds every input from the id, the state id is the one `create` gives, only
 * reads are sent, and `diff` of the imported state with the declaration it amounts to finds
 * nothing. Bad ids, a link to another Dataverse and missing objects are told apart.
 */
import { expect } from "chai";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import {
  formatConnectionImportId,
  importedConnectionInputs,
  parseConnectionImportId,
} from "../../provider/resources/dualWriteConnection/connectionImport";
import type {
  DualWriteConnectionInputs,
  DualWriteConnectionOutputs,
} from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type {
  EntityMapBindingInputs,
  EntityMapBindingOutputs,
} from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import {
  formatMapImportId,
  parseMapImportId,
} from "../../provider/resources/entityMapBinding/mapImport";
import { DualWriteError } from "../../provider/errors";
import { startResourceHarness, type ResourceHarness } from "./harness";

const ACCOUNTS = "accounts - Customers V3";
const LEGAL_ENTITIES = "cdm_companies - Legal entities";
const CURRENCIES = "transactioncurrencies - Currencies";
const GROUPS = "msdyn_customergroups - Customer groups";

/** The declared (input) part of a state. */
function inputsOf<T extends object>(props: T, keys: readonly (keyof T)[]): Partial<T> {
  return Object.fromEntries(
    keys.filter((k) => props[k] !== undefined).map((k) => [k, props[k]]),
  ) as Partial<T>;
}

const CONNECTION_INPUTS = [
  "scenario",
  "financeOperationsUrl",
  "dataverseUrl",
  "legalEntities",
  "solutions",
  "skipInitialWritesForNewLegalEntities",
  "forceReset",
] as const;
const MAP_INPUTS = [
  "environmentId",
  "financeOperationsUrl",
  "dataverseUrl",
  "mapName",
  "version",
  "author",
  "integrationKeys",
  "state",
  "startPrerequisites",
] as const;

describe("read by import id (provider, emulator)", function () {
  this.timeout(120_000);
  let h: ResourceHarness;
  let made: DualWriteConnectionOutputs;
  let fo: string;
  let dv: string;

  before(async () => {
    h = await startResourceHarness({
      seed: [
        { scenario: "existing-existing", name: "ee" },
        { scenario: "new-new", name: "nn" },
      ],
    });
    fo = h.env("ee").financeOperationsUrl;
    dv = h.env("ee").dataverseUrl;
    made = (
      await connection.create(
        {
          scenario: "existing-existing",
          financeOperationsUrl: fo,
          dataverseUrl: dv,
          legalEntities: ["USRT", "USMF"],
        },
        h.ctx(),
      )
    ).outs;
    for (const mapName of [LEGAL_ENTITIES, CURRENCIES, GROUPS]) {
      await binding.create(
        { environmentId: made.environmentId, financeOperationsUrl: fo, dataverseUrl: dv, mapName },
        h.ctx(),
      );
    }
    await binding.create(
      {
        environmentId: made.environmentId,
        financeOperationsUrl: fo,
        dataverseUrl: dv,
        mapName: ACCOUNTS,
        version: "1.0.0.4",
        integrationKeys: ["accountnumber"],
        state: "Paused",
      },
      h.ctx(),
    );
  });
  after(() => h.close());

  it("rebuilds a connection from <F&O URL>|<Dataverse URL>, with reads only, and finds no diff", async () => {
    const mark = await h.mark();
    const read = await connection.read(
      formatConnectionImportId(fo, dv),
      {} as DualWriteConnectionOutputs,
      h.ctx(),
    );
    expect(await h.writesSince(mark)).to.deep.equal([]);
    expect(read?.id).to.equal(made.environmentId);
    const imported = inputsOf(read!.props, CONNECTION_INPUTS);
    expect(imported).to.deep.equal({
      scenario: "existing-existing",
      financeOperationsUrl: fo,
      dataverseUrl: dv,
      legalEntities: ["USMF", "USRT"],
      solutions: made.appliedSolutions,
    });
    expect(read?.props).to.include({
      environmentId: made.environmentId,
      connectionSetName: made.connectionSetName,
    });
    const diff = await connection.diff(
      read!.id,
      read!.props,
      imported as DualWriteConnectionInputs,
      h.ctx(),
    );
    expect(diff).to.deep.equal({ changes: false, replaces: [], reasons: [] });

    // The F&O URL alone (as a bare host and with a trailing slash) gives the same declaration.
    const host = new URL(fo).host;
    for (const id of [`${host}`, `${fo.toUpperCase()}/`]) {
      const again = await connection.read(id, {} as DualWriteConnectionOutputs, h.ctx());
      expect(inputsOf(again!.props, CONNECTION_INPUTS), id).to.deep.equal(imported);
    }
  });

  it("rebuilds a map from <F&O>|<Dataverse>|<map name> and <F&O>|<map name>, and finds no diff", async () => {
    for (const id of [formatMapImportId(fo, dv, ACCOUNTS), `${fo}|${ACCOUNTS}`]) {
      const mark = await h.mark();
      const read = await binding.read(id, {} as EntityMapBindingOutputs, h.ctx());
      expect(await h.writesSince(mark), id).to.deep.equal([]);
      expect(read?.id).to.equal(`${made.environmentId}/${ACCOUNTS}`);
      const imported = inputsOf(read!.props, MAP_INPUTS);
      expect(imported).to.deep.equal({
        environmentId: made.environmentId,
        financeOperationsUrl: fo,
        dataverseUrl: dv,
        mapName: ACCOUNTS,
        version: "1.0.0.4",
        author: "Microsoft",
        integrationKeys: ["accountnumber"],
        state: "Paused",
      });
      expect(read?.props).to.include({ observedState: "Paused", activeVersion: "1.0.0.4" });
      const diff = await binding.diff(
        read!.id,
        read!.props,
        imported as EntityMapBindingInputs,
        h.ctx(),
      );
      expect(diff).to.deep.equal({ changes: false, replaces: [], reasons: [] });
    }
  });

  it("declares a map stopped by hand as Stopped and leaves keys out when the link has none", async () => {
    await h.emulator.control.call("PUT", `maps/ee/${encodeURIComponent(CURRENCIES)}/state`, {
      state: "Stopped",
    });
    const read = await binding.read(
      formatMapImportId(fo, dv, CURRENCIES),
      {} as EntityMapBindingOutputs,
      h.ctx(),
    );
    const imported = inputsOf(read!.props, MAP_INPUTS);
    expect(imported).to.include({ state: "Stopped", mapName: CURRENCIES });
    const keys = read!.props.integrationKeysInEffect;
    expect(imported.integrationKeys).to.deep.equal(keys.length > 0 ? keys : undefined);
    const diff = await binding.diff(
      read!.id,
      read!.props,
      imported as EntityMapBindingInputs,
      h.ctx(),
    );
    expect(diff.changes).to.equal(false);
  });

  it("answers nothing for a map or link that is not there, and refuses another Dataverse", async () => {
    const nn = h.env("nn");
    expect(
      await connection.read(nn.financeOperationsUrl, {} as DualWriteConnectionOutputs, h.ctx()),
    ).to.equal(undefined);
    expect(
      await binding.read(`${fo}|cdm_workers - Worker`, {} as EntityMapBindingOutputs, h.ctx()),
    ).to.equal(undefined);
    let error: unknown;
    try {
      await connection.read(
        formatConnectionImportId(fo, nn.dataverseUrl),
        {} as DualWriteConnectionOutputs,
        h.ctx(),
      );
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(DualWriteError);
    expect((error as DualWriteError).code).to.equal("LinkConflict");
    expect((error as Error).message).to.include(
      `is linked to Dataverse ${dv}, not ${nn.dataverseUrl}`,
    );
  });

  it("reads import ids strictly, and names the formats when one is wrong", () => {
    expect(
      parseConnectionImportId("Contoso.Operations.Dynamics.com/|https://contoso.crm.dynamics.com"),
    ).to.deep.equal({
      financeOperationsUrl: "https://contoso.operations.dynamics.com",
      dataverseUrl: "https://contoso.crm.dynamics.com",
    });
    expect(parseMapImportId("https://a.example|https://b.example|x | y")).to.deep.equal({
      financeOperationsUrl: "https://a.example",
      dataverseUrl: "https://b.example",
      mapName: "x | y",
    });
    for (const bad of [
      "",
      "http://a.example",
      "https://a.example|b c|d",
      "0f8fad5b-d9cb-469f-a165-70867728950e/accounts - Customers V3",
    ]) {
      const attempt = (): unknown =>
        bad.includes("/accounts") ? parseMapImportId(bad) : parseConnectionImportId(bad);
      expect(attempt, bad).to.throw(DualWriteError, /is not an import id of a/);
    }
    expect(() => parseMapImportId("https://a.example|https://b.example")).to.throw(
      /<financeOperationsUrl>\|<dataverseUrl>\|<map name>/,
    );
    // The declaration is sorted and upper case, whatever the link lists.
    expect(
      importedConnectionInputs({
        financeOperationsUrl: "https://a.example",
        dataverseUrl: "https://b.example",
        linkedLegalEntities: ["usrt", "DAT", "USRT"],
        appliedSolutions: ["b", "a"],
      }),
    ).to.deep.equal({
      scenario: "existing-existing",
      financeOperationsUrl: "https://a.example",
      dataverseUrl: "https://b.example",
      legalEntities: ["DAT", "USRT"],
      solutions: ["a", "b"],
    });
  });
});
