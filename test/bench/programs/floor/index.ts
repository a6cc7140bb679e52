/**
 * The engine's floor: 44 trivial dynamic resources (as many as the forty-map program has custom
 * resources: 1 connection + 3 bootstraps + 40 bindings), served by a provider that answers every
 * call at once and contacts nothing. Whatever a preview or an up of this stack costs is the cost of
 * the Pulumi engine, the Node language host and the dynamic-provider process themselves; the
 * benchmarks (test/bench/engine.bench.ts) divide the forty-map program's times by it.
 *
 * Like the real resources, the 44 share one provider object (one serialization per program) and
 * each resource depends on the one before it in the same shape as the forty-map program: a first
 * resource (the link), three after it (the bootstraps), forty after those.
 */
import * as pulumi from "@pulumi/pulumi";

/** Resources in the floor stack: the same number as the forty-map program declares. */
export const FLOOR_RESOURCES = 44;

/** A provider that does nothing: create gives an id, diff finds no change, read finds the object. */
const nothing: pulumi.dynamic.ResourceProvider = {
  check(_olds: Record<string, unknown>, news: Record<string, unknown>) {
    return Promise.resolve({ inputs: news });
  },
  diff() {
    return Promise.resolve({ changes: false });
  },
  create(inputs: Record<string, unknown>) {
    return Promise.resolve({ id: String(inputs.name), outs: inputs });
  },
  read(id: string, props?: Record<string, unknown>) {
    return Promise.resolve({ id, props: props ?? {} });
  },
  delete() {
    return Promise.resolve();
  },
};

/** One trivial resource with a name input (so each has different state, as real ones do). */
class Trivial extends pulumi.dynamic.Resource {
  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    super(nothing, name, { name }, opts, "floor", "Trivial");
  }
}

/** The floor program: 1 + 3 + 40 trivial resources, each group after the one before. */
export function floorProgram(): Record<string, unknown> {
  const link = new Trivial("link");
  const bootstraps = [1, 2, 3].map((i) => new Trivial(`bootstrap-${i}`, { dependsOn: [link] }));
  for (let i = 1; i <= FLOOR_RESOURCES - 4; i++) {
    new Trivial(`map-${i}`, { dependsOn: bootstraps });
  }
  return {};
}
