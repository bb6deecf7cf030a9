import type { Command } from "commander";
import type { UnpackResult } from "../protocol/results.js";
import { withSession } from "./context.js";
import { printJson } from "./output.js";

/**
 * `purser images unpack NAME [--snapshotter native] [--platform P]`: the
 * image's layers into a snapshot chain (docs/unpack.md). The server does
 * the work; a layer already unpacked is skipped, so running it again is
 * cheap and changes nothing.
 */
export function registerImageUnpackCommand(images: Command): void {
  images
    .command("unpack")
    .description("unpack an image's layers into snapshots (a chain keyed by the layers' chain ids)")
    .argument("<name>", "image reference")
    .option("--snapshotter <name>", "snapshotter to unpack into", "native")
    .option("--platform <platform>", "the platform to unpack from an index (default: this host's)")
    .action(async (name: string, opts: { snapshotter: string; platform?: string }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const lease = (cmd.optsWithGlobals() as { lease?: string }).lease || undefined;
        if (!s.options.json) process.stdout.write(`unpacking ${name}...`);
        const started = Date.now();
        const reply = await s.client.images.unpack(s.namespace, name, { snapshotter: opts.snapshotter, platform: opts.platform }, { lease });
        s.wrote(s.namespace, reply.rv);
        printUnpackWarnings(reply.result);
        if (s.options.json) return printJson(reply.result);
        const applied = reply.result.layers.filter((l) => l.applied).length;
        process.stdout.write(
          `done: ${((Date.now() - started) / 1000).toFixed(2)}s, ${applied} of ${reply.result.layers.length} layers applied, top ${reply.result.chainId}\n`,
        );
      }),
    );
}

/** Entries an unpack refused or left out, one warning each on stderr. */
export function printUnpackWarnings(result: UnpackResult): void {
  for (const r of result.rejected) process.stderr.write(`warning: layer ${r.layer}: refused ${JSON.stringify(r.name)}: ${r.reason}\n`);
  for (const r of result.skipped) process.stderr.write(`warning: layer ${r.layer}: skipped ${JSON.stringify(r.name)}: ${r.reason}\n`);
  if (result.ignoredXattrs > 0) process.stderr.write(`warning: ${result.ignoredXattrs} extended attributes were not applied\n`);
}
