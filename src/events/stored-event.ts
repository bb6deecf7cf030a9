import type { JsMsg } from "@nats-io/jetstream";
import type { DomainEvent } from "./catalog.js";
import { eventCatalog } from "./catalog.js";
import { decodeEventBody, EventHeader, type EventContext, type StoredEvent } from "./envelope.js";

/**
 * A {@link StoredEvent} read from a JetStream message. Parsing a message's
 * headers measured as the largest per-event cost of a replay after the
 * decoding of the body, and projections rarely need them: the context is
 * parsed on first use, and the topic follows from the event type.
 */
class MessageEvent implements StoredEvent {
  readonly event: DomainEvent;
  readonly version: number;
  readonly stream: string;
  readonly subject: string;
  readonly seq: number;
  private parsedContext?: EventContext;
  private parsedTime?: string;

  constructor(
    readonly namespace: string,
    private readonly m: JsMsg,
  ) {
    const { event, version } = decodeEventBody(m.data);
    this.event = event;
    this.version = version;
    this.stream = m.info.stream;
    this.subject = m.subject;
    this.seq = m.seq;
  }

  get time(): string {
    this.parsedTime ??= this.m.time.toISOString();
    return this.parsedTime;
  }

  get topic(): string {
    return eventCatalog[this.event.type].topic;
  }

  get context(): EventContext {
    if (!this.parsedContext) {
      const h = this.m.headers;
      this.parsedContext = {
        eventId: h?.get(EventHeader.EventId) ?? "",
        correlationId: h?.get(EventHeader.CorrelationId) ?? "",
        causationId: h?.get(EventHeader.CausationId) ?? "",
        actor: h?.get(EventHeader.Actor) ?? "",
      };
    }
    return this.parsedContext;
  }
}

/** Turns a JetStream message of a namespace stream into a {@link StoredEvent}. */
export function storedEventFromMsg(namespace: string, m: JsMsg): StoredEvent {
  return new MessageEvent(namespace, m);
}
