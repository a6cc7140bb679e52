/**
 * The program of the package test (`test/e2e/package.test.ts`), written as a user writes one: one
 * link and one table map. The test copies this file into a new project outside the repository,
 * where `pulumi-dualwrite` is the installed tarball (or, for the pnpm project, the specifier is
 * rewritten to a wrapper package that depends on it), compiles it there against the installed
 * type declarations and runs it with `driver.ts`. In the repository it is only type-checked.
 */
import * as pulumi from "@pulumi/pulumi";
import { DualWriteConnection, EntityMapBinding } from "pulumi-dualwrite";

const config = new pulumi.Config();

const link = new DualWriteConnection("app", {
  scenario: "existing-existing",
  financeOperationsUrl: config.require("financeOperationsUrl"),
  dataverseUrl: config.require("dataverseUrl"),
  legalEntities: ["USMF"],
});

// A map without prerequisites, so that one binding is a whole scenario.
const legalEntities = new EntityMapBinding("legal-entities", {
  connection: link,
  mapName: "cdm_companies - Legal entities",
});

/** The legal entities the link holds, as observed. */
export const linked = link.linkedLegalEntities;
/** The map's state, as observed after the update. */
export const mapState = legalEntities.observedState;
