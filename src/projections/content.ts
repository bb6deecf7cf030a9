import { evolveContent } from "../commands/content.js";
import type { StoredEvent } from "../events/envelope.js";
import type { ContentRecord } from "../events/content-events.js";
import type { IngestRecord } from "../events/ingest-events.js";
import { adaptRecord, mapField, type Adaptor } from "./filters/index.js";
import { prefixRange } from "./key-range.js";
import type { Projection } from "./projection.js";
import type { ViewStore } from "./view-store.js";

/**
 * The content views (drawn in docs/lmdb.md):
 *
 *   content       [ns, digest]   → ContentRecord   what each namespace holds (containerd's
 *                                                   v1/<ns>/content/blob/<digest>)
 *   ingests       [ns, ref]      → IngestRow       active ingests (v1/<ns>/content/ingests/<ref>)
 *   blob-holders  [digest, ns]   → true            the reverse of `content`: which namespaces
 *                                                   hold a blob (the GC's "is this blob still
 *                                                   held anywhere" without a scan)
 *
 * `namespaceUsage` (projections/namespaces.ts) reads `content` (blobs block a
 * namespace delete) and `ingests` (dropped with the namespace).
 */
export const contentDb = "content";
export const ingestsDb = "ingests";
export const blobHoldersDb = "blob-holders";

/** An ingest row: the record plus the rv of the event that (re)opened it. */
export interface IngestRow extends IngestRecord {
  seq: number;
}

type Key = [string, string];

export const contentProjection: Projection = {
  name: "content",
  databases: [contentDb, ingestsDb, blobHoldersDb],
  apply(views: ViewStore, stored: StoredEvent): void {
    const ns = stored.namespace;
    const e = stored.event;
    switch (e.type) {
      case "IngestStarted":
        views.db<IngestRow, Key>(ingestsDb).putSync([ns, e.data.ingest.ref], { ...e.data.ingest, seq: stored.seq });
        return;
      case "IngestAborted":
        views.db<IngestRow, Key>(ingestsDb).removeSync([ns, e.data.ref]);
        return;
      case "ContentCommitted":
      case "ContentUpdated":
      case "ContentDeleted": {
        const content = views.db<ContentRecord, Key>(contentDb);
        const digest = e.type === "ContentDeleted" ? e.data.digest : e.data.content.digest;
        const next = evolveContent(content.get([ns, digest]), e);
        if (next) {
          content.putSync([ns, digest], next);
          views.db<boolean, Key>(blobHoldersDb).putSync([digest, ns], true);
        } else {
          content.removeSync([ns, digest]);
          views.db<boolean, Key>(blobHoldersDb).removeSync([digest, ns]);
        }
        if (e.type === "ContentCommitted" && e.data.ingestId !== undefined) {
          // The commit consumed exactly this ingest; a newer one of the same ref stays.
          const ingests = views.db<IngestRow, Key>(ingestsDb);
          if (ingests.get([ns, e.data.ref])?.id === e.data.ingestId) ingests.removeSync([ns, e.data.ref]);
        }
        return;
      }
      default:
        return;
    }
  },
};

export function getContent(views: ViewStore, namespace: string, digest: string): ContentRecord | undefined {
  return views.db<ContentRecord, Key>(contentDb).get([namespace, digest]);
}

/** The namespace's content in digest order. */
export function listContent(views: ViewStore, namespace: string): ContentRecord[] {
  return [...views.db<ContentRecord, Key>(contentDb).getRange(prefixRange([namespace]))].map((r) => r.value);
}

export function getIngest(views: ViewStore, namespace: string, ref: string): IngestRow | undefined {
  return views.db<IngestRow, Key>(ingestsDb).get([namespace, ref]);
}

/** The namespace's active ingests in ref order. */
export function listIngests(views: ViewStore, namespace: string): IngestRow[] {
  return [...views.db<IngestRow, Key>(ingestsDb).getRange(prefixRange([namespace]))].map((r) => r.value);
}

/** The namespaces that hold a blob, in name order. */
export function blobHolders(views: ViewStore, digest: string): string[] {
  return [...views.db<boolean, Key>(blobHoldersDb).getKeys(prefixRange([digest]))].map((k) => String((k as unknown[])[1]));
}

/**
 * containerd `adaptContentInfo`: `digest` and `labels.<k>`; `size` is a TODO
 * there and never matches, and so it is here.
 */
export function contentAdaptor(record: ContentRecord): Adaptor {
  return adaptRecord({
    digest: () => record.digest,
    labels: (rest) => mapField(record.labels, rest),
  });
}

/** containerd `adaptContentStatus` (ListStatuses): only `ref`. */
export function ingestAdaptor(ref: string): Adaptor {
  return adaptRecord({ ref: () => ref });
}
