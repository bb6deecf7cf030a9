import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import { invalidArgument } from "../errors/errdefs.js";
import type { EventStore } from "../events/event-store.js";
import { streamName } from "../events/subjects.js";
import type { Logger } from "../observability/logger.js";
import { applyBatch } from "./apply-batch.js";
import type { Projection } from "./projection.js";
import { ViewStore } from "./view-store.js";
import { inject, injectable } from "../di.js";
import { Tokens } from "../tokens.js";

/**
 * Time travel: the views as they were at an rv (of one namespace) or at a
 * time, built by replaying the log up to that point into a scratch LMDB
 * environment. Any query can then run on them unchanged.
 */
export interface AsOf {
  rv?: number;
  time?: Date;
}

/** `rv=N` (or a bare number) or an RFC 3339 time. */
export function parseAsOf(value: string): AsOf {
  const rv = /^(?:rv=)?(\d+)$/.exec(value.trim());
  if (rv) {
    const n = Number(rv[1]);
    if (!Number.isSafeInteger(n) || n < 1) throw invalidArgument(`as-of rv must be a positive integer, not ${JSON.stringify(value)}`);
    return { rv: n };
  }
  const time = new Date(value);
  if (!/^\d{4}-\d\d-\d\dT/.test(value) || Number.isNaN(time.getTime())) {
    throw invalidArgument(`as-of ${JSON.stringify(value)} is neither an rv nor an RFC 3339 time`);
  }
  return { time };
}

export async function replayAsOf(
  store: EventStore,
  projections: readonly Projection[],
  path: string,
  namespaces: readonly string[],
  asOf: AsOf,
  log: Logger,
): Promise<{ views: ViewStore; rvs: Record<string, number> }> {
  const views = ViewStore.open(path);
  const rvs: Record<string, number> = {};
  try {
    for (const ns of namespaces) {
      const last = await store.lastSequence(ns);
      const target = asOf.rv !== undefined ? Math.min(asOf.rv, last) : last;
      let applied = 0;
      if (target > 0) {
        const consumer = await store.js.consumers.get(streamName(ns), { deliver_policy: DeliverPolicy.All });
        const messages = await consumer.consume({ max_messages: 5000 });
        let batch: JsMsg[] = [];
        const flush = () => {
          if (batch.length === 0) return;
          applied = applyBatch(views, projections, ns, `as-of/${streamName(ns)}`, applied, batch, log).last;
          batch = [];
        };
        try {
          for await (const m of messages) {
            if (asOf.time && m.time.getTime() > asOf.time.getTime()) break;
            batch.push(m);
            if (batch.length >= 1000) flush();
            if (m.seq >= target) break;
          }
          flush();
        } finally {
          messages.stop();
        }
      }
      rvs[ns] = applied;
    }
    return { views, rvs };
  } catch (err) {
    await views.close();
    throw err;
  }
}

/**
 * A small cache of as-of views for the query service: building one replays
 * the log, so a user paging through history does it once. Entries live 30 s;
 * at most `capacity` are kept.
 */
@injectable()
export class AsOfViews {
  private readonly entries = new Map<string, { at: number; built: Promise<{ views: ViewStore; rvs: Record<string, number>; dir: string }> }>();
  /** Views kept at once, and for how long: paging through one moment of history replays once. */
  private readonly capacity = 4;
  private readonly ttlMs = 30_000;

  constructor(
    @inject(Tokens.EventStore) private readonly store: EventStore,
    @inject(Tokens.Projections) private readonly projections: readonly Projection[],
    @inject(Tokens.ScratchDir) private readonly scratchDir: string,
    @inject(Tokens.Logger) private readonly log: Logger,
  ) {}

  async get(namespaces: readonly string[], asOf: AsOf): Promise<{ views: ViewStore; rvs: Record<string, number> }> {
    const key = `${namespaces.join(",")}@${asOf.rv ?? ""}@${asOf.time?.toISOString() ?? ""}`;
    const now = Date.now();
    for (const [k, e] of this.entries) if (now - e.at > this.ttlMs) this.evict(k);
    let entry = this.entries.get(key);
    if (!entry) {
      while (this.entries.size >= this.capacity) this.evict(this.entries.keys().next().value!);
      const dir = mkdtempSync(join(this.scratchDir, "as-of-"));
      entry = {
        at: now,
        built: replayAsOf(this.store, this.projections, dir, namespaces, asOf, this.log).then((r) => ({ ...r, dir })),
      };
      entry.built.catch(() => this.entries.delete(key));
      this.entries.set(key, entry);
    }
    return entry.built;
  }

  private evict(key: string): void {
    const e = this.entries.get(key);
    this.entries.delete(key);
    e?.built
      .then(async ({ views, dir }) => {
        // Queries that already hold these views finish first.
        await new Promise((r) => setTimeout(r, 1000));
        await views.close();
        rmSync(dir, { recursive: true, force: true });
      })
      .catch(() => {});
  }

  async close(): Promise<void> {
    for (const k of [...this.entries.keys()]) {
      const e = this.entries.get(k)!;
      this.entries.delete(k);
      const built = await e.built.catch(() => undefined);
      if (built) {
        await built.views.close();
        rmSync(built.dir, { recursive: true, force: true });
      }
    }
  }
}
