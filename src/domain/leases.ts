import { alreadyExists, invalidArgument, notFound, notImplemented } from "../errors/errdefs.js";
import type { LeaseEvent, LeaseRecord, LeaseResource } from "../events/lease-events.js";
import { quote } from "../validation/identifiers.js";
import { digestError } from "../validation/digest.js";
import { withoutEmptyLabels } from "../validation/labels.js";

/**
 * The lease decider: pure, no I/O, no clock (`now` comes with the call).
 * Rules: containerd 1.6 `metadata/leases.go`, `leases/*.go` and
 * `services/leases/*.go` (conformance A.9).
 */
export type LeaseCommand =
  | {
      type: "CreateLease";
      id: string;
      labels: Record<string, string>;
      /** `leases.WithExpiration`: `containerd.io/gc.expire` = now + this, in RFC 3339. */
      expiresInMs?: number;
    }
  | { type: "DeleteLease"; id: string }
  | { type: "AddLeaseResource"; id: string; resource: LeaseResource }
  | { type: "DeleteLeaseResource"; id: string; resource: LeaseResource };

export interface LeaseState {
  /** The lease, or undefined when it does not exist. */
  record: LeaseRecord | undefined;
  /** The rv of its LeaseCreated (which incarnation of the id the views show). */
  rv?: number;
  /** Whether the lease already holds a resource (in its canonical form). */
  holds(resource: LeaseResource): boolean;
}

/** The label the garbage collector reads for a lease's expiry (conformance A.10). */
export const gcExpireLabel = "containerd.io/gc.expire";

export function decideLease(command: LeaseCommand, state: LeaseState, now: string): LeaseEvent[] {
  switch (command.type) {
    case "CreateLease": {
      // The service always fills an id (`leases.WithRandomID`); the store's
      // unclassed "lease id must be provided" is unreachable through it.
      if (state.record) throw alreadyExists(`lease ${quote(command.id)}`);
      const labels = { ...command.labels };
      if (command.expiresInMs !== undefined && command.expiresInMs > 0) {
        labels[gcExpireLabel] = rfc3339Seconds(Date.parse(now) + command.expiresInMs);
      }
      // Lease labels are not validated (metadata/leases.go Create); empty values are not stored.
      return [{ type: "LeaseCreated", data: { lease: { id: command.id, labels: withoutEmptyLabels(labels), createdAt: now } } }];
    }
    case "DeleteLease":
      if (!state.record) throw notFound(`lease ${quote(command.id)}`);
      return [{ type: "LeaseDeleted", data: { id: command.id } }];
    case "AddLeaseResource": {
      // containerd looks the lease up before it parses the resource.
      if (!state.record) throw notFound(`lease ${quote(command.id)}`);
      const resource = parseLeaseResource(command.resource);
      if (state.holds(resource)) return [];
      return [{ type: "LeaseResourceAdded", data: { id: command.id, resource, ...(state.rv !== undefined ? { leaseRv: state.rv } : {}) } }];
    }
    case "DeleteLeaseResource": {
      if (!state.record) throw notFound(`lease ${quote(command.id)}`);
      const resource = parseLeaseResource(command.resource);
      if (!state.holds(resource)) return [];
      return [{ type: "LeaseResourceRemoved", data: { id: command.id, resource } }];
    }
  }
}

/**
 * containerd `parseLeaseResource`: `content` (the id must be a digest),
 * `ingests`, `snapshots/<snapshotter>`; anything else is not implemented.
 * Returns the canonical resource (a digest is kept as given once valid).
 */
export function parseLeaseResource(r: LeaseResource): LeaseResource {
  const keys = r.type.split("/");
  switch (keys[0]) {
    case "content":
    case "ingests":
      if (keys.length !== 1) throw invalidArgument(`invalid resource type ${r.type}`);
      if (keys[0] === "content") {
        const err = digestError(r.id);
        if (err) throw invalidArgument(`invalid content resource id ${r.id}: ${err}`);
      }
      return { type: r.type, id: r.id };
    case "snapshots":
      if (keys.length !== 2) throw invalidArgument(`invalid snapshot resource type ${r.type}`);
      return { type: r.type, id: r.id };
    default:
      throw notImplemented(`resource type ${r.type} not supported yet`);
  }
}

/** Go's `time.RFC3339` (whole seconds), in UTC. */
export function rfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** Folds a lease event into the lease's record (resources are kept apart, in their own view). */
export function evolveLease(record: LeaseRecord | undefined, event: LeaseEvent): LeaseRecord | undefined {
  switch (event.type) {
    case "LeaseCreated":
      return event.data.lease;
    case "LeaseResourceAdded":
    case "LeaseResourceRemoved":
      return record;
    case "LeaseDeleted":
      return undefined;
  }
}
