/**
 * containerd's GC scheduler (`gc/scheduler/scheduler.go`, plugin
 * `io.containerd.gc.v1.scheduler`, conformance A.11), with its clock and timer
 * injected so the policy is tested without waiting.
 */
export interface SchedulerConfig {
  /** Fraction of wall time GC may take; clamped to [0, 0.5]. */
  pauseThreshold: number;
  /** Deletions that schedule a GC at once; 0 = deletions only guarantee the next scheduled run. */
  deletionThreshold: number;
  /** Mutations after which the next scheduled GC must run. */
  mutationThreshold: number;
  /** Delay between a trigger and the run, in ms. */
  scheduleDelayMs: number;
  /** First GC after start, in ms; establishes the pause baseline. */
  startupDelayMs: number;
}

export const defaultSchedulerConfig: SchedulerConfig = {
  pauseThreshold: 0.02,
  deletionThreshold: 0,
  mutationThreshold: 100,
  scheduleDelayMs: 0,
  startupDelayMs: 100,
};

export interface CollectionStats {
  /** How long the collection paused the world (for purser: mark + decide + append). */
  elapsedMs: number;
}

export interface SchedulerDeps {
  now(): number;
  setTimer(fn: () => void, ms: number): () => void;
  collect(): Promise<CollectionStats>;
  onError?(err: unknown): void;
}

/** 1.7.x clamps the average GC time to at least 5 ms (`minimumGCTime`). */
const minimumGcTimeMs = 5;

export class GcScheduler {
  private readonly config: SchedulerConfig;
  private cancelTimer?: () => void;
  private nextCollection?: number;
  private lastCollection?: number;
  private intervalMs = 1000;
  private totalGcMs = 0;
  private collections = 0;
  private triggered = false;
  private deletions = 0;
  private mutations = 0;
  private running = false;
  private collecting = false;
  private stopped = true;
  private waiters: Array<{ resolve: (s: CollectionStats) => void; reject: (e: Error) => void }> = [];

  constructor(
    config: Partial<SchedulerConfig>,
    private readonly deps: SchedulerDeps,
  ) {
    const c = { ...defaultSchedulerConfig, ...config };
    this.config = {
      pauseThreshold: Math.min(0.5, Math.max(0, c.pauseThreshold)),
      deletionThreshold: Math.max(0, c.deletionThreshold),
      mutationThreshold: Math.max(0, c.mutationThreshold),
      scheduleDelayMs: Math.max(0, c.scheduleDelayMs),
      startupDelayMs: Math.max(0, c.startupDelayMs),
    };
  }

  get settings(): Readonly<SchedulerConfig> {
    return this.config;
  }

  /** The interval computed from the average pause (for reports). */
  get interval(): number {
    return this.intervalMs;
  }

  start(): void {
    this.stopped = false;
    if (this.config.startupDelayMs > 0) this.schedule(this.config.startupDelayMs);
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.nextCollection = undefined;
    for (const w of this.waiters.splice(0)) w.reject(new Error("gc scheduler stopped"));
  }

  /**
   * A mutation was applied at time `at`; `dirty` when it deleted something
   * (containerd's mutation callback).
   */
  mutation(dirty: boolean, at: number = this.deps.now()): void {
    if (this.stopped) return;
    if (this.lastCollection !== undefined && this.lastCollection > at) return;
    if (dirty) this.deletions++;
    this.mutations++;
    this.maybeSchedule();
  }

  /** Triggers a collection and resolves with its stats (`ScheduleAndWait`). */
  scheduleAndWait(): Promise<CollectionStats> {
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(new Error("gc scheduler stopped"));
      this.waiters.push({ resolve, reject });
      this.triggered = true;
      this.maybeSchedule();
    });
  }

  private maybeSchedule(): void {
    // containerd's loop runs the collection itself, so what arrives meanwhile
    // waits in its channel and is judged once it ends (after the run has
    // scheduled the next one an interval away). Scheduling here during a run
    // would start collections back to back under a stream of deletions.
    if (this.collecting) return;
    const c = this.config;
    const due =
      this.triggered ||
      (c.deletionThreshold > 0 && this.deletions >= c.deletionThreshold) ||
      (this.nextCollection === undefined &&
        ((c.deletionThreshold === 0 && this.deletions > 0) || (c.mutationThreshold > 0 && this.mutations >= c.mutationThreshold)));
    if (!due) return;
    // An earlier-scheduled run is never pushed later.
    if (this.nextCollection === undefined || this.nextCollection > this.deps.now() + c.scheduleDelayMs) {
      this.schedule(c.scheduleDelayMs);
    }
  }

  private schedule(ms: number): void {
    this.cancelTimer?.();
    this.nextCollection = this.deps.now() + ms;
    this.cancelTimer = this.deps.setTimer(() => void this.fire(), ms);
  }

  private async fire(): Promise<void> {
    this.cancelTimer = undefined;
    this.nextCollection = undefined;
    if (this.stopped) return;
    if (this.collecting) {
      // A run is in progress; it reschedules when it ends.
      this.running = true;
      return;
    }
    const skip =
      !this.triggered &&
      this.lastCollection !== undefined &&
      this.deletions === 0 &&
      (this.config.mutationThreshold === 0 || this.mutations < this.config.mutationThreshold);
    if (skip) {
      this.schedule(this.intervalMs);
      return;
    }
    const waiters = this.waiters.splice(0);
    this.triggered = false;
    this.deletions = 0;
    this.mutations = 0;
    this.collecting = true;
    const started = this.deps.now();
    try {
      const stats = await this.deps.collect();
      this.totalGcMs += stats.elapsedMs;
      this.collections++;
      if (this.config.pauseThreshold > 0) {
        const avg = Math.max(minimumGcTimeMs, this.totalGcMs / this.collections);
        this.intervalMs = avg / this.config.pauseThreshold - avg;
      }
      this.lastCollection = started;
      for (const w of waiters) w.resolve(stats);
    } catch (err) {
      this.deps.onError?.(err);
      this.intervalMs += 1000;
      for (const w of waiters) w.reject(new Error("gc failed", { cause: err }));
    } finally {
      this.collecting = false;
    }
    if (this.stopped) return;
    if (this.triggered || this.running) {
      this.running = false;
      this.schedule(this.config.scheduleDelayMs);
    } else {
      this.schedule(this.intervalMs);
      // What arrived during the run: a deletion threshold reached still runs at once.
      this.maybeSchedule();
    }
  }
}
