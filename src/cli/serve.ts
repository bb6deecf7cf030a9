import { join, resolve } from "node:path";
import type { Command } from "commander";
import { JsonLogger, LogLevel } from "../observability/logger.js";
import { lockDataDir } from "../server/data-dir-lock.js";
import { startNatsServer, type RunningNatsServer } from "../server/nats-server.js";
import { PurserServer } from "../server/purser-server.js";
import { serviceName, serviceQueue, serviceVersion } from "../server/command-service.js";

interface ServeOptions {
  dataDir: string;
  natsPort: string;
  logLevel: string;
  replicas: string;
  contentSharingPolicy: string;
  contentFsync?: boolean;
}

/**
 * `purser serve`: with no server given it starts its own nats-server
 * (infra/nats.conf, store under the data directory) on 127.0.0.1 and stops it
 * on exit; with --server/NATS_URL it uses that NATS instead.
 */
export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run purser (starts its own nats-server unless --server or NATS_URL is given)")
    .option("--data-dir <dir>", "where the views, blobs, snapshots and the embedded NATS store live", "./var/purser")
    .option("--nats-port <port>", "port of the embedded nats-server", "4222")
    .option("--log-level <level>", "debug, info, warn or error", "info")
    .option("--replicas <n>", "replicas of each namespace stream (3 on a NATS cluster)", "1")
    .option("--content-sharing-policy <policy>", "shared (a blob on the host serves every namespace) or isolated", "shared")
    .option("--content-fsync", "fsync each blob before it is linked into the store")
    .action(async (opts: ServeOptions, cmd: Command) => {
      const globalServer = (cmd.optsWithGlobals() as { server?: string }).server ?? process.env.NATS_URL;
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
    });
}
