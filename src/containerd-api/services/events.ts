import type { ServerWritableStream } from "@grpc/grpc-js";
import type { StoredEvent } from "../../events/envelope.js";
import type { DomainEvent } from "../../events/catalog.js";
import { invalidArgument, resourceExhausted, type PurserError } from "../../errors/errdefs.js";
import { toGrpcError } from "../grpc-errors.js";
import { identifierError, quote } from "../../validation/identifiers.js";
import { adaptEnvelope, parseFilters, type Filter } from "../../filters/index.js";
import type { ContainerdApiDefinitions } from "../protos.js";
import { anyOf, timestamp, type AnyMessage } from "../messages.js";
import type { PurserCalls } from "../purser-calls.js";
import { grpcFailure, type UnaryHandler } from "../unary.js";
import type { Logger } from "../../observability/logger.js";

/** Where events come from: every batch the views apply (ProjectionRuntime.onBatch). */
export interface EventFeed {
  onBatch(listener: (events: readonly StoredEvent[]) => void): () => void;
}

/** Bytes of events one subscriber may leave unread before its subscription ends: memory per subscriber has a bound. */
export const maxUnreadEventBytes = 16 * 1024 * 1024;

interface Envelope {
  timestamp: ReturnType<typeof timestamp>;
  namespace: string;
  topic: string;
  event: AnyMessage | null;
}

/**
 * The message containerd 1.6 publishes for a purser event (its full proto
 * name, which is also its type url: image events live in the images
 * service's package), with its proto field names, or undefined when containerd publishes nothing for it (leases,
 * ingests, content commits and updates, views, snapshot updates, GC expiries:
 * `purser events` shows those). Decided divergence: the containerd API's
 * Subscribe sends what containerd itself would, so its clients decode every
 * message.
 */
function containerdEvent(e: DomainEvent): { type: string; fields: Record<string, unknown> } | undefined {
  switch (e.type) {
    case "NamespaceCreated":
      return { type: "containerd.events.NamespaceCreate", fields: { name: e.data.namespace.name, labels: e.data.namespace.labels } };
    case "NamespaceUpdated":
      return { type: "containerd.events.NamespaceUpdate", fields: { name: e.data.namespace.name, labels: e.data.namespace.labels } };
    case "NamespaceDeleted":
      return { type: "containerd.events.NamespaceDelete", fields: { name: e.data.name } };
    case "ImageCreated":
      return { type: "containerd.services.images.v1.ImageCreate", fields: { name: e.data.image.name, labels: e.data.image.labels } };
    case "ImageUpdated":
      return { type: "containerd.services.images.v1.ImageUpdate", fields: { name: e.data.image.name, labels: e.data.image.labels } };
    case "ImageDeleted":
      return { type: "containerd.services.images.v1.ImageDelete", fields: { name: e.data.name } };
    case "ContainerCreated": {
      const c = e.data.container;
      const options = anyOf(c.runtime.options);
      return { type: "containerd.events.ContainerCreate", fields: { id: c.id, image: c.image, runtime: { name: c.runtime.name, ...(options ? { options } : {}) } } };
    }
    case "ContainerUpdated": {
      const c = e.data.container;
      return { type: "containerd.events.ContainerUpdate", fields: { id: c.id, image: c.image, labels: c.labels, snapshot_key: c.snapshotKey } };
    }
    case "ContainerDeleted":
      return { type: "containerd.events.ContainerDelete", fields: { id: e.data.id } };
    case "ContentDeleted":
      return { type: "containerd.events.ContentDelete", fields: { digest: e.data.digest } };
    case "SnapshotPrepared":
      return { type: "containerd.events.SnapshotPrepare", fields: { key: e.data.snapshot.key, parent: e.data.snapshot.parent } };
    case "SnapshotCommitted":
      return { type: "containerd.events.SnapshotCommit", fields: { key: e.data.key, name: e.data.snapshot.key } };
    case "SnapshotRemoved":
      return { type: "containerd.events.SnapshotRemove", fields: { key: e.data.key } };
    default:
      return undefined;
  }
}

/**
 * `containerd.services.events.v1.Events`. `Subscribe` streams, from the
 * moment it is called, the events of every namespace as the views apply them
 * (so a subscriber never hears of a change before a query can see it), as
 * containerd's envelopes, filtered by containerd's filters on `namespace`,
 * `topic` and `event.<field>`. `Publish` and `Forward` (what a runtime shim
 * sends) reach the current subscribers only: they are not purser's changes,
 * so they are not appended to the log.
 */
export class EventsService {
  private readonly subscribers = new Set<(envelope: Envelope, fields: Record<string, unknown>) => void>();
  private readonly stopFeed: () => void;
  private readonly streams = new Set<ServerWritableStream<any, any>>();

  constructor(
    private readonly api: ContainerdApiDefinitions,
    private readonly calls: PurserCalls,
    feed: EventFeed,
    private readonly log: Logger,
    private readonly maxUnreadBytes = maxUnreadEventBytes,
  ) {
    this.stopFeed = feed.onBatch((events) => {
      if (this.subscribers.size === 0) return;
      for (const stored of events) this.fromLog(stored);
    });
  }

  unary(): Record<string, UnaryHandler> {
    return {
      publish: async (call) => {
        let ns: string;
        try {
          ns = this.calls.namespaceOf(call.metadata);
        } catch (err) {
          throw (err as PurserError).wrap("failed publishing event");
        }
        const topic: string = call.request.topic;
        validateTopic(topic);
        this.broadcast({ timestamp: timestamp(new Date().toISOString()), namespace: ns, topic, event: call.request.event }, {});
        return {};
      },
      forward: async (call) => {
        const e = call.request.envelope;
        if (!e) throw invalidArgument("envelope is required");
        const bad = identifierError(e.namespace);
        if (bad) throw bad.wrap("event envelope has invalid namespace");
        validateTopic(e.topic);
        if (!e.timestamp || (Number(e.timestamp.seconds) === 0 && Number(e.timestamp.nanos) === 0)) throw invalidArgument("timestamp must be set on forwarded event");
        this.broadcast({ timestamp: e.timestamp, namespace: e.namespace, topic: e.topic, event: e.event }, {});
        return {};
      },
    };
  }

  /** Ends every subscription (the server stops). */
  close(): void {
    this.stopFeed();
    this.subscribers.clear();
    for (const call of this.streams) call.end();
    this.streams.clear();
  }

  /**
   * `Subscribe`: runs until the client goes. What the client does not read
   * waits here, up to {@link maxUnreadEventBytes}; past that the subscription
   * ends with ResourceExhausted (containerd's queue has no bound: one stuck
   * subscriber grew its memory without end).
   */
  subscribe(call: ServerWritableStream<any, any>): void {
    let filter: Filter;
    try {
      filter = parseFilters(call.request.filters ?? []);
    } catch (err) {
      call.emit("error", grpcFailure(err, this.log, "Events/Subscribe"));
      return;
    }
    const unread: Envelope[] = [];
    let unreadBytes = 0;
    let blocked = false; // gRPC's own buffer is full: wait for its drain
    const drain = () => {
      blocked = false;
      let sent = 0;
      while (sent < unread.length && !blocked) {
        const next = unread[sent++]!;
        unreadBytes -= envelopeBytes(next);
        blocked = !call.write(next);
      }
      unread.splice(0, sent); // once per drain: shift() per event is quadratic in a long backlog
    };
    const send = (envelope: Envelope, fields: Record<string, unknown>) => {
      if (!filter.match(adaptEnvelope({ namespace: envelope.namespace, topic: envelope.topic, event: fields }))) return;
      if (!blocked) {
        blocked = !call.write(envelope);
        return;
      }
      unread.push(envelope);
      unreadBytes += envelopeBytes(envelope);
      if (unreadBytes <= this.maxUnreadBytes) return;
      stop();
      unread.length = 0;
      const error = resourceExhausted(`events subscriber left more than ${this.maxUnreadBytes} bytes of events unread: subscription ended`);
      this.log.warn("events subscription ended: its client does not read", { peer: call.getPeer(), unreadBytes });
      // Sent after what gRPC holds already, once the client reads again.
      call.emit("error", toGrpcError(error));
    };
    this.subscribers.add(send);
    this.streams.add(call);
    call.on("drain", drain);
    const stop = () => {
      this.subscribers.delete(send);
      this.streams.delete(call);
      call.off("drain", drain);
    };
    call.once("cancelled", stop);
    call.once("close", stop);
    call.once("error", stop);
  }

  private fromLog(stored: StoredEvent): void {
    const c = containerdEvent(stored.event);
    if (!c) return;
    const type = this.api.messageType(c.type);
    const value = Buffer.from(type.encode(type.fromObject(c.fields)).finish());
    this.broadcast({ timestamp: timestamp(stored.time), namespace: stored.namespace, topic: stored.topic, event: { type_url: c.type, value } }, c.fields);
  }

  private broadcast(envelope: Envelope, fields: Record<string, unknown>): void {
    for (const send of [...this.subscribers]) send(envelope, fields);
  }
}

/** About what an envelope holds in memory: its event's bytes and its strings. */
function envelopeBytes(e: Envelope): number {
  return (e.event?.value?.length ?? 0) + (e.event?.type_url?.length ?? 0) + e.topic.length + e.namespace.length + 64;
}

/** containerd `exchange.validateTopic`: an absolute path of at least one component, each an identifier. */
function topicError(topic: string): PurserError | undefined {
  if (topic === "") return invalidArgument("must not be empty");
  if (!topic.startsWith("/")) return invalidArgument("must start with '/'");
  if (topic.length === 1) return invalidArgument("must have at least one component");
  for (const component of topic.slice(1).split("/")) {
    const err = identifierError(component);
    if (err) return err.wrap(`failed validation on component ${quote(component)}`);
  }
  return undefined;
}

function validateTopic(topic: string): void {
  const err = topicError(topic);
  if (err) throw err.wrap(`envelope topic ${quote(topic)}`);
}
