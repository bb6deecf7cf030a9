import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import type { BlobStore } from "../content/blob-store.js";
import { ErrorKind, PurserError, unavailable } from "../errors/errdefs.js";
import type { DomainEvent } from "../events/catalog.js";
import type { EventContext } from "../events/envelope.js";
import { encodeEventBody, eventHeaders } from "../events/envelope.js";
import { subjectOfEvent } from "../events/event-subject.js";
import { EventStore, WrongExpectedSequenceError, type AppendResult } from "../events/event-store.js";
import { ensureHostStream, hostBlobSubject } from "../events/host-stream.js";
import type { Logger } from "../observability/logger.js";
import { blobHeld, blobHoldersDb, ingestsDb, unheldBlobsDb, type IngestRow } from "../projections/content.js";
import type { ProjectionRuntime } from "../projections/runtime.js";
import { dirNamed, orphanDirsDb, snapshotDirsDb } from "../projections/snapshots.js";
import type { NativeSnapshotter } from "../snapshots/native.js";
import type { Transaction } from "lmdb";
import { runInSlices, yieldEvery, type Steps } from "../concurrency/cooperative.js";
import { Limiter } from "../concurrency/limiter.js";
import type { ViewStore } from "../projections/view-store.js";
import { hostRootsSteps, nextExpiry, ObjectIndex } from "./graph.js";
import type { GcLock, HeldLock } from "./gc-lock.js";
import { openGraphDatabases, readGraphSteps, type GraphSnapshot } from "./host-objects.js";
import { explain, markSteps, type Reach } from "./mark.js";
import { ResourceType, resourceTypeName, type GcNode } from "./model.js";
import { unreachableSteps, type Removal } from "./sweep.js";
import { digestError } from "../validation/digest.js";
import { isSnapshotDirName } from "../validation/snapshot-dir.js";
import { clearCandidates, filterInSlices, readCandidates } from "./host-candidates.js";
import { clearDirty, incrementalPlanSteps, readDirtySteps, type SweepPlan } from "./incremental-plan.js";
import type { CollectResult, RemovedObject, Why } from "../protocol/results.js";

/** The actor of every event the collector appends. */
export const gcActor = "gc";

/** Items per list in a `gc.collect` reply (a sweep may remove far more than a message holds). */
export const replyListLimit = 1000;

/** The result as a reply carries it: lists cut to {@link replyListLimit}, with the totals. */
export function replyOf(r: CollectResult): CollectResult {
  if (r.removed.length <= replyListLimit && r.blobs.length <= replyListLimit && r.directories.length <= replyListLimit) return r;
  return {
    ...r,
    removed: r.removed.slice(0, replyListLimit),
    blobs: r.blobs.slice(0, replyListLimit),
    directories: r.directories.slice(0, replyListLimit),
    totals: { removed: r.removed.length, blobs: r.blobs.length, directories: r.directories.length },
  };
}

export interface CollectorOptions {
  /** This host's id in the host stream's subjects (blobs live on a host's disk). */
  hostId: string;
  /** Sweeps after OCC conflicts before giving up (the next scheduled run tries again). */
  maxAttempts: number;
  /** How long an explicit collection waits for another process's sweep lock. */
  lockWaitMs: number;
  /** A snapshot directory made for a command whose event has not been applied is kept this long. */
  dirGraceMs: number;
  /** Replicas of the host stream. */
  replicas: number;
  duplicateWindowMs: number;
  /**
   * Every incremental plan is checked against a full one, and a difference
   * fails the collection (the test harness turns this on: every GC test then
   * judges the incremental collector as well).
   */
  verifyIncremental?: boolean;
}

/**
 * Dirty objects (or objects to mark again) beyond which a collection plans
 * from the whole graph instead: past that, one read of everything costs less
 * than following the changes (after a rebuild every object is dirty).
 */
const incrementalLimit = 50_000;

/**
 * Events appended per round trip of a namespace's chain (later ones expect the
 * previous one's id). 64, not more: a window of 256 made the event loop wait
 * up to ~140 ms while its appends were built and their acks handled (2,000
 * removals, measured with a 1 ms lag probe); 64 kept it at ~14 ms for the same
 * total time.
 */
const chainWindow = 64;

/** File operations of a disk cleanup in flight at once (libuv's pool has 4 threads; the rest of the process shares it). */
const fileOps = new Limiter(8);
/** Host-stream records of removed blobs in flight at once. */
const recordOps = new Limiter(32);

/**
 * The sweep (docs/gc.md): mark from the roots at the rv the views have
 * applied, append the deletions per namespace as one OCC chain, then remove
 * from this host's disk the blobs and snapshot directories nothing refers to.
 */
export class GarbageCollector {
  /** Run ids of this process's collections (their events need no local cleanup trigger). */
  readonly ownRuns = new Set<string>();
  private readonly trashDir: string;
  private hostStreamReady = false;
  /** The blob store's unpin count just before the views last caught up with the log. */
  private caughtUpAtEpoch = 0;
  private cleaning: Promise<Pick<CollectResult, "blobs" | "directories">> | undefined;
  /** The views generation whose blob files (and snapshot directories) a clean-up last listed in full. */
  private blobsListedIn: ViewStore | undefined;
  private dirsListedIn: ViewStore | undefined;
  /**
   * What the last collection that found nothing saw: every stream's applied
   * sequence, the blob store's unpin count and the next expiry. While all of
   * that holds, a collection would find nothing again, and is skipped.
   */
  private quiet: { applied: Map<string, number>; unpins: number; until: number | undefined } | undefined;

  constructor(
    dataDir: string,
    private readonly store: EventStore,
    private readonly runtime: ProjectionRuntime,
    private readonly blobs: BlobStore,
    private readonly snapshotters: () => readonly NativeSnapshotter[],
    private readonly lock: GcLock,
    private readonly now: () => Date,
    private readonly log: Logger,
    private readonly options: CollectorOptions,
  ) {
    this.trashDir = join(dataDir, "gc", "trash");
  }

  /**
   * What a sweep at the views' current state would remove, with the marks
   * (for `why`), from the whole graph. The read and the mark run in slices
   * of a few milliseconds (concurrency/cooperative.ts), so requests are
   * served in between, over one LMDB read transaction: a consistent snapshot
   * of the views and of the rvs they reflect, whatever batches the runtime
   * commits meanwhile.
   */
  async plan(): Promise<{ graph: GraphSnapshot; black: Map<string, Reach>; removals: Removal[]; nextExpiry?: number }> {
    const views = this.runtime.views;
    openGraphDatabases(views);
    const transaction = views.root.useReadTransaction();
    try {
      return await runInSlices(this.planSteps(views, transaction));
    } finally {
      transaction.done();
    }
  }

  /**
   * What a sweep would remove, planned from what changed since the last
   * successful sweep (incremental-plan.ts), or from the whole graph when that
   * cannot tell or would cost more. Same slices, same one read transaction.
   */
  async sweepPlan(): Promise<SweepPlan & { views: ViewStore }> {
    const views = this.runtime.views;
    openGraphDatabases(views);
    const transaction = views.root.useReadTransaction();
    const self = this;
    try {
      const plan = await runInSlices(
        (function* (): Steps<SweepPlan> {
          const now = self.now();
          const incremental = yield* incrementalPlanSteps({
            views,
            transaction,
            now,
            applied: (ns) => self.runtime.appliedIn(views, ns, transaction),
            onInvalidExpire: (ns, lease, value) => self.log.warn("ignoring invalid expiration value", { namespace: ns, lease, value }),
            limit: incrementalLimit,
          });
          if (incremental && !self.options.verifyIncremental) return incremental;
          const full = yield* self.planSteps(views, transaction, now);
          const dirty = incremental?.dirty ?? (yield* readDirtySteps(views, transaction))!;
          if (incremental) {
            const a = JSON.stringify(incremental.removals);
            const b = JSON.stringify(full.removals);
            if (a !== b || incremental.nextExpiry !== full.nextExpiry) {
              throw new Error(`the incremental gc plan differs from the full one: ${a} (next expiry ${incremental.nextExpiry}) != ${b} (next expiry ${full.nextExpiry})`);
            }
          }
          const rvs = new Map<string, number>(full.graph.rvs);
          for (const [ns, rv] of incremental?.rvs ?? []) rvs.set(ns, rv);
          return {
            removals: full.removals,
            rvs,
            ingestIds: full.graph.ingestIds,
            incremental: false,
            dirty,
            ...(full.nextExpiry === undefined ? {} : { nextExpiry: full.nextExpiry }),
          };
        })(),
      );
      return { ...plan, views };
    } finally {
      transaction.done();
    }
  }

  private *planSteps(views: ViewStore, transaction: Transaction, now = this.now()): Steps<{ graph: GraphSnapshot; black: Map<string, Reach>; removals: Removal[]; nextExpiry?: number }> {
    const graph = yield* readGraphSteps(views, (ns) => this.runtime.appliedIn(views, ns, transaction), transaction);
    const index = yield* ObjectIndex.buildSteps(graph.objects);
    const roots = yield* hostRootsSteps(graph.objects, now, (ns, lease, value) =>
      this.log.warn("ignoring invalid expiration value", { namespace: ns, lease, value }),
    );
    const black = yield* markSteps(roots, (n) => index.references(n));
    const removals = yield* unreachableSteps(graph.objects, black);
    const next = nextExpiry(graph.objects, now);
    return { graph, black, removals, ...(next === undefined ? {} : { nextExpiry: next }) };
  }

  /** Why an object is kept (the path from a root), or that it is garbage, at the views' current state. */
  async why(node: GcNode): Promise<Why | undefined> {
    await this.runtime.catchUp();
    const { graph, black } = await this.plan();
    const objs = graph.objects.get(node.namespace);
    const exists =
      node.type === ResourceType.Content
        ? objs?.content.some((c) => c.digest === node.key)
        : objs?.snapshots.some((s) => `${s.snapshotter}/${s.key}` === node.key);
    if (!exists) return undefined;
    const path = explain(black, node);
    return {
      kept: path !== undefined,
      path: (path ?? []).map((r) => ({ type: resourceTypeName[r.node.type], namespace: r.node.namespace, key: r.node.key, reason: r.reason })),
    };
  }

  /**
   * A collection. `waitForLock`: an explicit request waits for another
   * process's sweep to finish; a scheduled run leaves the sweep to it and
   * only cleans this host's disk.
   */
  async collect(opts: { dryRun?: boolean; waitForLock?: boolean } = {}): Promise<CollectResult> {
    const runId = randomUUID();
    const started = performance.now();
    if (opts.dryRun) {
      await this.runtime.catchUp();
      const t0 = performance.now();
      const { removals } = await this.sweepPlan();
      const pauseMs = performance.now() - t0;
      return { runId, dryRun: true, removed: removals.map(shown), blobs: [], directories: [], attempts: 1, pauseMs, elapsedMs: performance.now() - started, swept: false };
    }
    await this.catchUp();
    if (this.unchangedSinceQuiet()) {
      return { runId, dryRun: false, removed: [], blobs: [], directories: [], attempts: 0, pauseMs: 0, elapsedMs: performance.now() - started, swept: false, unchanged: true };
    }
    this.quiet = undefined;
    // What the views had applied before this collection looked: should it find
    // nothing, only that state is known to hold nothing (an event applied while
    // it ran, an image deleted say, must not make the next one skip).
    const appliedBefore = this.runtime.appliedAll();
    const unpinsBefore = this.blobs.unpinEpoch();
    const lockAsked = performance.now();
    const lock = opts.waitForLock ? await this.lock.acquire(this.options.lockWaitMs) : await this.lock.tryAcquire();
    // Waited for another process's sweep: its deletions came after this catch-up.
    const stillCaughtUp = performance.now() - lockAsked < 50;
    if (!lock && opts.waitForLock) throw unavailable(`another process holds the gc sweep lock after ${this.options.lockWaitMs}ms`);
    const removed: RemovedObject[] = [];
    const expiredIngests: string[] = [];
    let pauseMs = 0;
    let attempts = 0;
    let until: number | undefined;
    if (lock) {
      this.ownRuns.add(runId);
      if (this.ownRuns.size > 1000) this.ownRuns.delete(this.ownRuns.values().next().value!);
      try {
        const swept = await this.sweep(runId, lock, stillCaughtUp);
        removed.push(...swept.removed);
        expiredIngests.push(...swept.expiredIngests);
        pauseMs = swept.pauseMs;
        attempts = swept.attempts;
        until = swept.nextExpiry;
      } finally {
        await lock.release();
      }
    }
    // After a sweep the views have caught up already (and applied its deletions).
    const host = await this.cleanHost(runId, expiredIngests, lock !== undefined);
    if (lock && removed.length === 0 && host.blobs.length === 0 && host.directories.length === 0 && this.blobs.unpinEpoch() === unpinsBefore) {
      // Nothing was garbage, and this process changed nothing: until something does, nothing will be.
      this.quiet = { applied: appliedBefore, unpins: unpinsBefore, until };
    }
    if (removed.length > 0 || host.blobs.length > 0 || host.directories.length > 0) {
      this.log.info("gc collected", { runId, removed: removed.length, blobs: host.blobs.length, directories: host.directories.length, attempts, pauseMs });
    }
    return { runId, dryRun: false, removed, ...host, attempts, pauseMs, elapsedMs: performance.now() - started, swept: lock !== undefined };
  }

  /**
   * Mark, decide, append; again when a namespace moved on meanwhile (after the
   * views catch up), at most `maxAttempts` times. Returns once the views have
   * applied what it appended.
   */
  private async sweep(runId: string, lock: HeldLock, caughtUp = false): Promise<{ removed: RemovedObject[]; expiredIngests: string[]; pauseMs: number; attempts: number; nextExpiry?: number }> {
    const removed: RemovedObject[] = [];
    const expiredIngests: string[] = [];
    const appliedTo = new Map<string, number>();
    let pauseMs = 0;
    for (let attempt = 1; ; attempt++) {
      // The collection caught up just before its first attempt (one listing of every stream, not two).
      if (attempt > 1 || !caughtUp) await this.catchUp();
      const t0 = performance.now();
      const plan = await this.sweepPlan();
      const { removals, nextExpiry } = plan;
      const byNs = new Map<string, Removal[]>();
      for (const r of removals) {
        let list = byNs.get(r.namespace);
        if (!list) byNs.set(r.namespace, (list = []));
        list.push(r);
      }
      if (!lock.held) throw unavailable("gc sweep lock lost");
      const chains = await Promise.all(
        [...byNs].map(async ([ns, list]) => {
          const rv = plan.rvs.get(ns) ?? 0;
          try {
            const result = await this.appendChain(ns, rv, list.map(eventOf), runId, attempt);
            return { ns, list, ...result };
          } catch (err) {
            // One namespace whose log cannot take an append (its stream deleted
            // outside purser: docs/decisions.md) does not stop the host's collection.
            if (!(err instanceof PurserError && err.kind === ErrorKind.FailedPrecondition)) throw err;
            this.log.warn("gc: not sweeping a namespace whose log refuses appends", { runId, namespace: ns, removals: list.length, err });
            return { ns, list, appended: 0, lastSeq: rv, conflict: false };
          }
        }),
      );
      pauseMs += performance.now() - t0;
      let conflict = false;
      for (const c of chains) {
        const done = c.list.slice(0, c.appended);
        removed.push(...done.map(shown));
        for (const r of done) {
          const id = r.type === ResourceType.Ingest ? plan.ingestIds.get(r.namespace)?.get(r.key) : undefined;
          if (id) expiredIngests.push(id);
        }
        if (c.appended > 0) appliedTo.set(c.ns, c.lastSeq);
        if (c.conflict) conflict = true;
      }
      if (!conflict) {
        await Promise.all([...appliedTo].map(([ns, seq]) => this.runtime.waitFor(ns, seq, 30_000)));
        // Everything the plan looked at is reachable now or removed: the next plan starts from later changes.
        if (plan.views === this.runtime.views) await clearDirty(plan.views, plan.dirty);
        return { removed, expiredIngests, pauseMs, attempts: attempt, ...(nextExpiry === undefined ? {} : { nextExpiry }) };
      }
      if (attempt >= this.options.maxAttempts) {
        throw unavailable(`gc sweep gave up after ${attempt} concurrent-write conflicts`);
      }
      this.log.debug("gc sweep conflicted with a concurrent write; sweeping again", { runId, attempt });
    }
  }

  /**
   * Appends a namespace's deletions as one chain: the first expects the
   * namespace's last sequence to be `rv` (the state the sweep read), each
   * next one the previous append's sequence and message id. A write by
   * anyone else in between fails the rest of the chain.
   */
  private async appendChain(
    namespace: string,
    rv: number,
    events: readonly DomainEvent[],
    runId: string,
    attempt: number,
  ): Promise<{ appended: number; lastSeq: number; conflict: boolean }> {
    await this.store.ensureStream(namespace, rv);
    let appended = 0;
    let lastSeq = rv;
    let lastMsgId: string | undefined;
    for (let from = 0; from < events.length; from += chainWindow) {
      const sends: Array<Promise<AppendResult>> = [];
      for (let i = from; i < Math.min(events.length, from + chainWindow); i++) {
        const event = events[i]!;
        const msgId = `gc:${runId}:${attempt}:${i}:${namespace}`;
        const expect = { lastSequence: rv + i, ...(lastMsgId !== undefined ? { lastMsgId } : {}) };
        const context: EventContext = { eventId: randomUUID(), correlationId: runId, causationId: runId, actor: gcActor };
        sends.push(this.store.append(namespace, { event, subject: subjectOfEvent(namespace, event), expect, msgId, logRv: rv }, context));
        lastMsgId = msgId;
      }
      const results = await Promise.allSettled(sends);
      for (const r of results) {
        if (r.status === "rejected") {
          if (!(r.reason instanceof WrongExpectedSequenceError)) throw r.reason;
          return { appended, lastSeq, conflict: true };
        }
        appended++;
        lastSeq = r.value.seq;
      }
    }
    return { appended, lastSeq, conflict: false };
  }

  /**
   * This host's disk: blob files no namespace holds and no ingest expects,
   * snapshot directories no snapshot record names, bytes of ingests that are
   * gone. One cleanup at a time; a request during one runs another after it.
   */
  cleanHost(runId = "host-cleanup", expiredIngests: readonly string[] = [], caughtUp = false): Promise<Pick<CollectResult, "blobs" | "directories">> {
    if (this.cleaning) return this.cleaning.catch(() => {}).then(() => this.cleanHost(runId, expiredIngests, caughtUp));
    const run = (async () => {
      try {
        // Every event in the log before this process made anything on disk is
        // applied (what it made since is pinned or awaiting its event).
        if (!caughtUp) await this.catchUp();
        await this.removeIngestBytes(expiredIngests);
        const blobs = await this.cleanBlobs(runId);
        const directories = await this.cleanDirectories();
        return { blobs, directories };
      } finally {
        this.cleaning = undefined;
      }
    })();
    this.cleaning = run;
    return run;
  }

  /** Whether nothing has changed since the last collection that found nothing (see {@link quiet}). */
  private unchangedSinceQuiet(): boolean {
    const q = this.quiet;
    if (!q) return false;
    if (q.until !== undefined && this.now().getTime() >= q.until) return false;
    if (this.blobs.unpinEpoch() !== q.unpins) return false;
    if (this.snapshotters().some((sn) => sn.hasUnconfirmed())) return false;
    const applied = this.runtime.appliedAll();
    if (applied.size !== q.applied.size) return false;
    for (const [stream, seq] of applied) if (q.applied.get(stream) !== seq) return false;
    return true;
  }

  /** The views catch up with every stream; the unpin count noted first (see cleanBlobs). */
  private async catchUp(): Promise<void> {
    const epoch = this.blobs.unpinEpoch();
    await this.runtime.catchUp();
    this.caughtUpAtEpoch = epoch;
  }

  /**
   * The bytes of ingests the sweep expired, unless an ingest of that id is
   * live again. Bytes a crash left behind go with the content store's own
   * cleanup of unowned ingest entries (docs/content.md).
   */
  private async removeIngestBytes(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const live = new Set<string>();
    for (const { value } of this.runtime.views.db<IngestRow>(ingestsDb).getRange()) live.add(value.id);
    for (const id of ids) if (!live.has(id)) await this.blobs.removeIngest(id);
  }

  /**
   * Blob files are moved aside first and only then checked again. A writer
   * that relies on a blob being on the host (a shared open, a put of bytes
   * the host has, a commit linking into place) pins the digest from before it
   * looks until its event is appended. So a writer that saw the file before
   * it was moved either still pins it, or let go of it after the views last
   * caught up (its event may not be in them yet: `unpinnedSince`), or let go
   * before — and then its event was in the log when the views caught up, and
   * the digest was held at the first check. In the first two cases the file
   * goes back. Files still aside after a crash go back at the next start.
   */
  private async cleanBlobs(runId: string): Promise<Array<{ digest: string; size: number }>> {
    await this.restoreTrash();
    const views = this.runtime.views;
    for (const name of [blobHoldersDb, ingestsDb, unheldBlobsDb]) views.db(name);
    const epoch = this.caughtUpAtEpoch;
    const rows = await readCandidates<string>(views, unheldBlobsDb);
    // The whole disk once per process and views generation; then what changed (host-candidates.ts).
    const whole = this.blobsListedIn !== views;
    let looked: Iterable<string>;
    if (whole) {
      const onDisk: string[] = [];
      for await (const d of this.blobs.digests()) onDisk.push(d);
      looked = onDisk;
    } else {
      looked = new Set([...rows.map((r) => r.key), ...this.blobs.unpinnedDigests()]);
    }
    let expected = this.expectedDigests(views);
    const candidates = await filterInSlices(
      views,
      looked,
      (d, transaction) => digestError(d) === undefined && !this.blobs.isPinned(d) && !expected.has(d) && !blobHeld(views, d, transaction),
    );
    const removed: Array<{ digest: string; size: number }> = [];
    if (candidates.length > 0) {
      await fs.mkdir(this.trashDir, { recursive: true });
      // Each phase over many files runs a few at a time (fileOps); the phases stay in order.
      const movedAside = await Promise.all(
        candidates.map((digest) =>
          fileOps.run(async () => {
            const trash = join(this.trashDir, digest.replace(":", "-"));
            try {
              const size = (await fs.stat(this.blobs.blobPath(digest))).size;
              await fs.rename(this.blobs.blobPath(digest), trash);
              return { digest, size, trash };
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
              return undefined;
            }
          }),
        ),
      );
      const aside = movedAside.filter((a): a is { digest: string; size: number; trash: string } => a !== undefined);
      expected = this.expectedDigests(views);
      const heldNow = new Set(
        (await filterInSlices(views, aside, (a, transaction) => this.blobs.isPinned(a.digest) || this.blobs.unpinnedSince(a.digest, epoch) || expected.has(a.digest) || blobHeld(views, a.digest, transaction))).map((a) => a.digest),
      );
      const kept = await Promise.all(
        aside.map((a) =>
          fileOps.run(async () => {
            if (heldNow.has(a.digest) || this.blobs.isPinned(a.digest)) {
              await this.putBack(a.trash, a.digest);
              return undefined;
            }
            await fs.rm(a.trash, { force: true });
            return { digest: a.digest, size: a.size };
          }),
        ),
      );
      removed.push(...kept.filter((b): b is { digest: string; size: number } => b !== undefined));
    }
    // Judged: digests let go again since (a newer stamp, a later unpin) stay for the next clean-up.
    this.blobs.forgetUnpins(epoch);
    await clearCandidates(views, unheldBlobsDb, rows);
    if (whole) this.blobsListedIn = views;
    await Promise.all(removed.map((b) => recordOps.run(() => this.recordBlobRemoved(b.digest, b.size, runId))));
    return removed;
  }

  /** The digests ingests expect (shared or not): their blob files stay. Ingests are few: read whole. */
  private expectedDigests(views: ViewStore): Set<string> {
    const out = new Set<string>();
    for (const { value } of views.db<IngestRow>(ingestsDb).getRange()) if (value.expected) out.add(value.expected);
    return out;
  }

  /** Puts back blob files a crash left aside (they are judged again by the next cleanup). */
  async restoreTrash(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.trashDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const name of names) {
      const at = name.indexOf("-");
      if (at <= 0) continue;
      await this.putBack(join(this.trashDir, name), `${name.slice(0, at)}:${name.slice(at + 1)}`);
    }
  }

  private async putBack(trash: string, digest: string): Promise<void> {
    try {
      await fs.link(trash, this.blobs.blobPath(digest));
    } catch (err) {
      // EEXIST: a writer stored the same bytes meanwhile; either copy serves.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    await fs.rm(trash, { force: true });
  }

  /** `BlobRemoved` on the host stream (after the file is gone: a crash in between loses the fact, never a blob). */
  private async recordBlobRemoved(digest: string, size: number, runId: string): Promise<void> {
    try {
      if (!this.hostStreamReady) {
        await ensureHostStream(await this.store.manager(), this.options.replicas, this.options.duplicateWindowMs);
        this.hostStreamReady = true;
      }
      const event: DomainEvent = { type: "BlobRemoved", data: { digest, size } };
      const context: EventContext = { eventId: randomUUID(), correlationId: runId, causationId: runId, actor: gcActor };
      const headers = eventHeaders(event, "", context);
      headers.set("Purser-Host", this.options.hostId);
      await this.store.js.publish(hostBlobSubject(this.options.hostId, digest), encodeEventBody(event), { headers, msgID: context.eventId });
    } catch (err) {
      this.log.warn("cannot record a removed blob on the host stream", { digest, err });
    }
  }

  /**
   * Snapshot directories that no snapshot record names: after the views
   * caught up, and not made a moment ago for a command whose event is still
   * to come (NativeSnapshotter.awaitingEvent). The whole disk once per process
   * and views generation; then the directories whose last record went and
   * those made for commands (host-candidates.ts).
   */
  private async cleanDirectories(): Promise<Array<{ snapshotter: string; dir: string }>> {
    const views = this.runtime.views;
    for (const name of [snapshotDirsDb, orphanDirsDb]) views.db(name);
    const rows = await readCandidates<[string, string]>(views, orphanDirsDb);
    const whole = this.dirsListedIn !== views;
    const now = Date.now();
    const garbage: Array<{ sn: NativeSnapshotter; dir: string }> = [];
    for (const sn of this.snapshotters()) {
      let looked: string[];
      if (whole) looked = await sn.listDirs();
      else {
        looked = [...new Set([...rows.filter((r) => r.key[0] === sn.name).map((r) => r.key[1]), ...sn.unconfirmedDirs()])];
        // A name from the log is checked before it becomes a path (event-schemas.ts checks it too).
        looked = (await Promise.all(looked.map(async (dir) => (isSnapshotDirName(dir) && (await sn.hasDir(dir)) ? dir : undefined)))).filter((d): d is string => d !== undefined);
      }
      const unnamed = await filterInSlices(views, looked, (dir, transaction) => !dirNamed(views, sn.name, dir, transaction));
      for (const dir of unnamed) if (!sn.awaitingEvent(dir, this.options.dirGraceMs, now)) garbage.push({ sn, dir });
    }
    for (const g of garbage) await g.sn.removeDir(g.dir);
    await clearCandidates(views, orphanDirsDb, rows);
    if (whole) this.dirsListedIn = views;
    return garbage.map((g) => ({ snapshotter: g.sn.name, dir: g.dir }));
  }
}


function eventOf(r: Removal): DomainEvent {
  switch (r.type) {
    case ResourceType.Lease:
      return { type: "LeaseExpired", data: { id: r.key } };
    case ResourceType.Ingest:
      return { type: "IngestExpired", data: { ref: r.key } };
    case ResourceType.Content:
      return { type: "ContentDeleted", data: { digest: r.key } };
    case ResourceType.Snapshot: {
      const at = r.key.indexOf("/");
      return { type: "SnapshotRemoved", data: { snapshotter: r.key.slice(0, at), key: r.key.slice(at + 1) } };
    }
  }
}

function shown(r: Removal): RemovedObject {
  if (r.type === ResourceType.Snapshot) {
    const at = r.key.indexOf("/");
    return { namespace: r.namespace, type: "snapshot", key: r.key.slice(at + 1), snapshotter: r.key.slice(0, at) };
  }
  return { namespace: r.namespace, type: resourceTypeName[r.type], key: r.key };
}
