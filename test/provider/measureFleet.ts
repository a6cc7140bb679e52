/**
 * Measures the requests of one link + N EntityMapBindings on existing-existing (default 40), as
 * three engine operations each in a new "provider process": `up` from scratch, a steady preview
 * and a refresh. Clock ×1 and the clients' default poll pace, so the counts are those a real run
 * makes. Not a test: `node dist/test/provider/measureFleet.js [N] [parallel]`.
 */
import { startResourceHarness } from "./harness";
import {
  countRequests,
  createFleet,
  makeFleet,
  operation,
  previewFleet,
  refreshFleet,
  type SurfaceCounts,
} from "./bindingFleet";

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 40);
  const parallel = Number(process.argv[3] ?? 8);
  const h = await startResourceHarness({
    seed: [{ scenario: "existing-existing", name: "ee" }],
    clock: { speed: 1 },
  });
  try {
    const fleet = await makeFleet(h, "ee", n);
    const before = await h.emulator.control.call<{ name: string; stateName?: string }[]>(
      "GET",
      "maps?env=ee",
    );
    const initial = fleet.maps.map((m) => before.find((x) => x.name === m)?.stateName ?? "?");
    console.log(
      `${fleet.maps.length} maps; states before: ${JSON.stringify(Object.fromEntries([...new Set(initial)].map((s) => [s, initial.filter((x) => x === s).length])))}`,
    );
    const measure = async <T>(
      what: string,
      run: (op: ReturnType<typeof operation>) => Promise<T>,
    ): Promise<T> => {
      const op = operation(h);
      const mark = await h.mark();
      const started = Date.now();
      try {
        const value = await run(op);
        const counts: SurfaceCounts = countRequests(await h.requestsSince(mark));
        console.log(
          `${what}: ${Date.now() - started} ms; identity ${counts.identity}, gateway ${counts.gateway} (${(counts.gateway / fleet.maps.length).toFixed(2)}/map), dataverse ${counts.dataverse}, fno ${counts.fno}; ${JSON.stringify(counts.gatewayRoutes)}`,
        );
        return value;
      } finally {
        op.close();
      }
    };
    const made = await measure(`up (${n} maps, parallel ${parallel})`, (op) =>
      createFleet(fleet, op.ctx, parallel),
    );
    const changes = await measure("preview", (op) => previewFleet(fleet, made, op.ctx, parallel));
    if (changes) console.log("  (the preview shows changes)");
    const states = await measure("refresh", (op) => refreshFleet(fleet, made, op.ctx, parallel));
    console.log(`  states: ${JSON.stringify([...new Set(states.values())])}`);
  } finally {
    await h.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
