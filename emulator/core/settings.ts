/**
 * The run-time knobs of the emulator (`EmulatorSettings`): their defaults, and validation of a
 * partial update as it arrives from `startEmulator({ settings })` or `PUT /_emulator/settings`.
 */
import { z } from "zod";
import type { EmulatorSettings } from "./context";
import { EmulatorHttpError } from "./http";

/** The settings a fresh emulator starts with (the documented defaults of `EmulatorSettings`). */
export function defaultSettings(): EmulatorSettings {
  return {
    tokenLifetimeSeconds: 3600,
    jobRowsPerSecond: 2000,
    transitionMs: 200,
    dataverseRequestsPerWindow: 6000,
    dataverseConcurrentRequests: 52,
    dataverseExecutionMsPerWindow: 1_200_000,
  };
}

// One entry per setting; `.strict()` makes a misspelled name an error instead of a silent no-op.
const settingsUpdateSchema = z
  .object({
    tokenLifetimeSeconds: z.number().int().min(0).max(86_400),
    jobRowsPerSecond: z.number().positive(),
    transitionMs: z.number().min(0),
    dataverseRequestsPerWindow: z.number().int().min(1),
    dataverseConcurrentRequests: z.number().int().min(1),
    dataverseExecutionMsPerWindow: z.number().int().min(1),
  })
  .partial()
  .strict();

/**
 * Checks a partial settings update. Throws a 400 `EmulatorHttpError` naming every bad property
 * and what it must be.
 */
export function parseSettingsUpdate(input: unknown): Partial<EmulatorSettings> {
  const result = settingsUpdateSchema.safeParse(input);
  if (result.success) return result.data;
  throw new EmulatorHttpError(400, "InvalidSettings", describeIssues("settings", result.error));
}

/** Applies a validated partial update in place (the context holds one settings object). */
export function applySettings(target: EmulatorSettings, update: Partial<EmulatorSettings>): void {
  for (const [key, value] of Object.entries(update) as Array<
    [keyof EmulatorSettings, number | undefined]
  >) {
    if (value !== undefined) target[key] = value;
  }
}

/** Turns zod issues into one sentence per bad property: `settings.transitionMs: …`. */
export function describeIssues(what: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === "unrecognized_keys") {
        return `${what}: unknown ${issue.keys.length > 1 ? "properties" : "property"} ${issue.keys
          .map((k) => `'${k}'`)
          .join(", ")}; remove ${issue.keys.length > 1 ? "them" : "it"}.`;
      }
      const path = issue.path.length > 0 ? `${what}.${issue.path.join(".")}` : what;
      return `${path}: ${issue.message}.`;
    })
    .join(" ");
}
