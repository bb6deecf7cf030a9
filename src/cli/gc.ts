import type { Command } from "commander";
import type { CollectResult, Why } from "../client/gc-api.js";
import { withSession } from "./context.js";
import { ExitError, printJson, ownTable, table } from "./output.js";

/**
 * `purser gc [--dry-run]`: run the collection that follows now (containerd's
 * ScheduleAndWait; ctr has no such command), or list what it would remove.
 * `purser gc why DIGEST` / `purser gc why snapshot KEY`: why an object is
 * kept — the path from a root to it — or that it is garbage (docs/gc.md).
 */
export function registerGcCommands(program: Command): void {
  const gc = program
    .command("gc")
    .description("collect garbage now, or explain why something is kept (gc why)")
    .option("--dry-run", "list what a collection would remove, remove nothing")
    .action(async (opts: { dryRun?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.gc.collect({ dryRun: opts.dryRun ?? false });
        if (s.options.json) return printJson(result);
        process.stdout.write(collectText(result));
      }),
    );

  gc.command("why")
    .description("why an object is kept: `why DIGEST` or `why snapshot KEY` (namespace from -n)")
    .argument("<what>", "a digest, or the word snapshot")
    .argument("[key]", "the snapshot key (with `snapshot`)")
    .option("--snapshotter <name>", "snapshotter of the snapshot", "native")
    .action(async (what: string, key: string | undefined, opts: { snapshotter: string }, cmd: Command) =>
      withSession(cmd, async (s) => {
        let name: string;
        let answer: Why;
        if (what === "snapshot") {
          if (!key) throw new ExitError("please provide a snapshot key: purser gc why snapshot KEY");
          name = `snapshot ${key}`;
          ({ result: answer } = await s.client.gc.whySnapshot(s.namespace, key, opts.snapshotter));
        } else {
          name = what;
          ({ result: answer } = await s.client.gc.whyContent(s.namespace, what));
        }
        if (s.options.json) return printJson(answer);
        process.stdout.write(whyText(name, answer));
      }),
    );
}

/** What a collection did (or would do), as a table and a summary line. */
export function collectText(r: CollectResult): string {
  let out = "";
  if (r.removed.length > 0) {
    out += table(
      ["NAMESPACE", "TYPE", "KEY"],
      r.removed.map((x) => [x.namespace, x.type, x.snapshotter ? `${x.snapshotter}/${x.key}` : x.key]),
      ownTable,
    );
  }
  const removed = r.totals?.removed ?? r.removed.length;
  const blobs = r.totals?.blobs ?? r.blobs.length;
  const directories = r.totals?.directories ?? r.directories.length;
  if (removed > r.removed.length) out += `… and ${removed - r.removed.length} more\n`;
  if (r.dryRun) return out + `would remove ${removed} object${removed === 1 ? "" : "s"}\n`;
  const bytes = r.blobs.reduce((n, b) => n + b.size, 0);
  return (
    out +
    `removed ${removed} object${removed === 1 ? "" : "s"}, ` +
    `${blobs} blob file${blobs === 1 ? "" : "s"} (${bytes} bytes${blobs > r.blobs.length ? " in the first " + r.blobs.length : ""}), ` +
    `${directories} snapshot director${directories === 1 ? "y" : "ies"}\n`
  );
}

/** The path from a root, one hop per line, or "garbage". */
export function whyText(name: string, w: Why): string {
  if (!w.kept) return `${name} is garbage: no root reaches it (the next collection removes it)\n`;
  return (
    `${name} is kept:\n` +
    table(
      undefined,
      w.path.map((p, i) => [i === 0 ? "  root" : "  ->", p.type, p.key, `(${p.reason})`]),
      ownTable,
    )
  );
}
