import type { BenchContext, Suite } from "./context.js";
import { measureOps, runConcurrent, type Measurement } from "./measure.js";

/**
 * Namespace commands and queries through the whole of purser: client request →
 * command service → decide on the views → append with OCC → reply (commands),
 * or client request → LMDB view → reply (queries).
 *
 * Every create makes a new namespace stream (and a projection feed for it), so
 * creates are fewer than the other operations. Updates, gets and deletes go
 * round-robin over many namespaces, so no two operations in flight touch the
 * same object (same-object writes are OCC retries, a different measurement).
 */

const commandBaseline = { id: "raw.js-publish" };
const queryBaseline = { id: "raw.request-reply" };

export const namespacesSuite: Suite = {
  name: "namespaces",
  async run(ctx: BenchContext): Promise<void> {
    const ns = ctx.client.namespaces;
    const run = Date.now().toString(36);
    const catchUp = () => ctx.server.runtime.catchUp(60_000);
    const record = (m: Measurement) => {
      ctx.record(m);
      if (m.errors > 0) ctx.progress(`  ${m.errors} errors in ${m.id} c=${m.concurrency}: ${m.firstError}`);
    };

    // Warm-up namespaces: exercise every path once before anything is measured.
    const warm = Array.from({ length: ctx.n(50, 10) }, (_, i) => `bench-${run}-warm-${i}`);
    await runConcurrent(warm.length, 4, (i) => ns.create(warm[i]!, { "bench/warm": "1" }));
    await catchUp();
    await runConcurrent(warm.length * 2, 4, (i) => ns.update(warm[i % warm.length]!, { "bench/warm": String(i) }, ["labels.bench/warm"]));
    await runConcurrent(warm.length * 2, 4, (i) => ns.get(warm[i % warm.length]!));
    await runConcurrent(20, 4, () => ns.list());
    await catchUp();

    // list while the host has few namespaces (the usual case).
    const few = (await ns.list()).result.length;
    for (const c of [1, 16]) {
      record(
        await measureOps({
          id: "namespaces.list-few",
          name: `namespace list (${few} namespaces)`,
          section: "purser",
          concurrency: c,
          count: ctx.n(600, 60),
          warmup: { count: ctx.n(100, 20), op: () => ns.list() },
          op: () => ns.list(),
          baseline: queryBaseline,
          maxSeconds: 15,
          repeats: 3,
        }),
      );
    }

    // create: a new namespace, hence a new stream, each time.
    const sets: Record<number, string[]> = {};
    for (const c of [1, 16]) {
      const names = Array.from({ length: c === 1 ? ctx.n(250, 25) : ctx.n(500, 50) }, (_, i) => `bench-${run}-c${c}-${i}`);
      sets[c] = names;
      record(
        await measureOps({
          id: "namespaces.create",
          name: "namespace create (new stream)",
          section: "purser",
          concurrency: c,
          count: names.length,
          op: (i) => ns.create(names[i]!, { "bench/run": run }),
          baseline: commandBaseline,
          maxSeconds: 20,
        }),
      );
    }
    await catchUp();
    const all = [...sets[1]!, ...sets[16]!];

    for (const c of [1, 16]) {
      record(
        await measureOps({
          id: "namespaces.update",
          name: "namespace label update",
          section: "purser",
          concurrency: c,
          count: c === 1 ? ctx.n(600, 60) : ctx.n(1200, 120),
          warmup: { count: ctx.n(100, 20), op: (i) => ns.update(warm[i % warm.length]!, { "bench/w": String(i) }, ["labels.bench/w"]) },
          op: (i) => ns.update(all[i % all.length]!, { "bench/n": String(i) }, ["labels.bench/n"]),
          baseline: commandBaseline,
          maxSeconds: 20,
          repeats: 3,
        }),
      );
    }
    await catchUp();

    for (const c of [1, 16]) {
      record(
        await measureOps({
          id: "namespaces.get",
          name: "namespace get",
          section: "purser",
          concurrency: c,
          count: ctx.n(2000, 200),
          warmup: { count: ctx.n(200, 20), op: (i) => ns.get(all[i % all.length]!) },
          op: (i) => ns.get(all[(i * 7) % all.length]!),
          baseline: queryBaseline,
          maxSeconds: 20,
          repeats: 3,
        }),
      );
    }

    const many = (await ns.list()).result.length;
    for (const c of [1, 16]) {
      record(
        await measureOps({
          id: "namespaces.list-many",
          name: `namespace list (${many} namespaces)`,
          section: "purser",
          concurrency: c,
          count: ctx.n(200, 20),
          warmup: { count: ctx.n(20, 5), op: () => ns.list() },
          op: () => ns.list(),
          baseline: queryBaseline,
          maxSeconds: 15,
        }),
      );
    }

    await catchUp();
    for (const c of [1, 16]) {
      const names = sets[c]!;
      record(
        await measureOps({
          id: "namespaces.delete",
          name: "namespace delete",
          section: "purser",
          concurrency: c,
          count: names.length,
          op: (i) => ns.delete(names[i]!),
          baseline: commandBaseline,
          maxSeconds: 20,
        }),
      );
    }
    await catchUp();

    // Creating a deleted name again appends to the stream it already has.
    for (const c of [1, 16]) {
      const names = sets[c]!;
      record(
        await measureOps({
          id: "namespaces.recreate",
          name: "namespace create (stream exists)",
          section: "purser",
          concurrency: c,
          count: names.length,
          op: (i) => ns.create(names[i]!, { "bench/run": run, "bench/life": "2" }),
          baseline: commandBaseline,
          maxSeconds: 20,
        }),
      );
    }
    await catchUp();

    // Targets of the issue (evaluated in the report only).
    for (const id of ["namespaces.create", "namespaces.recreate", "namespaces.update", "namespaces.delete"]) {
      for (const c of [1, 16]) {
        ctx.target({
          kind: "ratio",
          label: `command round trip (${id.slice("namespaces.".length)}) within 2x of JetStream publish+ack`,
          id,
          concurrency: c,
          baseline: commandBaseline,
          minRatio: 0.5,
          display: "factor",
        });
      }
    }
    for (const id of ["namespaces.get", "namespaces.list-few"]) {
      for (const c of [1, 16]) {
        ctx.target({
          kind: "ratio",
          label: `query round trip (${id.slice("namespaces.".length)}) within 1.5x of NATS request/reply`,
          id,
          concurrency: c,
          baseline: queryBaseline,
          minRatio: 1 / 1.5,
          display: "factor",
        });
      }
    }
  },
};
