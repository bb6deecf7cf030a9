import { promises as fs } from "node:fs";
import type { StoredEvent } from "../events/envelope.js";
import type { IngestRecord } from "../events/ingest-events.js";
import type { Logger } from "../observability/logger.js";
import type { IngestRow } from "../projections/content.js";
import type { IngestStatus } from "../protocol/results.js";
import type { BlobStore } from "./blob-store.js";
import { ingestRecordOf, keyOf } from "./content-payload.js";
import { IngestWriter } from "./ingest-writer.js";
import { RefLocks } from "./ref-locks.js";

/**
 * The active ingests of this process, in memory: each one's writer (open
 * data file, running hash, offset), its writer lock, and its queue. Every
 * operation on one ingest (namespace + ref, {@link keyOf}) runs in arrival
 * order on that queue, so a client may pipeline writes and they apply one
 * after the other at the offsets they name. The ingests themselves (their
 * records) are the log's; this table only holds what their bytes need.
 */
export class IngestTable {
  readonly locks: RefLocks;
  private readonly writers = new Map<string, IngestWriter>();
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly blobs: BlobStore,
    lockTimeoutMs: number,
  ) {
    this.locks = new RefLocks(lockTimeoutMs);
  }

  /** Runs `op` after every earlier operation on the same ingest (in arrival order). */
  serial<T>(key: string, op: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const result = previous.then(op);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return result;
  }

  /** The ingest's writer, when it is loaded. */
  loaded(key: string): IngestWriter | undefined {
    return this.writers.get(key);
  }

  /** Makes `record` the ingest's writer in memory, reusing the loaded one when it is the same ingest. */
  async adopt(ns: string, key: string, record: IngestRecord, rv: number, nowMs: number): Promise<IngestWriter> {
    let w = this.writers.get(key);
    if (w && (w.id !== record.id || (record.shared && !w.shared))) {
      // Restarted under a new id, or now satisfied by a blob on the host: the old bytes go.
      await w.close();
      await this.blobs.removeIngest(w.id);
      w = undefined;
    }
    if (w) {
      w.record = record;
    } else {
      w = await IngestWriter.open(ns, record, this.blobs, nowMs);
      this.writers.set(key, w);
    }
    w.openedRv = Math.max(w.openedRv, rv);
    return w;
  }

  /** The ingest is over (committed or aborted): its writer, bytes and lock go. */
  async finish(key: string, id: string): Promise<void> {
    const w = this.writers.get(key);
    if (w && w.id === id) {
      this.writers.delete(key);
      await w.close();
    }
    await this.blobs.removeIngest(id);
    this.locks.release(key);
  }

  /** An ingest as status reports it, from its record and, when loaded, its writer. */
  statusOf(record: IngestRecord, w: IngestWriter | undefined): IngestStatus {
    const status: IngestStatus = {
      ref: record.ref,
      offset: w ? w.offset : record.shared ? record.total : 0,
      total: record.total,
      expected: record.expected,
      shared: w ? w.shared : record.shared,
      startedAt: record.startedAt,
      updatedAt: new Date(w ? w.updatedAt : Date.parse(record.startedAt)).toISOString(),
    };
    if (record.expireAt) status.expireAt = record.expireAt;
    if (record.lease) status.lease = record.lease;
    return status;
  }

  /** Status of an ingest that may not be in memory: its offset is the size of its data file. */
  async statusOfRow(ns: string, row: IngestRow): Promise<IngestStatus> {
    const record = ingestRecordOf(row);
    const w = this.writers.get(keyOf(ns, row.ref));
    if (w && w.id === row.id) return this.statusOf(record, w);
    const status = this.statusOf(record, undefined);
    if (!record.shared) {
      try {
        const st = await fs.stat(this.blobs.ingestDataPath(row.id));
        status.offset = st.size;
        status.updatedAt = new Date(Math.max(st.mtimeMs, Date.parse(record.startedAt))).toISOString();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    return status;
  }

  /**
   * Ingests that ended without this process's involvement (dropped with their
   * namespace): their writers and bytes go. Runs on the ingest's queue, after
   * whatever was already queued for it.
   */
  onApplied(events: readonly StoredEvent[], log: Logger): void {
    for (const stored of events) {
      const e = stored.event;
      if (e.type !== "IngestAborted" && e.type !== "IngestExpired" && !(e.type === "ContentCommitted" && e.data.ingestId !== undefined)) continue;
      const ref = e.data.ref;
      const key = keyOf(stored.namespace, ref);
      if (!this.writers.has(key)) continue;
      void this.serial(key, async () => {
        const w = this.writers.get(key);
        if (!w || w.openedRv >= stored.seq) return;
        if (e.type === "ContentCommitted" && e.data.ingestId !== w.id) return;
        await this.finish(key, w.id);
      }).catch((err) => log.warn("dropping an ended ingest failed", { ref, err }));
    }
  }

  /** Closes the files of writers idle for `idleMs` whose lock nobody holds (their ingests stay). */
  dropIdle(now: () => number, idleMs: number): void {
    const at = now();
    for (const [key, w] of this.writers) {
      if (this.locks.holder(key, at) || at - w.updatedAt < idleMs) continue;
      void this.serial(key, async () => {
        if (this.writers.get(key) !== w || this.locks.holder(key, now())) return;
        this.writers.delete(key);
        await w.close();
      });
    }
  }

  /**
   * Closes the data files of writers not written for `idleMs`, keeping the
   * writers (offset and running hash): the next write reopens the file. A
   * client that opens ingests and walks away holds no descriptor for long,
   * so it cannot run the process out of them (issue 11).
   */
  releaseIdleFiles(now: () => number, idleMs: number): void {
    const at = now();
    for (const [key, w] of this.writers) {
      if (!w.holdsFile || at - w.updatedAt < idleMs) continue;
      void this.serial(key, async () => {
        if (this.writers.get(key) === w && now() - w.updatedAt >= idleMs) await w.close();
      });
    }
  }

  /** How many writers hold their data file open (a descriptor each). */
  openFiles(): number {
    let n = 0;
    for (const w of this.writers.values()) if (w.holdsFile) n++;
    return n;
  }

  /** Ids of the ingests loaded here (their bytes are in use). */
  liveIds(): string[] {
    return [...this.writers.values()].map((w) => w.id);
  }

  /** Waits for every queued operation, then closes every writer's file. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
    await Promise.allSettled([...this.writers.values()].map((w) => w.close()));
    this.writers.clear();
  }
}
