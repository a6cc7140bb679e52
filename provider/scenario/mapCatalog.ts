/**
 * The dual-write map catalog, as the provider sees it: the data lives in `facts/mapCatalog.ts`,
 * shared with the emulator (which must not import from `provider/`).
 */
export { MAP_CATALOG, CATALOG_SOLUTIONS, type CatalogEntry } from "../../facts/mapCatalog";
