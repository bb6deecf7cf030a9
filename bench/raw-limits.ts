import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { DeliverPolicy, StorageType, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { open } from "lmdb";
import type { BenchContext, Suite } from "./context.js";
import { measureOps, measureRate, runConcurrent } from "./measure.js";

/**
 * The raw limits of this machine, measured in the same run as purser so the
 * "vs raw" ratios compare like with like: bare JetStream publish, bare LMDB
 * writes, bare NATS request/reply, and (helpers used by the rebuild suite) a
 * bare ordered-consumer replay.
 */

/** About the size of a namespace event body. */
export const smallPayload = new Uint8Array(160).fill(0x61);

export async function connectBench(url: string, name: string): Promise<NatsConnection> {
  return connect({ servers: url, name });
}

/** A file-backed scratch stream configured like a purser namespace stream. */
export async function createScratchStream(jsm: JetStreamManager, name: string, subjects: string[]): Promise<void> {
  await jsm.streams.delete(name).catch(() => false);
  await jsm.streams.add({
    name,
    subjects,
    storage: StorageType.File,
    num_replicas: 1,
    allow_direct: true,
    duplicate_window: 120_000 * 1_000_000,
  });
}

/** Fills a stream with `count` small messages, `inFlight` publishes at a time. */
export async function fillStream(nc: NatsConnection, subject: string, count: number, inFlight = 256): Promise<void> {
  const js = jetstream(nc);
  const run = await runConcurrent(count, inFlight, (i) => js.publish(`${subject}.${i % 64}`, smallPayload));
  if (run.errors > 0) throw new Error(`filling ${subject}: ${run.errors} publishes failed (${run.firstError})`);
}

/**
 * Replays a whole stream from sequence 1 with an ordered consumer
 * (`max_messages` 5000, as STACK-NOTES found fastest) and returns how many
 * messages arrived. Consumer creation is inside the timing, as it is for a rebuild.
 */
export async function orderedReplay(nc: NatsConnection, stream: string, timeoutMs = 120_000): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const last = (await jsm.streams.info(stream)).state.last_seq;
  if (last === 0) return 0;
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
  const messages = await consumer.consume({ max_messages: 5000 });
  const timer = setTimeout(() => messages.stop(new Error(`replay of ${stream} did not finish in ${timeoutMs}ms`)), timeoutMs);
  let n = 0;
  try {
    for await (const m of messages) {
      n++;
      if (m.seq >= last) {
        messages.stop();
        break;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  return n;
}

function eventLikeHeaders() {
  const h = natsHeaders();
  for (const k of ["Type", "Version", "Event-Id", "Correlation-Id", "Causation-Id", "Actor", "Topic", "Namespace"]) {
    h.set(`Bench-${k}`, randomUUID());
  }
  return h;
}

export const rawLimitsSuite: Suite = {
  name: "raw limits",
  async run(ctx: BenchContext): Promise<void> {
    const pubNc = await connectBench(ctx.natsUrl, "bench-raw-publisher");
    const reqNc = await connectBench(ctx.natsUrl, "bench-raw-requester");
    const repNc = await connectBench(ctx.natsUrl, "bench-raw-responder");
    const jsm = await jetstreamManager(pubNc);
    const js = jetstream(pubNc);
    const pubStream = "BENCH_RAW_PUBLISH";
    try {
      // (a) JetStream publish, awaiting each ack.
      await createScratchStream(jsm, pubStream, ["bench.pub.>"]);
      for (const c of [1, 16]) {
        const count = c === 1 ? ctx.n(2000, 200) : ctx.n(5000, 500);
        ctx.record(
          await measureOps({
            id: "raw.js-publish",
            name: "JetStream publish, await ack",
            section: "raw",
            concurrency: c,
            count,
            warmup: { count: ctx.n(300, 50), op: (i) => js.publish(`bench.pub.w${i % 16}`, smallPayload) },
            op: (i) => js.publish(`bench.pub.s${i % 16}`, smallPayload),
            maxSeconds: 20,
            repeats: 3,
          }),
        );
      }
      // What an append costs: msgID, lastSubjectSequence and event-sized headers on every publish.
      for (const c of [1, 16]) {
        const run = randomUUID().slice(0, 8);
        ctx.record(
          await measureOps({
            id: "raw.js-publish-occ",
            name: "JetStream publish + msgID + OCC + 8 headers",
            section: "raw",
            concurrency: c,
            count: c === 1 ? ctx.n(2000, 200) : ctx.n(5000, 500),
            warmup: {
              count: ctx.n(300, 50),
              op: (i) => js.publish(`bench.pub.ow${run}.${i}`, smallPayload, { msgID: randomUUID(), expect: { lastSubjectSequence: 0 }, headers: eventLikeHeaders() }),
            },
            op: (i) =>
              js.publish(`bench.pub.o${run}.${i}`, smallPayload, { msgID: randomUUID(), expect: { lastSubjectSequence: 0 }, headers: eventLikeHeaders() }),
            maxSeconds: 20,
            repeats: 3,
          }),
        );
      }
      await jsm.streams.delete(pubStream).catch(() => false);

      // (b) LMDB: batched like the projection, and one sync transaction per row.
      const env = open({ path: join(ctx.scratchDir, "lmdb-raw"), maxDbs: 8, compression: false });
      try {
        const rows = env.openDB<object, string>({ name: "rows" });
        const checkpoints = env.openDB<number, string>({ name: "checkpoints" });
        const row = (i: number) => ({
          name: `ns-${i}`,
          labels: { "bench/label": String(i) },
          createdAt: "2024-01-01T00:00:00.000Z",
          updatedAt: new Date(1_700_000_000_000 + i).toISOString(),
          implicit: false,
        });
        const batched = (total: number, offset: number) => {
          for (let done = 0; done < total; ) {
            const n = Math.min(500, total - done);
            env.transactionSync(() => {
              for (let j = 0; j < n; j++) rows.putSync(`r/${offset + done + j}`, row(done + j));
              checkpoints.putSync("bench", offset + done + n);
            });
            done += n;
          }
          return total;
        };
        batched(ctx.n(20_000, 2000), 10_000_000); // warm-up
        ctx.record(
          await measureRate(
            { id: "raw.lmdb-batch", name: "LMDB 500 puts + checkpoint / transactionSync", section: "raw", note: "rows/s" },
            () => batched(ctx.n(200_000, 20_000), 0),
          ),
        );
        ctx.record(
          await measureOps({
            id: "raw.lmdb-sync-row",
            name: "LMDB one transactionSync per row",
            section: "raw",
            concurrency: 1,
            count: ctx.n(1000, 100),
            warmup: {
              count: ctx.n(50, 10),
              op: async (i) => env.transactionSync(() => rows.putSync(`w/${i}`, row(i))),
            },
            op: async (i) =>
              env.transactionSync(() => {
                rows.putSync(`s/${i}`, row(i));
                checkpoints.putSync("bench-sync", i);
              }),
            maxSeconds: 15,
            repeats: 3,
          }),
        );
      } finally {
        await env.close();
      }

      // (c) Core request/reply with a trivial responder on its own connection.
      const reply = new Uint8Array(64).fill(0x62);
      const sub = repNc.subscribe("bench.rr", { callback: (_err, msg) => void msg.respond(reply) });
      await repNc.flush();
      try {
        for (const c of [1, 16]) {
          ctx.record(
            await measureOps({
              id: "raw.request-reply",
              name: "NATS core request/reply",
              section: "raw",
              concurrency: c,
              count: c === 1 ? ctx.n(2000, 200) : ctx.n(5000, 500),
              warmup: { count: ctx.n(300, 50), op: () => reqNc.request("bench.rr", smallPayload, { timeout: 5000 }) },
              op: () => reqNc.request("bench.rr", smallPayload, { timeout: 5000 }),
              maxSeconds: 20,
              repeats: 3,
            }),
          );
        }
      } finally {
        sub.unsubscribe();
      }
      // (d) The ordered-consumer replay runs in the rebuild suite, sized to the events the run created.
    } finally {
      await jsm.streams.delete(pubStream).catch(() => false);
      await Promise.all([pubNc, reqNc, repNc].map((nc) => nc.drain().catch(() => {})));
    }
  },
};
