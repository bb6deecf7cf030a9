/**
 * Events the garbage collector appends (docs/gc.md). containerd 1.6 publishes
 * nothing for what its GC removes; purser records every removal (decided
 * divergence 7), so replay reproduces the collection without running it.
 *
 * `ContentDeleted` and `SnapshotRemoved` are the ordinary events (a GC removal
 * is told apart by its actor `gc` and its causation = the GC run id); these
 * are the removals no command makes.
 */

/**
 * An ingest the collector found unreachable: its `expireAt` passed (containerd's
 * 24 h for an ingest without a lease), or it has none and no lease holds it.
 */
export interface IngestExpired {
  type: "IngestExpired";
  data: { ref: string };
}

/** A lease past its `containerd.io/gc.expire`; what it held goes with it. */
export interface LeaseExpired {
  type: "LeaseExpired";
  data: { id: string };
}

/**
 * A host fact, on the host stream `PURSER_HOST` (not a namespace's): the bytes
 * of a blob no namespace held and no ingest expected left this host's disk.
 */
export interface BlobRemoved {
  type: "BlobRemoved";
  data: { digest: string; size: number };
}

export type GcEvent = IngestExpired | LeaseExpired | BlobRemoved;
