import { spawn } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../src/server/nats-server.js";
import type { BenchContext, Suite } from "./context.js";
import { fromSamples } from "./measure.js";

/**
 * How long a `purser` invocation takes, as a user (or a script of 176 calls)
 * pays it: `--help`, `--version`, and `ns ls` against the running server,
 * beside `node -e 0` measured in the same run (the floor any Node CLI pays
 * here, in the same environment). 20 runs each, one after the other. The
 * child is awaited asynchronously: the bench's server runs in this process,
 * and a blocking wait would keep it from answering `ns ls`.
 */
export const cliStartSuite: Suite = {
  name: "cli start",
  async run(ctx: BenchContext): Promise<void> {
    const cli = join(projectRoot, "dist", "src", "cli", "main.js");
    const env = { ...process.env, NATS_URL: ctx.natsUrl, PURSER_STATE_DIR: ctx.scratchDir };
    const once = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stderr }));
      });
    const time = async (args: string[]): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        const r = await once(args);
        out.push(performance.now() - t);
        if (r.code !== 0) throw new Error(`${args.join(" ")} exited ${r.code}: ${r.stderr}`);
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
      ctx.record(fromSamples({ id, name, section: id === "cli.node" ? "raw" : "purser", note: "ms per call, median of 20" }, await time(args)));
    }
  },
};
