import { open, type Database, type RootDatabase, type Transaction } from "lmdb";

/** The last event of one object subject: the OCC expectation for its next write. */
export interface SubjectHead {
  seq: number;
  /** The command (or GC run) whose event this was: lets a retried command answer as the first did. */
  causationId: string;
}

/**
 * The LMDB environment holding every view (the layout is drawn in docs/lmdb.md).
 * Views are opened by name; each projection owns its named databases. Every
 * value uses lmdb's own encoding (msgpackr), which STACK-NOTES measured as
 * faster and smaller than storing our msgpack bytes.
 */
export class ViewStore {
  readonly root: RootDatabase;
  /** `<projection>/<stream>` → last applied stream sequence. */
  readonly checkpoints: Database<number, string>;
  /** event subject → {@link SubjectHead}. */
  readonly heads: Database<SubjectHead, string>;
  private readonly dbs = new Map<string, Database>();

  private constructor(readonly path: string) {
    // noSync: the views are a cache of the log; see view-durability.ts for
    // how a machine crash is recovered from.
    this.root = open({ path, maxDbs: 64, compression: false, noSync: true });
    this.checkpoints = this.root.openDB<number, string>({ name: "checkpoints" });
    this.heads = this.root.openDB<SubjectHead, string>({ name: "heads" });
    this.dbs.set("checkpoints", this.checkpoints as Database);
    this.dbs.set("heads", this.heads as Database);
  }

  static open(path: string): ViewStore {
    return new ViewStore(path);
  }

  /** A named database of the views, opened on first use. */
  db<V = unknown, K extends import("lmdb").Key = import("lmdb").Key>(name: string): Database<V, K> {
    let db = this.dbs.get(name);
    if (!db) {
      db = this.root.openDB({ name });
      this.dbs.set(name, db);
    }
    return db as unknown as Database<V, K>;
  }

  /** The last applied sequence of a stream (as `transaction` sees it, when given). */
  checkpoint(projection: string, stream: string, transaction?: Transaction): number {
    return this.checkpoints.get(`${projection}/${stream}`, transaction ? { transaction } : undefined) ?? 0;
  }

  /** Every row of every named database, in key order: what rebuild tests compare. */
  dump(names: readonly string[]): Record<string, Array<[unknown, unknown]>> {
    const out: Record<string, Array<[unknown, unknown]>> = {};
    for (const name of [...names].sort()) {
      const rows: Array<[unknown, unknown]> = [];
      for (const { key, value } of this.db(name).getRange()) rows.push([key, value]);
      out[name] = rows;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}

/**
 * Holds the current view environment, so a rebuild can swap in a fresh one
 * while queries keep reading through the holder.
 */
export class ViewStoreHolder {
  constructor(private store: ViewStore) {}
  get current(): ViewStore {
    return this.store;
  }
  swap(next: ViewStore): ViewStore {
    const old = this.store;
    this.store = next;
    return old;
  }
}
