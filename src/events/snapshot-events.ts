/**
 * Snapshot events. Each carries the full resulting record, so the last event
 * of a snapshot's subject (`purser.ev.<ns>.snapshot.<snapshotter/key>`) is its
 * current state and replay needs nothing else (docs/snapshots.md).
 */

/** containerd's `snapshots.Kind`, lower-case as its filters spell it. */
export const SnapshotKind = {
  Active: "active",
  View: "view",
  Committed: "committed",
} as const;
export type SnapshotKind = (typeof SnapshotKind)[keyof typeof SnapshotKind];

/** One snapshot of one namespace and snapshotter (containerd's `snapshots.Info` plus its backend identity). */
export interface SnapshotRecord {
  snapshotter: string;
  /** The key (active, view) or name (committed): one key space per namespace and snapshotter. */
  key: string;
  kind: SnapshotKind;
  /** The committed snapshot this one descends from; `""` for none. */
  parent: string;
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  /**
   * The backend's name for it, `<namespace>/<id>/<key>` as containerd's
   * metadata store builds it (`createKey`): unique per namespace and life, so
   * namespaces never share backend snapshots.
   */
  backendKey: string;
  /**
   * The directory under the snapshotter's root whose tree this snapshot
   * mounts: its own for an active snapshot or a parentless view, its
   * parent's for a view with a parent, the active one's for a committed one.
   */
  dir: string;
}

export interface SnapshotPrepared {
  type: "SnapshotPrepared";
  data: { snapshot: SnapshotRecord };
}

/** A read-only view: containerd publishes no event for it; purser records it (decided divergence 7). */
export interface SnapshotViewCreated {
  type: "SnapshotViewCreated";
  data: { snapshot: SnapshotRecord };
}

/**
 * An active snapshot committed under a name. It lives on the subject of the
 * new name; `key` (the active snapshot, which ceases to exist) is named so a
 * fold can drop it and move the parent's child link from key to name.
 */
export interface SnapshotCommitted {
  type: "SnapshotCommitted";
  data: { snapshot: SnapshotRecord; key: string };
}

export interface SnapshotRemoved {
  type: "SnapshotRemoved";
  data: { snapshotter: string; key: string };
}

export interface SnapshotUpdated {
  type: "SnapshotUpdated";
  data: { snapshot: SnapshotRecord; fieldPaths: string[] };
}

export type SnapshotEvent = SnapshotPrepared | SnapshotViewCreated | SnapshotCommitted | SnapshotRemoved | SnapshotUpdated;

/** The object id of a snapshot's event subject: snapshot keys are per snapshotter. */
export function snapshotObjectId(snapshotter: string, key: string): string {
  return `${snapshotter}/${key}`;
}
