import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { PurserClient } from "../src/client/purser-client.js";
import { silentLogger } from "../src/observability/logger.js";
import { findNatsServer, freePort, projectRoot, startNatsServer, type RunningNatsServer } from "../src/server/nats-server.js";
import { PurserServer } from "../src/server/purser-server.js";
import type { BenchContext, Curve, Suite, Target } from "./context.js";
import { fromSamples, scaler, timed, type Measurement, type Section } from "./measure.js";
import { cliStartSuite } from "./cli-start.js";
import { contentSuite } from "./content.js";
import { containerdApiSuite } from "./containerd-api.js";
import { gcSuite } from "./gc.js";
import { imagesSuite } from "./images.js";
import { importSuite } from "./import.js";
import { namespacesSuite } from "./namespaces.js";
import { rawLimitsSuite } from "./raw-limits.js";
import { rebuildSuite } from "./rebuild.js";
import { buildReport, find, renderText, writeJson } from "./report.js";
import { scalingSuite } from "./scaling.js";
import { serveSuite } from "./serve.js";
import { snapshotsSuite } from "./snapshots.js";
import { unpackSuite } from "./unpack.js";

/**
 * `npm run bench`: starts its own nats-server (free port, temporary store) and
 * an in-process purser, runs the suites below in order, prints the table and
 * the targets, and writes the figures as JSON (`BENCH_OUT`, default
 * bench-results.json in the project root). `BENCH_SCALE` (default 1) scales
 * every count, e.g. 0.1 for a quick run. A missed target never fails the run.
 *
 * A new resource adds `bench/<resource>.ts` exporting a {@link Suite} and
 * lists it here, before `rebuildSuite` so its events are part of the rebuild.
 */
const suites: Suite[] = [rawLimitsSuite, namespacesSuite, imagesSuite, snapshotsSuite, contentSuite, containerdApiSuite, importSuite, unpackSuite, gcSuite, rebuildSuite, serveSuite, cliStartSuite, scalingSuite];

const sectionOrder: Section[] = ["raw", "purser", "rebuild", "serve", "scaling"];
/** The whole run may not take longer than this (a stuck measurement must not hang CI). */
const watchdogMs = 25 * 60_000;

function fmt(m: Measurement): string {
  const rate = m.section === "serve" ? "" : `${Math.round(m.opsPerSec).toLocaleString("en-US")}/s`;
  const lat = m.p50Ms === null ? "" : ` p50 ${m.p50Ms.toFixed(2)} ms p99 ${m.p99Ms!.toFixed(2)} ms`;
  return `  ${m.name} c=${m.concurrency}: ${m.ops} in ${m.seconds.toFixed(2)} s ${rate}${lat}${m.errors ? ` (${m.errors} errors)` : ""}`;
}

/** nats-server processes other than ours: other people's tests share the same 2 cores. */
function otherNatsServers(ours: number | undefined): number {
  try {
    const pids = execFileSync("pgrep", ["-x", "nats-server"], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
    return pids.filter((pid) => pid !== ours).length;
  } catch {
    return 0; // pgrep exits 1 when there is none
  }
}

function natsServerVersion(): string {
  try {
    return execFileSync(findNatsServer(), ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "nats-server (version unknown)";
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const scale = Number(process.env.BENCH_SCALE ?? "1");
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`BENCH_SCALE must be a positive number, not ${process.env.BENCH_SCALE}`);
  const out = process.env.BENCH_OUT ?? join(projectRoot, "bench-results.json");
  const progress = (line: string) => process.stderr.write(line + "\n");

  const root = mkdtempSync(join(tmpdir(), "purser-bench-"));
  let nats: RunningNatsServer | undefined;
  let server: PurserServer | undefined;
  let client: PurserClient | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      await client?.close().catch(() => {});
      await server?.stop().catch((err) => progress(`stopping purser: ${(err as Error).message}`));
      await nats?.stop().catch((err) => progress(`stopping nats-server: ${(err as Error).message}`));
      rmSync(root, { recursive: true, force: true });
    })());
  let aborted = false;
  const abort = (why: string, code: number) => {
    if (aborted) return;
    aborted = true;
    progress(`bench: ${why}; cleaning up`);
    void cleanup().finally(() => process.exit(code));
  };
  process.once("SIGINT", () => abort("interrupted", 130));
  process.once("SIGTERM", () => abort("terminated", 143));
  const watchdog = setTimeout(() => abort(`still running after ${watchdogMs / 1000} s`, 1), watchdogMs);
  watchdog.unref();

  const loadAtStart = loadavg()[0]!;
  const othersAtStart = otherNatsServers(undefined);
  let othersDuring = 0;
  const rows: Measurement[] = [];
  const targets: Target[] = [];
  const curves: Curve[] = [];
  const failures: Array<{ suite: string; error: string }> = [];
  try {
    progress(`bench: scale ${scale}, temporary files in ${root}`);
    nats = await startNatsServer({ storeDir: join(root, "nats"), port: await freePort(), dieWithParent: true });
    progress(`bench: nats-server pid ${nats.pid} at ${nats.url}`);
    const dataDir = join(root, "data");
    // Collections only when a suite asks: the suites make objects nothing references (gc suite: docs/gc.md).
    const cold = await timed(() => PurserServer.start({ natsUrl: nats!.url, dataDir, log: silentLogger, gc: { automatic: false } }));
    server = cold.value;
    client = await PurserClient.connect(nats.url, "bench");

    const ctx: BenchContext = {
      natsUrl: nats.url,
      natsPid: nats.pid,
      client,
      server,
      dataDir,
      scratchDir: join(root, "scratch"),
      scale,
      n: scaler(scale),
      record(m) {
        rows.push(m);
        progress(fmt(m));
        return m;
      },
      target(t) {
        targets.push(t);
      },
      curve(c) {
        curves.push(c);
      },
      find: (id, concurrency) => find(rows, id, concurrency),
      progress,
    };
    mkdirSync(ctx.scratchDir, { recursive: true });
    ctx.record(fromSamples({ id: "serve.start-cold", name: "serve start, first in this process (empty NATS)", section: "serve", note: "ms" }, [cold.ms]));

    // PURSER_BENCH_ONLY=name,name runs only those suites (e.g. "cli start"); the raw limits always run.
    const only = process.env.PURSER_BENCH_ONLY?.split(",").map((n) => n.trim());
    for (const suite of suites) {
      if (aborted) break;
      if (only && suite !== rawLimitsSuite && !only.includes(suite.name)) continue;
      progress(`bench: ${suite.name}`);
      const t0 = Date.now();
      try {
        await suite.run(ctx);
        othersDuring = Math.max(othersDuring, otherNatsServers(nats.pid));
      } catch (err) {
        const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        failures.push({ suite: suite.name, error });
        if (aborted) break;
        progress(`bench: suite ${suite.name} failed: ${(err as Error)?.stack ?? error}`);
      }
      progress(`bench: ${suite.name} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }

  const finishedAt = new Date();
  const cpu = cpus();
  rows.sort((a, b) => sectionOrder.indexOf(a.section) - sectionOrder.indexOf(b.section)); // stable: keeps recording order within a section
  const report = buildReport(rows, targets, curves, {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSec: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    scale,
    machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? "", node: process.version, platform: `${process.platform}-${process.arch}`, natsServer: natsServerVersion(),
      loadavg1mAtStart: loadAtStart,
      loadavg1mAtEnd: loadavg()[0]!,
      otherNatsServers: Math.max(othersAtStart, othersDuring),
    },
    failures,
  });
  process.stdout.write(renderText(report) + "\n");
  writeJson(report, out);
  progress(`bench: wrote ${out}`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
