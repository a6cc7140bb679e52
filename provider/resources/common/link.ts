/**
 * "Linked to this Dataverse": one meaning for every resource.
 *
 * The gateway finds a link by its F&O environment only (`Environments?identifier=<F&O host>`); the
 * Dataverse side is the connection set's CRM environment, named by its URL (`directUrl`). A link
 * joins the F&O environment to Dataverse `dataverseUrl` when that URL names the same environment
 * (case and a trailing `/` ignored). A link whose connection set names no Dataverse URL is not
 * known to join it: it is never adopted, changed or reset as this link, and a map on it is not
 * this binding's.
 */
import type { GatewayLink } from "../../clients/gateway";
import { sameUrl } from "../dualWriteConnection/dualWriteConnection.schema";
import type { Clients } from "./handler";

/** How the F&O environment's link stands towards a Dataverse environment. */
export type LinkRelation =
  /** The gateway lists no link for the F&O environment. */
  | "unlinked"
  /** Linked to this Dataverse environment. */
  | "here"
  /** Linked to another Dataverse environment, or to one the connection set does not name. */
  | "elsewhere";

/** How `link` (the F&O environment's, or undefined) stands towards `dataverseUrl`. */
export function relationOf(link: GatewayLink | undefined, dataverseUrl: string): LinkRelation {
  if (!link) return "unlinked";
  return link.dataverseUrl !== undefined && sameUrl(link.dataverseUrl, dataverseUrl)
    ? "here"
    : "elsewhere";
}

/** Whether `link` joins its F&O environment to Dataverse `dataverseUrl` (see the file comment). */
export function joins(link: GatewayLink | undefined, dataverseUrl: string | undefined): boolean {
  return dataverseUrl !== undefined && relationOf(link, dataverseUrl) === "here";
}

/** The link of `financeOperationsUrl` when it joins `dataverseUrl`; undefined otherwise. */
export async function linkBetween(
  c: Clients,
  financeOperationsUrl: string,
  dataverseUrl: string,
  options: { fresh?: boolean } = {},
): Promise<GatewayLink | undefined> {
  const link = await c.gateway.findLink(financeOperationsUrl, options);
  return link && joins(link, dataverseUrl) ? link : undefined;
}

/** "F&O <url> is linked to Dataverse <url>" as messages say it, for a link that is elsewhere. */
export function linkedElsewhere(link: GatewayLink, financeOperationsUrl: string): string {
  return `F&O ${financeOperationsUrl} is linked to Dataverse ${link.dataverseUrl ?? "(a Dataverse environment its connection set does not name)"}`;
}
