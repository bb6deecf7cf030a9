import type { Command } from "commander";
import type { GcOptions } from "../gc/gc-service.js";
import { connectionOf } from "./context.js";
import { parseGoDuration } from "./duration.js";

export interface ServeOptions {
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
  replyPrefix: string[];
  contentMaxIngests: string;
  diskReserve: string;
  maxNamespaces: string;
  unpackMaxLayerBytes: string;
  unpackMaxLayerEntries: string;
  containerdAddress?: string;
}

/**
 * `purser serve`: with no server given it starts its own nats-server
 * (infra/nats.conf, store under the data directory) on 127.0.0.1 and stops it
 * on exit, with authorization on (docs/security.md); with --server/NATS_URL
 * it uses that NATS instead, with the connection flags as its credentials.
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
    .option("--content-max-ingests <n>", "open ingests a namespace may have at once", "4096")
    .option("--disk-reserve <bytes>", "free space under the data directory that blob, ingest and unpack writes leave to the event log and views (0: none)", String(64 * 1024 * 1024))
    .option("--max-namespaces <n>", "namespaces with a log (a stream each) the host may have", "4096")
    .option("--gc-pause-threshold <fraction>", "fraction of wall time the collector may take (containerd pause_threshold, clamped to [0, 0.5])", "0.02")
    .option("--gc-deletion-threshold <n>", "deletions that start a collection at once; 0: a deletion only guarantees the next scheduled one", "0")
    .option("--gc-mutation-threshold <n>", "mutations after which the next scheduled collection runs", "100")
    .option("--gc-schedule-delay <duration>", "delay between a trigger and the collection", "0ms")
    .option("--gc-startup-delay <duration>", "first collection after start", "100ms")
    .option("--gc-manual", "collect only when asked (purser gc, images rm --sync), never on a schedule")
    .option("--unpack-max-layer-bytes <bytes>", "refuse a layer whose uncompressed stream is longer (a gzip bomb)", String(64 * 1024 ** 3))
    .option("--unpack-max-layer-entries <n>", "refuse a layer with more tar entries", "4000000")
    .option("--containerd-address <path>", "serve containerd's gRPC API on this unix socket, for ctr and containerd clients (default with the embedded nats-server: <data-dir>/containerd.sock; \"\" for none)")
    .option("--reply-prefix <prefix...>", "answer only requests whose reply subject is under these prefixes (docs/security.md)", ["_INBOX"])
    .action(async (opts: ServeOptions, cmd: Command) => {
      const flags = cmd.optsWithGlobals() as { server?: string };
      // No server given: the embedded nats-server, with its own identities (not the local context's).
      const external = flags.server !== undefined || (process.env.NATS_URL ?? "") !== "" ? connectionOf(flags).settings : undefined;
      // The server (lmdb's native binding, every service) loads only here:
      // every other command starts without it (docs/architecture.md).
      const { runServe } = await import("./serve-run.js");
      await runServe(opts, external, gcOptionsOf(opts), unpackLimitsOf(opts));
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

/** A count flag of `serve`: a positive integer, or a clear error naming the flag. */
export function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(n) || n <= 0) throw new Error(`invalid --${flag} ${JSON.stringify(value)}: not a positive integer`);
  return n;
}

export function nonNegativeInteger(flag: string, value: string): number {
  return value.trim() === "0" ? 0 : positiveInteger(flag, value);
}

/** The `--unpack-max-layer-…` flags (docs/unpack.md). */
export function unpackLimitsOf(opts: Pick<ServeOptions, "unpackMaxLayerBytes" | "unpackMaxLayerEntries">): { maxLayerBytes: number; maxLayerEntries: number } {
  return {
    maxLayerBytes: positiveInteger("unpack-max-layer-bytes", opts.unpackMaxLayerBytes),
    maxLayerEntries: positiveInteger("unpack-max-layer-entries", opts.unpackMaxLayerEntries),
  };
}
