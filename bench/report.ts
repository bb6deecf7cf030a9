import { writeFileSync } from "node:fs";
import type { Target } from "./context.js";
import type { Measurement, Section } from "./measure.js";

/** The report: an aligned table and the targets on stdout, the same figures as JSON. */

export interface TargetResult {
  label: string;
  kind: Target["kind"];
  status: "PASS" | "MISS" | "N/A";
  /** ratio targets: row ops/s ÷ baseline ops/s; max-ms targets: the largest sample in ms. */
  value: number | null;
  threshold: number;
  detail: string;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  durationSec: number;
  scale: number;
  machine: Record<string, unknown>;
  measurements: Array<Measurement & { vsRaw: number | null }>;
  targets: TargetResult[];
  /** The scaling section's curves (scaling.ts). */
  curves: CurveReport[];
  /** Suites that threw (the run carries on with the next suite). */
  failures: Array<{ suite: string; error: string }>;
}

const sectionTitles: Record<Section, string> = {
  raw: "raw limits (same run, same machine)",
  purser: "purser round trips (client → service → views / JetStream → reply)",
  rebuild: "rebuild (replay into fresh LMDB views) beside bare ordered-consumer replay",
  serve: "serve start (PurserServer.start against a running nats-server)",
  scaling: "scaling (a big host, grown by decades; the curves below say how each figure grows)",
};

/** How a curve grows between consecutive sizes: the exponent k of n^k (0 flat, 1 linear). */
export interface CurveReport {
  id: string;
  label: string;
  unit: string;
  points: Array<{ n: number; value: number }>;
  exponents: number[];
  /** Set when some step grows faster than linearly (k > 1.2, and by more than noise: 1 ms or 1 unit). */
  worseThanLinear: boolean;
}

export function analyseCurve(c: { id: string; label: string; unit: string; points: Array<{ n: number; value: number }> }): CurveReport {
  const exponents: number[] = [];
  let worse = false;
  for (let i = 1; i < c.points.length; i++) {
    const a = c.points[i - 1]!;
    const b = c.points[i]!;
    const k = a.value > 0 && b.value > 0 && b.n > a.n ? Math.log(b.value / a.value) / Math.log(b.n / a.n) : 0;
    exponents.push(k);
    if (k > 1.2 && b.value - a.value > 1) worse = true;
  }
  return { ...c, exponents, worseThanLinear: worse };
}

export function find(rows: readonly Measurement[], id: string, concurrency?: number): Measurement | undefined {
  return rows.find((m) => m.id === id && (concurrency === undefined || m.concurrency === concurrency));
}

export function vsRaw(rows: readonly Measurement[], m: Measurement): number | null {
  if (!m.baseline) return null;
  const base = find(rows, m.baseline.id, m.baseline.concurrency ?? m.concurrency);
  if (!base || base.opsPerSec <= 0 || m.ops === 0) return null;
  return m.opsPerSec / base.opsPerSec;
}

export function evaluateTargets(rows: readonly Measurement[], targets: readonly Target[]): TargetResult[] {
  return targets.map((t): TargetResult => {
    if (t.kind === "max-ms") {
      const m = find(rows, t.id);
      if (!m || m.maxMs === null) return { label: t.label, kind: t.kind, status: "N/A", value: null, threshold: t.maxMs, detail: "not measured" };
      const pass = m.maxMs < t.maxMs && m.errors === 0;
      return {
        label: t.label,
        kind: t.kind,
        status: pass ? "PASS" : "MISS",
        value: m.maxMs,
        threshold: t.maxMs,
        detail: `slowest ${fmtMs(m.maxMs)} ms, p50 ${fmtMs(m.p50Ms)} ms (target < ${t.maxMs} ms)`,
      };
    }
    const m = find(rows, t.id, t.concurrency);
    const base = find(rows, t.baseline.id, t.baseline.concurrency ?? t.concurrency);
    if (!m || !base || base.opsPerSec <= 0 || m.ops === 0) {
      return { label: t.label, kind: t.kind, status: "N/A", value: null, threshold: t.minRatio, detail: "not measured" };
    }
    const ratio = m.opsPerSec / base.opsPerSec;
    const pass = ratio >= t.minRatio && m.errors === 0;
    const errors = m.errors > 0 ? `; ${m.errors} errors` : "";
    const detail =
      t.display === "factor"
        ? `c=${t.concurrency}: ${fmtRate(m.opsPerSec)} vs ${fmtRate(base.opsPerSec)} ops/s = ${(1 / ratio).toFixed(2)}x the ${t.baseline.id.startsWith("raw.") ? "raw" : "baseline's"} cost (target <= ${(1 / t.minRatio).toFixed(2)}x)${errors}`
        : `${fmtRate(m.opsPerSec)} vs ${fmtRate(base.opsPerSec)} /s = ${(ratio * 100).toFixed(0)}% of ${t.baseline.id.startsWith("raw.") ? "raw" : "the baseline"} (target >= ${(t.minRatio * 100).toFixed(0)}%)${errors}`;
    return { label: t.label, kind: t.kind, status: pass ? "PASS" : "MISS", value: ratio, threshold: t.minRatio, detail };
  });
}

function fmtRate(v: number): string {
  if (!Number.isFinite(v)) return "-";
  return Math.round(v).toLocaleString("en-US");
}

function fmtMs(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return "-";
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function pad(s: string, width: number, right: boolean): string {
  return right ? s.padStart(width) : s.padEnd(width);
}

/** The aligned table (grouped by section, in recording order) and the targets. */
export function renderText(report: BenchReport): string {
  const head = ["name", "conc", "ops", "ops/s", "p50 ms", "p99 ms", "vs raw", "err"];
  const rightAligned = [false, true, true, true, true, true, true, true];
  const body: Array<{ section: Section; cells: string[] }> = report.measurements.map((m) => ({
    section: m.section,
    cells: [
      m.name,
      String(m.concurrency),
      String(m.ops),
      m.section === "serve" ? "-" : fmtRate(m.opsPerSec),
      fmtMs(m.p50Ms),
      fmtMs(m.p99Ms),
      m.vsRaw === null ? "" : `${(m.vsRaw * 100).toFixed(0)}%`,
      m.errors ? String(m.errors) : "",
    ],
  }));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r.cells[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!, rightAligned[i]!)).join("  ").trimEnd();
  const rule = "-".repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  const out: string[] = [];
  out.push(`purser bench — scale ${report.scale}, ${report.durationSec.toFixed(1)} s, ${String(report.machine.cpus)} cpus, node ${String(report.machine.node)}, ${String(report.machine.natsServer)}`);
  const others = Number(report.machine.otherNatsServers ?? 0);
  const load = Number(report.machine.loadavg1mAtStart ?? 0);
  if (others > 0 || load > 1) {
    out.push(`note: the machine was not idle (load ${load.toFixed(2)} at start, ${others} other nats-server process(es) seen): figures may be low`);
  }
  out.push("");
  out.push(line(head));
  out.push(rule);
  let section: Section | undefined;
  for (const r of body) {
    if (r.section !== section) {
      section = r.section;
      out.push(`[${sectionTitles[section]}]`);
    }
    out.push(line(r.cells));
  }
  out.push(rule);
  out.push("vs raw = this row's rate as a share of its raw limit at the same concurrency (commands: JetStream publish+ack;");
  out.push("queries: NATS request/reply; rebuild: the raw replay named in its section). Rates of bulk rows are rows/events/msgs per s.");
  const notes = report.measurements.filter((m) => m.firstError);
  for (const m of notes) out.push(`errors in ${m.id} c=${m.concurrency}: ${m.errors} (first: ${m.firstError})`);
  if (report.curves.length > 0) {
    out.push("");
    out.push("scaling curves (k: growth exponent between sizes, 0 flat, 1 linear)");
    const w = Math.max(...report.curves.map((c) => c.label.length));
    for (const c of report.curves) {
      const pts = c.points.map((p, i) => `${p.n.toLocaleString("en-US")}: ${fmtMs(p.value)}${i > 0 ? ` (k ${c.exponents[i - 1]!.toFixed(2)})` : ""}`).join("  ");
      out.push(`  ${c.label.padEnd(w)}  [${c.unit}]  ${pts}${c.worseThanLinear ? "  WORSE THAN LINEAR" : ""}`);
    }
  }
  out.push("");
  out.push("targets (reported only; a miss never fails the run)");
  const labelWidth = Math.max(...report.targets.map((t) => t.label.length), 10);
  for (const t of report.targets) out.push(`  ${t.status.padEnd(4)}  ${t.label.padEnd(labelWidth)}  ${t.detail}`);
  for (const f of report.failures) out.push(`  suite "${f.suite}" failed: ${f.error}`);
  return out.join("\n");
}

export function buildReport(
  rows: readonly Measurement[],
  targets: readonly Target[],
  curves: ReadonlyArray<Parameters<typeof analyseCurve>[0]>,
  meta: Omit<BenchReport, "measurements" | "targets" | "curves">,
): BenchReport {
  return {
    ...meta,
    measurements: rows.map((m) => ({ ...m, vsRaw: vsRaw(rows, m) })),
    targets: evaluateTargets(rows, targets),
    curves: curves.filter((c) => c.points.length > 0).map(analyseCurve),
  };
}

export function writeJson(report: BenchReport, path: string): void {
  writeFileSync(path, JSON.stringify(report, null, 2) + "\n");
}
