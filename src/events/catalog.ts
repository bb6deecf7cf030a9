import type { ContainerEvent } from "./container-events.js";
import type { ContentEvent } from "./content-events.js";
import type { GcEvent } from "./gc-events.js";
import type { ImageEvent } from "./image-events.js";
import type { IngestEvent } from "./ingest-events.js";
import type { LeaseEvent } from "./lease-events.js";
import type { NamespaceEvent } from "./namespace-events.js";
import type { SnapshotEvent } from "./snapshot-events.js";
import { ObjectKind } from "./subjects.js";

/**
 * Every event type purser appends: its current schema version, the kind of
 * object whose subject it lives on, and the containerd-compatible topic.
 * Drawn for readers in docs/events.md.
 */
export interface EventTypeInfo {
  version: number;
  kind: ObjectKind;
  topic: string;
}

export const eventCatalog = {
  NamespaceCreated: { version: 1, kind: ObjectKind.Namespace, topic: "/namespaces/create" },
  NamespaceUpdated: { version: 1, kind: ObjectKind.Namespace, topic: "/namespaces/update" },
  NamespaceDeleted: { version: 1, kind: ObjectKind.Namespace, topic: "/namespaces/delete" },
  LeaseCreated: { version: 1, kind: ObjectKind.Lease, topic: "/leases/create" },
  LeaseResourceAdded: { version: 1, kind: ObjectKind.Lease, topic: "/leases/add-resource" },
  LeaseResourceRemoved: { version: 1, kind: ObjectKind.Lease, topic: "/leases/delete-resource" },
  LeaseDeleted: { version: 1, kind: ObjectKind.Lease, topic: "/leases/delete" },
  SnapshotPrepared: { version: 1, kind: ObjectKind.Snapshot, topic: "/snapshot/prepare" },
  SnapshotViewCreated: { version: 1, kind: ObjectKind.Snapshot, topic: "/snapshot/view" },
  SnapshotCommitted: { version: 1, kind: ObjectKind.Snapshot, topic: "/snapshot/commit" },
  SnapshotRemoved: { version: 1, kind: ObjectKind.Snapshot, topic: "/snapshot/remove" },
  SnapshotUpdated: { version: 1, kind: ObjectKind.Snapshot, topic: "/snapshot/update" },
  IngestStarted: { version: 1, kind: ObjectKind.Ingest, topic: "/content/ingest/start" },
  IngestAborted: { version: 1, kind: ObjectKind.Ingest, topic: "/content/ingest/abort" },
  ContentCommitted: { version: 1, kind: ObjectKind.Content, topic: "/content/create" },
  ContentUpdated: { version: 1, kind: ObjectKind.Content, topic: "/content/update" },
  ContentDeleted: { version: 1, kind: ObjectKind.Content, topic: "/content/delete" },
  ImageCreated: { version: 1, kind: ObjectKind.Image, topic: "/images/create" },
  ImageUpdated: { version: 1, kind: ObjectKind.Image, topic: "/images/update" },
  ImageDeleted: { version: 1, kind: ObjectKind.Image, topic: "/images/delete" },
  ContainerCreated: { version: 1, kind: ObjectKind.Container, topic: "/containers/create" },
  ContainerUpdated: { version: 1, kind: ObjectKind.Container, topic: "/containers/update" },
  ContainerDeleted: { version: 1, kind: ObjectKind.Container, topic: "/containers/delete" },
  // Appended by the garbage collector only (docs/gc.md); BlobRemoved lives on the host stream.
  IngestExpired: { version: 1, kind: ObjectKind.Ingest, topic: "/content/ingest/expire" },
  LeaseExpired: { version: 1, kind: ObjectKind.Lease, topic: "/leases/expire" },
  BlobRemoved: { version: 1, kind: ObjectKind.Blob, topic: "/content/blob/remove" },
} as const satisfies Record<string, EventTypeInfo>;

export type EventType = keyof typeof eventCatalog;

/** The union of every domain event, discriminated by `type`. */
export type DomainEvent = NamespaceEvent | LeaseEvent | IngestEvent | ImageEvent | ContainerEvent | ContentEvent | SnapshotEvent | GcEvent;

export function isEventType(type: unknown): type is EventType {
  return typeof type === "string" && Object.prototype.hasOwnProperty.call(eventCatalog, type);
}
