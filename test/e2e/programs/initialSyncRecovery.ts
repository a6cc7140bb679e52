/**
 * The program of test/e2e/initialSyncRecovery.test.ts: a link and three maps whose starts are their
 * initial syncs (legal entities, currencies, customer groups, in that order). The customer groups'
 * sync takes its `trigger` and `waitForCompletion` from the stack config, so that each test step
 * syncs it again (an update) and can be interrupted at a chosen point.
 *
 * | config              | meaning                                                         |
 * |---------------------|-----------------------------------------------------------------|
 * | financeOperationsUrl, dataverseUrl | the emulated environment pair                    |
 * | groupsTrigger       | the customer groups' `initialSync.trigger`                      |
 * | groupsWait          | `false`: the groups' sync is not waited for                     |
 */
import * as pulumi from "@pulumi/pulumi";
import * as dw from "pulumi-dualwrite";

/** The map names, as the gateway shows them. */
export const MAPS = {
  legalEntities: "cdm_companies - Legal entities",
  currencies: "transactioncurrencies - Currencies",
  groups: "msdyn_customergroups - Customer groups",
} as const;

/** Registers the resources; returns the stack outputs. */
export default function program(): Record<string, unknown> {
  const config = new pulumi.Config();
  const master = "FinanceOperations" as const;
  const link = new dw.DualWriteConnection("link", {
    onDelete: "reset",
    scenario: "existing-existing",
    financeOperationsUrl: config.require("financeOperationsUrl"),
    dataverseUrl: config.require("dataverseUrl"),
    legalEntities: ["USMF", "DEMF"],
  });
  // A map a killed `up` started is adopted by the next one; the test's destroy stops it all the same.
  const onDelete = "stop" as const;
  const legalEntities = new dw.EntityMapBinding("legal-entities", {
    connection: link,
    mapName: MAPS.legalEntities,
    initialSync: { master },
    onDelete,
  });
  const currencies = new dw.EntityMapBinding(
    "currencies",
    { connection: link, mapName: MAPS.currencies, initialSync: { master }, onDelete },
    { dependsOn: [legalEntities] },
  );
  const trigger = config.get("groupsTrigger");
  const groups = new dw.EntityMapBinding(
    "groups",
    {
      connection: link,
      mapName: MAPS.groups,
      initialSync: {
        master,
        ...(trigger !== undefined && { trigger }),
        waitForCompletion: config.getBoolean("groupsWait") ?? true,
      },
      onDelete,
    },
    { dependsOn: [currencies] },
  );
  return {
    legalEntitiesSync: legalEntities.lastInitialSync,
    currenciesSync: currencies.lastInitialSync,
    groupsSync: groups.lastInitialSync,
    groupsState: groups.observedState,
  };
}
