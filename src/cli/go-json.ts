import type { ContainerRecord } from "../events/container-events.js";
import { runtimeSpecTypeUrl } from "../protocol/defaults.js";
import type { Mount } from "../protocol/results.js";

/**
 * Records in the JSON shape ctr prints them (Go's encoding/json of
 * containerd's structs, which have no json tags): field names as Go spells
 * them, in the struct's order, map keys sorted, nil maps as `null`, times as
 * RFC 3339 with the fraction's trailing zeros dropped, gogo `Any` as
 * `{type_url, value}` (base64, empty parts omitted). Scripts written for
 * `ctr … | jq .Spec` read purser's output unchanged.
 */

/** containerd's `types.Any` as a record carries it. */
export interface AnyValue {
  type_url: string;
  value: Uint8Array;
}


export function isAny(v: unknown): v is AnyValue {
  return v !== null && typeof v === "object" && typeof (v as AnyValue).type_url === "string" && ((v as AnyValue).value === undefined || (v as AnyValue).value instanceof Uint8Array);
}

/** Go's `time.Time` in JSON (RFC3339Nano): `2026-12-02T17:02:07.45Z`, no fraction when it is zero. */
export function goTime(iso: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) return iso;
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  return `${m[1]}${fraction ? "." + fraction : ""}${m[3]}`;
}

/** A gogo `types.Any` in JSON. */
export function goAny(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (!isAny(v)) return opaque(v);
  const value = v.value && v.value.length > 0 ? Buffer.from(v.value).toString("base64") : undefined;
  return { ...(v.type_url ? { type_url: v.type_url } : {}), ...(value !== undefined ? { value } : {}) };
}

/** A Go `map[string]…` in JSON: keys sorted, an empty map as `null` (containerd leaves it nil). */
export function goMap<T>(m: Readonly<Record<string, T>> | undefined, value: (v: T) => unknown = (v) => v): Record<string, unknown> | null {
  const keys = Object.keys(m ?? {}).sort();
  if (keys.length === 0) return null;
  return Object.fromEntries(keys.map((k) => [k, value(m![k]!)]));
}

/** containerd's `mount.Mount`. */
export function goMounts(mounts: readonly Mount[]): unknown[] {
  return mounts.map((m) => ({ Type: m.type, Source: m.source, Options: m.options.length > 0 ? [...m.options] : null }));
}

/**
 * `ctr containers info`: `containers.Container` with its `Spec` decoded and
 * moved last (ctr embeds the struct and adds `Spec` after it).
 */
export function goContainer(c: ContainerRecord): Record<string, unknown> {
  const spec = decodedSpec(c.spec);
  return {
    ID: c.id,
    Labels: goMap(c.labels),
    Image: c.image,
    Runtime: { Name: c.runtime.name, Options: goAny(c.runtime.options) },
    ...(spec === undefined ? { Spec: null } : {}),
    SnapshotKey: c.snapshotKey,
    Snapshotter: c.snapshotter,
    CreatedAt: goTime(c.createdAt),
    UpdatedAt: goTime(c.updatedAt),
    Extensions: goMap(c.extensions, goAny),
    ...(spec === undefined ? {} : { Spec: spec }),
  };
}

/** The spec as ctr shows it: an Any holding runtime-spec JSON decoded; any other value as stored. */
export function decodedSpec(spec: unknown): unknown {
  if (spec === undefined || spec === null) return undefined;
  if (isAny(spec) && spec.type_url === runtimeSpecTypeUrl && spec.value) {
    try {
      return JSON.parse(Buffer.from(spec.value).toString("utf8")) as unknown;
    } catch {
      return goAny(spec);
    }
  }
  return opaque(spec);
}

/** Opaque msgpack values as JSON can show them: bytes as base64 (as Go's `[]byte`). */
function opaque(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (Array.isArray(v)) return v.map(opaque);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, isAny(x) ? goAny(x) : opaque(x)]));
  return v;
}
