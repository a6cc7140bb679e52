/**
 * Deterministic identifiers. The emulator derives every GUID it makes (map ids, project ids,
 * request ids, seeded row ids) from names, so the same seed and the same calls give the same ids
 * run after run — tests and snapshots can compare them.
 */
import { createHash } from "node:crypto";

/** A lower-case GUID derived from `parts` (SHA-256, shaped as an RFC 4122 version-5-style id). */
export function guidFrom(...parts: ReadonlyArray<string | number>): string {
  const hex = createHash("sha256").update(parts.map(String).join("\u0000")).digest("hex");
  // Set the version nibble to 5 and the variant bits to 10xx so the text is a well-formed GUID.
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The Power Platform environment id of a Dataverse org: `EnvironmentId` of
 * `RetrieveCurrentOrganization` and the gateway's `powerAppsEnvironment` (the tool sends it as
 * `powerAppsEnvironmentName` and as the environments' `id` in Reset,
 * DWLibary/Engines/ResetLinkEngine.cs:118-147). A GUID, stable per org name.
 */
export function powerPlatformEnvironmentId(org: string): string {
  return guidFrom("power-platform-environment", org);
}

/** A small deterministic pseudo-random generator (mulberry32), seeded from text. */
export class SeededRandom {
  private state: number;

  constructor(seed: string) {
    this.state = parseInt(createHash("sha256").update(seed).digest("hex").slice(0, 8), 16) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new RangeError("pick() needs a non-empty list.");
    return item;
  }
}
