import { decode, encode } from "@msgpack/msgpack";
import type { Database } from "lmdb";
import { prefixRange } from "./key-range.js";
import type { ViewStore } from "./view-store.js";

/**
 * A view of records keyed `[namespace, id]` whose values are the records as
 * standard msgpack (the wire codec), not lmdb's own encoding: a list reply is
 * then assembled from the stored bytes as they are, with no decode and
 * re-encode of every row (a list of 2,000 images is ~600 KB). Reads of one
 * record decode it. `ViewStore.dump` still reads these values (lmdb's
 * decoder reads standard msgpack).
 *
 * Lists come in pages bounded in bytes, so a reply never exceeds the NATS
 * max_payload however many records a namespace holds; see {@link RecordPage}.
 */
export interface RecordPage {
  /** A msgpack array of the page's records, ready to be sent as it is. */
  items: Uint8Array;
  count: number;
  /** Present when more records may follow: pass it as `after` for the next page. */
  next?: string;
}

export interface PageOptions<R> {
  /** Start after this id (exclusive); from the first id when absent. */
  after?: string;
  /** Bytes of records per page (a page holds at least one record). */
  maxBytes: number;
  /** Which records to include; all when absent (then no record is decoded). */
  match?: (record: R) => boolean;
  /** Look up only these ids (in this order) instead of scanning the namespace. */
  ids?: readonly string[];
}

export class RecordView<R> {
  private readonly handles = new WeakMap<ViewStore, Database<Uint8Array, [string, string]>>();

  constructor(readonly dbName: string) {}

  private db(views: ViewStore): Database<Uint8Array, [string, string]> {
    let db = this.handles.get(views);
    if (!db) {
      db = views.root.openDB<Uint8Array, [string, string]>({ name: this.dbName, encoding: "binary" });
      this.handles.set(views, db);
    }
    return db;
  }

  /** Writes a record (inside the projection's write transaction). */
  put(views: ViewStore, namespace: string, id: string, record: R): void {
    this.db(views).putSync([namespace, id], encode(record, { ignoreUndefined: true }));
  }

  remove(views: ViewStore, namespace: string, id: string): void {
    this.db(views).removeSync([namespace, id]);
  }

  get(views: ViewStore, namespace: string, id: string): R | undefined {
    const bytes = this.db(views).get([namespace, id]);
    return bytes ? (decode(bytes) as R) : undefined;
  }

  /** One page of the namespace's records in id order (or of `ids`, in their order). */
  page(views: ViewStore, namespace: string, opts: PageOptions<R>): RecordPage {
    const db = this.db(views);
    const parts: Uint8Array[] = [];
    let bytes = 0;
    // The last id examined: where the next page starts when this one is full.
    let cursor = opts.after;
    let next: string | undefined;
    /** Takes one candidate; false when the page is full (the candidate goes to the next page). */
    const take = (id: string, value: Uint8Array): boolean => {
      if (opts.match && !opts.match(decode(value) as R)) {
        cursor = id;
        return true;
      }
      if (parts.length > 0 && bytes + value.byteLength > opts.maxBytes) {
        next = cursor;
        return false;
      }
      parts.push(value);
      bytes += value.byteLength;
      cursor = id;
      return true;
    };
    if (opts.ids) {
      const from = opts.after === undefined ? 0 : opts.ids.indexOf(opts.after) + 1;
      for (const id of opts.ids.slice(from)) {
        const value = db.get([namespace, id]);
        if (!value) {
          cursor = id;
          continue;
        }
        if (!take(id, value)) break;
      }
    } else {
      const range = prefixRange([namespace]);
      const start = opts.after === undefined ? range.start : ([namespace, opts.after] as [string, string]);
      for (const { key, value } of db.getRange({ start, end: range.end })) {
        const id = (key as [string, string])[1];
        if (id === opts.after) continue;
        if (!take(id, value)) break;
      }
    }
    return { items: concatArray(parts, bytes), count: parts.length, ...(next === undefined ? {} : { next }) };
  }
}

/** The msgpack array whose elements are the given encoded values. */
function concatArray(parts: readonly Uint8Array[], bytes: number): Uint8Array {
  const n = parts.length;
  const headerLength = n < 16 ? 1 : n < 0x10000 ? 3 : 5;
  const out = Buffer.allocUnsafe(headerLength + bytes);
  if (n < 16) out[0] = 0x90 | n;
  else if (n < 0x10000) {
    out[0] = 0xdc;
    out.writeUInt16BE(n, 1);
  } else {
    out[0] = 0xdd;
    out.writeUInt32BE(n, 1);
  }
  let at = headerLength;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
