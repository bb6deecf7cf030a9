import { decode, encode } from "@msgpack/msgpack";
import type { Database, Transaction } from "lmdb";
import { prefixRange } from "./key-range.js";
import { compareUtf8, LabelIndex } from "./label-index.js";
import type { ViewStore } from "./view-store.js";

/**
 * A view of records keyed `[namespace, id]` whose values are the records as
 * standard msgpack (the wire codec), not lmdb's own encoding: a list reply is
 * then assembled from the stored bytes as they are, with no decode and
 * re-encode of every row (a list of 2,000 images is ~600 KB). Reads of one
 * record decode it.
 *
 * Each value is stored as a msgpack *bin* wrapping the record's msgpack. lmdb's
 * own decoder (msgpackr with records, used by `ViewStore.db(name)` and
 * `dump`) reads positive fixints 64–127 as record references, so it would
 * misread a bare standard-msgpack record; it reads a bin correctly, as the
 * record's bytes. Dumps (rebuild comparisons) therefore show each row as the
 * exact bytes of its record.
 *
 * Lists come in pages bounded in bytes, so a reply never exceeds the NATS
 * max_payload however many records a namespace holds; see {@link RecordPage}.
 */
export interface RecordPage {
  /** A msgpack array of the page's records, ready to be sent as it is. */
  items: Uint8Array;
  count: number;
  /** With `companion`: a msgpack array of each record's companion value, in the same order. */
  companions?: Uint8Array;
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
  /** Look up only these ids (sorted by UTF-8 bytes, the key order) instead of scanning the namespace. */
  ids?: readonly string[];
  /** A value sent beside each record (standard msgpack), counted in the page's bytes. */
  companion?: (id: string) => Uint8Array;
}

export interface RecordViewOptions<R> {
  /** Keep a label index (`<db>-labels`, label-index.ts) of these labels of each record. */
  labels?: (record: R) => Readonly<Record<string, string>> | undefined;
}

export class RecordView<R> {
  private readonly handles = new WeakMap<ViewStore, Database<Uint8Array, [string, string]>>();
  /** The label index, when the view keeps one. */
  readonly labelIndex: LabelIndex | undefined;

  constructor(
    readonly dbName: string,
    private readonly options: RecordViewOptions<R> = {},
  ) {
    this.labelIndex = options.labels ? new LabelIndex(`${dbName}-labels`) : undefined;
  }

  /** The databases this view writes (its projection lists them). */
  get databases(): string[] {
    return this.labelIndex ? [this.dbName, this.labelIndex.dbName] : [this.dbName];
  }

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
    this.reindex(views, namespace, id, record);
    this.db(views).putSync([namespace, id], wrapBin(encode(record, { ignoreUndefined: true })));
  }

  remove(views: ViewStore, namespace: string, id: string): void {
    this.reindex(views, namespace, id, undefined);
    this.db(views).removeSync([namespace, id]);
  }

  /** Moves the record's label index entries from what is stored to `next`. */
  private reindex(views: ViewStore, namespace: string, id: string, next: R | undefined): void {
    const labels = this.options.labels;
    if (!this.labelIndex || !labels) return;
    const old = this.get(views, namespace, id);
    this.labelIndex.update(views, namespace, id, old && labels(old), next && labels(next));
  }

  get(views: ViewStore, namespace: string, id: string): R | undefined {
    const stored = this.encoded(views, namespace, id);
    return stored ? (decode(stored) as R) : undefined;
  }

  /** A record's standard msgpack bytes, as stored (a view of them, no copy). */
  encoded(views: ViewStore, namespace: string, id: string): Uint8Array | undefined {
    const stored = this.db(views).get([namespace, id]);
    return stored ? unwrapBin(stored) : undefined;
  }

  /** Every record of every namespace, keyed `[namespace, id]`, in key order (the collector reads them all). */
  *entries(views: ViewStore, transaction?: Transaction): Generator<{ key: [string, string]; record: R }> {
    for (const { key, value } of this.db(views).getRange(transaction ? { transaction } : {})) {
      yield { key: key as [string, string], record: decode(unwrapBin(value)) as R };
    }
  }

  /** One page of the namespace's records in id order (only those of `ids`, when given). */
  page(views: ViewStore, namespace: string, opts: PageOptions<R>): RecordPage {
    const db = this.db(views);
    const parts: Uint8Array[] = [];
    const companions: Uint8Array[] = [];
    let bytes = 0;
    let companionBytes = 0;
    // The last id examined: where the next page starts when this one is full.
    let cursor = opts.after;
    let next: string | undefined;
    /** Takes one candidate; false when the page is full (the candidate goes to the next page). */
    const take = (id: string, stored: Uint8Array): boolean => {
      const value = unwrapBin(stored);
      if (opts.match && !opts.match(decode(value) as R)) {
        cursor = id;
        return true;
      }
      const extra = opts.companion?.(id);
      const more = value.byteLength + (extra?.byteLength ?? 0);
      if (parts.length > 0 && bytes + companionBytes + more > opts.maxBytes) {
        next = cursor;
        return false;
      }
      parts.push(value);
      bytes += value.byteLength;
      if (extra) {
        companions.push(extra);
        companionBytes += extra.byteLength;
      }
      cursor = id;
      return true;
    };
    if (opts.ids) {
      // The ids are in key order: continue after the cursor wherever it falls.
      const from = opts.after === undefined ? 0 : firstAfter(opts.ids, opts.after);
      for (let i = from; i < opts.ids.length; i++) {
        const id = opts.ids[i]!;
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
    return {
      items: concatArray(parts, bytes),
      count: parts.length,
      ...(opts.companion ? { companions: concatArray(companions, companionBytes) } : {}),
      ...(next === undefined ? {} : { next }),
    };
  }
}

/** The index of the first id greater than `after` in ids sorted by UTF-8 bytes. */
function firstAfter(ids: readonly string[], after: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareUtf8(ids[mid]!, after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A msgpack bin holding `body`. */
function wrapBin(body: Uint8Array): Uint8Array {
  const n = body.byteLength;
  const headerLength = n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  const out = Buffer.allocUnsafe(headerLength + n);
  if (n < 0x100) {
    out[0] = 0xc4;
    out[1] = n;
  } else if (n < 0x10000) {
    out[0] = 0xc5;
    out.writeUInt16BE(n, 1);
  } else {
    out[0] = 0xc6;
    out.writeUInt32BE(n, 1);
  }
  out.set(body, headerLength);
  return out;
}

/** The body of a stored msgpack bin (a view of it, no copy). */
function unwrapBin(stored: Uint8Array): Uint8Array {
  switch (stored[0]) {
    case 0xc4:
      return stored.subarray(2);
    case 0xc5:
      return stored.subarray(3);
    case 0xc6:
      return stored.subarray(5);
    default:
      throw new Error(`record view value is not a msgpack bin (first byte ${stored[0]})`);
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
