import "reflect-metadata";
import { silentLogger } from "../../src/observability/logger.js";
import { PurserServer } from "../../src/server/purser-server.js";
import type { Projection } from "../../src/projections/projection.js";
import { countingProjection } from "./counting-projection.js";

/**
 * A purser server in its own process, for crash tests: the parent kills it
 * with SIGKILL in the middle of applying a backlog, then starts it again.
 * Arguments: NATS URL, data directory, max batch.
 */
const [natsUrl, dataDir, maxBatch] = process.argv.slice(2);

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
    // Progress for the parent, which must not touch the environment while we write it.
    if (stored.seq % 50 === 0) process.stdout.write(`applied ${stored.seq}\n`);
  },
};
const server = await PurserServer.start({
  natsUrl: natsUrl!,
  dataDir: dataDir!,
  log: silentLogger,
  runtime: { maxBatch: Number(maxBatch ?? 100) },
  extraProjections: [countingProjection, slowProjection],
  gc: { automatic: false },
});
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void server.stop().then(() => process.exit(0));
});
