import type { Clock } from "../commands/command-runner.js";
import { nestedMap, optionalBoolean, optionalString, requiredString, type Payload } from "../commands/payload.js";
import type { BlobStore } from "../content/blob-store.js";
import { invalidArgument, isPurserError, notFound, unavailable } from "../errors/errdefs.js";
import type { DomainEvent } from "../events/catalog.js";
import type { StoredEvent } from "../events/envelope.js";
import type { EventStore, EventStoreOptions } from "../events/event-store.js";
import type { Logger } from "../observability/logger.js";
import type { ProjectionRuntime } from "../projections/runtime.js";
import { EndpointKind, EndpointScope, type Endpoint } from "../endpoints/endpoint.js";
import { requireNamespace } from "../validation/namespace.js";
import type { NativeSnapshotter } from "../snapshots/native.js";
import { digestError } from "../validation/digest.js";
import { GarbageCollector, gcActor, replyOf } from "./collector.js";
import type { CollectResult, Why } from "../protocol/results.js";
import { GcLock } from "./gc-lock.js";
import { ResourceType } from "./model.js";
import { defaultSchedulerConfig, GcScheduler, type CollectionStats, type SchedulerConfig } from "./scheduler.js";
import { inject, injectable } from "../di.js";
import type { Snapshotters } from "../snapshots/snapshotters.js";
import { Tokens } from "../tokens.js";

/** The collector's settings (`PurserConfig.gc`; `purser serve --gc-…`). */
export interface GcOptions extends SchedulerConfig {
  /**
   * Collect on its own as containerd's scheduler does (after deletions and
   * mutations, and once at start). When false, only `gc.collect` collects.
   */
  automatic: boolean;
  /** This host's id in the host stream's subjects; default the hostname. */
  hostId: string;
  /** The sweep lock's lease time; renewed every third of it while sweeping. */
  lockTtlMs: number;
  /** How long an explicit collection waits for another process's sweep. */
  lockWaitMs: number;
  /** Sweeps after OCC conflicts before a collection gives up. */
  maxAttempts: number;
  /** A snapshot directory whose event has not been applied is kept this long. */
  dirGraceMs: number;
  /** Check every incremental plan against a full one (tests; collector.ts). */
  verifyIncremental?: boolean;
}

export const defaultGcOptions: Omit<GcOptions, "hostId"> = {
  ...defaultSchedulerConfig,
  automatic: true,
  lockTtlMs: 30_000,
  lockWaitMs: 60_000,
  maxAttempts: 20,
  dirGraceMs: 10 * 60_000,
};

/**
 * Events that delete something: containerd's `dirty` mutations (A.11). A
 * deletion guarantees the next scheduled collection runs.
 */
const deletions: ReadonlySet<DomainEvent["type"]> = new Set([
  "ImageDeleted",
  "ContainerDeleted",
  "ContentDeleted",
  "SnapshotRemoved",
  "LeaseDeleted",
  "LeaseResourceRemoved",
  "IngestAborted",
  "NamespaceDeleted",
] as const);

/** The result of a scheduled collection, carried through the scheduler's stats. */
interface Stats extends CollectionStats {
  result: CollectResult;
}

/**
 * The garbage collector of one process: containerd's scheduler fed by the
 * events the views apply, the sweep behind it, and the endpoints
 * `purser.v1._global.gc.collect` and `purser.v1._global.gc.why`
 * (docs/gc.md, docs/protocol.md).
 */
@injectable()
export class GcService {
  readonly collector: GarbageCollector;
  readonly scheduler: GcScheduler;
  /** Totals of this process's collections (benchmarks report the pause share). */
  readonly stats = { collections: 0, pauseMs: 0, elapsedMs: 0 };
  private explicitWaiters = 0;
  private cleanupTimer?: NodeJS.Timeout;
  private stopped = false;

  private readonly snapshotters: () => readonly NativeSnapshotter[];

  constructor(
    @inject(Tokens.DataDir) dataDir: string,
    @inject(Tokens.GcOptions) readonly options: GcOptions,
    @inject(Tokens.EventStore) store: EventStore,
    @inject(Tokens.ProjectionRuntime) private readonly runtime: ProjectionRuntime,
    @inject(Tokens.BlobStore) blobs: BlobStore,
    @inject(Tokens.Snapshotters) snapshotters: Snapshotters,
    @inject(Tokens.Clock) clock: Clock,
    @inject(Tokens.Logger) private readonly log: Logger,
    @inject(Tokens.EventStoreOptions) { replicas, duplicateWindowMs }: EventStoreOptions,
  ) {
    this.snapshotters = () => snapshotters.all();
    const lock = new GcLock(store.nc, `${options.hostId}:${process.pid}:${dataDir}`, options.lockTtlMs, Date.now, replicas);
    this.collector = new GarbageCollector(dataDir, store, runtime, blobs, this.snapshotters, lock, () => clock.now(), log, {
      hostId: options.hostId,
      maxAttempts: options.maxAttempts,
      lockWaitMs: options.lockWaitMs,
      dirGraceMs: options.dirGraceMs,
      ...(options.verifyIncremental ? { verifyIncremental: true } : {}),
      replicas,
      duplicateWindowMs,
    });
    // Without automatic collections the scheduler still serves explicit ones (and makes no startup run).
    this.scheduler = new GcScheduler(options.automatic ? options : { ...options, startupDelayMs: 0 }, {
      now: () => performance.now(),
      setTimer: (fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return () => clearTimeout(t);
      },
      collect: async (): Promise<Stats> => {
        const result = await this.collector.collect({ waitForLock: this.explicitWaiters > 0 });
        this.stats.collections++;
        this.stats.pauseMs += result.pauseMs;
        this.stats.elapsedMs += result.elapsedMs;
        return { elapsedMs: result.pauseMs, result };
      },
      onError: (err) => this.log.warn("gc failed", { err }),
    });
  }

  /** `purser.v1._global.gc.{collect,why}` (docs/protocol.md). */
  endpoints(): Endpoint[] {
    return [
      { resource: "gc", verb: "collect", scope: EndpointScope.Global, kind: EndpointKind.System, run: (_ctx, p) => this.collect(p) },
      { resource: "gc", verb: "why", scope: EndpointScope.Global, kind: EndpointKind.System, run: (_ctx, p) => this.why(p) },
    ];
  }

  async start(): Promise<void> {
    await this.collector.restoreTrash();
    this.runtime.onBatch((events) => this.onApplied(events));
    this.scheduler.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.cleanupTimer) clearTimeout(this.cleanupTimer);
    this.scheduler.stop();
  }

  /**
   * `gc.collect {dryRun?}`: the views catch up with every stream, then the
   * collection that follows runs (the scheduler's ScheduleAndWait); a dry run
   * only says what would go.
   */
  async collect(p: Payload): Promise<{ rv: number; result: CollectResult }> {
    const dryRun = optionalBoolean(p, "dryRun") ?? false;
    if (dryRun) return { rv: 0, result: replyOf(await this.collector.collect({ dryRun: true })) };
    // The sweep starts by catching the views up with every stream's last sequence.
    this.explicitWaiters++;
    try {
      const stats = (await this.scheduler.scheduleAndWait()) as Stats;
      return { rv: 0, result: replyOf(stats.result) };
    } catch (err) {
      const cause = (err as Error).cause;
      if (isPurserError(cause)) throw cause;
      throw unavailable(`gc failed: ${cause instanceof Error ? cause.message : (err as Error).message}`);
    } finally {
      this.explicitWaiters--;
    }
  }

  /** `gc.why {namespace, digest}` or `{namespace, snapshot: {snapshotter?, key}}`. */
  async why(p: Payload): Promise<{ rv: number; result: Why }> {
    const namespace = requiredString(p, "namespace");
    requireNamespace(namespace);
    const digest = optionalString(p, "digest");
    let answer: Why | undefined;
    if (digest !== undefined) {
      const err = digestError(digest);
      if (err) throw invalidArgument(`${JSON.stringify(digest)} failed validation`);
      answer = await this.collector.why({ type: ResourceType.Content, namespace, key: digest });
      if (!answer) throw notFound(`content digest ${digest}`);
    } else {
      const s = nestedMap(p, "snapshot");
      const key = optionalString(s, "snapshot.key") ?? "";
      if (key === "") throw invalidArgument("gc why needs a digest or a snapshot key");
      const snapshotter = optionalString(s, "snapshot.snapshotter") || "native";
      answer = await this.collector.why({ type: ResourceType.Snapshot, namespace, key: `${snapshotter}/${key}` });
      if (!answer) throw notFound(`snapshot ${key} does not exist`);
    }
    return { rv: this.runtime.applied(namespace), result: answer };
  }

  /**
   * After each applied batch: snapshot directories named by an event are
   * confirmed; every event not appended by a collector is a mutation for the
   * scheduler (dirty when it deletes); another process's collection means
   * this host's disk may hold what it freed.
   */
  private onApplied(events: readonly StoredEvent[]): void {
    let othersCollected: string | undefined;
    for (const stored of events) {
      const e = stored.event;
      if (e.type === "SnapshotPrepared" || e.type === "SnapshotViewCreated" || e.type === "SnapshotCommitted") {
        for (const sn of this.snapshotters()) if (sn.name === e.data.snapshot.snapshotter) sn.confirm(e.data.snapshot.dir);
      }
      if (stored.context.actor === gcActor) {
        if (!this.collector.ownRuns.has(stored.context.causationId)) othersCollected = stored.context.causationId;
        continue;
      }
      if (this.options.automatic) this.scheduler.mutation(deletions.has(e.type));
    }
    if (othersCollected) this.scheduleHostCleanup(othersCollected);
  }

  /** This host's disk after another process's collection (its run id becomes the causation of the BlobRemoved facts). */
  private scheduleHostCleanup(runId: string): void {
    if (this.cleanupTimer || this.stopped) return;
    this.cleanupTimer = setTimeout(() => {
      this.cleanupTimer = undefined;
      if (this.stopped) return;
      this.collector.cleanHost(runId).catch((err) => this.log.warn("host cleanup failed", { err }));
    }, 50);
    this.cleanupTimer.unref();
  }
}
