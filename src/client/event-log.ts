import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { StoredEvent } from "../events/envelope.js";
import { storedEventFromMsg } from "../events/stored-event.js";
import { namespaceOfStream, streamName, streamPrefix } from "../events/subjects.js";
import { isJetStreamApiError, JetStreamApiCode } from "../events/jetstream-errors.js";
import { permissionDenied } from "../errors/errdefs.js";
import { isPermissionViolation } from "../protocol/transport-errors.js";

/**
 * Reads the audit log straight from JetStream (no purser process needed): the
 * events of one or all namespaces, from the start, an rv or a time, either what
 * the log holds now (then it returns) or following new events until aborted.
 */
export interface ReadEventsOptions {
  /** Namespaces to read; undefined means every namespace, including ones created while following. */
  namespaces?: readonly string[];
  /** Start at this rv (stream sequence) of each namespace. */
  fromRv?: number;
  /** Start at the first event stored at or after this time. */
  since?: Date;
  follow: boolean;
  signal?: AbortSignal;
  /** Called for messages on purser subjects that are not purser events. */
  onUndecodable?: (namespace: string, seq: number, err: unknown) => void;
}

export async function readEvents(nc: NatsConnection, options: ReadEventsOptions, onEvent: (event: StoredEvent) => void): Promise<void> {
  try {
    await readEventsOf(nc, options, onEvent);
  } catch (err) {
    // A tenant reading more than its namespaces' streams (every namespace, another tenant's).
    if (isPermissionViolation(err)) throw permissionDenied(`this identity may not read ${options.namespaces ? `the log of ${options.namespaces.join(", ")}` : "every namespace's log"}`);
    throw err;
  }
}

async function readEventsOf(nc: NatsConnection, options: ReadEventsOptions, onEvent: (event: StoredEvent) => void): Promise<void> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const existing = async (): Promise<string[]> => {
    const out: string[] = [];
    if (options.namespaces) {
      // Named namespaces are looked up one by one: a tenant may read its streams but not list everyone's.
      for (const ns of options.namespaces) {
        try {
          await jsm.streams.info(streamName(ns));
          out.push(ns);
        } catch (err) {
          if (!isJetStreamApiError(err, JetStreamApiCode.StreamNotFound)) throw err;
        }
      }
      return [...new Set(out)].sort();
    }
    for await (const name of jsm.streams.names("purser.ev.>")) {
      const ns = name.startsWith(streamPrefix) ? namespaceOfStream(name) : undefined;
      if (ns !== undefined) out.push(ns);
    }
    return out.sort();
  };

  const deliver = () =>
    options.fromRv !== undefined && options.fromRv > 0
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.fromRv }
      : options.since
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.since.toISOString() }
        : { deliver_policy: DeliverPolicy.All };

  const handle = (ns: string, m: JsMsg) => {
    try {
      onEvent(storedEventFromMsg(ns, m));
    } catch (err) {
      options.onUndecodable?.(ns, m.seq, err);
    }
  };

  const readOne = async (ns: string, untilSeq: number | undefined): Promise<void> => {
    const stream = streamName(ns);
    if (untilSeq !== undefined) {
      const info = await jsm.streams.info(stream);
      if (info.state.last_seq === 0 || (options.fromRv ?? 0) > info.state.last_seq) return;
      untilSeq = info.state.last_seq;
      if (options.since && info.state.last_ts && new Date(info.state.last_ts) < options.since) return;
    }
    const consumer = await js.consumers.get(stream, deliver());
    const messages = await consumer.consume({ max_messages: 1000 });
    const stop = () => messages.stop();
    options.signal?.addEventListener("abort", stop, { once: true });
    try {
      for await (const m of messages) {
        handle(ns, m);
        if (untilSeq !== undefined && m.seq >= untilSeq) break;
      }
    } finally {
      options.signal?.removeEventListener("abort", stop);
      messages.stop();
    }
  };

  if (!options.follow) {
    for (const ns of await existing()) await readOne(ns, 0);
    return;
  }

  const following = new Map<string, Promise<void>>();
  const follow = (ns: string) => {
    if (following.has(ns) || options.signal?.aborted) return;
    following.set(ns, readOne(ns, undefined));
  };
  const advisories = nc.subscribe("$JS.EVENT.ADVISORY.STREAM.CREATED.>", {
    callback: (err, msg) => {
      if (err) return; // may not read advisories (a tenant): the named namespaces are followed all the same
      const ns = namespaceOfStream(msg.subject.split(".").pop() ?? "");
      if (ns !== undefined && (!options.namespaces || options.namespaces.includes(ns))) follow(ns);
    },
  });
  try {
    for (const ns of await existing()) follow(ns);
    await new Promise<void>((resolve) => {
      if (options.signal?.aborted) return resolve();
      options.signal?.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    advisories.unsubscribe();
    await Promise.allSettled(following.values());
  }
}
