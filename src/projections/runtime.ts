import type { Transaction } from "lmdb";
import { watchConnection } from "../protocol/connection-status.js";
import { isJetStreamApiError, JetStreamApiCode } from "../events/jetstream-errors.js";
import { Limiter } from "../concurrency/limiter.js";
import { DeliverPolicy, type Consumer, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import type { Subscription } from "@nats-io/nats-core";
import { inject, injectable } from "../di.js";
import { Tokens } from "../tokens.js";
import { ErrorKind, PurserError, unavailable } from "../errors/errdefs.js";
import type { StoredEvent } from "../events/envelope.js";
import { EventStore } from "../events/event-store.js";
import { namespaceOfStream, streamName } from "../events/subjects.js";
import type { Logger } from "../observability/logger.js";
import { applyBatch } from "./apply-batch.js";
import { isTimeout } from "../protocol/transport-errors.js";
import type { Projection } from "./projection.js";
import { ViewStoreHolder, type ViewStore } from "./view-store.js";

export interface RuntimeOptions {
  /** Most events applied in one LMDB write transaction. */
  maxBatch: number;
  /** Pull credit of each stream's consumer: bounds what is buffered in memory. */
  maxInFlight: number;
  /** How often to look for namespace streams created by other processes (advisories are best-effort). */
  rescanIntervalMs: number;
  /** Name of the checkpoint family (one per projection runtime). */
  checkpointName: string;
  /**
   * A feed that delivered nothing for this long, with nobody waiting on it,
   * is parked: its consumer is stopped (each costs nats-server ~35–55 KiB and
   * a share of its idle CPU: docs/performance.md) until a wait, a command's
   * catch-up or the rescan seeing its stream grow starts it again. 0: never.
   */
  parkIdleMs: number;
}

export const defaultRuntimeOptions: RuntimeOptions = {
  maxBatch: 1000,
  maxInFlight: 2000,
  rescanIntervalMs: 5000,
  checkpointName: "views",
  parkIdleMs: 60_000,
};

interface Waiter {
  seq: number;
  resolve: () => void;
}

interface StreamFeed {
  namespace: string;
  stream: string;
  messages?: ConsumerMessages;
  applied: number;
  waiters: Waiter[];
  stopped: boolean;
  done: Promise<void>;
  /** A gap in the delivered sequences the stream confirmed (its message removed by hand): accepted when delivered again. */
  acceptedGapAt?: number;
  /** Watches a feed someone waits on: one that makes no progress is restarted (see {@link ProjectionRuntime.watchStall}). */
  stallTimer?: NodeJS.Timeout;
  /** The consumer of the running feed (deleted when the feed stops it). */
  consumer?: Consumer;
  /** When it last delivered a message (or was started). */
  lastActivity: number;
  /** Its consumer is being stopped to park it. */
  parking?: boolean;
  /** No consumer: idle, until something needs it (see {@link RuntimeOptions.parkIdleMs}). */
  parked?: boolean;
  /** A direct read of the log is applying this feed (see {@link ProjectionRuntime.readDirect}). */
  directReading?: boolean;
}

/**
 * A feed that someone waits on and that applied nothing for this long is
 * restarted from its checkpoint. On a cluster whose node holding the stream
 * leader died, nats.js's consumer waited without end (the client stayed
 * connected to another node, so no reconnect told it): the views stopped
 * while commands went on (issue 12). A feed awaited has its next event in
 * the log already (a command's append was acknowledged), so half a second
 * without it is a fault, not load: a backlog still makes progress.
 */
const stallRestartMs = 500;

/** Consumer creations in flight at once, for every runtime of the process (the live one and a rebuild's). */
const consumerCreations = new Limiter(16);

/** The consumer delivered a sequence past the next one: start again from the checkpoint rather than skip. */
class DeliveryGapError extends Error {
  constructor(
    readonly expected: number,
    readonly got: number,
  ) {
    super(`delivery gap: expected seq ${expected}, got ${got}`);
  }
}

/**
 * Consumes every namespace stream with an ordered consumer starting after its
 * checkpoint and folds batches of events into LMDB: the view rows, the subject
 * heads and the checkpoint commit in one transaction, so after a crash it
 * resumes without skipping or repeating an event.
 */
@injectable()
export class ProjectionRuntime {
  private readonly feeds = new Map<string, StreamFeed>();
  private advisories?: Subscription;
  private rescanTimer?: NodeJS.Timeout;
  private running = false;
  /** Called after each applied batch (the GC scheduler and event followers listen). */
  private readonly batchListeners: Array<(events: readonly StoredEvent[]) => void> = [];

  constructor(
    @inject(Tokens.EventStore) private readonly store: EventStore,
    @inject(Tokens.ViewStoreHolder) private readonly holder: ViewStoreHolder,
    @inject(Tokens.Projections) private readonly projections: readonly Projection[],
    @inject(Tokens.Logger) private readonly log: Logger,
    @inject(Tokens.RuntimeOptions) private readonly options: RuntimeOptions,
  ) {}

  private unlisten?: () => void;

  get views(): ViewStore {
    return this.holder.current;
  }

  /** Calls `listener` after each applied batch from now on; the function returned stops that. */
  onBatch(listener: (events: readonly StoredEvent[]) => void): () => void {
    this.batchListeners.push(listener);
    return () => {
      const i = this.batchListeners.indexOf(listener);
      if (i >= 0) this.batchListeners.splice(i, 1);
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unlisten = this.store.onStreamCreated((ns) => this.track(ns));
    this.watchReconnects();
    // Streams created by other processes: the advisory is immediate, the rescan a safety net.
    this.advisories = this.store.nc.subscribe("$JS.EVENT.ADVISORY.STREAM.CREATED.>", {
      callback: (err, msg) => {
        // Refused (the identity may not read advisories): the rescan still finds new streams.
        if (err) return void this.log.warn("stream advisories unavailable", { err: err.message });
        const stream = msg.subject.split(".").pop() ?? "";
        const ns = namespaceOfStream(stream);
        if (ns !== undefined) this.track(ns);
      },
    });
    await this.rescan();
    this.rescanTimer = setInterval(() => {
      this.parkIdle();
      this.rescan().catch((err) => this.log.warn("stream rescan failed", { err }));
    }, this.options.rescanIntervalMs);
    this.rescanTimer.unref();
  }

  /**
   * After a reconnect (nats-server restarted, a cluster node lost) every feed
   * starts a new consumer from its checkpoint at once. nats.js's ordered
   * consumer, recreated on its own, pulled a few dozen messages and then
   * waited ~45 s for missed heartbeats (STACK-NOTES): views stalled that long.
   */
  private watchReconnects(): void {
    this.unwatchConnection = watchConnection(this.store.nc, (s) => {
      if (!this.running || s.type !== "reconnect") return;
      this.log.info("reconnected to NATS: restarting the views' consumers from their checkpoints", { feeds: this.feeds.size });
      for (const feed of this.feeds.values()) feed.messages?.stop();
    });
  }

  private unwatchConnection?: () => void;

  async stop(): Promise<void> {
    this.running = false;
    this.unwatchConnection?.();
    this.unlisten?.();
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    this.advisories?.unsubscribe();
    const feeds = [...this.feeds.values()];
    for (const f of feeds) {
      f.stopped = true;
      f.messages?.stop();
    }
    await Promise.allSettled(feeds.map((f) => f.done));
    // Their consumers go too (sent before the connection drains; answers are not awaited).
    for (const f of feeds) {
      f.consumer?.delete().catch(() => {});
      f.consumer = undefined;
    }
    this.feeds.clear();
  }

  /**
   * Tracks streams created meanwhile; while some feed is parked, also reads
   * every stream's last sequence and starts the parked ones that grew (an
   * event another process appended).
   */
  async rescan(): Promise<void> {
    if (![...this.feeds.values()].some((f) => f.parked)) {
      // Only new streams: a feed parked while the listing was under way stays parked.
      for (const ns of await this.store.listNamespaces()) if (!this.feeds.has(streamName(ns))) this.track(ns);
      return;
    }
    for (const [ns, last] of await this.store.lastSequences()) {
      const feed = this.feeds.get(streamName(ns));
      if (!feed) this.track(ns);
      else if (feed.parked && last > feed.applied) this.resume(feed);
    }
  }

  /** Parks the feeds idle for {@link RuntimeOptions.parkIdleMs} that nobody waits on. */
  private parkIdle(): void {
    const idleMs = this.options.parkIdleMs;
    if (idleMs <= 0 || !this.running) return;
    const now = Date.now();
    for (const feed of this.feeds.values()) {
      if (feed.parked || feed.parking || !feed.messages || feed.waiters.length > 0 || now - feed.lastActivity < idleMs) continue;
      feed.parking = true;
      feed.messages.stop();
    }
  }

  /** How many feeds are parked (without a consumer). */
  parkedFeeds(): number {
    return [...this.feeds.values()].filter((f) => f.parked).length;
  }

  /** Starts a parked feed's consumer again, from its checkpoint. */
  private resume(feed: StreamFeed): void {
    if (!feed.parked || !this.running) return;
    feed.parked = false;
    feed.lastActivity = Date.now();
    feed.done = this.consume(feed);
  }

  /** Starts consuming a namespace's stream if this runtime is not already (a parked feed starts again). */
  track(namespace: string): void {
    if (!this.running) return;
    const stream = streamName(namespace);
    const known = this.feeds.get(stream);
    if (known) return this.resume(known);
    const feed: StreamFeed = {
      namespace,
      stream,
      applied: this.views.checkpoint(this.options.checkpointName, stream),
      waiters: [],
      stopped: false,
      done: Promise.resolve(),
      lastActivity: Date.now(),
    };
    this.feeds.set(stream, feed);
    feed.done = this.consume(feed);
  }

  /** Whether this runtime is consuming (or trying to consume) the namespace's stream. */
  tracking(namespace: string): boolean {
    return this.feeds.has(streamName(namespace));
  }

  /** The last sequence of the namespace's stream applied to the views (0 if none). */
  applied(namespace: string): number {
    const feed = this.feeds.get(streamName(namespace));
    return feed ? feed.applied : this.views.checkpoint(this.options.checkpointName, streamName(namespace));
  }

  /** Every tracked stream's applied sequence (the collector compares two readings). */
  appliedAll(): Map<string, number> {
    return new Map([...this.feeds].map(([stream, feed]) => [stream, feed.applied]));
  }

  /**
   * The namespace's applied sequence as a read transaction of `views` sees
   * it: the checkpoint committed with the rows that transaction reads.
   */
  appliedIn(views: ViewStore, namespace: string, transaction: Transaction): number {
    return views.checkpoint(this.options.checkpointName, streamName(namespace), transaction);
  }

  /**
   * A query's minimum rv (`Purser-Min-Rv`): waits until the views have applied
   * it. An rv the log itself has not reached can never be applied: that is
   * said at once rather than after the timeout (a client remembering an rv of
   * a log that was since wiped, or naming a namespace that has none).
   */
  async reachMinRv(namespace: string, rv: number, timeoutMs = 5000): Promise<void> {
    if (rv <= this.applied(namespace)) return;
    const last = await this.store.lastSequence(namespace);
    if (rv > last) {
      throw new PurserError(ErrorKind.FailedPrecondition, `rv ${rv} is beyond the log of namespace ${JSON.stringify(namespace)} (its last rv is ${last})`);
    }
    await this.waitFor(namespace, rv, timeoutMs);
  }

  /**
   * Resolves once the views have applied the namespace's stream up to `seq`;
   * Unavailable after `timeoutMs`.
   */
  async waitFor(namespace: string, seq: number, timeoutMs = 5000): Promise<void> {
    if (seq <= 0 || this.applied(namespace) >= seq) return;
    const deadline = Date.now() + timeoutMs;
    // A rebuild swaps view generations with the runtime stopped for a moment.
    while (!this.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.track(namespace);
    const feed = this.feeds.get(streamName(namespace));
    if (!feed) throw unavailable(`views are not running`);
    timeoutMs = Math.max(0, deadline - Date.now());
    if (feed.applied >= seq) return;
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { seq, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        feed.waiters = feed.waiters.filter((w) => w !== waiter);
        reject(unavailable(`views of namespace ${JSON.stringify(namespace)} have not reached rv ${seq} after ${timeoutMs}ms (at ${feed.applied})`));
      }, timeoutMs);
      feed.waiters.push(waiter);
      this.watchStall(feed);
    });
  }

  /** While `feed` has waiters, restart its consumer whenever a period passes with no progress. */
  private watchStall(feed: StreamFeed): void {
    if (feed.stallTimer) return;
    let seen = feed.applied;
    let stalled = 0;
    feed.stallTimer = setInterval(() => {
      if (feed.waiters.length === 0 || feed.stopped || !this.running) {
        clearInterval(feed.stallTimer);
        feed.stallTimer = undefined;
        return;
      }
      stalled = feed.applied === seen ? stalled + 1 : 0;
      if (stalled > 0 && feed.messages) {
        this.log.warn("views' consumer made no progress while awaited: restarting it from the checkpoint", { stream: feed.stream, applied: feed.applied });
        feed.messages.stop();
      }
      // Meanwhile the log is read directly from any replica: a new consumer may be
      // impossible for a while (a cluster electing its meta leader, 2–20 s measured),
      // and the consumer's node may be gone without anyone telling (its heartbeats
      // are missed only after two of their periods).
      if (stalled > 0) void this.readDirect(feed).catch((err) => this.log.debug("direct read of the log failed", { stream: feed.stream, err }));
      seen = feed.applied;
    }, stallRestartMs);
    feed.stallTimer.unref();
  }

  /** Waits until every namespace stream is applied up to its last sequence at the time of the call. */
  async catchUp(timeoutMs = 30_000): Promise<void> {
    const last = await this.store.lastSequences();
    for (const ns of last.keys()) this.track(ns);
    await Promise.all([...last].map(([ns, seq]) => this.waitFor(ns, seq, timeoutMs)));
  }

  private async consume(feed: StreamFeed): Promise<void> {
    let backoffMs = 100;
    /**
     * nats.js makes each ordered consumer with a 5-minute inactive threshold:
     * one stopped and not deleted stays on nats-server that long (a restarted
     * serve doubled the consumers for 5 minutes). Each one this loop leaves
     * behind is deleted, without waiting for the answer.
     */
    const dropConsumer = () => {
      const c = feed.consumer;
      feed.consumer = undefined;
      c?.delete().catch(() => {});
    };
    while (!feed.stopped && this.running) {
      try {
        // At most a few consumer creations at once: on a host with a thousand
        // namespaces, all at once timed out in JetStream's API (issue 15).
        const messages = await consumerCreations.run(async () => {
          const consumer = await this.store.js.consumers.get(feed.stream, {
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: feed.applied + 1,
          });
          feed.consumer = consumer;
          return consumer.consume({ max_messages: this.options.maxInFlight });
        });
        feed.messages = messages;
        // Missed heartbeats (the node holding the stream or the consumer is gone): start again at once.
        void (async () => {
          for await (const s of messages.status()) {
            if (s.type === "heartbeats_missed" && s.count >= 2) messages.stop();
          }
        })().catch(() => {});
        if (feed.stopped) messages.stop();
        let batch: JsMsg[] = [];
        let scheduled = false;
        const flush = () => {
          scheduled = false;
          // What a direct read (readDirect) applied meanwhile is not applied again.
          const b = batch.filter((m) => m.seq > feed.applied);
          batch = [];
          if (b.length === 0) return;
          this.applyBatch(feed, b);
        };
        for await (const m of messages) {
          feed.lastActivity = Date.now();
          if (m.seq <= feed.applied) continue; // redelivered after an ordered-consumer reset
          const expected = Math.max(batch.length > 0 ? batch[batch.length - 1]!.seq : 0, feed.applied) + 1;
          if (m.seq > expected && feed.applied > 0 && feed.acceptedGapAt !== expected) {
            // JetStream sequences of a stream we never purge are contiguous: a
            // consumer that skips some (seen after kill -9 and restarts, and
            // under load) must not make the views skip them. Apply what is
            // batched, then start a new consumer at the next sequence. A gap is
            // accepted only once the stream says the message is gone (removed
            // by hand): applyBatch then logs it.
            flush();
            throw new DeliveryGapError(expected, m.seq);
          }
          batch.push(m);
          if (batch.length >= this.options.maxBatch) flush();
          else if (!scheduled) {
            // Messages already buffered are yielded in microtasks; setImmediate runs
            // after they are drained, so a burst becomes one transaction.
            scheduled = true;
            setImmediate(() => {
              try {
                flush();
              } catch (err) {
                messages.stop(err as Error);
              }
            });
          }
        }
        flush();
        backoffMs = 100;
        dropConsumer();
        if (feed.parking) {
          // Stopped to park: no consumer until the feed is needed (resume starts this loop again).
          feed.parking = false;
          feed.messages = undefined;
          if (feed.waiters.length > 0) continue; // someone came to wait meanwhile
          feed.parked = true;
          this.log.debug("views' feed parked: idle", { stream: feed.stream, applied: feed.applied });
          return;
        }
      } catch (err) {
        feed.parking = false;
        feed.messages?.stop();
        dropConsumer();
        if (feed.stopped || !this.running) break;
        if (isJetStreamApiError(err, JetStreamApiCode.StreamNotFound) && feed.waiters.length === 0) {
          // Tracked for a wait on a namespace with no log (a min-rv query naming
          // it): nobody waits any more, so stop. Its creation's advisory, or the
          // rescan, tracks it again when it exists.
          this.feeds.delete(feed.stream);
          break;
        }
        if (err instanceof DeliveryGapError) {
          const removed = await this.messageRemoved(feed.stream, err.expected);
          if (removed) feed.acceptedGapAt = err.expected;
          this.log.warn("delivery gap; restarting the consumer from the checkpoint", { stream: feed.stream, expected: err.expected, got: err.got, removed });
          feed.applied = this.views.checkpoint(this.options.checkpointName, feed.stream);
          // The same glitch at once again would spin: a short, growing pause unless the gap is real.
          if (!removed) {
            await new Promise((r) => setTimeout(r, Math.min(backoffMs, 1000)));
            backoffMs = Math.min(backoffMs * 2, 5000);
          }
          continue;
        }
        this.log.error("projection consumer failed; restarting from checkpoint", { stream: feed.stream, err });
        feed.applied = this.views.checkpoint(this.options.checkpointName, feed.stream);
        // No consumer can be made while JetStream's meta leader is being elected
        // (a cluster node lost: 10–20 s, measured), though the stream answers.
        // Someone waits on these views: read on from any replica meanwhile.
        if (feed.waiters.length > 0 && (isTimeout(err) || isJetStreamApiError(err, JetStreamApiCode.ClusterNotAvailable) || isJetStreamApiError(err, JetStreamApiCode.ClusterNotLeader))) {
          await this.readDirect(feed).catch((e) => this.log.debug("direct read of the log failed too", { stream: feed.stream, err: e }));
        }
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  }

  /**
   * Applies what the log holds past the checkpoint without a consumer: direct
   * gets (`allow_direct`: any replica answers, no meta leader needed), one
   * sequence after another, in batches, until the stream has no next message.
   * Used only while no consumer can be made and someone waits.
   */
  private async readDirect(feed: StreamFeed): Promise<void> {
    if (feed.directReading) return;
    feed.directReading = true;
    try {
      await this.readDirectOnce(feed);
    } finally {
      feed.directReading = false;
    }
  }

  private async readDirectOnce(feed: StreamFeed): Promise<void> {
    const jsm = await this.store.manager();
    for (;;) {
      const batch: JsMsg[] = [];
      let end = false;
      const from = feed.applied;
      while (batch.length < this.options.maxBatch) {
        const m = await jsm.direct.getMessage(feed.stream, { seq: from + batch.length + 1 });
        if (!m) {
          end = true;
          break;
        }
        // What applyBatch reads of a JetStream message.
        batch.push({ data: m.data, headers: m.header, subject: m.subject, seq: m.seq, time: m.time, info: { stream: feed.stream } } as unknown as JsMsg);
      }
      // The consumer may have applied some meanwhile: only what follows its checkpoint, contiguous.
      const rest = batch.filter((m) => m.seq > feed.applied);
      if (rest.length > 0 && rest[0]!.seq === feed.applied + 1) this.applyBatch(feed, rest);
      if (end || feed.stopped || !this.running) return;
    }
  }

  /**
   * Whether the stream no longer holds message `seq` (removed by hand: the
   * views may move past it). Anything else — it is there, or the stream
   * cannot say now — is a glitch of the consumer, never accepted.
   */
  private async messageRemoved(stream: string, seq: number): Promise<boolean> {
    try {
      await (await this.store.manager()).streams.getMessage(stream, { seq });
      return false;
    } catch (err) {
      return isJetStreamApiError(err, JetStreamApiCode.NoMessageFound);
    }
  }

  /** Applies a batch in one LMDB transaction: rows, heads and checkpoint. */
  private applyBatch(feed: StreamFeed, batch: JsMsg[]): void {
    const { applied, last } = applyBatch(
      this.views,
      this.projections,
      feed.namespace,
      `${this.options.checkpointName}/${feed.stream}`,
      feed.applied,
      batch,
      this.log,
    );
    feed.applied = last;
    if (feed.waiters.length > 0) {
      const ready = feed.waiters.filter((w) => w.seq <= last);
      feed.waiters = feed.waiters.filter((w) => w.seq > last);
      for (const w of ready) w.resolve();
    }
    for (const l of this.batchListeners) {
      try {
        l(applied);
      } catch (err) {
        this.log.error("batch listener failed", { err });
      }
    }
  }
}
