import type { Transaction } from "lmdb";
import { evolveContent } from "../domain/content.js";
import type { StoredEvent } from "../events/envelope.js";
import type { ContentRecord } from "../events/content-events.js";
import type { IngestRecord } from "../events/ingest-events.js";
import { adaptRecord, Always, mapField, type Adaptor, type Filter } from "../filters/index.js";
import { prefixRange } from "./key-range.js";
import { candidateIds, exactField, labelSelector } from "./label-index.js";
import type { Projection } from "./projection.js";
import { RecordView, type RecordPage } from "./record-view.js";
import type { ViewStore } from "./view-store.js";

/**
 * The content views (drawn in docs/lmdb.md):
 *
 *   content       [ns, digest]   → ContentRecord   what each namespace holds (containerd's
 *                                                   v1/<ns>/content/blob/<digest>), as msgpack
 *                                                   (record-view.ts: lists go out as stored)
 *   ingests       [ns, ref]      → IngestRow       active ingests (v1/<ns>/content/ingests/<ref>)
 *   blob-holders  [digest, ns]   → true            the reverse of `content`: which namespaces
 *                                                   hold a blob (the GC's "is this blob still
 *                                                   held anywhere" without a scan)
 *   host-unheld-blobs digest     → "ns\0seq"        scratch: digests that lost their last holder
 *                                                   (or an ingest that expected them): the disk
 *                                                   clean-up looks at these, not at every file
 *
 * `namespaceUsage` (projections/namespaces.ts) reads `content` (blobs block a
 * namespace delete) and `ingests` (dropped with the namespace).
 */
export const contentDb = "content";
export const ingestsDb = "ingests";
export const blobHoldersDb = "blob-holders";
export const unheldBlobsDb = "host-unheld-blobs";

/** An ingest row: the record plus the rv of the event that (re)opened it. */
export interface IngestRow extends IngestRecord {
  seq: number;
}

type Key = [string, string];

const contentRecords = new RecordView<ContentRecord>(contentDb, { labels: (r) => r.labels });

/** Every ContentRecord of every namespace, `[namespace, id]` first (the collector's graph). */
export function allContent(views: ViewStore, transaction?: Transaction): Generator<{ key: [string, string]; record: ContentRecord }> {
  return contentRecords.entries(views, transaction);
}

export const contentProjection: Projection = {
  name: "content",
  databases: [...contentRecords.databases, ingestsDb, blobHoldersDb],
  scratchDatabases: [unheldBlobsDb],
  apply(views: ViewStore, stored: StoredEvent): void {
    const ns = stored.namespace;
    const e = stored.event;
    // A digest this event may have left unheld: the next disk clean-up judges its file.
    const unheld = (digest: string) => views.db<string, string>(unheldBlobsDb).putSync(digest, `${ns}\u0000${stored.seq}`);
    switch (e.type) {
      case "IngestStarted":
        views.db<IngestRow, Key>(ingestsDb).putSync([ns, e.data.ingest.ref], { ...e.data.ingest, seq: stored.seq });
        return;
      case "IngestAborted":
      case "IngestExpired": {
        const ingests = views.db<IngestRow, Key>(ingestsDb);
        const expected = ingests.get([ns, e.data.ref])?.expected;
        ingests.removeSync([ns, e.data.ref]);
        if (expected) unheld(expected);
        return;
      }
      case "ContentCommitted":
      case "ContentUpdated":
      case "ContentDeleted": {
        const digest = e.type === "ContentDeleted" ? e.data.digest : e.data.content.digest;
        // Events carry the full record: the next state never depends on the current one.
        const next = evolveContent(undefined, e);
        if (next) {
          contentRecords.put(views, ns, digest, next);
          views.db<boolean, Key>(blobHoldersDb).putSync([digest, ns], true);
        } else {
          contentRecords.remove(views, ns, digest);
          const holders = views.db<boolean, Key>(blobHoldersDb);
          holders.removeSync([digest, ns]);
          if (!anyKey(holders.getKeys({ ...prefixRange([digest]), limit: 1 }))) unheld(digest);
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

function anyKey(keys: Iterable<unknown>): boolean {
  for (const _ of keys) return true;
  return false;
}

/** Whether some namespace holds the blob (one key read). */
export function blobHeld(views: ViewStore, digest: string, transaction?: Transaction): boolean {
  return anyKey(views.db<boolean, Key>(blobHoldersDb).getKeys({ ...prefixRange([digest]), limit: 1, ...(transaction ? { transaction } : {}) }));
}

export function getContent(views: ViewStore, namespace: string, digest: string): ContentRecord | undefined {
  return contentRecords.get(views, namespace, digest);
}

/** One page of the namespace's content in digest order, matching `filter` (see record-view.ts). */
export function listContentPage(views: ViewStore, namespace: string, filter: Filter, page: { after?: string; maxBytes: number }): RecordPage {
  const match = filter === Always ? undefined : (record: ContentRecord) => filter.match(contentAdaptor(record));
  // `digest==…` or an indexed label in every alternative: read those records instead of scanning.
  const ids = candidateIds(filter, [exactField("digest"), labelSelector(contentRecords.labelIndex!, views, namespace)])?.filter(
    (digest) => Buffer.byteLength(digest) <= 1024, // a made-up digest that long is held by no one, and no LMDB key
  );
  return contentRecords.page(views, namespace, { ...page, ...(match ? { match } : {}), ...(ids ? { ids } : {}) });
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
