import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { createContainerWithSnapshot, deleteContainerWithSnapshot } from "../client/container-rootfs.js";
import type { ContainerFromImage } from "../client/containers-api.js";
import { defaultRuntime, defaultSnapshotter, runcDefaultOptions, runtimeSpecTypeUrl } from "../protocol/defaults.js";
import { invalidArgument } from "../errors/errdefs.js";
import { withSession } from "./context.js";
import { decodedSpec, goContainer } from "./go-json.js";
import { collect, labelPairs } from "./images.js";
import { ExitError, logrusError, parseLabelArgs, printJson, table } from "./output.js";



/** `purser containers|container|c …`, as `ctr containers`: create, ls, info, label, rm. */
export function registerContainerCommands(program: Command): void {
  const containers = program.command("containers").aliases(["container", "c"]).description("manage containers");

  containers
    .command("create")
    .description("create container")
    .usage("[command options] [flags] Image|RootFS CONTAINER [COMMAND] [ARG...]")
    .argument("[image]", "image reference (must exist); with --config, the container id")
    .argument("[id]", "container id")
    .argument("[command...]", "command and arguments of the container's process (after -- when it has options)")
    .option("--snapshotter <name>", "snapshotter name (the image is unpacked there first if needed)", defaultSnapshotter)
    .option("-c, --config <file>", "path to the runtime-specific spec config file")
    .option("--spec <file>", "the same as --config, with the image and snapshot still made (purser)")
    .option("--cwd <dir>", "specify the working directory of the process")
    .option("--env <k=v>", "specify additional container environment variables (e.g. FOO=bar)", collect, [])
    .option("--label <k=v>", "specify additional labels (e.g. foo=bar)", collect, [])
    .option("--annotation <k=v>", "specify additional OCI annotations (e.g. foo=bar)", collect, [])
    .option("--read-only", "set the containers filesystem as readonly")
    .option("--runtime <name>", "runtime name", defaultRuntime)
    .option("-t, --tty", "allocate a TTY for the container")
    .option("--allow-new-privs", "turn off OCI spec's NoNewPrivileges feature flag")
    .option("--no-snapshot", "create no root file system snapshot (the image need not be unpacked; purser)")
    .action(async (first: string | undefined, second: string | undefined, args: string[], opts: CreateFlags, cmd: Command) => {
      if (opts.config) return createFromSpecFile(cmd, first, opts);
      if (!first) throw invalidArgument("image ref must be provided");
      if (!second) throw invalidArgument("container id must be provided");
      return withSession(cmd, async (s) => {
        const lease = (cmd.optsWithGlobals() as { lease?: string }).lease || undefined;
        const labels = parseLabelArgs(opts.label);
        let reply;
        if (opts.spec) {
          const { result: image } = await s.client.images.get(s.namespace, first, { minRv: s.minRv(s.namespace) });
          // As ctr: the image's labels first, then the ones given here.
          const container = { id: second, image: image.name, runtime: { name: opts.runtime }, spec: specFromFile(opts.spec, opts, labels), labels: { ...image.labels, ...labels } };
          reply = opts.snapshot
            ? await createContainerWithSnapshot(s.client, s.namespace, container, { snapshotter: opts.snapshotter, lease })
            : await s.client.containers.create(s.namespace, container);
        } else {
          const fromImage: ContainerFromImage = {
            id: second,
            image: first,
            runtime: { name: opts.runtime },
            labels,
            args,
            env: opts.env,
            cwd: opts.cwd ?? "",
            tty: opts.tty ?? false,
            readOnly: opts.readOnly ?? false,
            allowNewPrivileges: opts.allowNewPrivs ?? false,
            // As ctr: --annotation, then the labels, become the spec's annotations.
            annotations: { ...annotationArgs(opts.annotation), ...labels },
          };
          // As ctr's WithNewSnapshot: an active snapshot keyed by the id, on the image's unpacked layers (docs/unpack.md).
          reply = opts.snapshot
            ? await createContainerWithSnapshot(s.client, s.namespace, { fromImage }, { snapshotter: opts.snapshotter, lease })
            : await s.client.containers.createFromImage(s.namespace, { ...fromImage, snapshotter: "" }, { lease });
        }
        s.wrote(s.namespace, reply.rv);
        if (s.options.json) printJson(goContainer(reply.result));
      });
    });

  containers
    .command("list")
    .alias("ls")
    .description("list containers")
    .argument("[filters...]", "containerd filters (several are ORed; commas AND within one)")
    .option("-q, --quiet", "print only the container id")
    .action(async (filters: string[], opts: { quiet?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.containers.list(s.namespace, filters, { minRv: s.minRv(s.namespace) });
        if (s.options.json) return printJson(result.map(goContainer));
        if (opts.quiet) return void process.stdout.write(result.map((c) => c.id + "\n").join(""));
        process.stdout.write(
          table(
            ["CONTAINER", "IMAGE", "RUNTIME"],
            result.map((c) => [c.id, c.image === "" ? "-" : c.image, c.runtime.name]),
            { minwidth: 4, padding: 4 },
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
        printJson(opts.spec ? (decodedSpec(result.spec) ?? null) : goContainer(result));
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
        if (s.options.json) return printJson(goContainer(reply.result));
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
            // As ctr: each failure is logged (logrus' text format), the first one is the exit error.
            process.stderr.write(logrusError(`failed to delete container ${JSON.stringify(id)}`, (err as Error).message));
            failure ??= new ExitError((err as Error).message);
          }
        }
        if (s.options.json) printJson(removed);
        if (failure) throw failure;
      }),
    );
}

interface CreateFlags {
  snapshotter: string;
  config?: string;
  spec?: string;
  cwd?: string;
  env: string[];
  label: string[];
  annotation: string[];
  readOnly?: boolean;
  runtime: string;
  tty?: boolean;
  allowNewPrivs?: boolean;
  snapshot: boolean;
}

/**
 * `ctr containers create --config FILE ID`: the spec is the file's (with the
 * labels as annotations), the labels are the given ones, and there is no
 * image and no snapshot.
 */
async function createFromSpecFile(cmd: Command, id: string | undefined, opts: CreateFlags): Promise<void> {
  if (!id) throw invalidArgument("container id must be provided");
  const labels = parseLabelArgs(opts.label);
  return withSession(cmd, async (s) => {
    const reply = await s.client.containers.create(s.namespace, {
      id,
      runtime: { name: opts.runtime, ...(opts.runtime === defaultRuntime ? { options: runcDefaultOptions() } : {}) },
      spec: specFromFile(opts.config!, opts, labels),
      labels,
    });
    s.wrote(s.namespace, reply.rv);
    if (s.options.json) printJson(goContainer(reply.result));
  });
}

/** ctr's `AnnotationArgs`: every annotation must be `k=v`. */
function annotationArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const at = a.indexOf("=");
    if (at < 0) throw invalidArgument(`annotations must be formatted key=value`);
    out[a.slice(0, at)] = a.slice(at + 1);
  }
  return out;
}

/** `oci.WithSpecFromFile` then `WithAnnotations(--annotation, labels)`, stored as containerd stores a spec (an Any of its JSON). */
function specFromFile(file: string, opts: CreateFlags, labels: Record<string, string>): { type_url: string; value: Uint8Array } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ExitError(`failed to read spec ${file}: ${(err as Error).message}`);
  }
  let spec: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a JSON object");
    spec = parsed as Record<string, unknown>;
  } catch (err) {
    throw new ExitError(`failed to parse spec ${file}: ${(err as Error).message}`);
  }
  const annotations = { ...(spec.annotations as Record<string, string> | undefined), ...annotationArgs(opts.annotation), ...labels };
  if (Object.keys(annotations).length > 0) spec.annotations = annotations;
  return { type_url: runtimeSpecTypeUrl, value: new TextEncoder().encode(JSON.stringify(spec)) };
}
