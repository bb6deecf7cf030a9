import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { createContainerWithSnapshot, deleteContainerWithSnapshot } from "../client/container-rootfs.js";
import { invalidArgument } from "../errors/errdefs.js";
import { withSession } from "./context.js";
import { defaultSpec } from "./default-spec.js";
import { collect, labelPairs } from "./images.js";
import { ExitError, parseLabelArgs, printJson, table } from "./output.js";

/** The runtime `ctr containers create` uses when none is named. */
export const defaultRuntime = "io.containerd.runc.v2";

/** The type URL containerd gives a marshalled OCI runtime spec. */
const runtimeSpecTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

/** `purser containers|container|c …`, as `ctr containers`: create, ls, info, label, rm. */
export function registerContainerCommands(program: Command): void {
  const containers = program.command("containers").aliases(["container", "c"]).description("manage containers");

  containers
    .command("create")
    .description("create a container from an image")
    .argument("[image]", "image reference (must exist)")
    .argument("[id]", "container id")
    .argument("[command...]", "command and arguments of the container's process (after -- when it has options)")
    .option("--runtime <name>", "runtime name", defaultRuntime)
    .option("--spec <file>", "OCI runtime spec (JSON) to use instead of one generated from the image")
    .option("--label <k=v>", "container label (repeatable); the image's labels are included", collect, [])
    .option("--snapshotter <name>", "snapshotter of the container's root file system (the image is unpacked there first if needed)", "native")
    .option("--no-snapshot", "create no root file system snapshot (the image need not be unpacked)")
    .action(
      async (
        ref: string | undefined,
        id: string | undefined,
        args: string[],
        opts: { runtime: string; spec?: string; label: string[]; snapshotter: string; snapshot: boolean },
        cmd: Command,
      ) => {
        if (!ref) throw invalidArgument("image ref must be provided");
        if (!id) throw invalidArgument("container id must be provided");
        return withSession(cmd, async (s) => {
          const { result: image } = await s.client.images.get(s.namespace, ref, { minRv: s.minRv(s.namespace) });
          const spec = opts.spec ? readSpec(opts.spec) : defaultSpec(id, image, args);
          const container = {
            id,
            image: image.name,
            runtime: { name: opts.runtime },
            spec,
            // As ctr: the image's labels first, then the ones given here.
            labels: { ...image.labels, ...parseLabelArgs(opts.label) },
          };
          // As ctr's WithNewSnapshot: an active snapshot keyed by the id, on the image's unpacked layers (docs/unpack.md).
          const lease = (cmd.optsWithGlobals() as { lease?: string }).lease || undefined;
          const reply = opts.snapshot
            ? await createContainerWithSnapshot(s.client, s.namespace, container, { snapshotter: opts.snapshotter, lease })
            : await s.client.containers.create(s.namespace, container);
          s.wrote(s.namespace, reply.rv);
          if (s.options.json) printJson(forDisplay(reply.result));
        });
      },
    );

  containers
    .command("list")
    .alias("ls")
    .description("list containers")
    .argument("[filters...]", "containerd filters (several are ORed; commas AND within one)")
    .option("-q, --quiet", "print only the container id")
    .action(async (filters: string[], opts: { quiet?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.containers.list(s.namespace, filters, { minRv: s.minRv(s.namespace) });
        if (s.options.json) return printJson(forDisplay(result));
        if (opts.quiet) return void process.stdout.write(result.map((c) => c.id + "\n").join(""));
        process.stdout.write(
          table(
            ["CONTAINER", "IMAGE", "RUNTIME"],
            result.map((c) => [c.id, c.image === "" ? "-" : c.image, c.runtime.name]),
            4,
          ),
        );
      }),
    );

  containers
    .command("info")
    .description("get info about a container (JSON)")
    .argument("[id]", "container id")
    .option("--spec", "only display the spec")
    .action(async (id: string | undefined, opts: { spec?: boolean }, cmd: Command) => {
      if (!id) throw invalidArgument("container id must be provided");
      return withSession(cmd, async (s) => {
        const { result } = await s.client.containers.get(s.namespace, id, { minRv: s.minRv(s.namespace) });
        printJson(forDisplay(opts.spec ? result.spec : result));
      });
    });

  containers
    .command("label")
    .description("set and clear labels for a container (key= removes)")
    .argument("[id]", "container id")
    .argument("[labels...]", "labels as key=value")
    .action(async (id: string | undefined, labels: string[], _opts, cmd: Command) => {
      if (!id) throw invalidArgument("container id must be provided");
      return withSession(cmd, async (s) => {
        const set = parseLabelArgs(labels);
        const reply = await s.client.containers.update(s.namespace, { id, labels: set }, Object.keys(set).map((k) => `labels.${k}`));
        s.wrote(s.namespace, reply.rv);
        if (s.options.json) return printJson(forDisplay(reply.result));
        process.stdout.write(labelPairs(reply.result.labels) + "\n");
      });
    });

  containers
    .command("delete")
    .aliases(["del", "remove", "rm"])
    .description("delete one or more existing containers")
    .argument("<ids...>", "container ids")
    .option("--keep-snapshot", "do not remove the container's snapshot")
    .action(async (ids: string[], opts: { keepSnapshot?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        let failure: ExitError | undefined;
        const removed: string[] = [];
        for (const id of ids) {
          try {
            // As ctr's WithSnapshotCleanup: the snapshot first, then the container.
            const reply = await deleteContainerWithSnapshot(s.client, s.namespace, id, { keepSnapshot: opts.keepSnapshot, minRv: s.minRv(s.namespace) });
            s.wrote(s.namespace, reply.rv);
            removed.push(id);
          } catch (err) {
            // As ctr: each failure is reported, the first one is the exit error.
            process.stderr.write(`error: failed to delete container ${JSON.stringify(id)}: ${(err as Error).message}\n`);
            failure ??= new ExitError((err as Error).message);
          }
        }
        if (s.options.json) printJson(removed);
        if (failure) throw failure;
      }),
    );
}

function readSpec(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ExitError(`failed to read spec ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ExitError(`spec ${file} is not JSON: ${(err as Error).message}`);
  }
}

/**
 * Opaque values as JSON can show them: a containerd Any holding a runtime spec
 * is decoded (as `ctr containers info` does), other bytes print as base64.
 */
export function forDisplay(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(forDisplay);
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o.type_url === runtimeSpecTypeUrl && o.value instanceof Uint8Array) {
      try {
        return JSON.parse(Buffer.from(o.value).toString("utf8")) as unknown;
      } catch {
        // not JSON: shown as bytes below
      }
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, forDisplay(v)]));
  }
  return value;
}
