import { createWriteStream } from "node:fs";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { isPurserError, PurserError } from "../errors/errdefs.js";
import type { ImageRecord } from "../events/image-events.js";
import { allPlatforms, defaultPlatforms, onlyStrict, ordered, parse as parsePlatform, type PlatformMatcher } from "../oci/platforms.js";
import { withSession, type CliSession } from "./context.js";
import { ExitError, logrusError, printJson, table } from "./output.js";
import { progressBytes } from "./units.js";
import { terminalBar } from "./terminal-bar.js";

/**
 * `purser images import|export|check` (docs/import-export.md), and the SIZE
 * and PLATFORMS cells of `images ls`, as ctr prints them.
 */
export function registerImageArchiveCommands(images: Command): void {
  images
    .command("import")
    .description("import images from an OCI image layout or `docker save` tar (- for stdin)")
    .argument("<in>", "the archive")
    .option("--base-name <name>", "base image name for tag-only refs; when set, only images under this name are imported")
    .option("--digests", "also create digest images (<base-name or import-DATE>@<digest>)")
    .option("--skip-digest-for-named", "with --digests: not for images that have a name")
    .option("--index-name <name>", "keep the archive's index as an image of this name")
    .option("--all-platforms", "import every platform of an index (default: this host's)")
    .option("--platform <platform>", "import only this platform of an index")
    .option("--no-unpack", "skip unpacking the images into snapshots")
    .option("--snapshotter <name>", "snapshotter to unpack into", "native")
    .action(
      async (
        input: string,
        opts: {
          baseName?: string;
          digests?: boolean;
          skipDigestForNamed?: boolean;
          indexName?: string;
          allPlatforms?: boolean;
          platform?: string;
          unpack: boolean;
          snapshotter: string;
        },
        cmd: Command,
      ) => {
        if (opts.skipDigestForNamed && !opts.digests) throw new ExitError("--skip-digest-for-named must be specified with --digests option");
        // ctr import: the host's platform (and what it runs) inside indexes, unless told otherwise.
        const platforms: PlatformMatcher | undefined = opts.allPlatforms
          ? undefined
          : opts.platform
            ? onlyStrict(parsePlatform(opts.platform))
            : defaultPlatforms();
        return withSession(cmd, async (s) => {
          const spooled = input === "-" ? await spoolStdin() : undefined;
          const bar = await progressBar("importing");
          try {
            const { importImageArchive } = await import("../client/image-import.js");
            const result = await importImageArchive(s.client, s.namespace, spooled?.path ?? input, {
              baseName: opts.baseName,
              digests: opts.digests,
              skipDigestForNamed: opts.skipDigestForNamed,
              indexName: opts.indexName,
              platforms,
              lease: leaseOf(cmd),
              onPlan: (plan) => plan.warnings.forEach((w) => process.stderr.write(`warning: ${w}\n`)),
              onProgress: (p) => bar.update(p),
            });
            bar.stop();
            s.wrote(s.namespace, result.rv);
            if (opts.unpack) await unpackAll(s, result.images, opts.snapshotter);
            if (s.options.json) printJson({ images: result.images, blobs: result.blobs, format: result.format });
          } finally {
            bar.stop();
            if (spooled) await spooled.remove();
          }
        });
      },
    );

  images
    .command("export")
    .description("export images to an OCI image layout tar (with a docker manifest.json)")
    .argument("<images...>", "image references")
    .requiredOption("-o, --output <file>", "the archive to write (- for stdout)")
    .option("--platform <platform>", "include this platform of an index (repeatable; default: this host's)", collect, [])
    .option("--all-platforms", "include every platform of an index")
    .option("--skip-manifest-json", "do not add the docker-compatible manifest.json")
    .action(async (names: string[], opts: { output: string; platform: string[]; allPlatforms?: boolean; skipManifestJson?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const platforms = opts.allPlatforms ? allPlatforms : opts.platform.length > 0 ? ordered(...opts.platform.map(parsePlatform)) : undefined;
        const exportOpts = { platforms, allPlatforms: opts.allPlatforms, skipManifestJson: opts.skipManifestJson, minRv: s.minRv(s.namespace) };
        try {
          if (opts.output === "-") {
            const { exportImages } = await import("../client/image-export.js");
            await exportImages(s.client, s.namespace, names, process.stdout, exportOpts);
            return;
          }
          // Written beside the target and renamed into place: never a half-written archive.
          const temp = join(dirname(opts.output), `.${Date.now()}-${process.pid}.purser-export.tmp`);
          const bar = await progressBar("exporting");
          const out = createWriteStream(temp);
          try {
            const done = new Promise<void>((resolve, reject) => {
              out.on("close", resolve);
              out.on("error", reject);
            });
            const { exportImages } = await import("../client/image-export.js");
            const result = await exportImages(s.client, s.namespace, names, out, { ...exportOpts, onProgress: (p) => bar.update(p) });
            out.end();
            await done;
            await rename(temp, opts.output);
            bar.stop();
            if (s.options.json) printJson({ output: opts.output, ...result });
          } catch (err) {
            out.destroy();
            await rm(temp, { force: true });
            throw err;
          } finally {
            bar.stop();
          }
        } catch (err) {
          throw err instanceof PurserError ? err.wrap(`failed to export`) : err;
        }
      }),
    );

  images
    .command("check")
    .description("check existing images to ensure all content is available locally")
    .argument("[filters...]", "containerd filters (several are ORed; commas AND within one)")
    .option("-q, --quiet", "print only the ready image refs (fully downloaded and unpacked)")
    .option("--snapshotter <name>", "snapshotter the images are unpacked into", "native")
    .action(async (filters: string[], opts: { quiet?: boolean; snapshotter: string }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const minRv = s.minRv(s.namespace);
        let list: ImageRecord[];
        try {
          ({ result: list } = await s.client.images.list(s.namespace, filters, { minRv }));
        } catch (err) {
          throw err instanceof PurserError ? err.wrap("failed listing images") : err;
        }
        const { checkImages } = await import("../client/image-inspect.js");
        const checks = await checkImages(s.client, s.namespace, list, { minRv, snapshotter: opts.snapshotter });
        if (s.options.json) {
          printJson(checks);
        } else {
          const rows = checks.map((c, i) => {
            const image = list[i]!;
            let status: string;
            let size: string;
            if (c.error && c.required.length === 0) {
              status = "error";
              size = "-";
            } else {
              const sum = (ds: typeof c.required) => ds.reduce((n, d) => n + d.size, 0);
              status = c.missing.length > 0 ? "incomplete" : "complete";
              if (c.available) {
                status += ` (${c.present.length}/${c.required.length})`;
                size = `${progressBytes(sum(c.present))}/${progressBytes(sum(c.required))}`;
              } else {
                status = `unavailable (${c.present.length}/?)`;
                size = `${progressBytes(sum(c.present))}/?`;
              }
            }
            return [image.name, image.target.mediaType, image.target.digest, status, size, String(c.unpacked)];
          });
          if (opts.quiet) {
            // ctr prints every ref here (its "complete" flag is never cleared).
            process.stdout.write(rows.map((r) => r[0] + "\n").join(""));
          } else if (rows.length > 0) {
            // ctr's header ends in a tab, its rows do not: only the header's UNPACKED is padded.
            process.stdout.write(table(["REF", "TYPE", "DIGEST", "STATUS", "SIZE", "UNPACKED"], rows, { rowsTerminated: false }));
          }
        }
        // As ctr: each failure logged, the first one the exit error.
        checks.forEach((c, i) => c.error && process.stderr.write(logrusError(`unable to check ${list[i]!.name}`, c.error)));
        const first = checks.findIndex((c) => c.error);
        if (first >= 0) throw new ExitError(`unable to check ${list[first]!.name}: ${checks[first]!.error}`);
      }),
    );
}

/**
 * The clearly named step where import hands its images to the unpacker
 * (`images.unpack`, built separately). ctr prints `unpacking <ref> (<digest>)...done`.
 */
async function unpackAll(s: CliSession, images: readonly ImageRecord[], snapshotter: string): Promise<void> {
  for (const image of images) {
    if (!s.options.json) process.stdout.write(`unpacking ${image.name} (${image.target.digest})...`);
    try {
      const { unpackImportedImage } = await import("../client/image-import.js");
      const reply = await unpackImportedImage(s.client, s.namespace, image.name, snapshotter);
      s.wrote(s.namespace, reply.rv);
    } catch (err) {
      if (!isPurserError(err, "NotImplemented")) throw err;
      if (!s.options.json) process.stdout.write("skipped\n");
      process.stderr.write(`warning: ${image.name} was not unpacked: ${err.message} (--no-unpack skips this step)\n`);
      continue;
    }
    if (!s.options.json) process.stdout.write("done\n");
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function leaseOf(cmd: Command): string | undefined {
  return (cmd.optsWithGlobals() as { lease?: string }).lease || undefined;
}

/** `-`: stdin copied to a temporary file (the import reads the archive twice, at offsets). */
async function spoolStdin(): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "purser-import-"));
  const path = join(dir, "archive.tar");
  await pipeline(process.stdin, createWriteStream(path));
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A bar on stderr when it is a terminal: bytes and blobs done, and the rate. */
async function progressBar(verb: string) {
  const bar = await terminalBar({ format: `${verb} [{bar}] {done}/{all} | {blobs}/{totalBlobs} blobs | {speed}`, hideCursor: true });
  const started = Date.now();
  let shown = false;
  return {
    update(p: { bytes: number; totalBytes: number; blobs: number; totalBlobs: number }) {
      if (!bar) return;
      const seconds = (Date.now() - started) / 1000;
      const payload = {
        done: progressBytes(p.bytes),
        all: progressBytes(p.totalBytes),
        blobs: p.blobs,
        totalBlobs: p.totalBlobs,
        speed: seconds > 0 ? `${progressBytes(p.bytes / seconds)}/s` : "",
      };
      if (!shown) {
        bar.start(Math.max(1, p.totalBytes), p.bytes, payload);
        shown = true;
      }
      bar.update(p.bytes, payload);
    },
    stop() {
      if (shown) bar?.stop();
      shown = false;
    },
  };
}
