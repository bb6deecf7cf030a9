import type { JsMsg } from "@nats-io/jetstream";
import { decodeEventBody, EventHeader, type StoredEvent } from "./envelope.js";

/** Turns a JetStream message of a namespace stream into a {@link StoredEvent}. */
export function storedEventFromMsg(namespace: string, m: JsMsg): StoredEvent {
  const { event, version } = decodeEventBody(m.data);
  const h = m.headers;
  return {
    event,
    version,
    namespace,
    stream: m.info.stream,
    subject: m.subject,
    seq: m.seq,
    time: m.time.toISOString(),
    topic: h?.get(EventHeader.Topic) ?? "",
    context: {
      eventId: h?.get(EventHeader.EventId) ?? "",
      correlationId: h?.get(EventHeader.CorrelationId) ?? "",
      causationId: h?.get(EventHeader.CausationId) ?? "",
      actor: h?.get(EventHeader.Actor) ?? "",
    },
  };
}
