import type { JsMsg } from "@nats-io/jetstream";
import type { StoredEvent } from "../events/envelope.js";
import { storedEventFromMsg } from "../events/stored-event.js";
import type { Logger } from "../observability/logger.js";
import type { Projection } from "./projection.js";
import type { ViewStore } from "./view-store.js";

/**
 * Folds a batch of one stream's messages into the views in ONE write
 * transaction: every projection's rows, the subject heads, and the checkpoint
 * `checkpointKey` → last sequence. A throw rolls the whole batch back.
 * Returns the events applied (undecodable messages are logged and skipped;
 * the checkpoint still moves past them).
 */
export function applyBatch(
  views: ViewStore,
  projections: readonly Projection[],
  namespace: string,
  checkpointKey: string,
  previous: number,
  batch: readonly JsMsg[],
  log: Logger,
): { applied: StoredEvent[]; last: number } {
  const applied: StoredEvent[] = [];
  // Only the last event of each subject in the batch is its head (and only
  // its headers need parsing, for the causation id).
  const heads = new Map<string, StoredEvent>();
  let last = previous;
  views.root.transactionSync(() => {
    for (const m of batch) {
      if (m.seq !== last + 1 && last !== 0) {
        // JetStream sequences of a stream we never purge are contiguous; a gap
        // means messages were removed by hand. Say so, and carry on.
        log.warn("gap in stream sequence", { stream: m.info.stream, expected: last + 1, got: m.seq });
      }
      last = m.seq;
      let stored: StoredEvent;
      try {
        stored = storedEventFromMsg(namespace, m);
      } catch (err) {
        // Something that is not a purser event was published on our subjects:
        // it cannot be applied, and it must not stop the views.
        log.error("skipping undecodable event", { stream: m.info.stream, seq: m.seq, err });
        continue;
      }
      for (const p of projections) p.apply(views, stored);
      heads.set(stored.subject, stored);
      applied.push(stored);
    }
    for (const [subject, e] of heads) views.heads.putSync(subject, { seq: e.seq, causationId: e.context.causationId });
    views.checkpoints.putSync(checkpointKey, last);
  });
  return { applied, last };
}
