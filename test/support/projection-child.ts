import "reflect-metadata";
import { appendFileSync } from "node:fs";
import { JsonLogger, silentLogger } from "../../src/observability/logger.js";
import { PurserServer } from "../../src/server/purser-server.js";
import type { Projection } from "../../src/projections/projection.js";
import { countingProjection } from "./counting-projection.js";

/**
 * A purser server in its own process, for crash tests: the parent kills it
 * with SIGKILL in the middle of applying a backlog, then starts it again.
 * Arguments: NATS URL, data directory, max batch, and a file for its debug
 * log (the parent shows it when an assertion fails).
 */
const [natsUrl, dataDir, maxBatch, logFile] = process.argv.slice(2);
const log = logFile ? new JsonLogger("debug", { pid: process.pid }, (line) => appendFileSync(logFile, line + "\n")) : silentLogger;

/**
 * Replay here is fast enough to finish a backlog before a parent can react;
 * 0.1 ms of work per event keeps each life of the child long enough to be
 * killed in the middle of it.
 */
const slowProjection: Projection = {
  name: "test-slow",
  databases: [],
  apply(_views, stored) {
    const until = performance.now() + 0.1;
    while (performance.now() < until) {
      // busy: apply must stay synchronous
    }
    // Progress for the parent, which must not open the environment while we write it
    // (see `committed` below). Printed before the batch commits: a kill soon after lands mid-batch.
    if (stored.seq % 50 === 0) process.stdout.write(`applied ${stored.seq}\n`);
  },
};
/**
 * Says in the log when an event does not follow the one applied before it in
 * the same views (a skip or a repeat), with what the views held: the parent
 * shows it when its count is off.
 */
let seenInProcess = 0;
const witnessProjection: Projection = {
  name: "test-witness",
  databases: ["test-witness"],
  apply(views, stored) {
    const db = views.db<number, string>("test-witness");
    const before = db.get(stored.stream) ?? 0;
    if (stored.seq !== before + 1) {
      log.warn("witness: event out of order", { seq: stored.seq, before, seenInProcess, checkpoint: views.checkpoint("views", stored.stream), counter: views.db<number, string>("test-counter").get(stored.stream) });
    }
    seenInProcess = stored.seq;
    db.putSync(stored.stream, stored.seq);
  },
};
const server = await PurserServer.start({
  natsUrl: natsUrl!,
  dataDir: dataDir!,
  log,
  runtime: { maxBatch: Number(maxBatch ?? 100) },
  extraProjections: [countingProjection, witnessProjection, slowProjection],
  gc: { automatic: false },
});
/**
 * What is committed, for the parent: it must never open this LMDB environment
 * while we write it. Another process opening an environment while one commits
 * can make LMDB lose that commit (docs/lmdb.md, "One process per
 * environment"), which this test once saw as 50 events skipped.
 */
const reportCommitted = () => process.stdout.write(`committed ${server.holder.current.checkpoint("views", "PURSER_NS_backlog")}\n`);
server.runtime.onBatch(reportCommitted);
{
  const views = server.holder.current;
  log.info("child ready", { checkpoint: views.checkpoint("views", "PURSER_NS_backlog"), counter: views.db<number, string>("test-counter").get("PURSER_NS_backlog"), witness: views.db<number, string>("test-witness").get("PURSER_NS_backlog") });
}
process.stdout.write("ready\n");
reportCommitted();
process.on("SIGTERM", () => {
  void server.stop().then(() => process.exit(0));
});
