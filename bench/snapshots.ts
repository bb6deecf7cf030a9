import type { BenchContext, Suite } from "./context.js";
import { measureOps, runConcurrent, type Measurement } from "./measure.js";

/**
 * Snapshots and leases through the whole of purser (issue 5's targets):
 *
 * - prepare / commit / remove of empty snapshots (native snapshotter: a
 *   directory made and renamed into place per prepare), 1 and 16 in flight;
 *   prepare on a committed parent (what a container's rootfs is);
 * - lease create / delete, 1 and 16 in flight, and resource additions.
 *
 * The targets are absolute rates ("≥ 1,000/s"; "≥ 2× containerd's 1,148/s
 * and 1,208/s"): they are written as ratios to reference rows that carry
 * those figures, marked as references, not measurements.
 */
const commandBaseline = { id: "raw.js-publish" };

function reference(id: string, name: string, opsPerSec: number, note: string): Measurement {
  return {
    id,
    name,
    section: "raw",
    concurrency: 16,
    ops: 0,
    errors: 0,
    seconds: 0,
    opsPerSec,
    p50Ms: null,
    p99Ms: null,
    meanMs: null,
    maxMs: null,
    note,
  };
}

export const snapshotsSuite: Suite = {
  name: "snapshots",
  async run(ctx: BenchContext): Promise<void> {
    const sn = ctx.client.snapshots;
    const leases = ctx.client.leases;
    const run = Date.now().toString(36);
    const ns = `bench-snap-${run}`;
    const record = (m: Measurement) => {
      ctx.record(m);
      if (m.errors > 0) ctx.progress(`  ${m.errors} errors in ${m.id} c=${m.concurrency}: ${m.firstError}`);
    };
    const catchUp = () => ctx.server.runtime.catchUp(60_000);

    // Warm-up: every path once.
    await runConcurrent(ctx.n(100, 20), 4, async (i) => {
      await sn.prepare(ns, `warm-${i}`);
      await sn.commit(ns, `warm-c-${i}`, `warm-${i}`);
      await sn.remove(ns, `warm-c-${i}`);
    });
    await catchUp();

    for (const c of [1, 16]) {
      const count = c === 1 ? ctx.n(500, 50) : ctx.n(2000, 100);
      const key = (i: number) => `c${c}-k${i}`;
      const name = (i: number) => `c${c}-n${i}`;
      record(
        await measureOps({
          id: "snapshots.prepare",
          name: "snapshot prepare (empty, native)",
          section: "purser",
          concurrency: c,
          count,
          op: (i) => sn.prepare(ns, key(i)),
          baseline: commandBaseline,
          maxSeconds: 30,
        }),
      );
      await catchUp();
      record(
        await measureOps({
          id: "snapshots.commit",
          name: "snapshot commit",
          section: "purser",
          concurrency: c,
          count,
          op: (i) => sn.commit(ns, name(i), key(i)),
          baseline: commandBaseline,
          maxSeconds: 30,
        }),
      );
      await catchUp();
      record(
        await measureOps({
          id: "snapshots.remove",
          name: "snapshot remove (committed)",
          section: "purser",
          concurrency: c,
          count,
          op: (i) => sn.remove(ns, name(i)),
          baseline: commandBaseline,
          maxSeconds: 30,
        }),
      );
      await catchUp();
    }

    // Containers' root file systems: active snapshots on one committed parent.
    await sn.prepare(ns, "parent-key");
    await sn.commit(ns, "parent", "parent-key");
    const onParent = ctx.n(1000, 50);
    record(
      await measureOps({
        id: "snapshots.prepare-on-parent",
        name: "snapshot prepare on a committed parent (empty tree)",
        section: "purser",
        concurrency: 16,
        count: onParent,
        op: (i) => sn.prepare(ns, `rootfs-${i}`, "parent"),
        baseline: commandBaseline,
        maxSeconds: 30,
      }),
    );
    await catchUp();

    for (const c of [1, 16]) {
      const count = c === 1 ? ctx.n(1000, 50) : ctx.n(3000, 100);
      const id = (i: number) => `c${c}-lease-${i}`;
      record(
        await measureOps({
          id: "leases.create",
          name: "lease create",
          section: "purser",
          concurrency: c,
          count,
          op: (i) => leases.create(ns, { id: id(i), labels: { "bench/run": run } }),
          baseline: commandBaseline,
          maxSeconds: 30,
        }),
      );
      await catchUp();
      if (c === 16) {
        record(
          await measureOps({
            id: "leases.add-resource",
            name: "lease add resource (one per lease)",
            section: "purser",
            concurrency: c,
            count,
            op: (i) => leases.addResource(ns, id(i), { type: "ingests", id: `ref-${i}` }),
            baseline: commandBaseline,
            maxSeconds: 30,
          }),
        );
        await catchUp();
      }
      record(
        await measureOps({
          id: "leases.delete",
          name: "lease delete",
          section: "purser",
          concurrency: c,
          count,
          op: (i) => leases.delete(ns, id(i)),
          baseline: commandBaseline,
          maxSeconds: 30,
        }),
      );
      await catchUp();
    }

    ctx.record(reference("ref.snapshot-target", "reference: issue 5 snapshot target", 1000, "target figure, not measured"));
    ctx.record(reference("ref.containerd-lease-create", "reference: containerd 1.6 lease create (c=16)", 1148, "containerd's figure from issue 5, not measured here"));
    ctx.record(reference("ref.containerd-lease-delete", "reference: containerd 1.6 lease delete (c=16)", 1208, "containerd's figure from issue 5, not measured here"));
    for (const id of ["snapshots.prepare", "snapshots.commit", "snapshots.remove"]) {
      ctx.target({
        kind: "ratio",
        label: `snapshot ${id.slice("snapshots.".length)} of empty snapshots ≥ 1,000/s at 16 in flight`,
        id,
        concurrency: 16,
        baseline: { id: "ref.snapshot-target", concurrency: 16 },
        minRatio: 1,
        display: "percent",
      });
    }
    for (const [id, ref, figure] of [
      ["leases.create", "ref.containerd-lease-create", "1,148"],
      ["leases.delete", "ref.containerd-lease-delete", "1,208"],
    ] as const) {
      ctx.target({
        kind: "ratio",
        label: `lease ${id.slice("leases.".length)} ≥ 2x containerd's ${figure}/s at 16 in flight`,
        id,
        concurrency: 16,
        baseline: { id: ref, concurrency: 16 },
        minRatio: 2,
        display: "percent",
      });
    }
  },
};
