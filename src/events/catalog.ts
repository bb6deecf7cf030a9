import type { IngestEvent } from "./ingest-events.js";
import type { LeaseEvent } from "./lease-events.js";
import type { NamespaceEvent } from "./namespace-events.js";
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
  LeaseDeleted: { version: 1, kind: ObjectKind.Lease, topic: "/leases/delete" },
  IngestAborted: { version: 1, kind: ObjectKind.Ingest, topic: "/content/ingest/abort" },
} as const satisfies Record<string, EventTypeInfo>;

export type EventType = keyof typeof eventCatalog;

/** The union of every domain event, discriminated by `type`. */
export type DomainEvent = NamespaceEvent | LeaseEvent | IngestEvent;

export function isEventType(type: unknown): type is EventType {
  return typeof type === "string" && Object.prototype.hasOwnProperty.call(eventCatalog, type);
}
