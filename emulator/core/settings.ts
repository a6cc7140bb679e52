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
    // F&O publishes no threshold for its resource-based throttling; the emulator's per-user
    // budget is the one of F&O's retired user-based limits (service-protection-api-limits).
    fnoRequestsPerWindow: 6000,
    // Entra: refresh tokens redeemed by a single-page app (the portal the tool signs in through,
    // TokenRefresh.cs:136-145) live 24 hours from sign-in.
    // https://learn.microsoft.com/entra/identity-platform/refresh-tokens#token-lifetime
    refreshTokenLifetimeSeconds: 86_400,
    // Microsoft's tool only ever sends delegated user tokens (TokenRefresh.cs:127-160,
    // ServicePrincipalAuth.cs:35-36); app-only tokens at the gateway are unproven.
    gatewayAcceptsAppTokens: false,
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
    fnoRequestsPerWindow: z.number().int().min(1),
    refreshTokenLifetimeSeconds: z
      .number()
      .int()
      .min(0)
      .max(90 * 86_400),
    gatewayAcceptsAppTokens: z.boolean(),
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
  const writable = target as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(update)) {
    // Only known settings of the same type: a saved snapshot may come from another version.
    if (value !== undefined && key in target && typeof writable[key] === typeof value)
      writable[key] = value;
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
