/**
 * Input validation shared by every resource's `check`: zod schemas per property, run one
 * property at a time so that each bad property yields exactly one failure that names it and says
 * what to do, and properties still unknown in a preview are left alone.
 */
import { z } from "zod";

/**
 * The value the engine sends, in place of any input not known yet during a preview
 * (`rpc.unknownValue` in @pulumi/pulumi), whatever the property's type.
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** One rejected property, as the dynamic provider protocol reports it. */
export interface CheckFailure {
  /** The input property at fault, e.g. `legalEntities`. */
  readonly property: string;
  /** A sentence a person can act on. */
  readonly reason: string;
}

/** Whether `value`, or anything inside it, is not known yet (preview). */
export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (typeof value === "object" && value !== null)
    return Object.values(value).some(containsUnknown);
  return false;
}

/**
 * The new inputs with each of `keys` that is unknown (preview) replaced by its previous value:
 * for inputs derived from another resource's computed outputs, whose unknown value says only
 * that the other resource is being updated, not that this one changes.
 */
export function settleDerived<T extends object>(olds: T, news: T, keys: readonly (keyof T)[]): T {
  const settled = { ...news };
  for (const k of keys) if (containsUnknown(news[k])) settled[k] = olds[k];
  return settled;
}

/** One zod schema per input property. */
export type PropertySchemas = Readonly<Record<string, z.ZodType>>;

/** What {@link checkProperties} found. */
export interface PropertyCheck {
  /** One failure per bad property. */
  readonly failures: CheckFailure[];
  /** Properties whose value is not known yet; nothing was checked for them. */
  readonly unknown: ReadonlySet<string>;
  /** The parsed values of the properties that passed (defaults not applied). */
  readonly values: Readonly<Record<string, unknown>>;
}

/**
 * Validates `news` property by property. Keys the resource does not have are rejected too (a
 * typo in a program written in another language would otherwise be ignored silently); the
 * engine's own `__provider` key is skipped.
 */
export function checkProperties(
  resource: string,
  schemas: PropertySchemas,
  news: Readonly<Record<string, unknown>>,
): PropertyCheck {
  const failures: CheckFailure[] = [];
  const unknown = new Set<string>();
  const values: Record<string, unknown> = {};
  for (const [property, schema] of Object.entries(schemas)) {
    const value = news[property];
    if (containsUnknown(value)) {
      unknown.add(property);
      continue;
    }
    const result = schema.safeParse(value);
    if (result.success) values[property] = result.data;
    else failures.push({ property, reason: describeIssues(property, result.error.issues) });
  }
  for (const property of Object.keys(news)) {
    if (property === "__provider" || property in schemas) continue;
    failures.push({
      property,
      reason: `${resource} has no input "${property}"; remove it (inputs are ${Object.keys(schemas).join(", ")}).`,
    });
  }
  return { failures, unknown, values };
}

/** Turns zod issues of one property into one sentence, each issue prefixed by its path. */
export function describeIssues(property: string, issues: readonly z.core.$ZodIssue[]): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const issue of issues) {
    const where =
      property +
      issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
    if (seen.has(where)) continue; // the first problem of a place is the one worth fixing first
    seen.add(where);
    parts.push(`${where} ${issue.message}`);
    if (parts.length === 3) break;
  }
  return `${parts.join("; ")}.`.replace(/\.\.$/, ".");
}

/** A short, quoted rendering of a bad value for messages (never long, never an object dump). */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `a ${typeof value}`;
}

/** A required or optional text. */
export function text(what: string, example: string): z.ZodString {
  return z.string({
    error: (i) => `must be ${what}, e.g. ${JSON.stringify(example)}; got ${show(i.input)}`,
  });
}

/** An absolute `https://` base URL without credentials, query or fragment; trailing `/` allowed. */
export function httpsUrl(example: string): z.ZodType<string> {
  return text("an https:// URL", example).superRefine((value, ctx) => {
    const problem = httpsUrlProblem(value, example);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  });
}

function httpsUrlProblem(value: string, example: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `is not a URL (${show(value)}); give the environment's address, e.g. ${example}`;
  }
  if (url.protocol !== "https:") {
    return `must use https:// (got ${show(value)}); Dynamics 365 and its tokens are HTTPS only, e.g. ${example}`;
  }
  if (url.username || url.password)
    return "must not contain a user name or password; credentials come from the provider configuration";
  if (url.search || url.hash)
    return `must be the environment's base URL without query or fragment, e.g. ${example}`;
  return undefined;
}

/** `https://host/path/` → `https://host/path`: one spelling per environment for comparisons. */
export function normalizeUrl(value: string): string {
  return value.replace(/\/+$/, "");
}

/** The F&O company (legal entity, `dataAreaId`) code: 1 to 4 letters or digits. */
export const companyCode: z.ZodType<string> = z
  .string({ error: (i) => `must be a company code such as "USMF"; got ${show(i.input)}` })
  .superRefine((value, ctx) => {
    const problem = companyCodeProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  });

function companyCodeProblem(value: string): string | undefined {
  if (value.trim() === "")
    return "is empty; give the legal entity's code (its dataAreaId), e.g. USMF";
  if (value.length > 4) {
    return `${show(value)} is ${value.length} characters long; an F&O company code (dataAreaId) has at most 4, e.g. USMF`;
  }
  if (!/^[A-Za-z0-9]+$/.test(value))
    return `${show(value)} may hold only letters and digits, e.g. USMF`;
  return undefined;
}

/** One of a fixed list of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
): z.ZodType<T[number]> {
  return z.enum(values, {
    error: (i) => `must be one of ${values.map((v) => `"${v}"`).join(", ")}; got ${show(i.input)}`,
  });
}

/** `true` or `false`. */
export const bool: z.ZodBoolean = z.boolean({
  error: (i) => `must be true or false; got ${show(i.input)}`,
});

/**
 * A value that is either a text (checked by `whenString`) or an object (checked by
 * `whenObject`), with the problems of the branch that applies rather than zod's generic "no
 * union member matched".
 */
export function textOrObject<S, O>(
  whenString: z.ZodType<S>,
  whenObject: z.ZodType<O>,
  what: string,
): z.ZodType<S | O> {
  return z.unknown().transform((value, ctx): S | O => {
    const schema: z.ZodType<S | O> | undefined =
      typeof value === "string"
        ? whenString
        : typeof value === "object" && value !== null && !Array.isArray(value)
          ? whenObject
          : undefined;
    if (!schema) {
      ctx.addIssue({
        code: "custom",
        message: `must be ${what}; got ${show(value)}`,
        input: value,
      });
      return z.NEVER;
    }
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      ctx.addIssue({ code: "custom", message: issue.message, path: [...issue.path], input: value });
    }
    return z.NEVER;
  });
}

/** A strict object: unknown members are reported by name with the members that exist. */
export function strictObject<T extends z.ZodRawShape>(
  shape: T,
  what: string,
): z.ZodObject<T, z.core.$strict> {
  return z.strictObject(shape, {
    error: (i) =>
      i.code === "unrecognized_keys"
        ? `has unknown member ${i.keys.map((k) => `"${k}"`).join(", ")}; ${what} has ${Object.keys(shape).join(", ")}`
        : `must be ${what}; got ${show(i.input)}`,
  });
}

/** A list whose entries must not repeat (compared by `keyOf`). */
export function uniqueList<T>(
  item: z.ZodType<T>,
  what: string,
  keyOf: (value: T) => string = (v) => String(v),
): z.ZodType<T[]> {
  return z
    .array(item, { error: (i) => `must be a list of ${what}; got ${show(i.input)}` })
    .superRefine((values, ctx) => {
      const seen = new Map<string, number>();
      values.forEach((v, index) => {
        const key = keyOf(v).toLowerCase();
        const first = seen.get(key);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [index],
            message: `repeats ${JSON.stringify(keyOf(v))} (already at [${first}]); list each ${what.replace(/s$/, "")} once`,
          });
        } else seen.set(key, index);
      });
    });
}
