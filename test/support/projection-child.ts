import "reflect-metadata";
import { silentLogger } from "../../src/observability/logger.js";
import { PurserServer } from "../../src/server/purser-server.js";
import { countingProjection } from "./counting-projection.js";

/**
 * A purser server in its own process, for crash tests: the parent kills it
 * with SIGKILL in the middle of applying a backlog, then starts it again.
 * Arguments: NATS URL, data directory, max batch.
 */
const [natsUrl, dataDir, maxBatch] = process.argv.slice(2);
const server = await PurserServer.start({
  natsUrl: natsUrl!,
  dataDir: dataDir!,
  log: silentLogger,
  runtime: { maxBatch: Number(maxBatch ?? 100) },
  extraProjections: [countingProjection],
});
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void server.stop().then(() => process.exit(0));
});
