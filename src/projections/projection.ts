import type { StoredEvent } from "../events/envelope.js";
import type { ViewStore } from "./view-store.js";

/**
 * A fold of events into LMDB views. `apply` runs inside the batch's write
 * transaction (together with the checkpoint), so it must be synchronous, must
 * not do I/O other than the views, and must be deterministic: a rebuild from the
 * log has to produce exactly the rows that live processing produced. (One
 * exception, image-usage.ts: it reads blobs, whose bytes never change, of
 * digests the content view says the namespace holds.)
 */
export interface Projection {
  readonly name: string;
  /** The named databases this projection writes (dumped by rebuild comparisons). */
  readonly databases: readonly string[];
  /**
   * Named databases it writes that are not views: working state of a
   * consumer (gc-references.ts's dirty set), cleared by it, so not compared
   * with a rebuild's.
   */
  readonly scratchDatabases?: readonly string[];
  apply(views: ViewStore, stored: StoredEvent): void;
}
