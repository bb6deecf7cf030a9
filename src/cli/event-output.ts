import { containerdPayload } from "../events/containerd-payload.js";
import type { StoredEvent } from "../events/envelope.js";
import { adaptEnvelope, type Adaptor } from "../filters/index.js";

/**
 * How `purser events` shows an event: the filter fields it offers, the
 * `ctr events` line and the JSON record.
 */

/** `event.<field>` reads containerd's payload first, then purser's full-state data. */
export function eventAdaptor(e: StoredEvent): Adaptor {
  const compat = adaptEnvelope({ namespace: e.namespace, topic: e.topic, event: containerdPayload(e.event) });
  const full = adaptEnvelope({ namespace: e.namespace, topic: e.topic, event: e.event.data });
  return (path) => compat(path) ?? full(path);
}

/** `TIME NAMESPACE TOPIC JSON`, with the time as Go prints a time.Time (as `ctr events` does). */
export function eventLine(e: StoredEvent): string {
  return `${goTime(e.time)} ${e.namespace} ${e.topic} ${JSON.stringify(containerdPayload(e.event), goBytes)}`;
}

/** Bytes as Go's encoding/json writes `[]byte` (base64); an Any's empty value omitted (gogo's `omitempty`). */
function goBytes(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return key === "value" && raw.length === 0 ? undefined : Buffer.from(raw).toString("base64");
  return value;
}

export function eventJson(e: StoredEvent) {
  return {
    time: e.time,
    namespace: e.namespace,
    topic: e.topic,
    type: e.event.type,
    version: e.version,
    rv: e.seq,
    subject: e.subject,
    eventId: e.context.eventId,
    correlationId: e.context.correlationId,
    causationId: e.context.causationId,
    actor: e.context.actor,
    event: containerdPayload(e.event),
    data: e.event.data,
  };
}

function goTime(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000000 +0000 UTC`
  );
}
