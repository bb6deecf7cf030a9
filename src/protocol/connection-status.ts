import type { NatsConnection, Status } from "@nats-io/nats-core";

/**
 * Calls `onStatus` with each status change of `nc` (disconnect, reconnect, …)
 * until the returned function is called or the connection closes. nats.js's
 * status iterator is stopped by a `stop()` its type does not declare.
 */
export function watchConnection(nc: NatsConnection, onStatus: (status: Status) => void): () => void {
  const statuses = nc.status();
  void (async () => {
    for await (const s of statuses) onStatus(s);
  })().catch(() => {});
  return () => (statuses as { stop?: () => void }).stop?.();
}
