import type { QuarantinedEvent } from "../protocol/results.js";
import type { ViewStore } from "./view-store.js";

/**
 * Events the views could not apply (docs/events.md, "Quarantine"): one that
 * does not decode as a purser event of a known type and version, or whose
 * projection threw on it. Each is skipped — the checkpoint moves on, so one
 * event never stops a namespace, the GC or a rebuild — and recorded here, in
 * the same transaction, with why. A rebuild replays the same log through the
 * same code, so it quarantines the same events.
 */
export const quarantineDb = "quarantine";

export type { QuarantinedEvent };

export function recordQuarantine(views: ViewStore, event: QuarantinedEvent): void {
  views.db<QuarantinedEvent, [string, number]>(quarantineDb).putSync([event.stream, event.seq], event);
}

/** Every quarantined event, by stream and sequence. */
export function quarantinedEvents(views: ViewStore): QuarantinedEvent[] {
  return [...views.db<QuarantinedEvent, [string, number]>(quarantineDb).getRange({})].map((e) => e.value);
}

/**
 * A failure of the store rather than of the event (LMDB's own errors and
 * system errors carry a `code`: a full map, a full disk): the batch is tried
 * again later instead of quarantining a good event.
 */
export function isStoreFailure(err: unknown): boolean {
  return typeof (err as { code?: unknown } | undefined)?.code === "string" || typeof (err as { code?: unknown } | undefined)?.code === "number";
}
