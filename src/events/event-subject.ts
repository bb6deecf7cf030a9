import type { DomainEvent } from "./catalog.js";
import { hostBlobSubject } from "./host-stream.js";
import { snapshotObjectId } from "./snapshot-events.js";
import { eventSubject, leaseResourceSubject, namespaceSubject, ObjectKind } from "./subjects.js";

/** The subject an event is appended to: its object's subject in the namespace's stream. */
export function subjectOfEvent(namespace: string, event: DomainEvent): string {
  switch (event.type) {
    case "NamespaceCreated":
    case "NamespaceUpdated":
    case "NamespaceDeleted":
      return namespaceSubject(namespace);
    case "LeaseCreated":
      return eventSubject(namespace, ObjectKind.Lease, event.data.lease.id);
    case "LeaseResourceAdded":
    case "LeaseResourceRemoved":
      return leaseResourceSubject(namespace, event.data.id, event.data.resource);
    case "LeaseDeleted":
    case "LeaseExpired":
      return eventSubject(namespace, ObjectKind.Lease, event.data.id);
    case "SnapshotPrepared":
    case "SnapshotViewCreated":
    case "SnapshotCommitted":
    case "SnapshotUpdated": {
      const s = event.data.snapshot;
      return eventSubject(namespace, ObjectKind.Snapshot, snapshotObjectId(s.snapshotter, s.key));
    }
    case "SnapshotRemoved":
      return eventSubject(namespace, ObjectKind.Snapshot, snapshotObjectId(event.data.snapshotter, event.data.key));
    case "IngestStarted":
      return eventSubject(namespace, ObjectKind.Ingest, event.data.ingest.ref);
    case "IngestAborted":
    case "IngestExpired":
      return eventSubject(namespace, ObjectKind.Ingest, event.data.ref);
    case "ContentCommitted":
    case "ContentUpdated":
      return eventSubject(namespace, ObjectKind.Content, event.data.content.digest);
    case "ContentDeleted":
      return eventSubject(namespace, ObjectKind.Content, event.data.digest);
    case "ImageCreated":
    case "ImageUpdated":
      return eventSubject(namespace, ObjectKind.Image, event.data.image.name);
    case "ImageDeleted":
      return eventSubject(namespace, ObjectKind.Image, event.data.name);
    case "ContainerCreated":
    case "ContainerUpdated":
      return eventSubject(namespace, ObjectKind.Container, event.data.container.id);
    case "ContainerDeleted":
      return eventSubject(namespace, ObjectKind.Container, event.data.id);
    case "BlobRemoved":
      // A host fact: `namespace` is the host's id here (docs/gc.md).
      return hostBlobSubject(namespace, event.data.digest);
  }
}
