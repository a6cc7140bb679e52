/**
 * The six setup scenarios of Microsoft's "Guidance for how to set up dual-write"
 * (DW/connection-setup.md), named `<F&O side>-<Dataverse side>`. A fact about the setups Microsoft
 * describes, shared by the provider (which accepts exactly these) and the emulator (which seeds an
 * environment pair for each); it imports from neither.
 */

/** The six supported setups, named `<F&O side>-<Dataverse side>`. */
export const SCENARIOS = [
  "new-new",
  "new-existing",
  "new-data-new",
  "new-data-existing",
  "existing-new",
  "existing-existing",
] as const;

/** One of the six setup scenarios. */
export type Scenario = (typeof SCENARIOS)[number];
