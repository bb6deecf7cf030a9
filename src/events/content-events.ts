/**
 * Content events: a namespace's metadata about blobs (containerd's
 * `v1/<ns>/content/blob/<digest>` bucket). The bytes themselves live once per
 * host in the blob store (docs/content.md); these events say which namespace
 * holds which blob, with what labels. Each carries the full resulting record.
 */

/** containerd `content.Info` as a namespace holds it. */
export interface ContentRecord {
  digest: string;
  size: number;
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/**
 * A blob became part of the namespace (containerd's commit of a writer).
 * `ref` is the ingest it came from; `ingestId` identifies that ingest's life
 * (absent when a one-request put never opened one), so the ingests view drops
 * exactly the ingest this commit consumed. A commit under a lease is preceded
 * by the lease's `LeaseResourceAdded` (implicit leasing).
 */
export interface ContentCommitted {
  type: "ContentCommitted";
  data: { content: ContentRecord; ref: string; ingestId?: string };
}

export interface ContentUpdated {
  type: "ContentUpdated";
  /** The request's field paths; a full replacement (no paths) records `labels`. */
  data: { content: ContentRecord; fieldPaths: string[] };
}

/**
 * The namespace no longer holds the blob (metadata only: the bytes go when the
 * GC finds no namespace and no ingest holding them).
 */
export interface ContentDeleted {
  type: "ContentDeleted";
  data: { digest: string };
}

export type ContentEvent = ContentCommitted | ContentUpdated | ContentDeleted;
