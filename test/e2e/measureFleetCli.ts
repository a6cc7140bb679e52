/**
 * Measures the requests of one DualWriteConnection + N EntityMapBindings (default 40) on
 * existing-existing with the real Pulumi CLI (Automation API, clock ×1, the emulator's request
 * log): `up` from scratch, a steady `preview`, a `refresh`. The maps and their order come from a
 * probe link in the same emulator (`bindingFleet.ts`); each binding depends on the bindings of
 * its prerequisite maps. Not a test: `node dist/test/e2e/measureFleetCli.js [N]` (with
 * NODE_EXTRA_CA_CERTS naming the emulator's CA).
 */
import * as pulumi from "@pulumi/pulumi";
import { DualWriteConnection, EntityMapBinding } from "../../provider";
import { CATALOG_SOLUTIONS } from "../../facts/mapCatalog";
import { startResourceHarness } from "../provider/harness";
import { countRequests, makeFleet } from "../provider/bindingFleet";
import { EngineStack } from "../support/engine";

const SECRETS = new Set(["dualwrite:clientSecret", "dualwrite:gatewayPassword"]);

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 40);
  const h = await startResourceHarness({
    seed: [
      { scenario: "existing-existing", name: "probe" },
      { scenario: "existing-existing", name: "cli" },
    ],
    clock: { speed: 1 },
  });
  let stack: EngineStack | undefined;
  try {
    const fleet = await makeFleet(h, "probe", n);
    const env = h.env("cli");
    const config = Object.fromEntries(Object.entries(h.stack).filter(([k]) => !SECRETS.has(k)));
    const secrets = Object.fromEntries(Object.entries(h.stack).filter(([k]) => SECRETS.has(k)));
    stack = await EngineStack.create({
      projectName: "dualwrite-fleet",
      config,
      secrets,
      output: false,
      program: () => {
        const link = new DualWriteConnection("link", {
          scenario: "existing-existing",
          financeOperationsUrl: env.financeOperationsUrl,
          dataverseUrl: env.dataverseUrl,
          legalEntities: ["USMF", "DEMF"],
          solutions: [...CATALOG_SOLUTIONS],
        });
        const made = new Map<string, EntityMapBinding>();
        for (const m of fleet.maps) {
          const dependsOn = (fleet.prerequisites.get(m) ?? []).flatMap((p) => made.get(p) ?? []);
          made.set(
            m,
            new EntityMapBinding(
              m.replace(/[^A-Za-z0-9]+/g, "-"),
              { connection: link, mapName: m },
              { dependsOn },
            ),
          );
        }
        return Promise.resolve({ maps: pulumi.output(made.size) });
      },
    });
    const measure = async (what: string, run: () => Promise<unknown>): Promise<void> => {
      const mark = await h.mark();
      const started = Date.now();
      await run();
      const entries = await h.requestsSince(mark);
      if (process.env.FLEET_DUMP)
        for (const e of entries.filter((x) => x.surface === "gateway"))
          console.log(
            `  ${e.at.slice(14, 23)} ${e.method} ${e.path.slice(-60)} ${e.query.slice(0, 40)}`,
          );
      const c = countRequests(entries);
      console.log(
        `${what}: ${Date.now() - started} ms; total ${c.identity + c.gateway + c.dataverse + c.fno} (identity ${c.identity}, gateway ${c.gateway}, dataverse ${c.dataverse}, fno ${c.fno}); gateway per map ${(c.gateway / fleet.maps.length).toFixed(2)}; ${JSON.stringify(c.gatewayRoutes)}`,
      );
    };
    await measure(`up (${fleet.maps.length} maps)`, () => stack!.up());
    await measure("preview", () => stack!.preview({ expectNoChanges: true }));
    await measure("refresh", () => stack!.refresh());
  } finally {
    await stack?.dispose();
    await h.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
