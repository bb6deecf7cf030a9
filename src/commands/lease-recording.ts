import { notFound } from "../errors/errdefs.js";
import type { LeaseResource, LeaseResourceAdded, LeaseResourceRemoved } from "../events/lease-events.js";
import { eventSubject, ObjectKind } from "../events/subjects.js";
import { getLease, leaseHolds } from "../projections/leases.js";
import type { Append, CommandContext } from "./command.js";
import { objectExpectation } from "./namespace-guard.js";

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
  holds(resource: LeaseResource): boolean;
}

/** How an append of a lease event is guarded (it must match the command's own appends). */
export interface LeaseAppendOptions {
  /**
   * Expect the namespace's last sequence (`ctx.appliedRv`) instead of the
   * lease subject's: use it when the command's own events are namespace-wide,
   * so the chain of expectations stays unbroken.
   */
  namespaceWide?: boolean;
}

/** The context lease read from the views, or undefined when the command runs under none. */
export function contextLease(ctx: CommandContext): ContextLease | undefined {
  const id = ctx.lease;
  if (id === undefined || id === "") return undefined;
  return {
    id,
    exists: getLease(ctx.views, ctx.namespace, id) !== undefined,
    holds: (r) => leaseHolds(ctx.views, ctx.namespace, id, r),
  };
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
  return [{ type: "LeaseResourceAdded", data: { id: lease.id, resource } }];
}

/** Pure: the lease events that drop `resource` from the context lease (none if it is not held or the lease is gone, as containerd). */
export function leaseRemovals(lease: ContextLease | undefined, resource: LeaseResource): LeaseResourceRemoved[] {
  if (!lease || !lease.exists || !lease.holds(resource)) return [];
  return [{ type: "LeaseResourceRemoved", data: { id: lease.id, resource } }];
}

/** The appends that record `resource` in the command's lease (empty without one). Throws `lease does not exist: not found`. */
export function recordInLease(ctx: CommandContext, resource: LeaseResource, options: LeaseAppendOptions = {}): Append[] {
  return leaseAppends(ctx, leaseAdditions(contextLease(ctx), resource), options);
}

/** The appends that drop `resource` from the command's lease (empty without one). */
export function releaseFromLease(ctx: CommandContext, resource: LeaseResource, options: LeaseAppendOptions = {}): Append[] {
  return leaseAppends(ctx, leaseRemovals(contextLease(ctx), resource), options);
}

/** Guards lease events: per-object on the lease's subject, or namespace-wide. */
export function leaseAppends(
  ctx: CommandContext,
  events: readonly (LeaseResourceAdded | LeaseResourceRemoved)[],
  options: LeaseAppendOptions = {},
): Append[] {
  return events.map((event) => ({
    event,
    expect: options.namespaceWide
      ? { lastSequence: ctx.appliedRv }
      : objectExpectation(ctx, eventSubject(ctx.namespace, ObjectKind.Lease, event.data.id)),
  }));
}

/** containerd's resource type of a snapshot: `snapshots/<snapshotter>`. */
export function snapshotResource(snapshotter: string, key: string): LeaseResource {
  return { type: `snapshots/${snapshotter}`, id: key };
}
