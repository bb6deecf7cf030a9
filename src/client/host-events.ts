import { DeliverPolicy, jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { StoredEvent } from "../events/envelope.js";
import { hostStreamName } from "../events/host-stream.js";
import { storedEventFromMsg } from "../events/stored-event.js";

/**
 * Reads the host stream `PURSER_HOST` (docs/events.md): facts about hosts'
 * disks, such as `BlobRemoved`. Each event's `namespace` is the host id it
 * came from (header `Purser-Host`).
 */
export async function readHostEvents(
  nc: NatsConnection,
  options: { follow: boolean; signal?: AbortSignal; onUndecodable?: (seq: number, err: unknown) => void },
  onEvent: (event: StoredEvent) => void,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  let last: number;
  try {
    last = (await jsm.streams.info(hostStreamName)).state.last_seq;
  } catch (err) {
    // No collector has removed a blob yet: the stream does not exist.
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return;
    throw err;
  }
  if (!options.follow && last === 0) return;
  const consumer = await jetstream(nc).consumers.get(hostStreamName, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1000 });
  const stop = () => messages.stop();
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    for await (const m of messages) {
      try {
        onEvent(storedEventFromMsg(m.headers?.get("Purser-Host") ?? "", m));
      } catch (err) {
        options.onUndecodable?.(m.seq, err);
      }
      if (!options.follow && m.seq >= last) break;
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    messages.stop();
  }
}
