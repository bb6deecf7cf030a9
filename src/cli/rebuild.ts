import type { Command } from "commander";
import { withSession } from "./context.js";
import { printJson } from "./output.js";
import { terminalBar } from "./terminal-bar.js";

/** `purser rebuild`: the serving process replays the log into fresh views and swaps them in. */
export function registerRebuildCommand(program: Command): void {
  program
    .command("rebuild")
    .description("replay every namespace stream into fresh views and swap them in")
    .action(async (_o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const bar = await terminalBar({ format: "rebuild [{bar}] {percentage}% | {value}/{total} events | {eta_formatted} left" });
        let started = false;
        try {
          const reply = await s.client.system.rebuild((p) => {
            if (!bar) return;
            if (!started) {
              bar.start(p.total, p.events);
              started = true;
            }
            bar.setTotal(p.total);
            bar.update(p.events);
          });
          if (started) bar?.stop();
          started = false;
          if (s.options.json) printJson(reply.result);
          else process.stdout.write(`rebuilt the views from ${reply.result.events} events (${reply.result.generation})\n`);
        } finally {
          if (started) bar?.stop();
        }
      }),
    );
}
