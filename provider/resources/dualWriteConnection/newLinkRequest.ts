/**
 * How the provider asks the gateway for a NEW link: the one place where that guess lives.
 *
 * The public evidence shows only a relink: the tool reads an existing connection set and sends
 * its environments back through `Reset` (DWLibary/Engines/ResetLinkEngine.cs:118-147). An
 * environment pair that was never linked has no connection set to read, so where its values come
 * from is the project's choice, made once here.
 */
import type { LinkRequest } from "../../clients/gateway";
import type { Clients } from "../common/handler";

/** What the provider knows of the pair it links. */
export interface NewLink {
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  /**
   * The F&O environment id: `Id` of Dataverse's `RetrieveFinanceAndOperationsIntegrationDetails`
   * for the paired environment.
   */
  readonly cid: string;
  readonly legalEntities: readonly string[];
  /** `skipInitialWritesForNewLegalEntities` as declared. */
  readonly skipInitialWrites: boolean;
}

/**
 * CHOICE — the `Reset` request that links a pair that has no connection set yet:
 * - path `cid`: the F&O environment id that Power Platform integration pairs with the Dataverse
 *   environment (`RetrieveFinanceAndOperationsIntegrationDetails.Id`);
 * - `powerAppsEnvironmentName` and each environment's `id`: the Dataverse environment's Power
 *   Platform environment id (`RetrieveCurrentOrganization` → `Detail.EnvironmentId`), as the tool
 *   sends the connection set's `powerAppsEnvironment` for both (ResetLinkEngine.cs:131,141);
 * - environment `name`s: the URLs' host names; `displayName`: the organization's friendly name
 *   for Dataverse, the host name for F&O; `isDevInstance`: false; `directUrl`: the URLs;
 * - `skipInitialWritesForNewLegalEntities: true` only when declared (the tool's body has no such
 *   member; without it a link of more than 40 legal entities cannot be asked for).
 */
export async function newLinkRequest(c: Clients, pair: NewLink): Promise<LinkRequest> {
  const org = await c.dataverse.currentOrganization();
  const dataverseHost = new URL(pair.dataverseUrl).hostname;
  const financeOperationsHost = new URL(pair.financeOperationsUrl).hostname;
  return {
    cid: pair.cid,
    payload: {
      powerAppsEnvironmentName: org.EnvironmentId,
      environments: [
        {
          targetType: "CRM",
          name: dataverseHost,
          displayName: org.FriendlyName || dataverseHost,
          id: org.EnvironmentId,
          isDevInstance: false,
          directUrl: pair.dataverseUrl,
        },
        {
          targetType: "AX",
          name: financeOperationsHost,
          displayName: financeOperationsHost,
          id: org.EnvironmentId,
          isDevInstance: false,
          directUrl: pair.financeOperationsUrl,
        },
      ],
      legalEntities: [...pair.legalEntities],
      ...(pair.skipInitialWrites && { skipInitialWritesForNewLegalEntities: true }),
    },
  };
}
