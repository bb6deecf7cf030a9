import type { PurserClient } from "../src/client/purser-client.js";
import type { PurserServer } from "../src/server/purser-server.js";
import type { Measurement } from "./measure.js";

/**
 * A target of the issue, evaluated only in the report (never in tests, and a
 * miss never fails the run).
 *
 * - `ratio`: the row's ops/s divided by its baseline's ops/s must be at least
 *   `minRatio` ("within 2x" is 0.5; "≥ 50%" is 0.5).
 * - `max-ms`: the row's largest sample must stay under `maxMs`.
 */
export type Target =
  | {
      kind: "ratio";
      label: string;
      id: string;
      concurrency: number;
      baseline: { id: string; concurrency?: number };
      minRatio: number;
      /** How to word the comparison: "2.3x the raw cost" or "63% of the raw rate". */
      display: "factor" | "percent";
    }
  | { kind: "max-ms"; label: string; id: string; maxMs: number };

/** A curve of the scaling section: one figure at several sizes (report.ts says how it grows). */
export interface Curve {
  id: string;
  label: string;
  unit: string;
  points: Array<{ n: number; value: number }>;
}

/** What every suite gets: a running purser on its own nats-server, and where to record rows. */
export interface BenchContext {
  natsUrl: string;
  /** The bench's nats-server (its RSS and CPU are read from /proc). */
  natsPid: number;
  client: PurserClient;
  server: PurserServer;
  /** The running server's data directory (temporary). */
  dataDir: string;
  /** A temporary directory the suites may use for scratch files; removed at the end. */
  scratchDir: string;
  /** `BENCH_SCALE`. */
  scale: number;
  /** Scales a count, with a floor. */
  n(count: number, min?: number): number;
  record(m: Measurement): Measurement;
  target(t: Target): void;
  /** Registers a scaling curve; its points may be added after. */
  curve(c: Curve): void;
  /** A recorded row, if any (baselines of other rows). */
  find(id: string, concurrency?: number): Measurement | undefined;
  /** Progress on stderr. */
  progress(line: string): void;
}

/** A benchmark suite: later resources add `bench/<resource>.ts` and register it in main.ts. */
export interface Suite {
  name: string;
  run(ctx: BenchContext): Promise<void>;
}
