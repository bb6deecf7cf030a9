import { notFound } from "../errors/errdefs.js";
import type { LeaseResource, LeaseResourceAdded, LeaseResourceRemoved } from "../events/lease-events.js";

/**
 * Implicit leasing (conformance A.9): a command that runs under a lease
 * (`ctx.lease`, request header `Purser-Lease`) records what it creates in that
 * lease, and drops from it what it removes, as containerd's
 * `addSnapshotLease`/`addContentLease`/`addIngestLease` and their `remove…`
 * twins do inside the same transaction.
 *
 * The lease events go on the lease's own subject. Put a recording *before*
 * the event of the object it protects, and a release *after* it: should the
 * command stop half-way, a lease then holds too much for a while (harmless)
 * and never too little (the collector could take what a client is building).
 */

/** The command's context lease as a decider needs it. */
export interface ContextLease {
  id: string;
  exists: boolean;
  /** The rv of the LeaseCreated of the lease the views show (its incarnation: an id may be created again). */
  rv?: number;
  holds(resource: LeaseResource): boolean;
}

/**
 * Pure: the lease events that record `resource` in the context lease. None
 * without a lease or when the lease holds it already; a lease that does not
 * exist refuses with containerd's `lease does not exist: not found`.
 */
export function leaseAdditions(lease: ContextLease | undefined, resource: LeaseResource): LeaseResourceAdded[] {
  if (!lease) return [];
  if (!lease.exists) throw notFound("lease does not exist");
  if (lease.holds(resource)) return [];
  return [{ type: "LeaseResourceAdded", data: { id: lease.id, resource, ...(lease.rv !== undefined ? { leaseRv: lease.rv } : {}) } }];
}

/** Pure: the lease events that drop `resource` from the context lease (none if it is not held or the lease is gone, as containerd). */
export function leaseRemovals(lease: ContextLease | undefined, resource: LeaseResource): LeaseResourceRemoved[] {
  if (!lease || !lease.exists || !lease.holds(resource)) return [];
  return [{ type: "LeaseResourceRemoved", data: { id: lease.id, resource } }];
}

/** containerd's resource type of a snapshot: `snapshots/<snapshotter>`. */
export function snapshotResource(snapshotter: string, key: string): LeaseResource {
  return { type: `snapshots/${snapshotter}`, id: key };
}
