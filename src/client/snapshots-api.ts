import type { SnapshotRecord } from "../events/snapshot-events.js";
import type { Usage } from "../protocol/results.js";
import type { Mount } from "../protocol/results.js";
import type { CommandOptions, PurserClient, QueryOptions } from "./purser-client.js";

export type { Mount, SnapshotRecord, Usage };

/** Which snapshotter a call addresses (default `native`). */
export interface SnapshotterOption {
  snapshotter?: string;
}

/**
 * Snapshots of a namespace: containerd's snapshots service over purser's
 * protocol (docs/protocol.md, docs/snapshots.md). Keys are per namespace and
 * snapshotter; run a command under a lease (`opts.lease`) to record what it
 * creates in that lease.
 */
export class SnapshotsApi {
  constructor(
    private readonly client: PurserClient,
    /** The snapshotter used when a call names none. */
    readonly defaultSnapshotter = "native",
  ) {}

  /** An active snapshot on an optional committed parent; the reply is its mounts. */
  prepare(namespace: string, key: string, parent = "", opts: CommandOptions & SnapshotterOption & { labels?: Record<string, string> } = {}) {
    return this.client.command<Mount[]>(namespace, "snapshots", "prepare", { snapshotter: this.sn(opts), key, parent, labels: opts.labels ?? {} }, opts);
  }

  /** A read-only view of an optional committed parent; the reply is its mounts. */
  view(namespace: string, key: string, parent = "", opts: CommandOptions & SnapshotterOption & { labels?: Record<string, string> } = {}) {
    return this.client.command<Mount[]>(namespace, "snapshots", "view", { snapshotter: this.sn(opts), key, parent, labels: opts.labels ?? {} }, opts);
  }

  /** Commits the active snapshot `key` as `name` (containerd's argument order: name, then key). */
  commit(namespace: string, name: string, key: string, opts: CommandOptions & SnapshotterOption & { labels?: Record<string, string> } = {}) {
    return this.client.command<SnapshotRecord>(namespace, "snapshots", "commit", { snapshotter: this.sn(opts), name, key, labels: opts.labels ?? {} }, opts);
  }

  remove(namespace: string, key: string, opts: CommandOptions & SnapshotterOption = {}) {
    return this.client.command<null>(namespace, "snapshots", "remove", { snapshotter: this.sn(opts), key }, opts);
  }

  /** Field paths `labels` or `labels.<k>` (an empty value removes); none replaces all labels. */
  update(namespace: string, key: string, labels: Record<string, string>, fieldPaths: string[] = [], opts: CommandOptions & SnapshotterOption = {}) {
    return this.client.command<SnapshotRecord>(namespace, "snapshots", "update", { snapshotter: this.sn(opts), key, labels, fieldPaths }, opts);
  }

  stat(namespace: string, key: string, opts: QueryOptions & SnapshotterOption = {}) {
    return this.client.query<SnapshotRecord>(namespace, "snapshots", "stat", { snapshotter: this.sn(opts), key }, opts);
  }

  /** containerd filters (`kind`, `name`, `parent`, `labels.<k>`): several strings are ORed, commas within one AND. */
  list(namespace: string, filters: string[] = [], opts: QueryOptions & SnapshotterOption = {}) {
    return this.client.query<SnapshotRecord[]>(namespace, "snapshots", "list", { snapshotter: this.sn(opts), filters }, opts);
  }

  usage(namespace: string, key: string, opts: QueryOptions & SnapshotterOption = {}) {
    return this.client.query<Usage>(namespace, "snapshots", "usage", { snapshotter: this.sn(opts), key }, opts);
  }

  mounts(namespace: string, key: string, opts: QueryOptions & SnapshotterOption = {}) {
    return this.client.query<Mount[]>(namespace, "snapshots", "mounts", { snapshotter: this.sn(opts), key }, opts);
  }

  private sn(opts: SnapshotterOption): string {
    return opts.snapshotter ?? this.defaultSnapshotter;
  }
}
