/**
 * CompanyBootstrap's request economy (issue 12), counted in the emulator's request log:
 *
 * - a steady preview (diff) or refresh (read) of a bootstrap whose rows are all stamped costs one
 *   `$count` per table, plus `cdm_companies` and `businessunits` — and those two are read once for
 *   every bootstrap of the operation (shared reads), not once per bootstrap;
 * - counting never pages through keys in a preview: above 5,000 rows it says "at least 5,000";
 * - stamping a large selection (20,000 generated rows, `PUT /_emulator/bulk-rows`) reads only the
 *   pages it stamps — a page of 5,000 keys, five `UpdateMultiple` of 1,000, the next page — and a
 *   refresh after it counts exactly in one request per table.
 *
 * The counts are derived from what each step needs (see `companyBootstrap.handler.ts`), not
 * measured times.
 */
import { expect } from "chai";
import type { RequestLogEntry } from "../../emulator/index";
import { companyBootstrapLifecycle as bootstrap } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import type {
  CompanyBootstrapInputs,
  CompanyBootstrapOutputs,
} from "../../provider/resources/companyBootstrap/companyBootstrap.schema";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type { HandlerContext } from "../../provider/resources/common/handler";
import { selectionFilter } from "../../provider/resources/companyBootstrap/eligibility";
import { startResourceHarness, type ResourceHarness } from "./harness";

/** Generated customer groups without a company in the large test. */
const BULK = 20_000;
/** Dataverse's largest page, and the most targets of one `UpdateMultiple`. */
const PAGE = 5_000;
const UPDATE_MULTIPLE = 1_000;

describe("CompanyBootstrap request economy (provider, emulator)", function () {
  this.timeout(300_000);
  let h: ResourceHarness;

  before(async () => {
    h = await startResourceHarness({
      seed: [
        { scenario: "existing-existing", name: "ee" },
        { scenario: "existing-existing", name: "big" },
      ],
    });
    for (const name of ["ee", "big"])
      await connection.create(
        {
          scenario: "existing-existing",
          financeOperationsUrl: h.env(name).financeOperationsUrl,
          dataverseUrl: h.env(name).dataverseUrl,
          legalEntities: ["USMF", "DEMF"],
        },
        h.ctx(),
      );
  });
  after(() => h.close());

  const inputs = (
    env: string,
    extra: Partial<CompanyBootstrapInputs> = {},
  ): CompanyBootstrapInputs => ({
    financeOperationsUrl: h.env(env).financeOperationsUrl,
    dataverseUrl: h.env(env).dataverseUrl,
    companyCode: "USMF",
    ...extra,
  });

  /** A fresh operation (new clients) whose token is fetched already, and the log mark after it. */
  const operation = async (env: string): Promise<{ ctx: HandlerContext; mark: number }> => {
    const ctx = h.ctx();
    await ctx.clients(inputs(env)).dataverse.whoAmI();
    return { ctx, mark: await h.mark() };
  };
  /** The requests to the environments and the gateway since `mark` (token requests left out). */
  const since = async (mark: number): Promise<RequestLogEntry[]> =>
    (await h.requestsSince(mark)).filter((r) => r.surface !== "identity");
  const table = (r: RequestLogEntry): string => r.path.split("/").pop() ?? "";
  const param = (r: RequestLogEntry, name: string): string | null =>
    new URLSearchParams(r.query).get(name);

  describe("steady state: every covered row stamped", () => {
    const declared: Record<string, CompanyBootstrapInputs> = {};
    const outs: Record<string, CompanyBootstrapOutputs> = {};

    before(async () => {
      declared.us = inputs("ee", { owningBusinessUnit: "Contoso US" });
      declared.de = inputs("ee", { companyCode: "DEMF", owningBusinessUnit: "Contoso Germany" });
      declared.groups = inputs("ee", {
        owningBusinessUnit: "Contoso US",
        tables: ["msdyn_customergroups"],
      });
      for (const [name, d] of Object.entries(declared))
        outs[name] = (await bootstrap.create(d, h.ctx())).outs;
    });

    it("a preview (diff) of one bootstrap: companies, business units and one $count per table", async () => {
      const { ctx, mark } = await operation("ee");
      const d = await bootstrap.diff(outs.us!.companyId, outs.us!, declared.us!, ctx);
      expect(d).to.deep.include({ changes: false, reasons: [] });
      const requests = await since(mark);
      expect(requests.map((r) => `${r.surface} ${r.method} ${table(r)}`).sort()).to.deep.equal([
        "dataverse GET accounts",
        "dataverse GET businessunits",
        "dataverse GET cdm_companies",
        "dataverse GET contacts",
      ]);
      for (const r of requests.filter((r) => ["accounts", "contacts"].includes(table(r))))
        expect(param(r, "$count"), r.query).to.equal("true");
    });

    it("a refresh (read) of one bootstrap costs what its preview costs", async () => {
      const { ctx, mark } = await operation("ee");
      const read = await bootstrap.read(outs.us!.companyId, outs.us!, ctx);
      expect(read?.props.pendingRows).to.deep.equal({ accounts: 0, contacts: 0 });
      expect(await since(mark)).to.have.length(4);
    });

    it("three bootstraps in one operation read companies and business units once between them", async () => {
      // One count per table of the rows without a company of any business unit, shared by the
      // bootstraps; then, per table and business unit, its own count where that one is not 0.
      const dv = h.ctx().clients(inputs("ee")).dataverse;
      const byTable = new Map<string, Set<string>>();
      for (const d of Object.values(declared))
        for (const t of d.tables ?? ["accounts", "contacts"])
          byTable.set(t, (byTable.get(t) ?? new Set()).add(d.owningBusinessUnit ?? ""));
      let counts = 0;
      for (const [t, units] of byTable) {
        counts++;
        const some = await dv.countCapped(
          t,
          selectionFilter(t, { businessUnit: undefined, cutoff: undefined }),
        );
        if (some.rows > 0) counts += [...units].filter((u) => u !== "").length;
      }
      for (const step of ["diff", "read"] as const) {
        const { ctx, mark } = await operation("ee");
        await Promise.all(
          Object.entries(declared).map(([name, d]) =>
            step === "diff"
              ? bootstrap.diff(outs[name]!.companyId, outs[name]!, d, ctx)
              : bootstrap.read(outs[name]!.companyId, outs[name]!, ctx),
          ),
        );
        const requests = await since(mark);
        expect(
          requests.filter((r) => table(r) === "cdm_companies"),
          step,
        ).to.have.length(1);
        expect(
          requests.filter((r) => table(r) === "businessunits"),
          step,
        ).to.have.length(1);
        expect(requests, step).to.have.length(2 + counts);
        const asked = requests.map((r) => `${r.path}?${r.query}`);
        expect(new Set(asked).size, `${step}: no query asked twice`).to.equal(asked.length);
      }
    });
  });

  describe(`a large selection (${BULK.toLocaleString("en-US")} rows)`, () => {
    const groups = (): CompanyBootstrapInputs =>
      inputs("big", { tables: ["msdyn_customergroups"] });
    let outs: CompanyBootstrapOutputs;

    before(async () => {
      await h.emulator.control.call("PUT", "bulk-rows", {
        env: "big",
        side: "dataverse",
        table: "msdyn_customergroups",
        count: BULK,
      });
    });

    it("preview counts without paging through keys: at least 5,000, in one request per count", async () => {
      const { ctx, mark } = await operation("big");
      h.logs.length = 0;
      expect(await bootstrap.check({}, { ...groups() }, ctx)).to.deep.equal([]);
      expect(h.logs.join("\n")).to.match(/would stamp at least 5,000 msdyn_customergroups/);
      const reads = (await since(mark)).filter((r) => table(r) === "msdyn_customergroups");
      // Every read of the table is a $count, but the cutoff's newest row ($top=1).
      const keyPages = reads.filter((r) => param(r, "$count") !== "true");
      expect(keyPages.map((r) => param(r, "$orderby"))).to.deep.equal(["createdon desc"]);
      expect(reads.length).to.be.at.most(4);
    });

    it("up reads only the pages it stamps, one page of keys at a time", async () => {
      const { ctx, mark } = await operation("big");
      outs = (await bootstrap.create(groups(), ctx)).outs;
      const stamped = outs.stampedRows.msdyn_customergroups ?? 0;
      expect(stamped).to.be.at.least(BULK);
      expect(outs.pendingRows).to.deep.equal({ msdyn_customergroups: 0 });
      const requests = (await since(mark)).filter((r) => table(r) !== "cdm_companies");
      const keyPages = requests.filter(
        (r) =>
          r.method === "GET" &&
          table(r) === "msdyn_customergroups" &&
          param(r, "$count") !== "true" &&
          param(r, "$orderby") === null,
      );
      const updates = requests.filter((r) =>
        r.path.endsWith("/Microsoft.Dynamics.CRM.UpdateMultiple"),
      );
      expect(keyPages).to.have.length(Math.ceil(stamped / PAGE));
      // Each page is stamped before the next is read: reads and writes alternate page by page.
      expect(updates).to.have.length(
        Math.floor(stamped / PAGE) * (PAGE / UPDATE_MULTIPLE) +
          Math.ceil((stamped % PAGE) / UPDATE_MULTIPLE),
      );
      const order = requests
        .filter((r) => keyPages.includes(r) || updates.includes(r))
        .map((r) => (keyPages.includes(r) ? "page" : "stamp"));
      expect(order.slice(0, 7)).to.deep.equal([
        "page",
        "stamp",
        "stamp",
        "stamp",
        "stamp",
        "stamp",
        "page",
      ]);
    });

    it("a refresh after it counts exactly, in one request, and the preview has nothing to do", async () => {
      let { ctx, mark } = await operation("big");
      const read = await bootstrap.read(outs.companyId, outs, ctx);
      expect(read?.props.pendingRows).to.deep.equal({ msdyn_customergroups: 0 });
      // No business unit is declared: the companies, and one $count.
      expect(await since(mark)).to.have.length(2);
      ({ ctx, mark } = await operation("big"));
      expect((await bootstrap.diff(outs.companyId, outs, groups(), ctx)).changes).to.equal(false);
      expect(await since(mark)).to.have.length(2);
    });
  });
});
