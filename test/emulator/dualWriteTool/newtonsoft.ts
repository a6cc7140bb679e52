/**
 * A small model of how Newtonsoft.Json (13, default settings) fills the tool's C# DTOs from an
 * answer, so that the contract suite reads the emulator's answers the way the tool would: a
 * property the DTO declares is read with its C# type, an unknown property is ignored
 * (`MissingMemberHandling.Ignore`), a missing one keeps its default, names match exactly first and
 * then case-insensitively. What would make `JsonConvert.DeserializeObject` throw — an object where
 * a `List<T>` is declared, an array where a `Dictionary` is, `null` into a value type (`int`,
 * `bool`, `DateTime`, a `struct`), a date that does not parse — throws here too, naming the path.
 * Primitive tokens convert into `string` properties (`4` reads as `"4"`), as Newtonsoft does.
 */

/** A C# property type, as far as the tool's DTOs use them. */
export type CsType =
  | "string"
  | "int"
  | "int?"
  | "double?"
  | "bool"
  | "bool?"
  | "DateTime"
  /** `object` / `dynamic`: any JSON, kept as it is. */
  | "object"
  | { readonly list: CsType }
  | { readonly dict: CsType }
  /** A C# struct: `null` cannot be assigned; a missing one is all defaults. */
  | { readonly struct: Shape }
  /** A C# class: `null` and missing read as null. */
  | { readonly class: Shape }
  /** A C# enum: a number or a member name (a numeric string too). */
  | { readonly enum: Readonly<Record<string, number>> };

/** The declared properties of a DTO. */
export type Shape = Readonly<Record<string, CsType>>;

/** Thrown where `JsonConvert.DeserializeObject` would throw. */
export class DeserializeError extends Error {
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "DeserializeError";
  }
}

/** `JsonConvert.DeserializeObject<T>(text)` for the DTO type `type`. */
export function deserialize<T>(type: CsType, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DeserializeError("$", `not JSON (${(e as Error).message}): ${text.slice(0, 200)}`);
  }
  return read(type, json, "$") as T;
}

/** The value a C# property of `type` has when the JSON does not mention it. */
function defaultOf(type: CsType): unknown {
  if (typeof type === "string") {
    switch (type) {
      case "int":
        return 0;
      case "bool":
        return false;
      case "DateTime":
        return "0001-01-01T00:00:00";
      default:
        return null;
    }
  }
  if ("struct" in type) return readShape(type.struct, {}, "");
  if ("enum" in type) return 0;
  return null;
}

function read(type: CsType, value: unknown, path: string): unknown {
  if (typeof type === "string") return readPrimitive(type, value, path);
  if ("list" in type) {
    if (value === null) return null;
    if (!Array.isArray(value)) {
      throw new DeserializeError(
        path,
        `cannot read ${describe(value)} into a List (needs an array)`,
      );
    }
    return value.map((v, i) => read(type.list, v, `${path}[${i}]`));
  }
  if ("dict" in type) {
    if (value === null) return null;
    if (!isObject(value)) {
      throw new DeserializeError(
        path,
        `cannot read ${describe(value)} into a Dictionary (needs an object)`,
      );
    }
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, read(type.dict, v, `${path}.${k}`)]),
    );
  }
  if ("struct" in type || "class" in type) {
    const shape = "struct" in type ? type.struct : type.class;
    if (value === null) {
      if ("struct" in type) throw new DeserializeError(path, "null into a struct");
      return null;
    }
    if (!isObject(value)) {
      throw new DeserializeError(path, `cannot read ${describe(value)} into an object`);
    }
    return readShape(shape, value, path);
  }
  return readEnum(type.enum, value, path);
}

function readShape(shape: Shape, value: Readonly<Record<string, unknown>>, path: string): unknown {
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (const [name, type] of Object.entries(shape)) {
    // Exact name first, then case-insensitive, as Newtonsoft's contract resolver matches.
    const key = name in value ? name : keys.find((k) => k.toLowerCase() === name.toLowerCase());
    out[name] = key === undefined ? defaultOf(type) : read(type, value[key], `${path}.${name}`);
  }
  return out;
}

function readPrimitive(type: CsType & string, value: unknown, path: string): unknown {
  switch (type) {
    case "object":
      return value;
    case "string":
      if (value === null || typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      throw new DeserializeError(path, `cannot read ${describe(value)} into a string`);
    case "int":
    case "int?":
      if (value === null) {
        if (type === "int?") return null;
        throw new DeserializeError(path, "null into an int");
      }
      if (typeof value === "number" && Number.isInteger(value)) return value;
      if (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value)) return Number(value);
      throw new DeserializeError(path, `cannot read ${describe(value)} into an int`);
    case "double?":
      if (value === null || typeof value === "number") return value;
      throw new DeserializeError(path, `cannot read ${describe(value)} into a double`);
    case "bool":
    case "bool?":
      if (value === null) {
        if (type === "bool?") return null;
        throw new DeserializeError(path, "null into a bool");
      }
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      throw new DeserializeError(path, `cannot read ${describe(value)} into a bool`);
    case "DateTime":
      if (typeof value === "string" && !Number.isNaN(Date.parse(value))) return value;
      throw new DeserializeError(path, `cannot read ${describe(value)} into a DateTime`);
    default:
      throw new DeserializeError(path, `unknown C# type ${String(type)}`);
  }
}

function readEnum(members: Readonly<Record<string, number>>, value: unknown, path: string): number {
  const values = Object.values(members);
  if (typeof value === "number" && values.includes(value)) return value;
  if (typeof value === "string") {
    if (/^\d+$/.test(value) && values.includes(Number(value))) return Number(value);
    const name = Object.keys(members).find((m) => m.toLowerCase() === value.toLowerCase());
    if (name !== undefined) return members[name]!;
  }
  throw new DeserializeError(path, `${describe(value)} is not one of ${JSON.stringify(members)}`);
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`;
}
