import type { Command } from "commander";
import type { ImageSpec } from "../client/images-api.js";
import { isPurserError, PurserError } from "../errors/errdefs.js";
import type { ImageRecord } from "../events/image-events.js";
import { withSession } from "./context.js";
import { registerImageArchiveCommands } from "./images-archive.js";
import { progressBytes } from "./units.js";
import type { ImageUsage } from "../protocol/results.js";
import { registerImageUnpackCommand } from "./images-unpack.js";
import { ExitError, labelsCell, logrusError, logrusWarning, parseLabelArgs, printJson, table } from "./output.js";

/**
 * `purser images|image|i …`, as `ctr images`: ls, create, tag, label, rm;
 * import, export and check (src/cli/images-archive.ts). SIZE and PLATFORMS
 * come with the list: the server keeps them in its image-usage view, walked
 * as ctr walks (`-` when the walk cannot read a manifest or index).
 */
export function registerImageCommands(program: Command): void {
  const images = program.command("images").aliases(["image", "i"]).description("manage images");

  images
    .command("list")
    .alias("ls")
    .description("list images known to purser")
    .argument("[filters...]", "containerd filters (several are ORed; commas AND within one)")
    .option("-q, --quiet", "print only the image refs")
    .action(async (filters: string[], opts: { quiet?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const plain = s.options.json || opts.quiet;
        let result: ImageRecord[];
        let usage: ImageUsage[] = [];
        try {
          const minRv = { minRv: s.minRv(s.namespace) };
          // SIZE and PLATFORMS come with the list (the server keeps them): one request per page.
          if (plain) ({ result } = await s.client.images.list(s.namespace, filters, minRv));
          else ({ images: result, usage } = (await s.client.images.listWithUsage(s.namespace, filters, minRv)).result);
        } catch (err) {
          throw wrap(err, "failed to list images");
        }
        if (s.options.json) return printJson(result);
        if (opts.quiet) return void process.stdout.write(result.map((i) => i.name + "\n").join(""));
        process.stdout.write(
          table(
            ["REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"],
            result.map((i, n) => {
              const u = usage[n];
              const size = u?.size === undefined ? "-" : progressBytes(u.size);
              const platforms = u && u.platforms.length > 0 ? u.platforms.join(",") : "-";
              return [i.name, i.target.mediaType, i.target.digest, size, platforms, labelsCell(i.labels)];
            }),
          ),
        );
      }),
    );

  images
    .command("create")
    .description("create an image record whose content lives elsewhere")
    .argument("<name>", "image reference")
    .requiredOption("--digest <digest>", "digest of the target (manifest or index)")
    .requiredOption("--size <bytes>", "size of the target in bytes")
    .requiredOption("--media-type <type>", "media type of the target")
    .option("--label <k=v>", "image label (repeatable)", collect, [])
    .option("--annotation <k=v>", "target annotation (repeatable)", collect, [])
    .action(
      async (
        name: string,
        opts: { digest: string; size: string; mediaType: string; label: string[]; annotation: string[] },
        cmd: Command,
      ) =>
        withSession(cmd, async (s) => {
          const size = Number(opts.size);
          if (!Number.isSafeInteger(size)) throw new ExitError(`--size must be an integer, got ${JSON.stringify(opts.size)}`);
          const reply = await s.client.images.create(s.namespace, {
            name,
            labels: parseLabelArgs(opts.label),
            target: { digest: opts.digest, size, mediaType: opts.mediaType, annotations: parseLabelArgs(opts.annotation) },
          });
          s.wrote(s.namespace, reply.rv);
          if (s.options.json) printJson(reply.result);
          else process.stdout.write(name + "\n");
        }),
    );

  images
    .command("tag")
    .description("tag an image: new references to the same target")
    .argument("[source]", "source image reference")
    .argument("[targets...]", "new references")
    .option("--force", "replace a target reference that already exists")
    .action(async (source: string | undefined, targets: string[], opts: { force?: boolean }, cmd: Command) => {
      if (!source) throw new ExitError("please provide an image reference to tag from");
      if (targets.length === 0) throw new ExitError("please provide an image reference to tag to");
      return withSession(cmd, async (s) => {
        const { result: image } = await s.client.images.get(s.namespace, source, { minRv: s.minRv(s.namespace) });
        const created: ImageRecord[] = [];
        for (const target of targets) {
          const spec: ImageSpec = { name: target, labels: image.labels, target: image.target };
          let reply;
          try {
            reply = await s.client.images.create(s.namespace, spec);
          } catch (err) {
            // As ctr: with --force an existing reference is deleted and created again.
            if (!(opts.force && isPurserError(err, "AlreadyExists"))) throw err;
            s.wrote(s.namespace, (await s.client.images.delete(s.namespace, target)).rv);
            reply = await s.client.images.create(s.namespace, spec);
          }
          s.wrote(s.namespace, reply.rv);
          created.push(reply.result);
          if (!s.options.json) process.stdout.write(target + "\n");
        }
        if (s.options.json) printJson(created);
      });
    });

  images
    .command("label")
    .description("set and clear labels for an image (key= removes)")
    .argument("[name]", "image reference")
    .argument("[labels...]", "labels as key=value")
    .option("-r, --replace-all", "replace all labels")
    .action(async (name: string | undefined, labels: string[], opts: { replaceAll?: boolean }, cmd: Command) => {
      if (!name) throw new ExitError("please specify an image");
      return withSession(cmd, async (s) => {
        const set = parseLabelArgs(labels);
        // ctr sends `labels.<k>` per key, or `labels` with --replace-all (with
        // no labels ctr would send no path at all, a full replacement that
        // fails validation; purser sends `labels`, which clears them).
        const fieldPaths = opts.replaceAll ? ["labels"] : Object.keys(set).map((k) => `labels.${k}`);
        const reply = await s.client.images.update(s.namespace, { name, labels: set }, fieldPaths);
        s.wrote(s.namespace, reply.rv);
        if (s.options.json) return printJson(reply.result);
        process.stdout.write(labelPairs(reply.result.labels) + "\n");
      });
    });

  images
    .command("remove")
    .alias("rm")
    .description("remove one or more images by reference")
    .argument("<names...>", "image references")
    .option(
      "--sync",
      "synchronously remove the image and what only it held: returns after the garbage collection that follows (docs/gc.md)",
    )
    .action(async (names: string[], opts: { sync?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        let failure: ExitError | undefined;
        const removed: string[] = [];
        for (const [i, name] of names.entries()) {
          try {
            // As ctr: only the last delete waits for the collection.
            const reply = await s.client.images.delete(s.namespace, name, { sync: opts.sync === true && i === names.length - 1 });
            s.wrote(s.namespace, reply.rv);
          } catch (err) {
            if (isPurserError(err, "NotFound")) {
              process.stderr.write(logrusWarning(`${name}: image not found`));
              continue;
            }
            process.stderr.write(logrusError(`unable to delete ${name}`, (err as Error).message));
            failure ??= new ExitError(`unable to delete ${name}: ${(err as Error).message}`);
            continue;
          }
          removed.push(name);
          if (!s.options.json) process.stdout.write(name + "\n");
        }
        if (s.options.json) printJson(removed);
        if (failure) throw failure;
      }),
    );

  registerImageArchiveCommands(images);
  registerImageUnpackCommand(images);
}

/** Commander collector of a repeatable option. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `k=v,k2=v2` in key order, as `ctr … label` prints the resulting labels. */
export function labelPairs(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

function wrap(err: unknown, context: string): unknown {
  return err instanceof PurserError ? err.wrap(context) : err;
}
