import type { DomainEvent } from "./catalog.js";

/**
 * The payload containerd publishes for the same change (api/events/*.proto),
 * with its proto field names. `purser events` prints it as `ctr events` does and
 * filters `event.<field>` read it first, so containerd filters work unchanged;
 * purser's full-state data stays available under `--json` and as a fallback for
 * filters (see docs/events.md).
 */
export function containerdPayload(event: DomainEvent): Record<string, unknown> {
  switch (event.type) {
    case "NamespaceCreated":
    case "NamespaceUpdated":
      return { name: event.data.namespace.name, labels: event.data.namespace.labels };
    case "NamespaceDeleted":
      return { name: event.data.name };
    case "LeaseCreated":
      // containerd publishes no lease events; the fields of its `Lease`.
      return { id: event.data.lease.id, labels: event.data.lease.labels };
    case "LeaseResourceAdded":
    case "LeaseResourceRemoved":
      return { id: event.data.id, resource: event.data.resource };
    case "LeaseDeleted":
    case "LeaseExpired":
      return { id: event.data.id };
    case "SnapshotPrepared":
    case "SnapshotViewCreated": {
      // `SnapshotPrepare{key, parent, snapshotter}` (snapshotter since v1.7); views publish nothing in containerd.
      const s = event.data.snapshot;
      return s.parent === "" ? { key: s.key, snapshotter: s.snapshotter } : { key: s.key, parent: s.parent, snapshotter: s.snapshotter };
    }
    case "SnapshotCommitted":
      return { key: event.data.key, name: event.data.snapshot.key, snapshotter: event.data.snapshot.snapshotter };
    case "SnapshotRemoved":
      return { key: event.data.key, snapshotter: event.data.snapshotter };
    case "SnapshotUpdated":
      // containerd publishes no snapshot update; shaped like its other updates.
      return { key: event.data.snapshot.key, snapshotter: event.data.snapshot.snapshotter, labels: event.data.snapshot.labels };
    case "IngestStarted": {
      // containerd publishes nothing for ingests; the fields of its `Status`.
      const i = event.data.ingest;
      return { ref: i.ref, expected: i.expected, total: i.total };
    }
    case "IngestAborted":
    case "IngestExpired":
      return { ref: event.data.ref };
    case "ContentCommitted":
      // v2.1 `ContentCreate{digest, size}` (purser keeps no media type).
      return { digest: event.data.content.digest, size: event.data.content.size };
    case "ContentUpdated":
      return { digest: event.data.content.digest, labels: event.data.content.labels };
    case "ContentDeleted":
      return { digest: event.data.digest };
    case "ImageCreated":
    case "ImageUpdated":
      return { name: event.data.image.name, labels: event.data.image.labels };
    case "ImageDeleted":
      return { name: event.data.name };
    case "ContainerCreated": {
      const c = event.data.container;
      const runtime: Record<string, unknown> = { name: c.runtime.name };
      if (c.runtime.options !== undefined) runtime.options = c.runtime.options;
      return { id: c.id, image: c.image, runtime };
    }
    case "ContainerUpdated": {
      const c = event.data.container;
      return { id: c.id, image: c.image, labels: c.labels, snapshot_key: c.snapshotKey };
    }
    case "ContainerDeleted":
      return { id: event.data.id };
    case "BlobRemoved":
      // containerd publishes nothing when its GC removes a blob.
      return { digest: event.data.digest, size: event.data.size };
  }
}
