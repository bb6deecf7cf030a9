import { join, resolve } from "node:path";
import type { GcOptions } from "../gc/gc-service.js";
import { JsonLogger, LogLevel } from "../observability/logger.js";
import { serviceName, serviceQueue, serviceVersion } from "../protocol/service.js";
import { lockDataDir } from "../server/data-dir-lock.js";
import { startNatsServer, type RunningNatsServer } from "../server/nats-server.js";
import { PurserServer } from "../server/purser-server.js";
import type { ServeOptions } from "./serve.js";

/**
 * `purser serve`'s body, loaded only by that command: the embedded
 * nats-server (unless `natsUrl` is given), the data directory's lock, the
 * server, and a clean stop on SIGINT/SIGTERM.
 */
export async function runServe(opts: ServeOptions, globalServer: string | undefined, gc: Partial<GcOptions>): Promise<void> {
  if (!(opts.logLevel in LogLevel)) throw new Error(`unknown log level ${JSON.stringify(opts.logLevel)}`);
  const log = new JsonLogger(opts.logLevel as LogLevel, { service: serviceName });
  const dataDir = resolve(opts.dataDir);
  const unlock = lockDataDir(dataDir);
  let nats: RunningNatsServer | undefined;
  let server: PurserServer | undefined;
  const shutdown = async (signal: string) => {
    log.info("stopping", { signal });
    await server?.stop().catch((err) => log.error("stop failed", { err }));
    await nats?.stop();
    unlock();
    process.stdout.write("purser stopped\n");
    process.exit(0);
  };
  try {
    let natsUrl = globalServer;
    if (!natsUrl) {
      const port = Number(opts.natsPort);
      if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`invalid --nats-port ${opts.natsPort}`);
      nats = await startNatsServer({
        storeDir: join(dataDir, "nats"),
        port,
        onLog: (line) => log.debug("nats-server", { line }),
      });
      natsUrl = nats.url;
    }
    const started = Date.now();
    server = await PurserServer.start({
      natsUrl,
      dataDir,
      log,
      eventStore: { replicas: Number(opts.replicas) || 1 },
      content: { sharingPolicy: opts.contentSharingPolicy, fsync: opts.contentFsync ?? false },
      gc,
    });
    process.once("SIGINT", () => void shutdown("SIGINT"));
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
    log.info("ready", { natsUrl, dataDir, startMs: Date.now() - started });
    process.stdout.write(
      `purser ${serviceVersion} ready: NATS ${natsUrl}${nats ? ` (embedded nats-server pid ${nats.pid})` : ""}, ` +
        `data ${dataDir}, service "${serviceName}" queue "${serviceQueue}" on purser.v1.>\n`,
    );
  } catch (err) {
    await server?.stop().catch(() => {});
    await nats?.stop();
    unlock();
    throw err;
  }
}
