/**
 * Purser's records as containerd's API messages and back (the shapes
 * protos.ts loads: camelCase fields, int64 as numbers, bytes as Buffers).
 * Stored opaque values in containerd's `{type_url, value}` form become
 * `google.protobuf.Any` and back unchanged.
 */
import type { ContainerRecord } from "../events/container-events.js";
import type { ImageRecord } from "../events/image-events.js";
import type { LeaseRecord } from "../events/lease-events.js";
import type { NamespaceRecord } from "../events/namespace-events.js";

export interface Timestamp {
  seconds: number;
  nanos: number;
}

/** `google.protobuf.Any` as protobufjs shapes it: `type_url` keeps its proto name (protobufjs's Any wrapper). */
export interface AnyMessage {
  type_url: string;
  value: Buffer;
}

/** An ISO time as a protobuf Timestamp (purser's times have millisecond precision). */
export function timestamp(iso: string | undefined): Timestamp | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return null;
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** A stored opaque value as an Any: containerd's `{type_url, value}`; anything else has no Any form. */
export function anyOf(stored: unknown): AnyMessage | null {
  if (!stored || typeof stored !== "object") return null;
  const s = stored as { type_url?: unknown; value?: unknown };
  if (typeof s.type_url !== "string") return null;
  const value = s.value instanceof Uint8Array ? Buffer.from(s.value) : Buffer.alloc(0);
  return { type_url: s.type_url, value };
}

/** An Any as purser stores it (absent when the message had none). */
export function storedAny(any: AnyMessage | null | undefined): { type_url: string; value: Uint8Array } | undefined {
  if (!any || (any.type_url === "" && any.value.length === 0)) return undefined;
  return { type_url: any.type_url, value: new Uint8Array(any.value) };
}

export function namespaceMessage(n: NamespaceRecord) {
  return { name: n.name, labels: n.labels };
}

export function leaseMessage(l: LeaseRecord) {
  return { id: l.id, labels: l.labels, createdAt: timestamp(l.createdAt) };
}

export function imageMessage(i: ImageRecord) {
  return {
    name: i.name,
    labels: i.labels,
    target: { mediaType: i.target.mediaType, digest: i.target.digest, size: i.target.size, annotations: i.target.annotations ?? {} },
    createdAt: timestamp(i.createdAt),
    updatedAt: timestamp(i.updatedAt),
  };
}

export interface ImageMessage {
  name: string;
  labels: Record<string, string>;
  target: { mediaType: string; digest: string; size: number; annotations: Record<string, string> } | null;
}

export function imagePayload(m: ImageMessage) {
  const t = m.target;
  return {
    name: m.name,
    labels: m.labels,
    target: t ? { mediaType: t.mediaType, digest: t.digest, size: t.size, annotations: t.annotations } : { mediaType: "", digest: "", size: 0 },
  };
}

export function containerMessage(c: ContainerRecord) {
  const extensions: Record<string, AnyMessage> = {};
  for (const [k, v] of Object.entries(c.extensions ?? {})) {
    const any = anyOf(v);
    if (any) extensions[k] = any;
  }
  return {
    id: c.id,
    labels: c.labels,
    image: c.image,
    runtime: { name: c.runtime.name, options: anyOf(c.runtime.options) },
    spec: anyOf(c.spec),
    snapshotter: c.snapshotter,
    snapshotKey: c.snapshotKey,
    createdAt: timestamp(c.createdAt),
    updatedAt: timestamp(c.updatedAt),
    extensions,
  };
}

export interface ContainerMessage {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: { name: string; options: AnyMessage | null } | null;
  spec: AnyMessage | null;
  snapshotter: string;
  snapshotKey: string;
  extensions: Record<string, AnyMessage>;
}

export function containerPayload(m: ContainerMessage) {
  const extensions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m.extensions ?? {})) extensions[k] = storedAny(v) ?? { type_url: "", value: new Uint8Array(0) };
  const options = storedAny(m.runtime?.options);
  const spec = storedAny(m.spec);
  return {
    id: m.id,
    labels: m.labels,
    image: m.image,
    runtime: { name: m.runtime?.name ?? "", ...(options ? { options } : {}) },
    ...(spec ? { spec } : {}),
    snapshotter: m.snapshotter,
    snapshotKey: m.snapshotKey,
    extensions,
  };
}

/** A FieldMask's paths (none when the request has no mask). */
export function maskPaths(mask: { paths?: string[] } | null | undefined): string[] {
  return mask?.paths ?? [];
}
