import { evolveLease } from "../domain/leases.js";
import type { StoredEvent } from "../events/envelope.js";
import type { LeaseRecord, LeaseResource } from "../events/lease-events.js";
import { prefixRange } from "./key-range.js";
import type { Projection } from "./projection.js";
import type { ViewStore } from "./view-store.js";

/**
 * The lease views (drawn in docs/leases.md):
 *
 *   leases           [namespace, id]                     → LeaseRecord
 *   lease-resources  [namespace, id, type, resource id]  → 1
 *   lease-rvs        [namespace, id]                     → rv of its LeaseCreated (its incarnation)
 *
 * `leases` is also read by namespaceUsage (a namespace delete drops its
 * leases, each with a LeaseDeleted event), and both by the garbage collector
 * (roots: unexpired leases and what they hold).
 */
export const leasesDb = "leases";
export const leaseResourcesDb = "lease-resources";
export const leaseRvsDb = "lease-rvs";

type LeaseKey = [string, string];
type ResourceKey = [string, string, string, string];

export const leasesProjection: Projection = {
  name: "leases",
  databases: [leasesDb, leaseResourcesDb, leaseRvsDb],
  apply(views: ViewStore, stored: StoredEvent): void {
    const e = stored.event;
    const ns = stored.namespace;
    const leases = views.db<LeaseRecord, LeaseKey>(leasesDb);
    const resources = views.db<number, ResourceKey>(leaseResourcesDb);
    const rvs = views.db<number, LeaseKey>(leaseRvsDb);
    switch (e.type) {
      case "LeaseCreated":
        leases.putSync([ns, e.data.lease.id], evolveLease(undefined, e)!);
        rvs.putSync([ns, e.data.lease.id], stored.seq);
        return;
      case "LeaseResourceAdded": {
        // Decided against an existing lease, appended under the resource's own
        // OCC: the lease may have gone meanwhile (the delete then wins, as if
        // it had come second), or gone and been created again under the same
        // id (the addition was for the earlier one: dropped too).
        if (leases.get([ns, e.data.id]) !== undefined && (e.data.leaseRv === undefined || e.data.leaseRv === rvs.get([ns, e.data.id]))) {
          resources.putSync([ns, e.data.id, e.data.resource.type, e.data.resource.id], 1);
        }
        return;
      }
      case "LeaseResourceRemoved":
        resources.removeSync([ns, e.data.id, e.data.resource.type, e.data.resource.id]);
        return;
      case "LeaseDeleted":
      case "LeaseExpired":
        leases.removeSync([ns, e.data.id]);
        rvs.removeSync([ns, e.data.id]);
        for (const key of [...resources.getKeys(prefixRange([ns, e.data.id]))]) resources.removeSync(key);
        return;
      default:
        return;
    }
  },
};

/** The rv of the lease's LeaseCreated: which incarnation of the id the views show. */
export function leaseCreatedRv(views: ViewStore, namespace: string, id: string): number | undefined {
  return views.db<number, LeaseKey>(leaseRvsDb).get([namespace, id]);
}

export function getLease(views: ViewStore, namespace: string, id: string): LeaseRecord | undefined {
  return views.db<LeaseRecord, LeaseKey>(leasesDb).get([namespace, id]);
}

/** The leases of a namespace in id order (containerd walks its bucket in key order). */
export function listLeases(views: ViewStore, namespace: string): LeaseRecord[] {
  return [...views.db<LeaseRecord, LeaseKey>(leasesDb).getRange(prefixRange([namespace]))].map((r) => r.value);
}

export function leaseHolds(views: ViewStore, namespace: string, id: string, r: LeaseResource): boolean {
  return views.db<number, ResourceKey>(leaseResourcesDb).get([namespace, id, r.type, r.id]) !== undefined;
}

/**
 * What a lease holds, in containerd's `ListResources` order: content, then
 * ingests, then snapshots per snapshotter, each by id.
 */
export function listLeaseResources(views: ViewStore, namespace: string, id: string): LeaseResource[] {
  const all: LeaseResource[] = [];
  for (const key of views.db<number, ResourceKey>(leaseResourcesDb).getKeys(prefixRange([namespace, id]))) {
    const [, , type, rid] = key as ResourceKey;
    all.push({ type, id: rid });
  }
  const rank = (t: string) => (t === "content" ? 0 : t === "ingests" ? 1 : 2);
  // Keys are already ordered by type then id; only content/ingests/snapshots need containerd's order.
  return all.sort((a, b) => rank(a.type) - rank(b.type) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
