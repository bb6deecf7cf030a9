import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NamespaceUpdated } from "../src/events/namespace-events.js";
import { newEventContext, type EventStore } from "../src/events/event-store.js";
import { namespaceSubject, streamName } from "../src/events/subjects.js";
import { silentLogger } from "../src/observability/logger.js";
import { replayIntoFreshViews } from "../src/projections/rebuild.js";
import type { BenchContext, Suite } from "./context.js";
import { measureRate, runConcurrent } from "./measure.js";
import { connectBench, createScratchStream, fillStream, orderedReplay } from "./raw-limits.js";

/**
 * Rebuild rate: replaying streams into fresh LMDB views with
 * `replayIntoFreshViews` (the same projections and runtime as live processing),
 * beside a bare ordered-consumer replay of the same number of messages.
 *
 * Two shapes of log:
 * 1. the namespace streams the run created so far: many streams of a few events
 *    each (per-stream set-up dominates);
 * 2. one namespace stream with many events, compared with a bare ordered replay
 *    of that very stream.
 */

/** The same event store, seen as if only `names` had streams (rebuild of a subset). */
function onlyNamespaces(store: EventStore, names: readonly string[]): EventStore {
  return Object.create(store, {
    listNamespaces: { value: async () => [...names] },
    lastSequences: {
      value: async () => new Map([...(await store.lastSequences())].filter(([ns]) => names.includes(ns))),
    },
  }) as EventStore;
}

async function rebuildInto(ctx: BenchContext, store: EventStore, dir: string): Promise<number> {
  const path = join(ctx.scratchDir, dir);
  let total = 0;
  const views = await replayIntoFreshViews(store, ctx.server.projections, path, silentLogger, (p) => {
    total = p.total;
  });
  await views.close();
  rmSync(path, { recursive: true, force: true });
  return total;
}

export const rebuildSuite: Suite = {
  name: "rebuild",
  async run(ctx: BenchContext): Promise<void> {
    const store = ctx.server.store;
    const nc = await connectBench(ctx.natsUrl, "bench-replay");
    const jsm = await jetstreamManager(nc);
    const scratch = "BENCH_RAW_REPLAY";
    try {
      await ctx.server.runtime.catchUp(60_000);
      const namespaces = await store.listNamespaces();
      const lasts = await Promise.all(namespaces.map((ns) => store.lastSequence(ns)));
      const events = lasts.reduce((a, b) => a + b, 0);
      ctx.progress(`  ${namespaces.length} namespace streams, ${events} events`);

      // Warm the bare replay path once (consumer code, the stream's blocks in page cache).
      await createScratchStream(jsm, scratch, ["bench.replay.>"]);
      await fillStream(nc, "bench.replay", Math.max(events, 1000));
      await orderedReplay(nc, scratch);

      // 1. Every namespace stream of the run.
      ctx.record(
        await measureRate(
          { id: "raw.replay-one", name: `raw: ordered replay, 1 stream, ${Math.max(events, 1000)} msgs`, section: "rebuild", note: "msgs/s" },
          () => orderedReplay(nc, scratch),
        ),
      );
      ctx.record(
        await measureRate(
          {
            id: "raw.replay-streams",
            name: `raw: ordered replay, the ${namespaces.length} streams`,
            section: "rebuild",
            concurrency: 64,
            note: "one ordered consumer per stream, 64 at a time",
          },
          async () => {
            let n = 0;
            const run = await runConcurrent(namespaces.length, 64, async (i) => {
              const got = await orderedReplay(nc, streamName(namespaces[i]!));
              n += got;
            });
            if (run.errors > 0) throw new Error(`${run.errors} stream replays failed: ${run.firstError}`);
            return n;
          },
        ),
      );
      ctx.record(
        await measureRate(
          {
            id: "rebuild.all",
            name: `rebuild: the ${namespaces.length} streams of the run`,
            section: "rebuild",
            baseline: { id: "raw.replay-one", concurrency: 1 },
            note: "events/s; vs raw = 1-stream replay of as many messages",
          },
          () => rebuildInto(ctx, store, "rebuild-all"),
        ),
      );
      await jsm.streams.delete(scratch).catch(() => false);

      // 2. One namespace with a long history: full-state update events appended
      // through the event store (what the update command appends), then rebuilt.
      const bulk = `bench-${Date.now().toString(36)}-bulk`;
      const created = await ctx.client.namespaces.create(bulk, { "bench/bulk": "0" });
      const record = created.result;
      const count = ctx.n(20_000, 2000);
      const fill = await runConcurrent(count, 64, (i) => {
        const event: NamespaceUpdated = {
          type: "NamespaceUpdated",
          data: {
            namespace: { ...record, labels: { "bench/bulk": String(i) }, updatedAt: new Date(Date.parse(record.updatedAt) + i + 1).toISOString() },
            fieldPaths: ["labels.bench/bulk"],
          },
        };
        const id = randomUUID();
        return store.append(bulk, { event, subject: namespaceSubject(bulk), expect: { none: true }, msgId: id }, newEventContext(id, id, "bench"));
      });
      if (fill.errors > 0) throw new Error(`appending the bulk history: ${fill.errors} failed (${fill.firstError})`);
      await ctx.server.runtime.catchUp(120_000);
      const bulkEvents = await store.lastSequence(bulk);

      await orderedReplay(nc, streamName(bulk)); // warm
      ctx.record(
        await measureRate(
          { id: "raw.replay-bulk", name: `raw: ordered replay, 1 purser stream, ${bulkEvents} events`, section: "rebuild", note: "msgs/s" },
          () => orderedReplay(nc, streamName(bulk)),
        ),
      );
      ctx.record(
        await measureRate(
          {
            id: "rebuild.bulk",
            name: `rebuild: that same stream (${bulkEvents} events)`,
            section: "rebuild",
            baseline: { id: "raw.replay-bulk", concurrency: 1 },
            note: "events/s",
          },
          () => rebuildInto(ctx, onlyNamespaces(store, [bulk]), "rebuild-bulk"),
        ),
      );

      ctx.target({
        kind: "ratio",
        label: "rebuild of the run's streams >= 50% of a bare ordered replay of as many messages",
        id: "rebuild.all",
        concurrency: 1,
        baseline: { id: "raw.replay-one", concurrency: 1 },
        minRatio: 0.5,
        display: "percent",
      });
      ctx.target({
        kind: "ratio",
        label: "rebuild of one long stream >= 50% of a bare ordered replay of that stream",
        id: "rebuild.bulk",
        concurrency: 1,
        baseline: { id: "raw.replay-bulk", concurrency: 1 },
        minRatio: 0.5,
        display: "percent",
      });
    } finally {
      await jsm.streams.delete(scratch).catch(() => false);
      await nc.drain().catch(() => {});
    }
  },
};
