import { failedPrecondition, resourceExhausted, unavailable } from "../errors/errdefs.js";
import { randomUUID } from "node:crypto";
import {
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { inject, injectable } from "../di.js";
import { Tokens } from "../tokens.js";
import type { DomainEvent } from "./catalog.js";
import { encodeEventBody, eventHeaders, type EventContext } from "./envelope.js";
import { namespaceOfStream, streamName, streamPrefix, streamSubjects } from "./subjects.js";
import { isTimeout } from "../protocol/transport-errors.js";
import { isJetStreamApiError, isJetStreamNotEnabled, isJetStreamOutOfSpace, JetStreamApiCode } from "./jetstream-errors.js";

/** The optimistic-concurrency expectation of one append. */
export type Expectation =
  | { lastSubjectSequence: number }
  | {
      lastSequence: number;
      /**
       * And the stream's last message must have this `Nats-Msg-Id`
       * (`Nats-Expected-Last-Msg-Id`): a chain of appends sent before the
       * previous one's ack lands only behind that very append.
       */
      lastMsgId?: string;
    }
  | { none: true };

export interface PendingEvent {
  event: DomainEvent;
  subject: string;
  expect: Expectation;
  /** `Nats-Msg-Id`: a retried command appends once within the duplicate window. */
  msgId: string;
  /**
   * How far the writer's views had read this namespace's log (its rv when
   * deciding). A stream found gone while this is above 0 was deleted outside
   * purser: it is not made again, empty, under views that still hold it.
   */
  logRv?: number;
}

export interface AppendResult {
  seq: number;
  duplicate: boolean;
}

/** An append was refused because the stream or subject moved on (OCC). */
export class WrongExpectedSequenceError extends Error {
  override readonly name = "WrongExpectedSequenceError";
  constructor(
    readonly stream: string,
    readonly subject: string,
    readonly expected: Expectation,
    /** The sequence the server reported as current. */
    readonly actual: number,
  ) {
    super(`wrong last sequence on ${subject}: expected ${JSON.stringify(expected)}, actual ${actual}`);
  }
}

export interface EventStoreOptions {
  /** Replicas of each namespace stream (3 on a cluster). */
  replicas: number;
  /**
   * Namespaces (streams: a deleted namespace keeps its log) the host may
   * have: each costs nats-server memory and idle CPU (`serve --max-namespaces`).
   */
  maxNamespaces: number;
  /** JetStream duplicate window for `Nats-Msg-Id`, in milliseconds. */
  duplicateWindowMs: number;
}

export const defaultEventStoreOptions: EventStoreOptions = { replicas: 1, duplicateWindowMs: 120_000, maxNamespaces: 4096 };

/**
 * The thin adapter between purser and JetStream: one stream per namespace,
 * appends with OCC and message ids, and the stream listing projections need.
 */
@injectable()
export class EventStore {
  readonly js: JetStreamClient;
  private jsmPromise: Promise<JetStreamManager> | undefined;
  private briefJsmPromise: Promise<JetStreamManager> | undefined;
  private readonly knownStreams = new Set<string>();
  private readonly streamCreatedListeners: Array<(namespace: string) => void> = [];

  constructor(
    @inject(Tokens.NatsConnection) readonly nc: NatsConnection,
    @inject(Tokens.EventStoreOptions) private readonly options: EventStoreOptions,
  ) {
    this.js = jetstream(nc);
  }

  manager(): Promise<JetStreamManager> {
    this.jsmPromise ??= jetstreamManager(this.nc);
    return this.jsmPromise;
  }

  /** A manager whose requests give up after {@link appendRetryAttemptMs} (no API check: the meta layer may be electing). */
  private briefManager(): Promise<JetStreamManager> {
    this.briefJsmPromise ??= jetstreamManager(this.nc, { timeout: appendRetryAttemptMs, checkAPI: false });
    return this.briefJsmPromise;
  }

  /**
   * Whether JetStream says the stream does not exist, asked briefly: no
   * answer in time is a leader being elected, not a stream gone.
   */
  private async streamGone(name: string): Promise<boolean> {
    try {
      await (await this.briefManager()).streams.info(name);
      return false;
    } catch (err) {
      return isJetStreamApiError(err, JetStreamApiCode.StreamNotFound);
    }
  }

  /** Called when this process creates a namespace stream, so projections pick it up at once. */
  onStreamCreated(listener: (namespace: string) => void): () => void {
    this.streamCreatedListeners.push(listener);
    return () => {
      const i = this.streamCreatedListeners.indexOf(listener);
      if (i >= 0) this.streamCreatedListeners.splice(i, 1);
    };
  }

  /** The last sequence of every namespace stream, a page of streams per request. */
  async lastSequences(): Promise<Map<string, number>> {
    const jsm = await this.manager();
    const out = new Map<string, number>();
    for await (const info of jsm.streams.list("purser.ev.>")) {
      const ns = namespaceOfStream(info.config.name);
      if (ns !== undefined) out.set(ns, info.state.last_seq);
    }
    return out;
  }

  /** Namespaces with a stream, as last counted (ensureStream's bound). */
  private streamCount?: { n: number; at: number };

  /**
   * Creates the namespace's stream if it does not exist (idempotent across
   * processes) — unless the caller's views have read it up to `logRv` > 0:
   * then it existed and was deleted outside purser ({@link logDeleted}).
   */
  ensureStream(namespace: string, logRv = 0): Promise<void> {
    const name = streamName(namespace);
    if (this.knownStreams.has(name)) return Promise.resolve();
    // One look-up and creation per stream at a time: the first writes into a
    // new namespace come together (16 at once in a test), and as many
    // concurrent creations of one R3 stream kept the cluster's meta leader
    // busy past the API's 5 s ("log unavailable: timeout", once in CI).
    // Writers of one process share its views, so they share the rv check too.
    let ensuring = this.ensuring.get(name);
    if (!ensuring) {
      ensuring = this.findOrCreateStream(namespace, name, logRv).finally(() => this.ensuring.delete(name));
      this.ensuring.set(name, ensuring);
    }
    return ensuring;
  }

  private readonly ensuring = new Map<string, Promise<void>>();

  private async findOrCreateStream(namespace: string, name: string, logRv: number): Promise<void> {
    // There already (hasStream records it as known): nothing to create or wait for.
    if (await this.hasStream(namespace)) return;
    if (logRv > 0) throw logDeleted(namespace, logRv);
    // The count is listed at most once a second (and again at the bound), so creating many namespaces stays linear.
    const now = Date.now();
    if (!this.streamCount || now - this.streamCount.at > 1000 || this.streamCount.n >= this.options.maxNamespaces) {
      this.streamCount = { n: (await this.listNamespaces()).length, at: now };
    }
    if (this.streamCount.n >= this.options.maxNamespaces) {
      throw failedPrecondition(
        `cannot create namespace ${JSON.stringify(namespace)}: the host has ${this.streamCount.n} namespaces with a log, the most serve --max-namespaces allows`,
      );
    }
    this.streamCount.n++;
    const jsm = await this.manager();
    try {
      // Another process may create it meanwhile: adding a stream that exists
      // with the same configuration answers its info.
      await jsm.streams.add({
        name,
        subjects: streamSubjects(namespace),
        storage: StorageType.File,
        num_replicas: this.options.replicas,
        allow_direct: true,
        duplicate_window: this.options.duplicateWindowMs * 1_000_000,
        description: `purser events of namespace ${JSON.stringify(namespace)}`,
      });
      // A replicated stream answers its creation before it has a leader; a
      // write then gets no responder. Wait for the leader first (issue 12).
      if (this.options.replicas > 1) await this.awaitLeader(name);
      for (const l of this.streamCreatedListeners) l(namespace);
    } catch (err) {
      // It exists with another configuration (an operator changed it): use it as it is.
      if (!isJetStreamApiError(err, JetStreamApiCode.StreamNameExists)) throw err;
    }
    this.knownStreams.add(name);
  }

  /** Resolves once the stream has a leader; Unavailable after 10 s (the cluster cannot elect one). */
  private async awaitLeader(name: string): Promise<void> {
    const jsm = await this.manager();
    const deadline = Date.now() + 10_000;
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
      const info = await jsm.streams.info(name).catch(() => undefined);
      if (info && (info.cluster === undefined || info.cluster.leader)) return;
      if (Date.now() > deadline) throw unavailable(`stream ${name} has no leader after 10s: the cluster is still electing one`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Whether the namespace has a stream (i.e. has ever been written to). */
  async hasStream(namespace: string): Promise<boolean> {
    const name = streamName(namespace);
    if (this.knownStreams.has(name)) return true;
    const jsm = await this.manager();
    try {
      await jsm.streams.info(name);
      this.knownStreams.add(name);
      return true;
    } catch (err) {
      if (isJetStreamApiError(err, JetStreamApiCode.StreamNotFound)) return false;
      throw err;
    }
  }

  /** The last sequence of the namespace's stream (0 when empty or absent). */
  async lastSequence(namespace: string): Promise<number> {
    const jsm = await this.manager();
    try {
      const info = await jsm.streams.info(streamName(namespace));
      return info.state.last_seq;
    } catch (err) {
      if (isJetStreamApiError(err, JetStreamApiCode.StreamNotFound)) return 0;
      throw err;
    }
  }

  /** Namespaces that have a stream. */
  async listNamespaces(): Promise<string[]> {
    const jsm = await this.manager();
    const out: string[] = [];
    for await (const name of jsm.streams.names(`${"purser.ev"}.>`)) {
      if (!name.startsWith(streamPrefix)) continue;
      const ns = namespaceOfStream(name);
      if (ns !== undefined) out.push(ns);
    }
    return out.sort();
  }

  /**
   * Appends one event with its expectation. Throws
   * {@link WrongExpectedSequenceError} when the expectation does not hold.
   */
  async append(namespace: string, pending: PendingEvent, context: EventContext): Promise<AppendResult> {
    // Once the stream is known, the publish leaves synchronously within this
    // call: appends issued one after another reach the server in that order.
    if (!this.knownStreams.has(streamName(namespace))) await this.ensureStream(namespace, pending.logRv);
    const expect =
      "lastSubjectSequence" in pending.expect
        ? { lastSubjectSequence: pending.expect.lastSubjectSequence }
        : "lastSequence" in pending.expect
          ? {
              lastSequence: pending.expect.lastSequence,
              ...(pending.expect.lastMsgId !== undefined ? { lastMsgID: pending.expect.lastMsgId } : {}),
            }
          : {};
    const body = encodeEventBody(pending.event);
    const headers = eventHeaders(pending.event, namespace, context);
    const deadline = Date.now() + appendRetryMs;
    let recreated = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const timeout = attempt === 0 ? appendAttemptMs : appendRetryAttemptMs;
        const ack = await this.js.publish(pending.subject, body, { msgID: pending.msgId, expect, headers, timeout });
        return { seq: ack.seq, duplicate: ack.duplicate };
      } catch (err) {
        // Wrong last sequence, or wrong last msg id (then the actual sequence is unknown: -1).
        if (isJetStreamApiError(err, JetStreamApiCode.StreamWrongLastSequence) || isJetStreamApiError(err, JetStreamApiCode.StreamWrongLastMsgId)) {
          const m = /wrong last sequence: (\d+)/.exec(err.message);
          throw new WrongExpectedSequenceError(
            streamName(namespace),
            pending.subject,
            pending.expect,
            m ? Number(m[1]) : -1,
          );
        }
        // The log itself has no room: say so in containerd's class, the store's words included.
        if (isJetStreamOutOfSpace(err)) throw resourceExhausted(`the event log of namespace ${JSON.stringify(namespace)} has no room: ${err.message}`);
        // No responders: the stream vanished (deleted by an operator) since we
        // cached it — or its leader is being elected, which answers the same.
        // Only a stream JetStream says is gone is made again (and only for a
        // writer whose views never read it: ensureStream); asking with the
        // manager (5 s) during an election failed the command after 5 s.
        if (isJetStreamNotEnabled(err) && !recreated && (await this.streamGone(streamName(namespace)))) {
          recreated = true;
          this.knownStreams.delete(streamName(namespace));
          await this.ensureStream(namespace, pending.logRv);
          continue;
        }
        // No ack in time, or no leader to answer: the stream's leader is being
        // elected again (its node died). The same message again is safe — its
        // msg id makes JetStream answer a duplicate if the first one landed —
        // and lands as soon as a new leader is there.
        if ((isTimeout(err) || isJetStreamNotEnabled(err)) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw err;
      }
    }
  }
}

/**
 * A namespace's stream deleted outside purser (an operator with JetStream
 * rights) while the views still hold its state: a new, empty stream under
 * them would start at rv 1 and the views, past it, would never apply what
 * lands there. The operator chooses: restore the stream, or rebuild the views
 * from the log as it is (the namespace is then gone, and can be made again).
 */
function logDeleted(namespace: string, rv: number) {
  return failedPrecondition(
    `the log of namespace ${JSON.stringify(namespace)} is gone (its stream was deleted outside purser) while the views hold it up to rv ${rv}: restore the stream, or run \`purser rebuild\` to make the views match the log`,
  );
}

/** One publish waits this long for its ack… */
const appendAttemptMs = 2_000;
/**
 * …and once one has gone unanswered, each retry this long: a new leader is
 * asked for within about this of being elected. With 2 s retries and growing
 * pauses, the attempt under way when JetStream had its leader again ran on,
 * and commands came back 2–5 s after JetStream did (the cluster fault test).
 */
const appendRetryAttemptMs = 500;
/** …and an append is retried for this long (within a client's 10 s request timeout). */
const appendRetryMs = 7_000;

export function newEventContext(causationId: string, correlationId: string, actor: string): EventContext {
  return { eventId: randomUUID(), causationId, correlationId, actor };
}
