import { join, resolve } from "node:path";
import type { GcOptions } from "../gc/gc-service.js";
import { JsonLogger, LogLevel } from "../observability/logger.js";
import { describeServers, type ConnectionSettings } from "../protocol/connection.js";
import { serviceName, serviceQueue, serviceVersion } from "../protocol/service.js";
import { serviceInboxPrefix } from "../security/permissions.js";
import { lockDataDir } from "../server/data-dir-lock.js";
import { EmbeddedAuth } from "../server/embedded-auth.js";
import { defaultNatsConfig, startNatsServer, type RunningNatsServer } from "../server/nats-server.js";
import { PurserServer } from "../server/purser-server.js";
import { localContextPath, removeContextIf, writeContext, type NatsContext } from "./nats-context.js";
import { nonNegativeInteger, positiveInteger, type ServeOptions } from "./serve.js";

/** How long a SIGTERM/SIGINT stop may take before serve forces it. */
const stopBoundMs = 15_000;

/**
 * `purser serve`'s body, loaded only by that command: the embedded
 * nats-server with authorization on (unless `external` NATS is given), the
 * data directory's lock, the server, the local context for the CLI, and a
 * clean stop on SIGINT/SIGTERM.
 */
export async function runServe(
  opts: ServeOptions,
  external: ConnectionSettings | undefined,
  gc: Partial<GcOptions>,
  unpack: { maxLayerBytes: number; maxLayerEntries: number },
): Promise<void> {
  if (!(opts.logLevel in LogLevel)) throw new Error(`unknown log level ${JSON.stringify(opts.logLevel)}`);
  const log = new JsonLogger(opts.logLevel as LogLevel, { service: serviceName });
  const dataDir = resolve(opts.dataDir);
  const unlock = lockDataDir(dataDir);
  let nats: RunningNatsServer | undefined;
  let server: PurserServer | undefined;
  let context: { path: string; context: NatsContext } | undefined;
  let stoppingServe = false;
  const cleanup = async () => {
    stoppingServe = true;
    await nats?.stop();
    if (context) removeContextIf(context.path, context.context);
    unlock();
  };
  const shutdown = async (signal: string) => {
    stoppingServe = true;
    log.info("stopping", { signal });
    // A stop that hangs (a NATS that no longer answers: a full disk under its
    // store) must not keep a service manager waiting: past the bound, the
    // embedded nats-server is killed and serve exits non-zero.
    setTimeout(() => {
      log.error("stop did not complete in time: forcing", { boundMs: stopBoundMs });
      if (nats) process.kill(nats.pid, "SIGKILL");
      if (context) removeContextIf(context.path, context.context);
      unlock();
      process.exit(1);
    }, stopBoundMs).unref();
    await server?.stop().catch((err) => log.error("stop failed", { err }));
    await cleanup();
    process.stdout.write("purser stopped\n");
    process.exit(0);
  };
  try {
    let connection: ConnectionSettings;
    let auth: EmbeddedAuth | undefined;
    if (external) {
      connection = external;
    } else {
      const port = Number(opts.natsPort);
      if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`invalid --nats-port ${opts.natsPort}`);
      const storeDir = join(dataDir, "nats");
      const embedded = new EmbeddedAuth(dataDir, defaultNatsConfig, storeDir);
      auth = embedded;
      // The embedded nats-server dies with serve (no orphan holds the port),
      // a leftover of an earlier start is stopped first, and one that dies
      // under serve is started again: clients reconnect on their own (issue 12).
      const start = (): Promise<RunningNatsServer> =>
        startNatsServer({
          storeDir,
          storeDirInConfig: true,
          port,
          configFile: embedded.writeConfig(),
          pidFile: join(dataDir, "nats-server.pid"),
          dieWithParent: true,
          onLog: (line) => log.debug("nats-server", { line }),
          onExit: (code, signal) => void restart(code, signal),
        });
      const restart = async (code: number | null, signal: NodeJS.Signals | null) => {
        log.error("embedded nats-server exited; starting it again", { code, signal });
        for (let attempt = 1, delay = 100; !stoppingServe; attempt++, delay = Math.min(delay * 2, 5000)) {
          try {
            nats = await start();
            embedded.reloadWith(() => nats!.reload());
            log.info("embedded nats-server running again", { pid: nats.pid, attempt });
            return;
          } catch (err) {
            log.error("embedded nats-server did not start", { attempt, err: (err as Error).message });
            await new Promise((r) => setTimeout(r, delay));
          }
        }
      };
      const running = await start();
      nats = running;
      embedded.reloadWith(() => nats!.reload());
      connection = { servers: running.url, nkeyFile: embedded.service.seedFile, inboxPrefix: serviceInboxPrefix };
    }
    const started = Date.now();
    const { servers, ...credentials } = connection;
    server = await PurserServer.start({
      natsUrl: servers,
      credentials,
      dataDir,
      log,
      eventStore: { replicas: Number(opts.replicas) || 1, maxNamespaces: positiveInteger("max-namespaces", opts.maxNamespaces) },
      content: { sharingPolicy: opts.contentSharingPolicy, fsync: opts.contentFsync ?? false, maxIngestsPerNamespace: positiveInteger("content-max-ingests", opts.contentMaxIngests), diskReserveBytes: nonNegativeInteger("disk-reserve", opts.diskReserve) },
      service: { replyPrefixes: opts.replyPrefix },
      gc,
      unpack,
      tenants: auth,
      ...containerdAddressOf(opts, dataDir, external !== undefined),
    });
    if (auth && nats) {
      // The admin's context: the CLI on this host uses it when given no connection flags.
      const admin: NatsContext = { servers: nats.url, nkeyFile: auth.admin.seedFile };
      writeContext(join(dataDir, "context.json"), admin);
      context = { path: localContextPath(), context: admin };
      writeContext(context.path, admin);
    }
    process.once("SIGINT", () => void shutdown("SIGINT"));
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
    const shown = describeServers(connection);
    log.info("ready", { natsUrl: shown, dataDir, startMs: Date.now() - started, context: context?.path });
    process.stdout.write(
      `purser ${serviceVersion} ready: NATS ${shown}${nats ? ` (embedded nats-server pid ${nats.pid}, authorization on)` : ""}, ` +
        `data ${dataDir}, service "${serviceName}" queue "${serviceQueue}" on purser.v1.>` +
        `${context ? `, admin context ${context.path}` : ""}` +
        `${server.containerdApi ? `, containerd API on ${server.containerdApi.address}` : ""}\n`,
    );
  } catch (err) {
    await server?.stop().catch(() => {});
    await cleanup();
    throw err;
  }
}

/** Where containerd's API listens: the flag; without it, beside the data with the embedded NATS only; "" turns it off. */
function containerdAddressOf(opts: ServeOptions, dataDir: string, external: boolean): { containerdAddress?: string } {
  if (opts.containerdAddress !== undefined) return opts.containerdAddress === "" ? {} : { containerdAddress: resolve(opts.containerdAddress) };
  return external ? {} : { containerdAddress: join(dataDir, "containerd.sock") };
}
