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
    case "IngestAborted":
      return { ref: event.data.ref };
  }
}
