import { createHash } from "node:crypto";
import type { Database } from "lmdb";
import { All, Any, Operator, Selector, type Filter } from "../filters/index.js";
import { prefixRange } from "./key-range.js";
import type { ViewStore } from "./view-store.js";

/**
 * A secondary index of one record view's labels, so `labels.k==v` and
 * `labels.k` (present) read the records that have the label instead of
 * scanning the namespace (docs/lmdb.md):
 *
 *   <view>-labels   [ns, token(k), token(v), token(id)] → id
 *
 * A token is the string itself when it is short, else `#` and a hash of it:
 * labels reach 4 KiB and ids 1.8 KiB, more than an LMDB key holds. The
 * index is a superset test — two values may share a token — and every
 * candidate is still matched against the whole filter, so the results are
 * exactly those of a scan.
 */
export class LabelIndex {
  private readonly handles = new WeakMap<ViewStore, Database<string, string[]>>();

  constructor(readonly dbName: string) {}

  private db(views: ViewStore): Database<string, string[]> {
    let db = this.handles.get(views);
    if (!db) {
      db = views.root.openDB<string, string[]>({ name: this.dbName });
      this.handles.set(views, db);
    }
    return db;
  }

  /** Replaces the entries of one record: `before` its old labels (if any), `after` its new ones (if any). */
  update(views: ViewStore, namespace: string, id: string, before: Labels | undefined, after: Labels | undefined): void {
    const db = this.db(views);
    const idToken = token(id);
    for (const [k, v] of Object.entries(before ?? {})) {
      if (after && Object.hasOwn(after, k) && after[k] === v) continue;
      db.removeSync([namespace, token(k), token(v), idToken]);
    }
    for (const [k, v] of Object.entries(after ?? {})) {
      if (before && Object.hasOwn(before, k) && before[k] === v) continue;
      db.putSync([namespace, token(k), token(v), idToken], id);
    }
  }

  /** The ids whose label `key` is `value` (or is set, when `value` is undefined): a superset, in token order. */
  ids(views: ViewStore, namespace: string, key: string, value: string | undefined): string[] {
    const prefix = value === undefined ? [namespace, token(key)] : [namespace, token(key), token(value)];
    const out: string[] = [];
    for (const { value: id } of this.db(views).getRange(prefixRange(prefix))) out.push(id);
    return out;
  }
}

type Labels = Readonly<Record<string, string>>;

/** Strings up to this many UTF-8 bytes are their own token. */
const maxPlainToken = 64;

function token(s: string): string {
  if (Buffer.byteLength(s) <= maxPlainToken) return s;
  return "#" + createHash("sha256").update(s).digest("base64url");
}

/**
 * What an index can answer for one selector: the ids it can match (a
 * superset), or undefined when this index cannot narrow it.
 */
export type SelectorLookup = (selector: Selector) => string[] | undefined;

/**
 * The ids a filter can match, when every alternative (filters are ORed
 * strings of ANDed selectors) has a selector some index answers; undefined
 * when some alternative needs a scan. Each alternative uses its cheapest
 * answer (`lookups` in order of preference, fewest ids first). Sorted by
 * UTF-8 bytes, the order of the view's keys, without duplicates.
 */
export function candidateIds(filter: Filter, lookups: readonly SelectorLookup[]): string[] | undefined {
  if (!(filter instanceof Any)) return undefined;
  const ids = new Set<string>();
  for (const alternative of filter.filters) {
    if (!(alternative instanceof All)) return undefined;
    let best: string[] | undefined;
    // Lookups in order of preference: an exact id ends the search before any label range is read.
    search: for (const lookup of lookups) {
      for (const s of alternative.filters) {
        if (!(s instanceof Selector)) continue;
        const found = lookup(s);
        if (found && (!best || found.length < best.length)) best = found;
        if (best && best.length <= 1) break search;
      }
    }
    if (!best) return undefined;
    for (const id of best) ids.add(id);
  }
  return [...ids].sort(compareUtf8);
}

export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** `name==v` (or `id==v`): that one id. */
export function exactField(field: string): SelectorLookup {
  return (s) => (s.operator === Operator.Equal && s.fieldpath.length === 1 && s.fieldpath[0] === field ? [s.value] : undefined);
}

/** `labels.k==v` and `labels.k` through the view's label index (the key is the rest of the path joined by `.`, as mapField). */
export function labelSelector(index: LabelIndex, views: ViewStore, namespace: string): SelectorLookup {
  return (s) => {
    if (s.fieldpath.length < 2 || s.fieldpath[0] !== "labels") return undefined;
    const key = s.fieldpath.slice(1).join(".");
    if (s.operator === Operator.Equal) return index.ids(views, namespace, key, s.value);
    if (s.operator === Operator.Present) return index.ids(views, namespace, key, undefined);
    return undefined;
  };
}
