import type { LeaseResource } from "../events/lease-events.js";
import type { SnapshotRecord } from "../events/snapshot-events.js";
import { getLease, leaseCreatedRv, leaseHolds } from "../projections/leases.js";
import { childrenOf, getSnapshot, hasChildren, snapshotterKnown } from "../projections/snapshots.js";
import type { CommandContext } from "./command.js";
import type { ContextLease } from "../domain/lease-recording.js";
import type { SnapshotState } from "../domain/snapshots.js";

/**
 * What a snapshot decision reads: the views, seen through the events this
 * process appended for the namespace's exclusive commands that the views
 * have not applied yet (`ctx.pending`, see ExclusiveLane). The fold below
 * is the projections' (projections/snapshots.ts, projections/leases.ts),
 * restricted to what a decision asks.
 */
export function snapshotState(ctx: CommandContext, snapshotter: string): SnapshotState {
  const { views, namespace } = ctx;
  /** key → record, or null when removed or committed away. */
  const rows = new Map<string, SnapshotRecord | null>();
  const childrenAdded = new Map<string, Set<string>>();
  const childrenRemoved = new Map<string, Set<string>>();
  const leaseChanges = new Map<string, boolean>();
  let known = false;

  const get = (key: string): SnapshotRecord | undefined => {
    const row = rows.get(key);
    if (row !== undefined) return row ?? undefined;
    return getSnapshot(views, namespace, snapshotter, key);
  };
  const link = (parent: string, child: string, on: boolean) => {
    const [add, remove] = on ? [childrenAdded, childrenRemoved] : [childrenRemoved, childrenAdded];
    remove.get(parent)?.delete(child);
    if (!add.has(parent)) add.set(parent, new Set());
    add.get(parent)!.add(child);
  };
  const resourceKey = (lease: string, r: LeaseResource) => `${lease}\u0000${r.type}\u0000${r.id}`;

  for (const e of ctx.pending ?? []) {
    switch (e.type) {
      case "SnapshotPrepared":
      case "SnapshotViewCreated": {
        const s = e.data.snapshot;
        if (s.snapshotter !== snapshotter) break;
        rows.set(s.key, s);
        known = true;
        if (s.parent !== "") link(s.parent, s.key, true);
        break;
      }
      case "SnapshotCommitted": {
        const s = e.data.snapshot;
        if (s.snapshotter !== snapshotter) break;
        rows.set(e.data.key, null);
        rows.set(s.key, s);
        known = true;
        if (s.parent !== "") {
          link(s.parent, e.data.key, false);
          link(s.parent, s.key, true);
        }
        break;
      }
      case "SnapshotRemoved": {
        if (e.data.snapshotter !== snapshotter) break;
        const before = get(e.data.key);
        rows.set(e.data.key, null);
        if (before && before.parent !== "") link(before.parent, e.data.key, false);
        break;
      }
      case "SnapshotUpdated":
        if (e.data.snapshot.snapshotter === snapshotter) rows.set(e.data.snapshot.key, e.data.snapshot);
        break;
      case "LeaseResourceAdded":
        leaseChanges.set(resourceKey(e.data.id, e.data.resource), true);
        break;
      case "LeaseResourceRemoved":
        leaseChanges.set(resourceKey(e.data.id, e.data.resource), false);
        break;
      default:
        break;
    }
  }

  const leaseId = ctx.lease;
  const leaseRv = leaseId === undefined || leaseId === "" ? undefined : leaseCreatedRv(views, namespace, leaseId);
  const lease: ContextLease | undefined =
    leaseId === undefined || leaseId === ""
      ? undefined
      : {
          id: leaseId,
          exists: getLease(views, namespace, leaseId) !== undefined,
          ...(leaseRv !== undefined ? { rv: leaseRv } : {}),
          holds: (r) => leaseChanges.get(resourceKey(leaseId, r)) ?? leaseHolds(views, namespace, leaseId, r),
        };

  return {
    namespace,
    get,
    hasChildren(key) {
      if ((childrenAdded.get(key)?.size ?? 0) > 0) return true;
      const removed = childrenRemoved.get(key);
      if (!removed || removed.size === 0) return hasChildren(views, namespace, snapshotter, key);
      return childrenOf(views, namespace, snapshotter, key).some((c) => !removed.has(c));
    },
    snapshotterKnown: known || snapshotterKnown(views, namespace, snapshotter),
    ...(lease ? { lease } : {}),
  };
}
