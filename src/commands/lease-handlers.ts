import { invalidArgument, notFound } from "../errors/errdefs.js";
import type { LeaseCreated, LeaseRecord, LeaseResource } from "../events/lease-events.js";
import { subjectOfEvent } from "../events/event-subject.js";
import { eventSubject, leaseResourceSubject, ObjectKind } from "../events/subjects.js";
import { adaptRecord, mapField, nonEmpty, type Adaptor, type Filter } from "../filters/index.js";
import { getLease, leaseHolds, listLeaseResources, listLeases, leaseCreatedRv } from "../projections/leases.js";
import { quote } from "../validation/identifiers.js";
import type { CommandContext, CommandDefinition, QueryDefinition } from "./command.js";
import { randomLeaseId } from "../protocol/lease-id.js";
import { decideLease, type LeaseCommand } from "../domain/leases.js";
import { parseListFilters } from "./list-filters.js";
import { objectExpectation, withImplicitNamespace } from "./namespace-guard.js";
import { nestedMap, optionalBoolean, optionalInteger, optionalString, requiredString, stringMap, type Payload } from "./payload.js";

/**
 * Lease commands and queries (`purser.v1.<ns>.leases.<verb>`): containerd's
 * leases service (`services/leases/local.go`) in front of the decider.
 *
 * Payloads (msgpack maps; absent fields are zero values, as in proto3):
 *   create          {id?, labels?, expiresInMs?}   no id: one is generated
 *   delete          {id, sync?}
 *   add-resource    {id, resource: {type, id}}
 *   delete-resource {id, resource: {type, id}}
 *   list            {filters?: string[]}            filters `id`, `labels.<k>`
 *   resources       {id}
 */

function leaseSubject(namespace: string, id: string): string {
  return eventSubject(namespace, ObjectKind.Lease, id);
}

/** Ids become LMDB key parts, which must not hold NUL (projections/key-range.ts). */
function leaseId(p: Payload, field = "id"): string {
  const id = requiredString(p, field);
  if (id.includes("\u0000")) throw invalidArgument("lease id must not contain NUL");
  return id;
}

function parseResource(p: Payload): LeaseResource {
  const r = nestedMap(p, "resource");
  const resource = { type: optionalString(r, "resource.type") ?? "", id: optionalString(r, "resource.id") ?? "" };
  if (resource.id.includes("\u0000")) throw invalidArgument("resource id must not contain NUL");
  return resource;
}

function decideOnViews<C extends LeaseCommand>(ctx: CommandContext, command: C) {
  const events = decideLease(
    command,
    {
      record: getLease(ctx.views, ctx.namespace, command.id),
      rv: leaseCreatedRv(ctx.views, ctx.namespace, command.id),
      holds: (r) => leaseHolds(ctx.views, ctx.namespace, command.id, r),
    },
    ctx.now,
  );
  // A lease's own events live on its subject, each resource's hold on one of
  // its own (docs/events.md): ordered by their own OCC, they never conflict
  // with the rest of the namespace, nor one resource with another.
  return events.map((event) => ({ event, expect: objectExpectation(ctx, subjectOfEvent(ctx.namespace, event)) }));
}

export const createLease: CommandDefinition<LeaseCommand & { type: "CreateLease" }, LeaseRecord> = {
  resource: "leases",
  verb: "create",
  parse(p) {
    const given = optionalString(p, "id") ?? "";
    const expiresInMs = optionalInteger(p, "expiresInMs");
    if (expiresInMs !== undefined && expiresInMs < 0) throw invalidArgument("request field \"expiresInMs\" must not be negative");
    return {
      type: "CreateLease",
      id: given === "" ? randomLeaseId() : leaseId(p),
      labels: stringMap(p, "labels"),
      ...(expiresInMs !== undefined ? { expiresInMs } : {}),
    };
  },
  subject: (namespace, c) => leaseSubject(namespace, c.id),
  decide(ctx, c) {
    const appends = decideOnViews(ctx, c);
    const created = appends[0]!.event as LeaseCreated;
    // Any write creates a missing namespace (containerd A.4; purser records it: divergence 1).
    return { appends: withImplicitNamespace(ctx, appends), result: created.data.lease };
  },
  replay: (ctx, c) => current(ctx, c.id),
};

/**
 * `sync` is containerd's `SynchronousDelete`: wait for the collection the
 * delete makes possible. It is accepted now and waits once the collector runs.
 */
export const deleteLease: CommandDefinition<LeaseCommand & { type: "DeleteLease" } & { sync: boolean }, null> = {
  resource: "leases",
  verb: "delete",
  parse: (p) => ({ type: "DeleteLease", id: leaseId(p), sync: optionalBoolean(p, "sync") ?? false }),
  subject: (namespace, c) => leaseSubject(namespace, c.id),
  decide: (ctx, c) => ({ appends: decideOnViews(ctx, { type: "DeleteLease", id: c.id }), result: null }),
  replay: () => null,
};

export const addLeaseResource: CommandDefinition<LeaseCommand & { type: "AddLeaseResource" }, null> = {
  resource: "leases",
  verb: "add-resource",
  parse: (p) => ({ type: "AddLeaseResource", id: leaseId(p), resource: parseResource(p) }),
  subject: (namespace, c) => leaseResourceSubject(namespace, c.id, c.resource),
  decide: (ctx, c) => ({ appends: decideOnViews(ctx, c), result: null }),
  replay: () => null,
};

export const deleteLeaseResource: CommandDefinition<LeaseCommand & { type: "DeleteLeaseResource" }, null> = {
  resource: "leases",
  verb: "delete-resource",
  parse: (p) => ({ type: "DeleteLeaseResource", id: leaseId(p), resource: parseResource(p) }),
  subject: (namespace, c) => leaseResourceSubject(namespace, c.id, c.resource),
  decide: (ctx, c) => ({ appends: decideOnViews(ctx, c), result: null }),
  replay: () => null,
};

function current(ctx: CommandContext, id: string): LeaseRecord {
  const record = getLease(ctx.views, ctx.namespace, id);
  if (!record) throw notFound(`lease ${quote(id)}`);
  return record;
}

/** containerd `adaptLease` (`metadata/adaptors.go`): `id`, `labels.<k>`. */
export function adaptLease(lease: LeaseRecord): Adaptor {
  return adaptRecord({
    id: () => nonEmpty(lease.id),
    labels: (rest) => mapField(lease.labels, rest),
  });
}

export const listLeasesQuery: QueryDefinition<Filter, LeaseRecord[]> = {
  resource: "leases",
  verb: "list",
  // containerd's lease List wraps a filter error in InvalidArgument once more (A.12).
  parse: (p) => parseListFilters(p),
  run: (views, namespace, filter) => listLeases(views, namespace).filter((l) => filter.match(adaptLease(l))),
};

export const listLeaseResourcesQuery: QueryDefinition<string, LeaseResource[]> = {
  resource: "leases",
  verb: "resources",
  parse: (p) => leaseId(p),
  run(views, namespace, id) {
    if (!getLease(views, namespace, id)) throw notFound(`lease ${quote(id)}`);
    return listLeaseResources(views, namespace, id);
  },
};

export const leaseCommands: readonly CommandDefinition<any, any>[] = [createLease, deleteLease, addLeaseResource, deleteLeaseResource];
export const leaseQueries: readonly QueryDefinition<any, any>[] = [listLeasesQuery, listLeaseResourcesQuery];
