import { join, resolve } from "node:path";
import type { Command } from "commander";
import { JsonLogger, LogLevel } from "../observability/logger.js";
import { lockDataDir } from "../server/data-dir-lock.js";
import { startNatsServer, type RunningNatsServer } from "../server/nats-server.js";
import { PurserServer } from "../server/purser-server.js";
import { serviceName, serviceQueue, serviceVersion } from "../server/command-service.js";
import type { GcOptions } from "../gc/gc-service.js";
import { parseGoDuration } from "./duration.js";

interface ServeOptions {
  dataDir: string;
  natsPort: string;
  logLevel: string;
  replicas: string;
  contentSharingPolicy: string;
  contentFsync?: boolean;
  gcPauseThreshold: string;
  gcDeletionThreshold: string;
  gcMutationThreshold: string;
  gcScheduleDelay: string;
  gcStartupDelay: string;
  gcManual?: boolean;
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
    .option("--gc-pause-threshold <fraction>", "fraction of wall time the collector may take (containerd pause_threshold, clamped to [0, 0.5])", "0.02")
    .option("--gc-deletion-threshold <n>", "deletions that start a collection at once; 0: a deletion only guarantees the next scheduled one", "0")
    .option("--gc-mutation-threshold <n>", "mutations after which the next scheduled collection runs", "100")
    .option("--gc-schedule-delay <duration>", "delay between a trigger and the collection", "0ms")
    .option("--gc-startup-delay <duration>", "first collection after start", "100ms")
    .option("--gc-manual", "collect only when asked (purser gc, images rm --sync), never on a schedule")
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
          gc: gcOptionsOf(opts),
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

/** The `--gc-…` flags as collector options (containerd's scheduler config keys, A.11). */
export function gcOptionsOf(opts: Pick<ServeOptions, "gcPauseThreshold" | "gcDeletionThreshold" | "gcMutationThreshold" | "gcScheduleDelay" | "gcStartupDelay" | "gcManual">): Partial<GcOptions> {
  const number = (flag: string, value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new Error(`invalid --${flag} ${JSON.stringify(value)}: not a number`);
    return n;
  };
  const duration = (flag: string, value: string) => {
    try {
      return parseGoDuration(value);
    } catch (err) {
      throw new Error(`invalid --${flag} ${JSON.stringify(value)}: ${(err as Error).message}`);
    }
  };
  return {
    pauseThreshold: number("gc-pause-threshold", opts.gcPauseThreshold),
    deletionThreshold: number("gc-deletion-threshold", opts.gcDeletionThreshold),
    mutationThreshold: number("gc-mutation-threshold", opts.gcMutationThreshold),
    scheduleDelayMs: duration("gc-schedule-delay", opts.gcScheduleDelay),
    startupDelayMs: duration("gc-startup-delay", opts.gcStartupDelay),
    automatic: !(opts.gcManual ?? false),
  };
}
