import type { Filter } from "../filters/index.js";
import type { RecordPage } from "../projections/record-view.js";
import { parseListFilters } from "./list-filters.js";
import { optionalInteger, optionalString, type Payload } from "./payload.js";

/**
 * A list request of images or containers: `{filters?, after?, maxBytes?}`.
 *
 * - `filters`: several strings, ORed (list-filters.ts).
 * - `after`: continue after this name/id (the `next` of the previous page).
 * - `maxBytes`: bytes of records per page; a client sets it from the NATS
 *   max_payload it sees. A page holds at least one record.
 *
 * The reply's result is a {@link ListPage}.
 */
export interface ListRequest {
  filter: Filter;
  after?: string;
  maxBytes: number;
}

/** What a list reply carries: `items` is a msgpack array of records (sent as stored), `next` the cursor. */
export interface ListPage {
  items: Uint8Array;
  /** Images with `usage: true`: a msgpack array of each image's SIZE and PLATFORMS (image-usage.ts). */
  usage?: Uint8Array;
  next?: string;
}

/** Fits the default 1 MiB max_payload with room for the reply around the records. */
export const defaultPageBytes = 1024 * 1024 - 16 * 1024;
const minPageBytes = 1024;
const maxPageBytes = 64 * 1024 * 1024;

export function parseListRequest(p: Payload): ListRequest {
  const filter = parseListFilters(p);
  const after = optionalString(p, "after");
  const maxBytes = Math.min(maxPageBytes, Math.max(minPageBytes, optionalInteger(p, "maxBytes") ?? defaultPageBytes));
  return { filter, maxBytes, ...(after === undefined ? {} : { after }) };
}

export function toListPage(page: RecordPage): ListPage {
  return {
    items: page.items,
    ...(page.companions === undefined ? {} : { usage: page.companions }),
    ...(page.next === undefined ? {} : { next: page.next }),
  };
}
