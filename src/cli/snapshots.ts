import type { Command } from "commander";
import type { Mount, SnapshotRecord } from "../client/snapshots-api.js";
import { defaultSnapshotter } from "../protocol/defaults.js";
import { withSession, type CliSession } from "./context.js";
import { ExitError, parseLabelArgs, printJson, table } from "./output.js";
import { goMounts, goTime } from "./go-json.js";

/**
 * `purser snapshots|snapshot …`, as `ctr snapshots`: prepare, view, commit,
 * rm, ls, tree, info, label, usage, mounts. `--snapshotter` (env
 * PURSER_SNAPSHOTTER, default native) picks the snapshotter; the global
 * `--lease` runs a command under a lease.
 */
export function registerSnapshotCommands(program: Command): void {
  const snapshots = program
    .command("snapshots")
    .alias("snapshot")
    .description("manage snapshots")
    .option("--snapshotter <name>", "snapshotter name (env PURSER_SNAPSHOTTER)", process.env.PURSER_SNAPSHOTTER ?? defaultSnapshotter);

  const sn = (cmd: Command): string => (cmd.optsWithGlobals() as { snapshotter?: string }).snapshotter ?? defaultSnapshotter;
  const lease = (cmd: Command): string | undefined => (cmd.optsWithGlobals() as { lease?: string }).lease || undefined;
  const read = (s: CliSession, cmd: Command) => ({ snapshotter: sn(cmd), minRv: s.minRv(s.namespace) });

  for (const verb of ["prepare", "view"] as const) {
    snapshots
      .command(verb)
      .description(verb === "prepare" ? "prepare a snapshot from a committed snapshot" : "create a read-only snapshot from a committed snapshot")
      .argument("<key>", "key of the new snapshot")
      .argument("[parent]", "committed snapshot to start from")
      .option("-t, --target <path>", "mount target path: print the mount command for it")
      .option("--mounts", "print the snapshot's mounts as JSON")
      .action(async (key: string, parent: string | undefined, opts: { target?: string; mounts?: boolean }, cmd: Command) =>
        withSession(cmd, async (s) => {
          // As ctr: a prepared snapshot is a GC root until someone takes it over.
          const labels: Record<string, string> = verb === "prepare" ? { "containerd.io/gc.root": rfc3339Now() } : {};
          const opt = { snapshotter: sn(cmd), labels, ...(lease(cmd) ? { lease: lease(cmd) } : {}) };
          const reply = await s.client.snapshots[verb](s.namespace, key, parent ?? "", opt);
          s.wrote(s.namespace, reply.rv);
          if (s.options.json) return printJson(reply.result);
          if (opts.target) printMounts(opts.target, reply.result);
          if (opts.mounts) printJson(goMounts(reply.result));
        }),
      );
  }

  snapshots
    .command("commit")
    .description("commit an active snapshot into the provided name")
    .argument("<name>", "name of the committed snapshot")
    .argument("<key>", "key of the active snapshot")
    .action(async (name: string, key: string, _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const reply = await s.client.snapshots.commit(s.namespace, name, key, {
          snapshotter: sn(cmd),
          labels: { "containerd.io/gc.root": rfc3339Now() },
          ...(lease(cmd) ? { lease: lease(cmd) } : {}),
        });
        s.wrote(s.namespace, reply.rv);
        if (s.options.json) printJson(reply.result);
      }),
    );

  snapshots
    .command("delete")
    .aliases(["del", "remove", "rm"])
    .description("remove snapshots")
    .argument("<keys...>", "snapshot keys")
    .action(async (keys: string[], _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        for (const key of keys) {
          try {
            const reply = await s.client.snapshots.remove(s.namespace, key, { snapshotter: sn(cmd), ...(lease(cmd) ? { lease: lease(cmd) } : {}) });
            s.wrote(s.namespace, reply.rv);
          } catch (err) {
            throw new ExitError(`failed to remove ${JSON.stringify(key)}: ${(err as Error).message}`);
          }
        }
      }),
    );

  snapshots
    .command("list")
    .alias("ls")
    .description("list snapshots")
    .argument("[filters...]", "containerd filters: kind, name, parent, labels.<k> (several are ORed)")
    .action(async (filters: string[], _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.snapshots.list(s.namespace, filters, read(s, cmd));
        if (s.options.json) return printJson(result);
        process.stdout.write(table(["KEY", "PARENT", "KIND"], result.map((i) => [i.key, i.parent, kindName(i.kind)])));
      }),
    );

  snapshots
    .command("tree")
    .description("display tree view of snapshot branches")
    .action(async (_o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.snapshots.list(s.namespace, [], read(s, cmd));
        if (s.options.json) return printJson(result);
        process.stdout.write(snapshotTree(result));
      }),
    );

  snapshots
    .command("info")
    .description("get info about a snapshot")
    .argument("<key>", "snapshot key")
    .action(async (key: string, _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.snapshots.stat(s.namespace, key, read(s, cmd));
        if (s.options.json) return printJson(result);
        // ctr prints containerd's snapshots.Info as JSON, indented by four spaces.
        process.stdout.write(JSON.stringify(containerdInfo(result), null, 4) + "\n");
      }),
    );

  snapshots
    .command("label")
    .description("add labels to a snapshot (key= removes one)")
    .argument("<key>", "snapshot key")
    .argument("[labels...]", "labels as key=value")
    .action(async (key: string, args: string[], _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const labels = parseLabelArgs(args);
        const paths = Object.keys(labels).map((k) => `labels.${k}`);
        // As ctr: nothing to change is a plain read (and clears nothing).
        const reply =
          paths.length === 0
            ? await s.client.snapshots.stat(s.namespace, key, read(s, cmd))
            : await s.client.snapshots.update(s.namespace, key, labels, paths, { snapshotter: sn(cmd) });
        if (paths.length > 0) s.wrote(s.namespace, reply.rv);
        if (s.options.json) return printJson(reply.result);
        const out = Object.keys(reply.result.labels).sort().map((k) => `${k}=${reply.result.labels[k]}`);
        process.stdout.write(out.join(",") + "\n");
      }),
    );

  snapshots
    .command("usage")
    .description("usage of snapshots")
    .argument("[keys...]", "snapshot keys (default: every snapshot)")
    .option("-b", "display size in bytes")
    .action(async (keys: string[], opts: { b?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const q = read(s, cmd);
        const names = keys.length > 0 ? keys : (await s.client.snapshots.list(s.namespace, [], q)).result.map((i) => i.key);
        const rows: Array<{ key: string; size: number; inodes: number }> = [];
        for (const key of names) rows.push({ key, ...(await s.client.snapshots.usage(s.namespace, key, q)).result });
        if (s.options.json) return printJson(rows);
        const size = (n: number) => (opts.b ? String(n) : binarySize(n));
        process.stdout.write(table(["KEY", "SIZE", "INODES"], rows.map((r) => [r.key, size(r.size), String(r.inodes)])));
      }),
    );

  snapshots
    .command("mounts")
    .aliases(["m", "mount"])
    .description("mount gets mount commands for the snapshots")
    .argument("<target>", "mount target path")
    .argument("<key>", "snapshot key")
    .action(async (target: string, key: string, _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.snapshots.mounts(s.namespace, key, read(s, cmd));
        if (s.options.json) return printJson(result);
        printMounts(target, result);
      }),
    );
}

/** Go's `time.RFC3339` of now, UTC, as ctr writes its gc.root labels. */
function rfc3339Now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** containerd's `Kind.String()`. */
export function kindName(kind: SnapshotRecord["kind"]): string {
  return kind === "active" ? "Active" : kind === "view" ? "View" : "Committed";
}

/** containerd's `snapshots.Info` JSON: empty Parent and Labels are omitted. */
export function containerdInfo(s: SnapshotRecord): Record<string, unknown> {
  return {
    Kind: kindName(s.kind),
    Name: s.key,
    ...(s.parent !== "" ? { Parent: s.parent } : {}),
    ...(Object.keys(s.labels).length > 0 ? { Labels: s.labels } : {}),
    Created: goTime(s.createdAt),
    Updated: goTime(s.updatedAt),
  };
}

/** ctr's `printMounts`: one `mount` command per mount. */
function printMounts(target: string, mounts: readonly Mount[]): void {
  for (const m of mounts) process.stdout.write(`mount -t ${m.type} ${m.source} ${target} -o ${m.options.join(",")}\n`);
}

/**
 * ctr's `snapshots tree`: every parentless snapshot at the left margin, its
 * children under it indented by two spaces per level and marked `\_`, in the
 * order the snapshots were listed; a parent that is not listed is a root.
 */
export function snapshotTree(list: readonly SnapshotRecord[]): string {
  const children = new Map<string, string[]>();
  const known = new Set(list.map((s) => s.key));
  const roots: string[] = [];
  for (const s of list) {
    if (s.parent === "") roots.push(s.key);
    else {
      if (!known.has(s.parent) && !children.has(s.parent)) roots.push(s.parent);
      children.set(s.parent, [...(children.get(s.parent) ?? []), s.key]);
    }
  }
  let out = "";
  const print = (name: string, level: number) => {
    out += `${"  ".repeat(level)}${level > 0 ? "\\_" : ""} ${name}\n`;
    for (const child of children.get(name) ?? []) print(child, level + 1);
  };
  for (const root of roots) print(root, 0);
  return out;
}

/** containerd's `progress.Bytes`: `%02.1f` of the size in powers of 1024, with B, KiB, MiB, … */
export function binarySize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
  let size = bytes;
  let i = 0;
  while (size >= 1024 && i < units.length - 1) {
    size /= 1024;
    i++;
  }
  return `${size.toFixed(1).padStart(2, "0")} ${units[i]}`;
}
