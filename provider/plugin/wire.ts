/**
 * The property values a provider plugin receives, turned into plain values for the lifecycles and
 * back.
 *
 * `@pulumi/pulumi/provider`'s server answers Configure with `acceptSecrets`, `acceptResources` and
 * `acceptOutputs`, so the engine sends inputs with Pulumi's special objects inside (a key
 * `4dabf18193072939515e22adb298388d` holding a signature; sdk/nodejs/runtime/rpc.ts):
 *
 * | signature                          | what                 | becomes                                   |
 * |------------------------------------|----------------------|-------------------------------------------|
 * | `1b47061264138c4ac30d75fd1eb44270` | a secret             | its value; the top-level key is remembered |
 * | `5cf8f73096256a8f31e491e813e4eb8e` | a resource reference | a {@link ResourceRef} (`urn`, `id`)        |
 * | `d0e6a833031e9bbcd3f4e8bde6ca49a4` | an output value      | its value, or {@link UNKNOWN} when unknown |
 *
 * Unknown values (preview) arrive as the string {@link UNKNOWN}, as the lifecycles expect.
 */
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { UNKNOWN } from "../resources/common/check";

// Pulumi's own markers of special objects on the wire, from the SDK rather than copied here.
/** The key that marks Pulumi's special objects. */
export const SIG_KEY = rpc.specialSigKey;
/** Signature of a secret. */
export const SECRET_SIG = rpc.specialSecretSig;
/** Signature of a resource reference. */
export const RESOURCE_SIG = rpc.specialResourceSig;
/** Signature of an output value. */
export const OUTPUT_SIG = rpc.specialOutputValueSig;

/** A reference to another resource, as an input (e.g. `connection`). */
export interface ResourceRef {
  readonly urn: string;
  /** The resource's id; {@link UNKNOWN} while it is being created in a preview. */
  readonly id: string;
}

/** Property values with the special objects removed, and which top-level keys were secret. */
export interface PlainProps {
  readonly values: Record<string, unknown>;
  readonly secretKeys: ReadonlySet<string>;
}

type Special = Record<string, unknown> & { [SIG_KEY]: string };

function isSpecial(value: unknown): value is Special {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as Record<string, unknown>)[SIG_KEY] === "string"
  );
}

/** Whether `value` is a resource reference. */
export function isResourceRef(value: unknown): value is ResourceRef {
  return typeof value === "object" && value !== null && "urn" in value && "id" in value;
}

/** One value without secret and output wrappers; references become {@link ResourceRef}s. */
function plain(value: unknown, onSecret: () => void): unknown {
  if (Array.isArray(value)) return value.map((v) => plain(v, onSecret));
  if (isSpecial(value)) {
    switch (value[SIG_KEY]) {
      case SECRET_SIG:
        onSecret();
        return plain(value.value, onSecret);
      case OUTPUT_SIG:
        if (value.secret === true) onSecret();
        return "value" in value ? plain(value.value, onSecret) : UNKNOWN;
      case RESOURCE_SIG: {
        const id = value.id;
        return {
          urn: String(value.urn),
          id: typeof id === "string" && id !== "" ? id : UNKNOWN,
        } satisfies ResourceRef;
      }
      default:
        return value; // an asset or archive: no input of this package takes one
    }
  }
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, onSecret)]));
  }
  return value;
}

/** The properties without special objects, remembering which top-level keys held a secret. */
export function toPlain(props: Readonly<Record<string, unknown>> | undefined): PlainProps {
  const secretKeys = new Set<string>();
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(props ?? {})) {
    values[key] = plain(value, () => secretKeys.add(key));
  }
  return { values, secretKeys };
}

/** A value wrapped as a secret. */
export function secret(value: unknown): Special {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/** `props` with the values of `secretKeys` wrapped as secrets again (outputs of secret inputs). */
export function withSecrets(
  props: Readonly<Record<string, unknown>>,
  secretKeys: ReadonlySet<string>,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(props).map(([k, v]) => [
      k,
      secretKeys.has(k) && v !== undefined ? secret(v) : v,
    ]),
  );
}

/** A JSON-safe copy: `undefined` members dropped (protobuf Structs cannot hold them). */
export function jsonSafe(props: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(props)) as Record<string, unknown>;
}
