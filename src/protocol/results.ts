/**
 * What purser's replies carry (docs/protocol.md): the result types a client
 * needs, in one module that loads nothing of the server. The server's
 * services build these; clients and the CLI only read them.
 */

/** Every command and query reply: the rv of the views that answered, and the result. */
export interface Reply<R> {
  rv: number;
  result: R;
}

// --- content (content.status, content.statuses) -------------------------------

/** An ingest as `status` and `statuses` report it (containerd `content.Status`, plus purser's fields). */
export interface IngestStatus {
  ref: string;
  /** Bytes written so far (a shared ingest: the blob's size). */
  offset: number;
  /** The declared size, 0 when unknown. */
  total: number;
  expected: string;
  shared: boolean;
  startedAt: string;
  updatedAt: string;
  expireAt?: string;
  lease?: string;
}

// --- snapshots (snapshots.mounts, snapshots.usage) ------------------------------

/** A mount as containerd's `mount.Mount`: what a runtime mounts for a snapshot. */
export interface Mount {
  type: string;
  source: string;
  options: string[];
}

/** A snapshot's disk usage (containerd `snapshots.Usage`). */
export interface Usage {
  /** Bytes of disk the tree occupies. */
  size: number;
  /** Distinct inodes in the tree, its root included. */
  inodes: number;
}

// --- images.unpack ---------------------------------------------------------------

/** One layer of the image, as unpacking saw it. */
export interface UnpackedLayer {
  digest: string;
  mediaType: string;
  diffId: string;
  chainId: string;
  /** True when this unpack applied the layer; false when its chain id was committed already. */
  applied: boolean;
  /** Uncompressed bytes (applied layers). */
  size?: number;
  entries?: number;
}

/** An entry of a layer that was not written. */
export interface UnpackNote {
  /** The entry's name in the layer. */
  name: string;
  reason: string;
  /** The layer's diff id. */
  layer: string;
}

export interface UnpackResult {
  image: string;
  snapshotter: string;
  manifest: string;
  config: string;
  /** The chain id of the top layer: the snapshot a container's rootfs is prepared on. */
  chainId: string;
  layers: UnpackedLayer[];
  /** Whether anything changed (a layer applied, or the config's label set). */
  changed: boolean;
  /** Entries refused because they would reach outside the snapshot (path traversal). */
  rejected: UnpackNote[];
  /** Entries left out for lack of privilege or support. */
  skipped: UnpackNote[];
  /** PAX extended attributes not applied. */
  ignoredXattrs: number;
}

// --- gc.collect, gc.why ------------------------------------------------------------

/** One removal as replies and logs show it. */
export interface RemovedObject {
  namespace: string;
  /** `lease`, `ingest`, `content` or `snapshot`. */
  type: string;
  /** Lease id, ingest ref, digest or snapshot key. */
  key: string;
  /** Snapshots only. */
  snapshotter?: string;
}

export interface CollectResult {
  /** The GC run: every event it appended has it as causation id. */
  runId: string;
  dryRun: boolean;
  /** What the metadata sweep removed (or, dry run, would remove). */
  removed: RemovedObject[];
  /** Blob files removed from this host's disk. */
  blobs: Array<{ digest: string; size: number }>;
  /** Snapshot backend directories removed from this host's disk. */
  directories: Array<{ snapshotter: string; dir: string }>;
  /** Sweeps it took (a concurrent write to a namespace makes its chain fail and the sweep start again). */
  attempts: number;
  /** Mark + decide + append: the "pause" the scheduler's policy budgets. */
  pauseMs: number;
  /** Everything, the disk cleanup included. */
  elapsedMs: number;
  /** False when another process held the sweep lock (only this host's disk was cleaned). */
  swept: boolean;
  /**
   * True when nothing changed since a collection that found nothing: no event
   * in any stream, no blob let go, no snapshot directory awaiting its event,
   * no lease or ingest expiry passed. Nothing was read; nothing can be garbage.
   */
  unchanged?: boolean;
  /**
   * Present when a reply had to cut the lists to fit a NATS message: the
   * full counts (the lists then hold the first {@link replyListLimit}).
   */
  totals?: { removed: number; blobs: number; directories: number };
}

/** `gc.why`: whether an object is kept, and the path from a root that keeps it. */
export interface Why {
  kept: boolean;
  /** Root first: how the object is reached (empty when garbage). */
  path: Array<{ type: string; namespace: string; key: string; reason: string }>;
}

// --- system.rebuild -------------------------------------------------------------------

/** Published on the requester's progress subject while a rebuild replays. */
export interface RebuildProgress {
  events: number;
  total: number;
}

/** An event the views skipped (`system.quarantine`; docs/events.md). */
export interface QuarantinedEvent {
  namespace: string;
  stream: string;
  seq: number;
  subject: string;
  type: string;
  reason: string;
}

/**
 * SIZE and PLATFORMS of one image, as `ctr images ls` prints them: what an
 * images list page carries beside its records when asked (`usage: true`).
 */
export interface ImageUsage {
  /** Packed size for the server host's platform; absent when a manifest or index on the way is not held. */
  size?: number;
  /** `os/arch[/variant]`, sorted; empty when they cannot be read. */
  platforms: string[];
}
