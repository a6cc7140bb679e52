/**
 * The map catalog the emulator publishes: the same data the provider ships with
 * (`facts/mapCatalog.ts`, copied from `shared/data/dualwrite-map-catalog.json`, itself
 * from microsoft/Dual-write-automations' `DualWriteHelper/App.config`, MIT). One copy of the data
 * serves both, so the emulator cannot publish a map name the provider does not know, or the other
 * way round. Versions, solutions, lookups and prerequisites are the emulator's own and live in
 * `maps.ts`.
 */
export {
  MAP_CATALOG as mapCatalog,
  CATALOG_SOLUTIONS as orchestrationSolutionNames,
  type CatalogEntry,
} from "../../facts/mapCatalog";
