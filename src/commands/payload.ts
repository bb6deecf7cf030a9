import { invalidArgument } from "../errors/errdefs.js";

/**
 * Shape checks for request payloads. Every request body is decoded msgpack of
 * unknown shape; these turn it into typed values or an InvalidArgument that
 * names the field, before anything is decided or appended.
 */
export type Payload = Record<string, unknown>;

export function asPayload(value: unknown): Payload {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw invalidArgument("request payload must be a map");
  }
  return value as Payload;
}

/**
 * The longest string field a request may carry (names, ids, keys, refs,
 * cursors, digests), in UTF-8 bytes: the bound image names and ingest refs
 * already had. They become LMDB keys, whose limit is 1978 bytes for a whole
 * key; a longer one answered `Unknown: Key size is larger than the maximum key
 * size`. Keys made of two ids (a snapshot and its parent) have their own,
 * smaller bound where they are parsed.
 */
export const maxStringFieldBytes = 1800;

function bounded(field: string, v: string): string {
  // Cheap first: a string of n UTF-16 units has at most 3n UTF-8 bytes.
  if (v.length * 3 > maxStringFieldBytes) {
    const bytes = Buffer.byteLength(v, "utf8");
    if (bytes > maxStringFieldBytes) throw invalidArgument(`request field ${JSON.stringify(field)} greater than maximum length (${maxStringFieldBytes} bytes)`);
  }
  return v;
}

export function requiredString(p: Payload, field: string): string {
  const v = p[field];
  if (v === undefined || v === null) throw invalidArgument(`request field ${JSON.stringify(field)} is required`);
  if (typeof v !== "string") throw invalidArgument(`request field ${JSON.stringify(field)} must be a string`);
  return bounded(field, v);
}

export function optionalString(p: Payload, field: string): string | undefined {
  const v = p[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalidArgument(`request field ${JSON.stringify(field)} must be a string`);
  return bounded(field, v);
}

export function optionalBoolean(p: Payload, field: string): boolean | undefined {
  const v = p[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw invalidArgument(`request field ${JSON.stringify(field)} must be a boolean`);
  return v;
}

export function optionalInteger(p: Payload, field: string): number | undefined {
  const v = p[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "bigint") return optionalInteger({ [field]: Number(v) }, field);
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw invalidArgument(`request field ${JSON.stringify(field)} must be an integer`);
  }
  return v;
}

/** A map of strings to strings (labels, annotations). */
export function stringMap(p: Payload, field: string): Record<string, string> {
  const v = p[field];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) {
    throw invalidArgument(`request field ${JSON.stringify(field)} must be a map of strings`);
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== "string") {
      throw invalidArgument(`request field ${JSON.stringify(field)} must be a map of strings (key ${JSON.stringify(k)})`);
    }
    out[k] = val;
  }
  return out;
}

export function stringList(p: Payload, field: string): string[] {
  const v = p[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw invalidArgument(`request field ${JSON.stringify(field)} must be a list of strings`);
  }
  return v as string[];
}

/**
 * A nested map (an image's `target`, a container's `runtime`), re-keyed by
 * full path (`target.digest`) so the checks above name the whole field.
 */
export function nestedMap(p: Payload, field: string): Payload {
  const v = p[field];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) {
    throw invalidArgument(`request field ${JSON.stringify(field)} must be a map`);
  }
  const out: Payload = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) out[`${field}.${k}`] = val;
  return out;
}
