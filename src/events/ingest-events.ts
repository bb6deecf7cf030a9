/** Ingest events: resumable uploads into the content store (docs/content.md). */

/**
 * An active ingest of a namespace (containerd's `v1/<ns>/content/ingests/<ref>`
 * bucket). The bytes written so far are not here: they live in the blob
 * store's ingest directory, and the offset is the size of its data file.
 */
export interface IngestRecord {
  ref: string;
  /** Names this ingest's life and its directory `<data>/ingest/<id>/` (a ref can be reused). */
  id: string;
  /** The digest the client declared, or "" (containerd keeps it only for shared ingests). */
  expected: string;
  /** The size the client declared (0: unknown); for a shared ingest, the blob's size. */
  total: number;
  /**
   * The blob already exists on the host (shared policy): the ingest counts as
   * fully written and a commit only links it into the namespace. GC: a shared
   * ingest references its `expected` blob.
   */
  shared: boolean;
  startedAt: string;
  /** now + 24 h when opened without a lease (containerd `expireat`); absent when leased. */
  expireAt?: string;
  /** The lease the ingest was (last) opened under; it holds the ingest. */
  lease?: string;
}

/**
 * An ingest was opened, or opened again (`resumed`: the same ingest, its
 * bytes kept; containerd renews `expireat` on every open).
 */
export interface IngestStarted {
  type: "IngestStarted";
  data: { ingest: IngestRecord; resumed: boolean };
}

/**
 * An ingest ended without a commit of its own: aborted by a client, dropped
 * with its namespace, or removed by a commit that found the blob already in
 * the namespace (`reason`, absent for a plain abort).
 */
export interface IngestAborted {
  type: "IngestAborted";
  data: { ref: string; reason?: IngestAbortReason };
}

export type IngestAbortReason = "already-exists";

export type IngestEvent = IngestStarted | IngestAborted;
