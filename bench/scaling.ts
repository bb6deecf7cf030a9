import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { silentLogger } from "../src/observability/logger.js";
import { PurserServer } from "../src/server/purser-server.js";
import type { BenchContext, Suite } from "./context.js";
import { fromSamples, measureOps, runConcurrent, timed } from "./measure.js";

/**
 * A big host, grown by decades (issue 15): each curve is measured at every
 * size and reported as a curve, with how it grows from one size to the next
 * (the exponent of n: 0 flat, 1 linear) and a flag where it grows worse than
 * linearly.
 *
 * - images 1k / 10k / 100k in one namespace: get, the whole list (`ls -q`),
 *   the list with SIZE and PLATFORMS (`images ls`), a label filter that
 *   matches one image; a collection with nothing to remove; a collection of
 *   a tenth as many unreferenced blobs, with the slowest `images get` seen
 *   while it ran; the process's RSS (server and client share it);
 * - namespaces 1 / 100 / 1,000 (a stream and a feed each): nats-server RSS
 *   and idle CPU, and a restart of a second serve until its views are current;
 *   then the same once the idle feeds have parked (up to 90 s of waiting);
 * - a rebuild of everything at the end (every event of the run).
 *
 * `BENCH_SCALE` scales the sizes. Sizes already reached by earlier suites
 * (namespaces) are counted as they are.
 */
export const scalingSuite: Suite = {
  name: "scaling",
  async run(ctx: BenchContext): Promise<void> {
    const run = Date.now().toString(36);
    const catchUp = () => ctx.server.runtime.catchUp(300_000);
    const ns = `scale-${run}`;

    // One real manifest all images point at: their SIZE and PLATFORMS come from it.
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
    await ctx.client.content.put(ns, "config", config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
        layers: [],
      }),
    );
    await ctx.client.content.put(ns, "manifest", manifest);
    const target = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length };
    const name = (i: number) => `registry.example.com/scale/app-${String(i).padStart(7, "0")}:latest`;

    const sizes = [1000, 10_000, 100_000].map((n) => ctx.n(n, 100));
    const curve = (id: string, label: string, unit: string) => {
      const c = { id, label, unit, points: [] as Array<{ n: number; value: number }> };
      ctx.curve(c);
      return c;
    };
    const getP50 = curve("scaling.images.get", "images get p50", "ms");
    const listQ = curve("scaling.images.list", "whole list (ls -q)", "ms");
    const listLs = curve("scaling.images.ls", "images ls (with SIZE, PLATFORMS)", "ms");
    const labelOne = curve("scaling.images.label-one", "labels.idx==<v> (one match) p50", "ms");
    const gcIdle = curve("scaling.gc.nothing", "gc with nothing to remove", "ms");
    const gcReal = curve("scaling.gc.collect", "gc removing n/10 blobs", "ms");
    const gcPause = curve("scaling.gc.worst-request", "slowest images get during that gc", "ms");
    const rss = curve("scaling.images.rss", "bench process RSS (server + client)", "MiB");

    let have = 0;
    let garbage = 0;
    for (const size of sizes) {
      ctx.progress(`  scaling: growing to ${size} images`);
      const from = have;
      const grow = await runConcurrent(size - from, 32, (i) =>
        ctx.client.images.create(ns, { name: name(from + i), labels: { idx: String(from + i), tier: ["web", "db", "cache", "batch"][(from + i) % 4]! }, target }),
      );
      if (grow.errors > 0) ctx.progress(`  scaling: ${grow.errors} image creates failed: ${grow.firstError}`);
      have = size;
      await catchUp();

      const get = await measureOps({
        id: `scaling.images.get.${size}`,
        name: `images get at ${size} images`,
        section: "scaling",
        concurrency: 1,
        count: 300,
        op: (i) => ctx.client.images.get(ns, name((i * 7919) % size)),
      });
      ctx.record(get);
      getP50.points.push({ n: size, value: get.p50Ms! });

      const samples = async (id: string, label: string, op: () => Promise<unknown>) => {
        const ms: number[] = [];
        for (let i = 0; i < 3; i++) ms.push((await timed(op)).ms);
        return ctx.record(fromSamples({ id: `${id}.${size}`, name: `${label} at ${size} images`, section: "scaling", note: "ms" }, ms));
      };
      const q = await samples("scaling.images.list", "whole list (ls -q)", async () => {
        const { result } = await ctx.client.images.list(ns);
        if (result.length !== size) throw new Error(`listed ${result.length} of ${size}`);
      });
      listQ.points.push({ n: size, value: q.p50Ms! });
      const ls = await samples("scaling.images.ls", "images ls with SIZE and PLATFORMS", async () => {
        const { result } = await ctx.client.images.listWithUsage(ns);
        if (result.usage.length !== size || result.usage[0]?.size === undefined) throw new Error("the list came without its columns");
      });
      listLs.points.push({ n: size, value: ls.p50Ms! });

      const label = await measureOps({
        id: `scaling.images.label-one.${size}`,
        name: `labels.idx==<v> (one match) at ${size} images`,
        section: "scaling",
        concurrency: 1,
        count: 100,
        op: async (i) => {
          const { result } = await ctx.client.images.list(ns, [`labels.idx==${(i * 7919) % size}`]);
          if (result.length !== 1) throw new Error(`${result.length} matches`);
        },
      });
      ctx.record(label);
      labelOne.points.push({ n: size, value: label.p50Ms! });

      const idle = await samples("scaling.gc.nothing", "gc with nothing to remove", () => ctx.client.gc.collect());
      gcIdle.points.push({ n: size, value: idle.p50Ms! });

      // A tenth as many unreferenced blobs, then a collection while a client keeps reading.
      const toAdd = Math.max(10, Math.round(size / 10));
      const start = garbage;
      await runConcurrent(toAdd, 32, (i) => ctx.client.content.put(ns, `garbage-${start + i}`, Buffer.from(`garbage ${start + i} ${run}`)));
      garbage += toAdd;
      await catchUp();
      let collecting = true;
      let worst = 0;
      const probe = (async () => {
        let i = 0;
        while (collecting) {
          const t = await timed(() => ctx.client.images.get(ns, name(i++ % size)));
          worst = Math.max(worst, t.ms);
        }
      })();
      const collected = await timed(() => ctx.client.gc.collect());
      collecting = false;
      await probe;
      const removed = collected.value.result.totals?.removed ?? collected.value.result.removed.length;
      ctx.record(fromSamples({ id: `scaling.gc.collect.${size}`, name: `gc removing ${removed} blobs at ${size} images`, section: "scaling", note: "ms" }, [collected.ms]));
      ctx.record(fromSamples({ id: `scaling.gc.worst-request.${size}`, name: `slowest images get during that gc at ${size} images`, section: "scaling", note: "ms" }, [worst]));
      gcReal.points.push({ n: size, value: collected.ms });
      gcPause.points.push({ n: size, value: worst });
      rss.points.push({ n: size, value: process.memoryUsage().rss / 2 ** 20 });
    }
    if (sizes.length > 1) {
      const [lo, hi] = [sizes[0]!, sizes[sizes.length - 1]!];
      ctx.target({ kind: "ratio", label: `label filter (one match) at ${hi} within 2x of ${lo} images`, id: `scaling.images.label-one.${hi}`, concurrency: 1, baseline: { id: `scaling.images.label-one.${lo}`, concurrency: 1 }, minRatio: 0.5, display: "factor" });
      ctx.target({ kind: "ratio", label: `images ls within 2x of ls -q at ${hi} images`, id: `scaling.images.ls.${hi}`, concurrency: 1, baseline: { id: `scaling.images.list.${hi}`, concurrency: 1 }, minRatio: 0.5, display: "factor" });
      ctx.target({ kind: "max-ms", label: `no request paused over 100 ms by gc at ${hi} images`, id: `scaling.gc.worst-request.${hi}`, maxMs: 100 });
      ctx.target({ kind: "max-ms", label: `gc with nothing to do under 100 ms at ${hi} images`, id: `scaling.gc.nothing.${hi}`, maxMs: 100 });
    }

    // Namespaces: nats-server's cost per stream, and a restart's catch-up.
    const natsRss = curve("scaling.namespaces.nats-rss", "nats-server RSS", "MiB");
    const natsCpu = curve("scaling.namespaces.nats-idle-cpu", "nats-server idle CPU", "%");
    const restart = curve("scaling.namespaces.restart", "serve restart until views are current", "ms");
    const restartDir = mkdtempSync(join(ctx.scratchDir, "scaling-serve-"));
    try {
      for (const count of [1, 100, 1000].map((n) => ctx.n(n, 1))) {
        const existing = (await ctx.server.store.listNamespaces()).length;
        const missing = Math.max(0, count - existing);
        if (missing > 0) {
          ctx.progress(`  scaling: ${missing} more namespaces`);
          const made = await runConcurrent(missing, 16, (i) => ctx.client.namespaces.create(`scale-${run}-ns-${existing + i}`));
          if (made.errors > 0) ctx.progress(`  scaling: ${made.errors} namespace creates failed: ${made.firstError}`);
          await catchUp();
        }
        const streams = (await ctx.server.store.listNamespaces()).length;
        await new Promise((r) => setTimeout(r, 2000)); // settle: creation's own work is not idle cost
        natsRss.points.push({ n: streams, value: rssMiB(ctx.natsPid) });
        natsCpu.points.push({ n: streams, value: await idleCpuPercent(ctx.natsPid, 3000) });
        ctx.record(fromSamples({ id: `scaling.namespaces.nats-rss.${streams}`, name: `nats-server RSS at ${streams} streams (MiB, not ms)`, section: "scaling", note: "MiB" }, [natsRss.points.at(-1)!.value]));
        ctx.record(fromSamples({ id: `scaling.namespaces.nats-idle-cpu.${streams}`, name: `nats-server idle CPU at ${streams} streams (%, not ms)`, section: "scaling", note: "%" }, [natsCpu.points.at(-1)!.value]));

        // A second serve: caught up once, stopped, then timed from start until its views are current.
        const first = await PurserServer.start({ natsUrl: ctx.natsUrl, dataDir: restartDir, log: silentLogger, gc: { automatic: false } });
        await first.runtime.catchUp(300_000);
        await first.stop();
        const again = await timed(async () => {
          const s = await PurserServer.start({ natsUrl: ctx.natsUrl, dataDir: restartDir, log: silentLogger, gc: { automatic: false } });
          await s.runtime.catchUp(300_000);
          return s;
        });
        await again.value.stop();
        restart.points.push({ n: streams, value: again.ms });
        ctx.record(fromSamples({ id: `scaling.namespaces.restart.${streams}`, name: `serve restart until current at ${streams} streams`, section: "scaling", note: "ms" }, [again.ms]));
      }
    } finally {
      rmSync(restartDir, { recursive: true, force: true });
    }

    // The same host once its idle feeds have parked (runtime parkIdleMs): their consumers are gone.
    {
      const streams = (await ctx.server.store.listNamespaces()).length;
      const deadline = Date.now() + 90_000;
      while (ctx.server.runtime.parkedFeeds() < streams * 0.9 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
      const parked = ctx.server.runtime.parkedFeeds();
      await new Promise((r) => setTimeout(r, 2000));
      const rss = rssMiB(ctx.natsPid);
      const cpu = await idleCpuPercent(ctx.natsPid, 3000);
      ctx.record(fromSamples({ id: "scaling.namespaces.nats-rss-parked", name: `nats-server RSS at ${streams} streams, ${parked} feeds parked (MiB, not ms)`, section: "scaling", note: "MiB" }, [rss]));
      ctx.record(fromSamples({ id: "scaling.namespaces.nats-idle-cpu-parked", name: `nats-server idle CPU at ${streams} streams, ${parked} feeds parked (%, not ms)`, section: "scaling", note: "%" }, [cpu]));
    }

    // Everything the run wrote, rebuilt.
    const streams = (await ctx.server.store.listNamespaces()).length;
    const rebuilt = await timed(() => ctx.server.rebuild());
    ctx.record({
      ...fromSamples({ id: "scaling.rebuild", name: `rebuild of the whole run: ${rebuilt.value.events} events in ${streams} streams`, section: "scaling", note: "ms" }, [rebuilt.ms]),
    });
  },
};

function sha256(b: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(b).digest("hex");
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return kb / 1024;
}

/** A process's CPU share over `ms` (100% is one core), from /proc/<pid>/stat. */
async function idleCpuPercent(pid: number, ms: number): Promise<number> {
  const ticks = () => {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  };
  const a = ticks();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  const b = ticks();
  return ((b - a) / 100 / ((Date.now() - t0) / 1000)) * 100;
}
