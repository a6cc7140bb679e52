/**
 * Bringing an existing link under management (`pulumi import`): the import id a person types, and
 * the declaration that a link's observed state amounts to. The lifecycle's `read` uses both when
 * the engine gives it an id and no state (an import); `pulumi-dualwrite export` writes the same
 * declaration and the same ids, so that an import followed by the exported program's first
 * preview shows no change.
 *
 * Import id: `<financeOperationsUrl>|<dataverseUrl>`, or `<financeOperationsUrl>` alone (the
 * Dataverse environment is then the link's). A bare host stands for `https://<host>`, e.g.
 * `contoso.operations.dynamics.com|contoso.crm.dynamics.com`. The id names the F&O environment
 * because that is the only key by which the gateway finds a link (`Environments?identifier=<F&O
 * host>`, DWLibary/DWEnvCalls.cs:24-38): the resource's own id, the F&O environment id (`cid`),
 * cannot be looked up. After the import the state holds the `cid`, as after a `create`.
 */
import { DualWriteError } from "../../errors";
import type { Scenario } from "../../scenario/scenarios";
import type { DualWriteConnectionInputs } from "./dualWriteConnection.schema";

/**
 * The scenario an imported (or exported) link is declared with. A scenario shapes only the
 * defaults and the pre-flight of a link that is not made yet; once linked, both environments exist
 * and hold dual-write's data, and the imported declaration lists its legal entities and solutions
 * explicitly, so no default is left to apply.
 */
export const IMPORTED_SCENARIO: Scenario = "existing-existing";

/** Separates the parts of an import id (never part of a URL or a map name). */
export const IMPORT_ID_SEPARATOR = "|";

/** The two URLs an import id names (normalized, see {@link environmentUrl}). */
export interface ConnectionImportId {
  readonly financeOperationsUrl: string;
  /** Undefined when the id names only the F&O environment: the link's Dataverse is taken. */
  readonly dataverseUrl: string | undefined;
}

/**
 * One spelling of an environment URL, as import ids, exported stack config and imported state
 * use it: `https://`, host in lower case, no trailing `/`. A bare host gets `https://`.
 * Undefined when `text` is not an https URL without credentials, query or fragment.
 */
export function environmentUrl(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" || url.username || url.password || url.search || url.hash)
    return undefined;
  return url.toString().replace(/\/+$/, "");
}

/** The import id of the link between two environments. */
export function formatConnectionImportId(
  financeOperationsUrl: string,
  dataverseUrl: string,
): string {
  return `${financeOperationsUrl}${IMPORT_ID_SEPARATOR}${dataverseUrl}`;
}

/**
 * Reads an import id of a DualWriteConnection.
 * @throws DualWriteError code `InvalidImportId` saying which formats are accepted
 */
export function parseConnectionImportId(id: string): ConnectionImportId {
  const parts = id.split(IMPORT_ID_SEPARATOR);
  const urls = parts.map(environmentUrl);
  const [fo, dv] = urls;
  if (parts.length > 2 || fo === undefined || (parts.length === 2 && dv === undefined))
    throw invalidImportId("DualWriteConnection", id, CONNECTION_ID_FORMAT);
  return { financeOperationsUrl: fo, dataverseUrl: dv };
}

/** How a DualWriteConnection's import id reads, for messages. */
export const CONNECTION_ID_FORMAT =
  "<financeOperationsUrl>|<dataverseUrl> or <financeOperationsUrl>, e.g. https://contoso.operations.dynamics.com|https://contoso.crm.dynamics.com";

/**
 * The declaration (inputs) of an observed link: its environments, the legal entities it holds
 * and the solutions applied on it, both sorted — what the resource would have been created with.
 * Nothing unobservable is declared (`skipInitialWritesForNewLegalEntities`, `forceReset` keep
 * their defaults).
 */
export function importedConnectionInputs(observed: {
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly linkedLegalEntities: readonly string[];
  readonly appliedSolutions: readonly string[];
}): DualWriteConnectionInputs {
  return {
    scenario: IMPORTED_SCENARIO,
    financeOperationsUrl: observed.financeOperationsUrl,
    dataverseUrl: observed.dataverseUrl,
    legalEntities: sortedUnique(observed.linkedLegalEntities.map((c) => c.toUpperCase())),
    solutions: sortedUnique(observed.appliedSolutions),
  };
}

/** The error for an id that is not an import id of `resource`. */
export function invalidImportId(resource: string, id: string, format: string): DualWriteError {
  return new DualWriteError(
    `${JSON.stringify(id)} is not an import id of a ${resource}: expected ${format}. ` +
      "The gateway finds a link only by its F&O environment's address, so the id must name it (docs/resources.md, Import).",
    "InvalidImportId",
  );
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}
