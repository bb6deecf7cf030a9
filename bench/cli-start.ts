import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../src/server/nats-server.js";
import type { BenchContext, Suite } from "./context.js";
import { fromSamples } from "./measure.js";

/**
 * How long a `purser` invocation takes, as a user (or a script of 176 calls)
 * pays it: `--help`, `--version`, and `ns ls` against the running server,
 * beside `node -e 0` measured in the same run (the floor any Node CLI pays
 * here, in the same environment). 20 runs each, one after the other.
 */
export const cliStartSuite: Suite = {
  name: "cli start",
  async run(ctx: BenchContext): Promise<void> {
    const cli = join(projectRoot, "dist", "src", "cli", "main.js");
    const env = { ...process.env, NATS_URL: ctx.natsUrl, PURSER_STATE_DIR: ctx.scratchDir };
    const time = (args: string[]): number[] => {
      const out: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        const r = spawnSync(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
        out.push(performance.now() - t);
        if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
      }
      return out;
    };
    const rows: Array<[string, string, string[]]> = [
      ["cli.node", "node -e 0 (the floor)", ["-e", "0"]],
      ["cli.help", "purser --help", [cli, "--help"]],
      ["cli.version", "purser --version", [cli, "--version"]],
      ["cli.ns-ls", "purser ns ls (running server)", [cli, "ns", "ls"]],
    ];
    for (const [id, name, args] of rows) {
      ctx.progress(`cli start: ${name}`);
      ctx.record(fromSamples({ id, name, section: id === "cli.node" ? "raw" : "purser", note: "ms per call, median of 20" }, time(args)));
    }
  },
};
