import type { EventStore } from "../events/event-store.js";
import type { Logger } from "../observability/logger.js";
import type { Projection } from "./projection.js";
import { defaultRuntimeOptions, ProjectionRuntime } from "./runtime.js";
import { ViewStore, ViewStoreHolder } from "./view-store.js";
import type { RebuildProgress } from "../protocol/results.js";

/**
 * Replays every namespace stream from its first event into a fresh LMDB
 * environment at `path`, up to the streams' last sequences when it started.
 * The same projections and the same runtime as live processing apply the
 * events, so the result equals the live views (tests compare the dumps).
 */
export async function replayIntoFreshViews(
  store: EventStore,
  projections: readonly Projection[],
  path: string,
  log: Logger,
  onProgress: (p: RebuildProgress) => void = () => {},
): Promise<ViewStore> {
  const views = ViewStore.open(path);
  let total = 0;
  for (const seq of (await store.lastSequences()).values()) total += seq;
  const runtime = new ProjectionRuntime(store, new ViewStoreHolder(views), projections, log, {
    ...defaultRuntimeOptions,
    maxBatch: 5000,
    maxInFlight: 10_000,
  });
  let events = 0;
  onProgress({ events, total });
  runtime.onBatch((batch) => {
    events += batch.length;
    onProgress({ events: Math.min(events, total), total });
  });
  let failure: unknown;
  try {
    await runtime.start();
    await runtime.catchUp(10 * 60_000);
  } catch (err) {
    failure = err;
  }
  await runtime.stop();
  if (failure !== undefined) {
    // Closed, so that the caller can remove the partial environment.
    await views.close();
    throw failure;
  }
  onProgress({ events: total, total });
  return views;
}
