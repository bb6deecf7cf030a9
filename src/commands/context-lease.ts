import type { LeaseResourceAdded, LeaseResourceRemoved, LeaseResource } from "../events/lease-events.js";
import { subjectOfEvent } from "../events/event-subject.js";
import { leaseAdditions, leaseRemovals, type ContextLease } from "../domain/lease-recording.js";
import { getLease, leaseCreatedRv, leaseHolds } from "../projections/leases.js";
import type { Append, CommandContext } from "./command.js";
import { objectExpectation } from "./namespace-guard.js";

/**
 * The context lease of a running command (request header `Purser-Lease`),
 * read from the views, and the guarded appends of its recordings. The rules
 * (what to record, what to drop) are the domain's: domain/lease-recording.ts.
 */

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
  const rv = leaseCreatedRv(ctx.views, ctx.namespace, id);
  return {
    id,
    exists: getLease(ctx.views, ctx.namespace, id) !== undefined,
    ...(rv !== undefined ? { rv } : {}),
    holds: (r) => leaseHolds(ctx.views, ctx.namespace, id, r),
  };
}

/** The appends that record `resource` in the command's lease (empty without one). Throws `lease does not exist: not found`. */
export function recordInLease(ctx: CommandContext, resource: LeaseResource, options: LeaseAppendOptions = {}): Append[] {
  return leaseAppends(ctx, leaseAdditions(contextLease(ctx), resource), options);
}

/** The appends that drop `resource` from the command's lease (empty without one). */
export function releaseFromLease(ctx: CommandContext, resource: LeaseResource, options: LeaseAppendOptions = {}): Append[] {
  return leaseAppends(ctx, leaseRemovals(contextLease(ctx), resource), options);
}

/**
 * Guards lease events: per resource of the lease (its own subject: commands
 * recording different resources in one lease never conflict), or
 * namespace-wide. A lease deleted meanwhile is no conflict either: its
 * projection drops what it held, and drops an addition it no longer exists
 * for, which is what the delete would have done had it come second.
 */
export function leaseAppends(
  ctx: CommandContext,
  events: readonly (LeaseResourceAdded | LeaseResourceRemoved)[],
  options: LeaseAppendOptions = {},
): Append[] {
  return events.map((event) => ({
    event,
    expect: options.namespaceWide
      ? { lastSequence: ctx.appliedRv }
      : objectExpectation(ctx, subjectOfEvent(ctx.namespace, event)),
  }));
}
