import { createHash } from "node:crypto";
import { decodeToken, encodeToken } from "./token-encoding.js";

/**
 * The log's subject and stream layout (drawn in docs/events.md; the command
 * subjects are the protocol's: src/protocol/subjects.ts):
 *
 *   stream   PURSER_NS_<ns>                       one per namespace
 *   events   purser.ev.<ns>.<kind>.<id>          one subject per object
 *
 * `<ns>` is {@link encodeToken} of the namespace name; `<id>` is {@link idToken}.
 */
export const streamPrefix = "PURSER_NS_";
export const eventSubjectRoot = "purser.ev";

export function streamName(namespace: string): string {
  return streamPrefix + encodeToken(namespace);
}

/** The namespace of a purser stream, or undefined for any other stream. */
export function namespaceOfStream(stream: string): string | undefined {
  if (!stream.startsWith(streamPrefix)) return undefined;
  try {
    return decodeToken(stream.slice(streamPrefix.length));
  } catch {
    return undefined;
  }
}

export function streamSubjects(namespace: string): string[] {
  return [`${eventSubjectRoot}.${encodeToken(namespace)}.>`];
}

/** Object kinds that own event subjects. */
export const ObjectKind = {
  Namespace: "namespace",
  Image: "image",
  Container: "container",
  Content: "content",
  Ingest: "ingest",
  Snapshot: "snapshot",
  Lease: "lease",
  /** One resource of one lease: its additions and removals (see {@link leaseResourceObjectId}). */
  LeaseResource: "lease-resource",
  Blob: "blob",
} as const;
export type ObjectKind = (typeof ObjectKind)[keyof typeof ObjectKind];

const maxReadableToken = 64;

/**
 * A safe, bounded subject token for an object id. Short ids stay readable (the
 * token encoding); longer ones (image names, digests, snapshot keys can be long)
 * become `~` + 40 hex digits of their SHA-256. `~` never occurs in an encoded
 * token, so the two forms cannot collide.
 */
export function idToken(id: string): string {
  const readable = encodeToken(id);
  if (readable.length > 0 && readable.length <= maxReadableToken) return readable;
  return "~" + createHash("sha256").update(id, "utf8").digest("hex").slice(0, 40);
}

/**
 * The object a lease's hold on one resource is: adding and removing it are
 * guarded against each other, not against the lease's other resources, so
 * any number of commands can record what they create in one lease at once
 * (a parallel pull into one lease). NUL separates the parts: no id holds one.
 */
export function leaseResourceObjectId(leaseId: string, type: string, id: string): string {
  return `${leaseId}\u0000${type}\u0000${id}`;
}

/** The subject of one resource's hold in one lease (LeaseResourceAdded/Removed). */
export function leaseResourceSubject(namespace: string, leaseId: string, resource: { type: string; id: string }): string {
  return eventSubject(namespace, ObjectKind.LeaseResource, leaseResourceObjectId(leaseId, resource.type, resource.id));
}

export function eventSubject(namespace: string, kind: ObjectKind, id: string): string {
  return `${eventSubjectRoot}.${encodeToken(namespace)}.${kind}.${idToken(id)}`;
}

/** The subject of a namespace's own lifecycle events. */
export function namespaceSubject(namespace: string): string {
  return `${eventSubjectRoot}.${encodeToken(namespace)}.${ObjectKind.Namespace}._`;
}
