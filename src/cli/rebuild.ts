import { decode } from "@msgpack/msgpack";
import { headers as natsHeaders, createInbox } from "@nats-io/nats-core";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { RebuildProgress } from "../projections/rebuild.js";
import { RequestHeader } from "../server/request-headers.js";
import { withSession } from "./context.js";
import { printJson } from "./output.js";

/** `purser rebuild`: the serving process replays the log into fresh views and swaps them in. */
export function registerRebuildCommand(program: Command): void {
  program
    .command("rebuild")
    .description("replay every namespace stream into fresh views and swap them in")
    .action(async (_o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const inbox = createInbox();
        const bar = process.stderr.isTTY
          ? new cliProgress.SingleBar(
              { format: "rebuild [{bar}] {percentage}% | {value}/{total} events | {eta_formatted} left", stream: process.stderr },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        let started = false;
        const sub = s.client.nc.subscribe(inbox, {
          callback: (_err, msg) => {
            const p = decode(msg.data) as RebuildProgress;
            if (!bar) return;
            if (!started) {
              bar.start(p.total, p.events);
              started = true;
            }
            bar.setTotal(p.total);
            bar.update(p.events);
          },
        });
        const h = natsHeaders();
        h.set(RequestHeader.ProgressSubject, inbox);
        try {
          const reply = await s.client.globalQuery<{ generation: string; events: number }>("system", "rebuild", {}, {
            headers: h,
            timeoutMs: 60 * 60_000,
          });
          if (started) bar?.stop();
          if (s.options.json) printJson(reply.result);
          else process.stdout.write(`rebuilt the views from ${reply.result.events} events (${reply.result.generation})\n`);
        } finally {
          if (started) bar?.stop();
          sub.unsubscribe();
        }
      }),
    );
}
