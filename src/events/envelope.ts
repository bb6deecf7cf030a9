import { decodeMsgpack as decode, encodeEventMsgpack as encode } from "./msgpack.js";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { schemaProblem } from "./event-schemas.js";
import { eventCatalog, isEventType, type DomainEvent, type EventType } from "./catalog.js";
import { upcast, upcasters, type UpcasterTable } from "./upcasters.js";

/** Header names carried by every event message (see docs/events.md). */
export const EventHeader = {
  Type: "Purser-Event-Type",
  Version: "Purser-Event-Version",
  EventId: "Purser-Event-Id",
  CorrelationId: "Purser-Correlation-Id",
  CausationId: "Purser-Causation-Id",
  Actor: "Purser-Actor",
  Topic: "Purser-Topic",
  Namespace: "Purser-Namespace",
} as const;

/** Who and what caused an event: carried in headers, not in the body. */
export interface EventContext {
  eventId: string;
  correlationId: string;
  /** The command id (or the GC run id) that produced the event. */
  causationId: string;
  actor: string;
}

/** An event as it was read back from the log, with its position. */
export interface StoredEvent {
  event: DomainEvent;
  version: number;
  namespace: string;
  stream: string;
  subject: string;
  /** The stream sequence: the namespace's rv after this event. */
  seq: number;
  /** When JetStream stored it (RFC 3339). */
  time: string;
  topic: string;
  context: EventContext;
}

/** The msgpack body of an event message: `{type, version, data}`. */
export function encodeEventBody(event: DomainEvent): Uint8Array {
  const info = eventCatalog[event.type];
  return encode({ type: event.type, version: info.version, data: event.data });
}

export function eventHeaders(event: DomainEvent, namespace: string, context: EventContext): MsgHdrs {
  const h = natsHeaders();
  const info = eventCatalog[event.type];
  h.set(EventHeader.Type, event.type);
  h.set(EventHeader.Version, String(info.version));
  h.set(EventHeader.EventId, context.eventId);
  h.set(EventHeader.CorrelationId, context.correlationId);
  h.set(EventHeader.CausationId, context.causationId);
  h.set(EventHeader.Actor, context.actor);
  h.set(EventHeader.Topic, info.topic);
  h.set(EventHeader.Namespace, namespace);
  return h;
}

export class EventDecodeError extends Error {
  override readonly name = "EventDecodeError";
}

/**
 * Decodes an event body, upcasting older schema versions to the current one.
 * Throws {@link EventDecodeError} for anything that is not a purser event.
 */
export function decodeEventBody(
  body: Uint8Array,
  table: UpcasterTable = upcasters,
): { event: DomainEvent; version: number } {
  let raw: unknown;
  try {
    raw = decode(body);
  } catch (err) {
    throw new EventDecodeError("event body is not msgpack", { cause: err });
  }
  if (typeof raw !== "object" || raw === null) throw new EventDecodeError("event body is not a map");
  const { type, version, data } = raw as Record<string, unknown>;
  if (!isEventType(type)) throw new EventDecodeError(`unknown event type ${JSON.stringify(type)}`);
  const current = eventCatalog[type as EventType].version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1 || version > current) {
    throw new EventDecodeError(`unsupported version ${JSON.stringify(version)} of ${type}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data) || data instanceof Uint8Array) throw new EventDecodeError(`the data of ${type} is not a map`);
  const upcastData = version === current ? data : upcast(table, type, version, current, data);
  const problem = schemaProblem(type as EventType, upcastData);
  if (problem) throw new EventDecodeError(`${type} does not fit its schema: ${problem}`);
  return { event: { type, data: upcastData } as DomainEvent, version: current };
}
