import type { Transaction } from "lmdb";
import type { StoredEvent } from "../events/envelope.js";
import type { SnapshotRecord } from "../events/snapshot-events.js";
import { adaptRecord, mapField, type Adaptor, type Filter } from "../filters/index.js";
import { prefixRange } from "./key-range.js";
import type { Projection } from "./projection.js";
import type { ViewStore } from "./view-store.js";

/**
 * The snapshot views (drawn in docs/snapshots.md):
 *
 *   snapshots          [namespace, snapshotter, key]          → SnapshotRecord
 *   snapshot-children  [namespace, snapshotter, parent, child] → 1
 *   snapshotters       [namespace, snapshotter]                → 1
 *   snapshot-dirs      [snapshotter, dir, namespace, key]      → 1
 *   host-orphan-dirs   [snapshotter, dir]                      → "ns\0seq"  scratch
 *
 * `snapshots` is read by namespaceUsage (snapshots block a namespace delete,
 * per snapshotter) and by the garbage collector (parent links and labels).
 * `snapshot-children` is containerd's `children` bucket: the back links that
 * make removing a parent fail. `snapshotters` is containerd's per-namespace
 * snapshotter bucket: created by the first snapshot, kept when the last one
 * goes, dropped with the namespace; a commit in a namespace without it fails
 * with `can not find snapshotter`. `snapshot-dirs` says which records name a
 * directory (a view shares its parent's, a commit keeps its active's);
 * `host-orphan-dirs` holds directories whose last record went: the disk
 * clean-up looks at these, not at every directory (docs/gc.md "The disk").
 */
export const snapshotsDb = "snapshots";
export const snapshotChildrenDb = "snapshot-children";
export const snapshottersDb = "snapshotters";
export const snapshotDirsDb = "snapshot-dirs";
export const orphanDirsDb = "host-orphan-dirs";

type SnapshotKey = [string, string, string];
type ChildKey = [string, string, string, string];
type SnapshotterKey = [string, string];
type DirKey = [string, string, string, string];

export const snapshotsProjection: Projection = {
  name: "snapshots",
  databases: [snapshotsDb, snapshotChildrenDb, snapshottersDb, snapshotDirsDb],
  scratchDatabases: [orphanDirsDb],
  apply(views: ViewStore, stored: StoredEvent): void {
    const e = stored.event;
    const ns = stored.namespace;
    const rows = views.db<SnapshotRecord, SnapshotKey>(snapshotsDb);
    const children = views.db<number, ChildKey>(snapshotChildrenDb);
    const snapshotters = views.db<number, SnapshotterKey>(snapshottersDb);
    const dirs = views.db<number, DirKey>(snapshotDirsDb);
    switch (e.type) {
      case "SnapshotPrepared":
      case "SnapshotViewCreated": {
        const s = e.data.snapshot;
        rows.putSync([ns, s.snapshotter, s.key], s);
        dirs.putSync([s.snapshotter, s.dir, ns, s.key], 1);
        snapshotters.putSync([ns, s.snapshotter], 1);
        if (s.parent !== "") children.putSync([ns, s.snapshotter, s.parent, s.key], 1);
        return;
      }
      case "SnapshotCommitted": {
        const s = e.data.snapshot;
        const active = rows.get([ns, s.snapshotter, e.data.key]);
        rows.removeSync([ns, s.snapshotter, e.data.key]);
        if (active) dirs.removeSync([s.snapshotter, active.dir, ns, e.data.key]);
        rows.putSync([ns, s.snapshotter, s.key], s);
        dirs.putSync([s.snapshotter, s.dir, ns, s.key], 1);
        snapshotters.putSync([ns, s.snapshotter], 1);
        // The parent's child link moves from the active key to the committed name.
        if (s.parent !== "") {
          children.removeSync([ns, s.snapshotter, s.parent, e.data.key]);
          children.putSync([ns, s.snapshotter, s.parent, s.key], 1);
        }
        return;
      }
      case "SnapshotRemoved": {
        const key: SnapshotKey = [ns, e.data.snapshotter, e.data.key];
        const row = rows.get(key);
        rows.removeSync(key);
        if (row && row.parent !== "") children.removeSync([ns, e.data.snapshotter, row.parent, e.data.key]);
        if (row) {
          dirs.removeSync([row.snapshotter, row.dir, ns, e.data.key]);
          // Its directory is garbage once no record names it (removing a snapshot never deletes its tree).
          if (!dirNamed(views, row.snapshotter, row.dir)) views.db<string, [string, string]>(orphanDirsDb).putSync([row.snapshotter, row.dir], `${ns}\u0000${stored.seq}`);
        }
        return;
      }
      case "SnapshotUpdated": {
        const s = e.data.snapshot;
        const before = rows.get([ns, s.snapshotter, s.key]);
        rows.putSync([ns, s.snapshotter, s.key], s);
        dirs.putSync([s.snapshotter, s.dir, ns, s.key], 1);
        if (before && before.dir !== s.dir) {
          dirs.removeSync([s.snapshotter, before.dir, ns, s.key]);
          if (!dirNamed(views, s.snapshotter, before.dir)) views.db<string, [string, string]>(orphanDirsDb).putSync([s.snapshotter, before.dir], `${ns}\u0000${stored.seq}`);
        }
        return;
      }
      case "NamespaceDeleted":
        // containerd drops the namespace's buckets; snapshots themselves block the delete.
        for (const key of [...snapshotters.getKeys(prefixRange([ns]))]) snapshotters.removeSync(key);
        return;
      default:
        return;
    }
  },
};

export function getSnapshot(views: ViewStore, namespace: string, snapshotter: string, key: string): SnapshotRecord | undefined {
  return views.db<SnapshotRecord, SnapshotKey>(snapshotsDb).get([namespace, snapshotter, key]);
}

/** Whether some snapshot record, of any namespace, names the directory (one key read). */
export function dirNamed(views: ViewStore, snapshotter: string, dir: string, transaction?: Transaction): boolean {
  for (const _ of views.db<number, DirKey>(snapshotDirsDb).getKeys({ ...prefixRange([snapshotter, dir]), limit: 1, ...(transaction ? { transaction } : {}) })) {
    return true;
  }
  return false;
}

export function hasChildren(views: ViewStore, namespace: string, snapshotter: string, key: string): boolean {
  for (const _ of views.db<number, ChildKey>(snapshotChildrenDb).getKeys({ ...prefixRange([namespace, snapshotter, key]), limit: 1 })) {
    return true;
  }
  return false;
}

/** The children of a snapshot, in key order. */
export function childrenOf(views: ViewStore, namespace: string, snapshotter: string, key: string): string[] {
  return [...views.db<number, ChildKey>(snapshotChildrenDb).getKeys(prefixRange([namespace, snapshotter, key]))].map(
    (k) => (k as ChildKey)[3],
  );
}

/** Whether the namespace has containerd's bucket for the snapshotter. */
export function snapshotterKnown(views: ViewStore, namespace: string, snapshotter: string): boolean {
  return views.db<number, SnapshotterKey>(snapshottersDb).get([namespace, snapshotter]) !== undefined;
}

/**
 * containerd `adaptSnapshot` (`metadata/adaptors.go`): `kind`, `name`
 * (present even when empty), `parent` (present only when set), `labels.<k>`.
 */
export function adaptSnapshot(s: SnapshotRecord): Adaptor {
  return adaptRecord({
    kind: () => s.kind,
    name: () => s.key,
    parent: () => (s.parent !== "" ? s.parent : undefined),
    labels: (rest) => mapField(s.labels, rest),
  });
}

/** The snapshots of a namespace and snapshotter, in key order (containerd walks its bucket in key order). */
export function listSnapshots(views: ViewStore, namespace: string, snapshotter: string, filter?: Filter): SnapshotRecord[] {
  const out: SnapshotRecord[] = [];
  for (const { value } of views.db<SnapshotRecord, SnapshotKey>(snapshotsDb).getRange(prefixRange([namespace, snapshotter]))) {
    if (!filter || filter.match(adaptSnapshot(value))) out.push(value);
  }
  return out;
}

/** Every snapshot of a namespace, all snapshotters (the collector's input). */
export function listNamespaceSnapshots(views: ViewStore, namespace: string): SnapshotRecord[] {
  return [...views.db<SnapshotRecord, SnapshotKey>(snapshotsDb).getRange(prefixRange([namespace]))].map((r) => r.value);
}
