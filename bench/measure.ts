/**
 * Timing helpers: run N operations at concurrency C, record each operation's
 * latency with `process.hrtime.bigint()`, and summarise as ops/s, p50 and p99.
 */

/** Table sections, in print order. */
export type Section = "raw" | "purser" | "rebuild" | "serve" | "scaling";

/** One row of the report. */
export interface Measurement {
  /** Stable id (`raw.js-publish`, `namespaces.create`, …); with `concurrency` it names a row. */
  id: string;
  /** What the row shows, for humans. */
  name: string;
  section: Section;
  concurrency: number;
  /** Operations (or rows / events / messages) that completed. */
  ops: number;
  /** Operations that threw (they are not in the latencies). */
  errors: number;
  seconds: number;
  opsPerSec: number;
  /** Per-operation latencies; null for bulk rates measured as one block. */
  p50Ms: number | null;
  p99Ms: number | null;
  meanMs: number | null;
  maxMs: number | null;
  /** The raw limit this row is compared with (the "vs raw" column): same concurrency unless given. */
  baseline?: { id: string; concurrency?: number };
  /** ops/s of each repetition when the row is the median of several. */
  repeatRates?: number[];
  /** The first error message, when there were errors. */
  firstError?: string;
  note?: string;
}

export interface OpsSpec {
  id: string;
  name: string;
  section: Section;
  count: number;
  concurrency: number;
  /**
   * One operation; `i` runs from 0 to count-1, each index exactly once (with
   * `repeats`, repetition r uses r*count … r*count+count-1).
   */
  op: (i: number) => Promise<unknown>;
  /** Measure this many times and keep the repetition with the median ops/s (default 1). */
  repeats?: number;
  /** Operations run (and discarded) before measuring; they get indices from `warmupOp`. */
  warmup?: { count: number; op: (i: number) => Promise<unknown> };
  /** Stop issuing new operations after this long (the row then reports fewer ops). */
  maxSeconds?: number;
  baseline?: { id: string; concurrency?: number };
  note?: string;
}

export interface RunResult {
  latenciesNs: bigint[];
  errors: number;
  firstError?: string;
  seconds: number;
  ops: number;
}

/**
 * Runs `count` operations with at most `concurrency` in flight: each worker
 * takes the next index until none is left or the deadline passed.
 */
export async function runConcurrent(
  count: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
  maxSeconds = Number.POSITIVE_INFINITY,
): Promise<RunResult> {
  const latenciesNs: bigint[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(Math.min(maxSeconds, 3600) * 1e9));
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const t0 = process.hrtime.bigint();
      if (t0 > deadline) return;
      try {
        await op(i);
        latenciesNs.push(process.hrtime.bigint() - t0);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { latenciesNs, errors, firstError, seconds, ops: latenciesNs.length };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarise(
  spec: Pick<OpsSpec, "id" | "name" | "section" | "concurrency" | "baseline" | "note">,
  run: RunResult,
): Measurement {
  const ms = run.latenciesNs.map((ns) => Number(ns) / 1e6).sort((a, b) => a - b);
  const mean = ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : Number.NaN;
  return {
    id: spec.id,
    name: spec.name,
    section: spec.section,
    concurrency: spec.concurrency,
    ops: run.ops,
    errors: run.errors,
    seconds: run.seconds,
    opsPerSec: run.seconds > 0 ? run.ops / run.seconds : 0,
    p50Ms: ms.length ? percentile(ms, 50) : null,
    p99Ms: ms.length ? percentile(ms, 99) : null,
    meanMs: ms.length ? mean : null,
    maxMs: ms.length ? ms[ms.length - 1]! : null,
    ...(spec.baseline ? { baseline: spec.baseline } : {}),
    ...(run.firstError ? { firstError: run.firstError } : {}),
    ...(spec.note ? { note: spec.note } : {}),
  };
}

/** Warm-up (unmeasured), then the measured run. */
export async function measureOps(spec: OpsSpec): Promise<Measurement> {
  if (spec.warmup && spec.warmup.count > 0) {
    await runConcurrent(spec.warmup.count, spec.concurrency, spec.warmup.op, spec.maxSeconds);
  }
  const runs: RunResult[] = [];
  for (let r = 0; r < Math.max(1, spec.repeats ?? 1); r++) {
    const offset = r * spec.count;
    runs.push(await runConcurrent(spec.count, spec.concurrency, (i) => spec.op(offset + i), spec.maxSeconds));
  }
  const rate = (run: RunResult) => (run.seconds > 0 ? run.ops / run.seconds : 0);
  const sorted = [...runs].sort((a, b) => rate(a) - rate(b));
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const m = summarise(spec, median);
  if (runs.length > 1) {
    m.repeatRates = runs.map((run) => Math.round(rate(run)));
    // Errors of every repetition count: a failing operation must not hide behind a median.
    m.errors = runs.reduce((a, run) => a + run.errors, 0);
    m.firstError ??= runs.find((run) => run.firstError)?.firstError;
  }
  return m;
}

/**
 * A bulk rate: `work` processes `count` items as one block (a replay, a batch
 * of LMDB transactions) and returns how many it did. No per-item latency.
 */
export async function measureRate(
  spec: Pick<OpsSpec, "id" | "name" | "section" | "baseline" | "note"> & { concurrency?: number },
  work: () => Promise<number> | number,
): Promise<Measurement> {
  const t0 = process.hrtime.bigint();
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  try {
    ops = await work();
  } catch (err) {
    errors = 1;
    firstError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    id: spec.id,
    name: spec.name,
    section: spec.section,
    concurrency: spec.concurrency ?? 1,
    ops,
    errors,
    seconds,
    opsPerSec: seconds > 0 ? ops / seconds : 0,
    p50Ms: null,
    p99Ms: null,
    meanMs: null,
    maxMs: null,
    ...(spec.baseline ? { baseline: spec.baseline } : {}),
    ...(firstError ? { firstError } : {}),
    ...(spec.note ? { note: spec.note } : {}),
  };
}

/** Times one async call; returns milliseconds and its value. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

/** Several single timings (e.g. server starts) as one row with p50/p99 of the samples. */
export function fromSamples(
  spec: Pick<OpsSpec, "id" | "name" | "section" | "note">,
  samplesMs: readonly number[],
): Measurement {
  const run: RunResult = {
    latenciesNs: samplesMs.map((ms) => BigInt(Math.round(ms * 1e6))),
    errors: 0,
    seconds: samplesMs.reduce((a, b) => a + b, 0) / 1000,
    ops: samplesMs.length,
  };
  return summarise({ ...spec, concurrency: 1 }, run);
}

/**
 * `BENCH_SCALE` (default 1) shrinks or grows every count; `min` keeps a
 * measurement meaningful on a quick run.
 */
export function scaler(scale: number): (n: number, min?: number) => number {
  return (n, min = 1) => Math.max(min, Math.round(n * scale));
}
