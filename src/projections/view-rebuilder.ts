import { inject, injectable } from "../di.js";
import { quarantinedEvents } from "./quarantine.js";
import { EndpointKind, EndpointScope, type Endpoint } from "../endpoints/endpoint.js";
import { EventStore } from "../events/event-store.js";
import type { Logger } from "../observability/logger.js";
import type { RebuildProgress } from "../protocol/results.js";
import { Tokens } from "../tokens.js";
import type { Projection } from "./projection.js";
import { replayIntoFreshViews } from "./rebuild.js";
import { ProjectionRuntime } from "./runtime.js";
import { closeGenerationSafely, openGenerationSafely, removeMarker } from "./view-durability.js";
import { currentGeneration, generationPath, nextGeneration, removeGeneration, setCurrentGeneration, strayGenerations } from "./view-generations.js";
import { failedPrecondition, PurserError, unavailable } from "../errors/errdefs.js";
import { ViewStore, ViewStoreHolder } from "./view-store.js";

/**
 * The view generations of one process (docs/lmdb.md): the one that serves,
 * opened at start, and `purser rebuild` (`purser.v1._global.system.rebuild`),
 * which replays the log into the next generation while the current one
 * serves, then swaps it in.
 */
@injectable()
export class ViewRebuilder {
  constructor(
    @inject(Tokens.DataDir) private readonly dataDir: string,
    @inject(Tokens.EventStore) private readonly store: EventStore,
    @inject(Tokens.Projections) private readonly projections: readonly Projection[],
    @inject(Tokens.ProjectionRuntime) private readonly runtime: ProjectionRuntime,
    @inject(Tokens.ViewStoreHolder) private readonly holder: ViewStoreHolder,
    @inject(Tokens.Logger) private readonly log: Logger,
  ) {}

  /**
   * The generation to serve from, opened (a generation left open by another
   * boot is discarded and replayed: view-durability.ts). The composition root
   * calls it before anything reads the views.
   */
  static openCurrent(dataDir: string, log: Logger): ViewStore {
    const generation = openGenerationSafely(dataDir, log);
    for (const stray of strayGenerations(dataDir)) {
      removeGeneration(dataDir, stray);
      log.warn("removed a partial view generation an interrupted rebuild left behind", { generation: stray, serving: generation });
    }
    return ViewStore.open(generationPath(dataDir, generation));
  }

  /** The rebuild running in this process, if any: a second one waits for it instead of writing the same generation. */
  private running?: Promise<{ generation: string; events: number }>;

  /** `system.rebuild`: progress goes to the requester's `Purser-Progress-Subject`. */
  endpoints(): Endpoint[] {
    return [
      {
        resource: "system",
        verb: "rebuild",
        scope: EndpointScope.Global,
        kind: EndpointKind.System,
        run: async (ctx) => ({ rv: 0, result: await this.rebuild((p) => ctx.progress(p)) }),
      },
      {
        // `purser events --quarantined`: what the views skipped, and why (quarantine.ts).
        resource: "system",
        verb: "quarantine",
        scope: EndpointScope.Global,
        kind: EndpointKind.Query,
        run: async () => ({ rv: 0, result: quarantinedEvents(this.holder.current) }),
      },
    ];
  }

  /**
   * Replays the log into the next view generation while the current one serves,
   * then swaps it in: the live runtime stops, the holder switches, and the
   * runtime resumes from the new generation's checkpoints (catching up whatever
   * arrived during the replay).
   */
  async rebuild(onProgress?: (p: RebuildProgress) => void): Promise<{ generation: string; events: number }> {
    if (this.running) throw failedPrecondition("a rebuild is already running");
    this.running = this.replayAndSwap(onProgress);
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async replayAndSwap(onProgress?: (p: RebuildProgress) => void): Promise<{ generation: string; events: number }> {
    const previous = currentGeneration(this.dataDir);
    const next = nextGeneration(this.dataDir);
    let events = 0;
    let fresh: ViewStore;
    try {
      fresh = await replayIntoFreshViews(this.store, this.projections, generationPath(this.dataDir, next), this.log, (p) => {
        events = p.events;
        onProgress?.(p);
      });
    } catch (err) {
      // The serving views are untouched; nothing of the failed replay stays on disk.
      removeGeneration(this.dataDir, next);
      this.log.error("rebuild failed: its partial views were removed, the current ones still serve", { generation: next, events, err });
      throw err instanceof PurserError ? err.wrap(`rebuild failed after ${events} events (the current views still serve)`) : unavailable(`rebuild failed after ${events} events (the current views still serve): ${(err as Error).message}`);
    }
    await this.runtime.stop();
    const old = this.holder.swap(fresh);
    setCurrentGeneration(this.dataDir, next);
    openGenerationSafely(this.dataDir, this.log);
    await this.runtime.start();
    await old.close();
    removeGeneration(this.dataDir, previous);
    removeMarker(this.dataDir, previous);
    this.log.info("views rebuilt", { generation: next, events });
    return { generation: next, events };
  }

  /** Closes the serving generation cleanly (fsync, marked closed): the next start trusts it. */
  async close(): Promise<void> {
    await this.holder.current.close();
    closeGenerationSafely(this.dataDir, currentGeneration(this.dataDir));
  }
}
