/**
 * Lease events (containerd has none: decided divergence 7). Every lease event
 * lives on the lease's subject (`purser.ev.<ns>.lease.<id>`), so changes to
 * one lease are ordered by per-object OCC (docs/leases.md).
 */

/** A lease: containerd's `leases.Lease`. Its labels are stored unvalidated, as containerd does. */
export interface LeaseRecord {
  id: string;
  labels: Record<string, string>;
  createdAt: string;
}

/**
 * A resource a lease holds (containerd's `leases.Resource`): `type` is
 * `content`, `ingests` or `snapshots/<snapshotter>`; `id` a digest, an ingest
 * ref or a snapshot key.
 */
export interface LeaseResource {
  type: string;
  id: string;
}

export interface LeaseCreated {
  type: "LeaseCreated";
  data: { lease: LeaseRecord };
}

export interface LeaseResourceAdded {
  type: "LeaseResourceAdded";
  /**
   * `leaseRv`: the rv of the `LeaseCreated` of the lease the addition was
   * decided for (its incarnation). Should that lease be deleted and its id
   * created again before the addition is appended, the addition belongs to
   * the deleted one and the projection drops it (what the delete would have
   * done had it come second). Absent in events written before it existed.
   */
  data: { id: string; resource: LeaseResource; leaseRv?: number };
}

export interface LeaseResourceRemoved {
  type: "LeaseResourceRemoved";
  data: { id: string; resource: LeaseResource };
}

/** Deleted by a command, or dropped with its namespace (decided divergence 4); its resources go with it. */
export interface LeaseDeleted {
  type: "LeaseDeleted";
  data: { id: string };
}

export type LeaseEvent = LeaseCreated | LeaseResourceAdded | LeaseResourceRemoved | LeaseDeleted;
