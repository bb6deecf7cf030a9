import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../src/observability/logger.js";
import { PurserServer } from "../src/server/purser-server.js";
import type { BenchContext, Suite } from "./context.js";
import { fromSamples, timed } from "./measure.js";

/**
 * `PurserServer.start` against an nats-server that is already running and
 * already holds the run's streams: with an empty data directory (first start
 * of a new replica: its projections begin replaying the whole log while it
 * starts) and with the views it left behind (a restart, the usual case). Each
 * extra server joins the same queue group while it runs, and is stopped at once.
 */
export const serveSuite: Suite = {
  name: "serve start",
  async run(ctx: BenchContext): Promise<void> {
    const samples = 2;
    const fresh: number[] = [];
    const restart: number[] = [];
    // The first fresh start catches up before it stops: its data directory then serves the restarts.
    const dataDir = mkdtempSync(join(ctx.scratchDir, "serve-"));
    try {
      for (let i = 0; i < samples; i++) {
        const dir = i === 0 ? dataDir : mkdtempSync(join(ctx.scratchDir, "serve-fresh-"));
        try {
          const { ms, value } = await timed(() => PurserServer.start({ natsUrl: ctx.natsUrl, dataDir: dir, log: silentLogger }));
          fresh.push(ms);
          if (i === 0) await value.runtime.catchUp(120_000);
          await value.stop();
        } finally {
          if (i !== 0) rmSync(dir, { recursive: true, force: true });
        }
      }
      for (let i = 0; i < samples; i++) {
        const { ms, value } = await timed(() => PurserServer.start({ natsUrl: ctx.natsUrl, dataDir, log: silentLogger }));
        restart.push(ms);
        await value.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
    const streams = (await ctx.server.store.listNamespaces()).length;
    ctx.record(fromSamples({ id: "serve.start-fresh", name: `serve start, empty data dir (${streams} streams)`, section: "serve", note: "ms per start" }, fresh));
    ctx.record(fromSamples({ id: "serve.start-restart", name: `serve start, restart (${streams} streams)`, section: "serve", note: "ms per start" }, restart));
    for (const id of ["serve.start-cold", "serve.start-fresh", "serve.start-restart"]) {
      ctx.target({ kind: "max-ms", label: `serve starts in under 1 s (${id.slice("serve.start-".length)})`, id, maxMs: 1000 });
    }
  },
};
