import type { Key, Transaction } from "lmdb";
import { runInSlices, yieldEvery } from "../concurrency/cooperative.js";
import type { ViewStore } from "../projections/view-store.js";

/**
 * What the disk clean-up looks at (docs/gc.md "The disk"). A blob file or a
 * snapshot directory becomes garbage in one of a few ways, each of which
 * leaves a trace, so the clean-up reads the traces instead of the disk:
 *
 * - its last holder went (ContentDeleted, an ingest that expected it ended,
 *   a snapshot removed): the projections write a scratch row
 *   (`host-unheld-blobs`, `host-orphan-dirs`) stamped with the event;
 * - a writer of this process made it and let go without an event (a failed
 *   commit or import: the blob store's unpins; a prepare that lost its race:
 *   the snapshotter's unconfirmed directories);
 * - anything else (a crash between a file and its event, views replayed into
 *   a new generation): the first clean-up of a process, and the first after
 *   the views' generation changes, lists the whole disk.
 *
 * Rows are cleared after the clean-up judged them, only when their stamp is
 * still the one it read: a digest let go again meanwhile is judged again.
 */
export interface CandidateRow<K> {
  key: K;
  stamp: string;
}

/** Every row of a scratch candidate database, read in slices from one snapshot. */
export async function readCandidates<K extends Key>(views: ViewStore, db: string): Promise<Array<CandidateRow<K>>> {
  const rows = views.db<string, K>(db); // opened before the read transaction begins
  const transaction = views.root.useReadTransaction();
  try {
    return await runInSlices(
      (function* () {
        const out: Array<CandidateRow<K>> = [];
        let n = 0;
        for (const { key, value } of rows.getRange({ transaction })) {
          if (++n % yieldEvery === 0) yield;
          out.push({ key: key as K, stamp: value });
        }
        return out;
      })(),
    );
  } finally {
    transaction.done();
  }
}

/** Removes the rows the clean-up judged, unless an event stamped them again since (1,000 per write transaction). */
export async function clearCandidates<K extends Key>(views: ViewStore, db: string, judged: ReadonlyArray<CandidateRow<K>>): Promise<void> {
  const rows = views.db<string, K>(db);
  for (let from = 0; from < judged.length; from += 1000) {
    views.root.transactionSync(() => {
      for (const { key, stamp } of judged.slice(from, from + 1000)) if (rows.get(key) === stamp) rows.removeSync(key);
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The items `keep` says yes to, judged in slices from one snapshot of the views (open the databases it reads first). */
export async function filterInSlices<T>(views: ViewStore, items: Iterable<T>, keep: (item: T, transaction: Transaction) => boolean): Promise<T[]> {
  const transaction = views.root.useReadTransaction();
  try {
    return await runInSlices(
      (function* () {
        const out: T[] = [];
        let n = 0;
        for (const item of items) {
          if (++n % yieldEvery === 0) yield;
          if (keep(item, transaction)) out.push(item);
        }
        return out;
      })(),
    );
  } finally {
    transaction.done();
  }
}
