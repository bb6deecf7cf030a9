import type { EventType } from "./catalog.js";

/**
 * Schema evolution: an event stored at an older version is upcast when read,
 * never rewritten in the log. `upcasters[type][v]` turns data of version `v`
 * into data of version `v + 1`. No event type has needed one yet; the hook is
 * exercised by the codec tests.
 */
export type Upcaster = (data: unknown) => unknown;
export type UpcasterTable = Partial<Record<EventType, Record<number, Upcaster>>>;

export const upcasters: UpcasterTable = {};

export function upcast(
  table: UpcasterTable,
  type: EventType,
  fromVersion: number,
  toVersion: number,
  data: unknown,
): unknown {
  let out = data;
  for (let v = fromVersion; v < toVersion; v++) {
    const step = table[type]?.[v];
    if (!step) throw new Error(`no upcaster for ${type} from version ${v}`);
    out = step(out);
  }
  return out;
}
