/**
 * Turns on Node's on-disk cache of compiled code in the dynamic-provider process, before the
 * runtime loads its dependencies.
 *
 * The CLI starts a new provider process for every preview, up, refresh and destroy, and that
 * process compiles the same modules each time: the runtime and its dependencies (`@azure/identity`
 * and MSAL, zod) took ~195 ms to load on the 2-core benchmark machine, ~145 ms with the cache
 * (measured in a fresh Node, loading the whole runtime at once). The cache is Node's own
 * (`module.enableCompileCache`, Node ≥ 22.1): it lives in `NODE_COMPILE_CACHE` when that is set,
 * else in the system's temporary folder, it is checked against each file's contents, and
 * `NODE_DISABLE_COMPILE_CACHE=1` turns it off. Only the provider host turns it on: a program or a
 * test that imports the runtime keeps its process as it was.
 */
import * as nodeModule from "node:module";
import { isDynamicProviderHost } from "../cancellation";

/** Whether the cache was turned on here (false when Node lacks it, or it was on already). */
export const compileCacheEnabled = isDynamicProviderHost() && enable();

function enable(): boolean {
  const api = nodeModule as { enableCompileCache?: () => { status: number } };
  if (typeof api.enableCompileCache !== "function") return false;
  try {
    return api.enableCompileCache().status === nodeModule.constants.compileCacheStatus.ENABLED;
  } catch {
    // A cache folder that cannot be written only costs the time the cache would have saved.
    return false;
  }
}
