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
    case "LeaseDeleted":
      return { id: event.data.id };
    case "IngestStarted": {
      // containerd publishes nothing for ingests; the fields of its `Status`.
      const i = event.data.ingest;
      return { ref: i.ref, expected: i.expected, total: i.total };
    }
    case "IngestAborted":
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
  }
}
