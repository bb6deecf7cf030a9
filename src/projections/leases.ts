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
 *
 * `leases` is also read by namespaceUsage (a namespace delete drops its
 * leases, each with a LeaseDeleted event), and both by the garbage collector
 * (roots: unexpired leases and what they hold).
 */
export const leasesDb = "leases";
export const leaseResourcesDb = "lease-resources";

type LeaseKey = [string, string];
type ResourceKey = [string, string, string, string];

export const leasesProjection: Projection = {
  name: "leases",
  databases: [leasesDb, leaseResourcesDb],
  apply(views: ViewStore, stored: StoredEvent): void {
    const e = stored.event;
    const ns = stored.namespace;
    const leases = views.db<LeaseRecord, LeaseKey>(leasesDb);
    const resources = views.db<number, ResourceKey>(leaseResourcesDb);
    switch (e.type) {
      case "LeaseCreated":
        leases.putSync([ns, e.data.lease.id], evolveLease(undefined, e)!);
        return;
      case "LeaseResourceAdded":
        // Always decided against an existing lease under the lease's own OCC;
        // the check keeps a hand-published stray event from resurrecting one.
        if (leases.get([ns, e.data.id]) !== undefined) {
          resources.putSync([ns, e.data.id, e.data.resource.type, e.data.resource.id], 1);
        }
        return;
      case "LeaseResourceRemoved":
        resources.removeSync([ns, e.data.id, e.data.resource.type, e.data.resource.id]);
        return;
      case "LeaseDeleted":
      case "LeaseExpired":
        leases.removeSync([ns, e.data.id]);
        for (const key of [...resources.getKeys(prefixRange([ns, e.data.id]))]) resources.removeSync(key);
        return;
      default:
        return;
    }
  },
};

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
