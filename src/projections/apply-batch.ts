import type { JsMsg } from "@nats-io/jetstream";
import { EventHeader, type StoredEvent } from "../events/envelope.js";
import { storedEventFromMsg } from "../events/stored-event.js";
import type { Logger } from "../observability/logger.js";
import type { Projection } from "./projection.js";
import { isStoreFailure, quarantineDb, recordQuarantine } from "./quarantine.js";
import type { ViewStore } from "./view-store.js";

/**
 * Folds a batch of one stream's messages into the views in ONE write
 * transaction: every projection's rows, the subject heads, and the checkpoint
 * `checkpointKey` → last sequence. Returns the events applied.
 *
 * A message that is not a purser event, or one a projection throws on, is
 * quarantined (quarantine.ts): skipped, recorded, logged, and the checkpoint
 * moves past it. The batch is first applied in one go; only when a projection
 * throws is it applied again with each event in a child transaction, so the
 * poison event's partial rows are undone and the others kept. A failure of
 * the store itself (a `code`: full map, full disk) still rolls the whole
 * batch back, to be retried.
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
  // Named databases are opened outside any write transaction: one first opened
  // in a transaction that is then rolled back leaves an invalid handle behind
  // ("dbi … out of range"), and the first pass below may be rolled back.
  views.db(quarantineDb);
  for (const p of projections) for (const name of [...p.databases, ...(p.scratchDatabases ?? [])]) views.db(name);
  try {
    return applyOnce(false);
  } catch (err) {
    if (isStoreFailure(err)) throw err;
    return applyOnce(true);
  }

  /** One pass over the batch; `isolated`: each event in a child transaction, a throwing one quarantined. */
  function applyOnce(isolated: boolean): { applied: StoredEvent[]; last: number } {
    const applied: StoredEvent[] = [];
    const quarantine = (m: JsMsg, reason: string) => {
      const type = m.headers?.get(EventHeader.Type) ?? "";
      recordQuarantine(views, { namespace, stream: m.info.stream, seq: m.seq, subject: m.subject, type, reason });
      // Its subject's head moves on all the same: the log has it, and the next command's OCC expects it.
      heads.set(m.subject, { seq: m.seq, causationId: m.headers?.get(EventHeader.CausationId) ?? "" });
      log.error("event quarantined", { stream: m.info.stream, seq: m.seq, subject: m.subject, type, reason });
    };
    // Only the last event of each subject in the batch is its head (and only
    // its headers need parsing, for the causation id).
    const heads = new Map<string, { seq: number; causationId: string }>();
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
          quarantine(m, (err as Error).message);
          continue;
        }
        if (isolated) {
          try {
            views.root.transactionSync(() => {
              for (const p of projections) p.apply(views, stored);
            });
          } catch (err) {
            if (isStoreFailure(err)) throw err;
            quarantine(m, `${stored.event.type} could not be applied: ${(err as Error).message}`);
            continue;
          }
        } else {
          for (const p of projections) p.apply(views, stored);
        }
        heads.set(stored.subject, { seq: stored.seq, causationId: stored.context.causationId });
        applied.push(stored);
      }
      for (const [subject, head] of heads) views.heads.putSync(subject, head);
      views.checkpoints.putSync(checkpointKey, last);
    });
    return { applied, last };
  }
}
