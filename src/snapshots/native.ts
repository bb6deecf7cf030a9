import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { failedPrecondition } from "../errors/errdefs.js";
import { SnapshotKind, type SnapshotRecord } from "../events/snapshot-events.js";
import { quote } from "../validation/identifiers.js";
import { copyTree } from "./copy-tree.js";
import { diskUsage } from "./disk-usage.js";
import type { Usage } from "../protocol/results.js";
import type { Mount } from "../protocol/results.js";

/**
 * GNU `cp -a --reflink=auto` keeps everything continuity's CopyDir keeps,
 * extended attributes included (Node.js has no API for those), and is native
 * speed; {@link copyTree} is the portable fallback.
 */
let gnuCp: boolean | undefined;
function hasGnuCp(): boolean {
  if (gnuCp === undefined) {
    try {
      gnuCp = execFileSync("cp", ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).includes("GNU coreutils");
    } catch {
      gnuCp = false;
    }
  }
  return gnuCp;
}

/**
 * How a prepare fills a child's tree from its parent. `link`: directories
 * copied, files hard-linked (`cp -al`); for the in-process unpacker only
 * (`SnapshotService.prepare` with `linkParentFiles`: no request off the wire
 * can ask for it, its parameters are typed), whose layer applier never writes into an
 * existing inode (it unlinks and creates) and which commits the snapshot at
 * once, so the committed parent's files are never changed (docs/unpack.md).
 */
export type ParentCopy = "copy" | "link";

/** Copies a parent's tree to a new path (which must not exist), the best way the host offers. */
export async function copySnapshotTree(src: string, dst: string, strategy: "auto" | "node" | "link" = "auto"): Promise<void> {
  if (strategy === "link" && hasGnuCp()) {
    await new Promise<void>((resolve, reject) =>
      execFile("cp", ["-a", "-l", "--no-target-directory", src, dst], (err, _out, stderr) =>
        err ? reject(new Error(`linking of parent failed: ${stderr.trim() || err.message}`)) : resolve(),
      ),
    );
    return;
  }
  if (strategy !== "node" && hasGnuCp()) {
    // An empty tree (the common parent of a benchmark, or a scratch layer) needs no process.
    if ((await fs.readdir(src)).length === 0) return copyTree(src, dst);
    await new Promise<void>((resolve, reject) =>
      execFile("cp", ["-a", "--reflink=auto", "--no-target-directory", src, dst], (err, _out, stderr) =>
        err ? reject(new Error(`copying of parent failed: ${stderr.trim() || err.message}`)) : resolve(),
      ),
    );
    return;
  }
  await copyTree(src, dst);
}

/** containerd's `mount.Mount` as the native snapshotter fills it. */
/**
 * The native snapshotter's host side (containerd `snapshots/native`): plain
 * directories under `<dataDir>/snapshots/native`.
 *
 *   snapshots/<dir>   the tree of a snapshot (an active snapshot's own copy
 *                     of its parent; a committed snapshot keeps the directory
 *                     of the active one it came from)
 *   tmp/new-<dir>-…   a tree being built; renamed into snapshots/ when complete
 *
 * The event log is the truth; these directories are derived host state. A
 * directory is created *before* the event that names it is appended, so a
 * snapshot in the log always has its tree; a directory no live snapshot
 * names (its prepare lost a race, or its snapshot was removed) is garbage for
 * the collector ({@link listDirs}, {@link removeDir}). Removing a snapshot
 * never deletes its directory (docs/snapshots.md).
 */
export class NativeSnapshotter {
  readonly name = "native";
  readonly root: string;
  /** Usage of committed trees, which never change once committed. */
  private readonly frozenUsage = new Map<string, Usage>();
  /** snapshots/ and tmp/ exist (tmp/ is removed only at start, before any command). */
  private rootReady = false;
  /**
   * Directories made (or found) for a command whose event the views have not
   * applied yet, with when: the collector leaves them alone (docs/gc.md).
   */
  private readonly unconfirmed = new Map<string, number>();

  constructor(dataDir: string) {
    this.root = join(dataDir, "snapshots", "native");
  }

  /** The absolute path of a snapshot directory. */
  dirPath(dir: string): string {
    return join(this.root, "snapshots", dir);
  }

  /**
   * Makes sure `dir` exists: an empty directory, or a copy of `copyOf`'s tree.
   * Idempotent: a directory that exists is complete, because trees are built
   * under tmp/ and renamed into place in one step.
   */
  async materialize(dir: string, copyOf?: string, parentCopy: ParentCopy = "copy"): Promise<void> {
    this.unconfirmed.set(dir, Date.now());
    const path = this.dirPath(dir);
    if (await exists(path)) return;
    if (!this.rootReady) {
      await fs.mkdir(join(this.root, "snapshots"), { recursive: true, mode: 0o700 });
      await fs.mkdir(join(this.root, "tmp"), { recursive: true, mode: 0o700 });
      this.rootReady = true;
    }
    const tmp = join(this.root, "tmp", `new-${dir}-${randomBytes(4).toString("hex")}`);
    try {
      if (copyOf === undefined) await fs.mkdir(tmp, { mode: 0o755 });
      else await copySnapshotTree(this.dirPath(copyOf), tmp, parentCopy === "link" ? "link" : "auto");
      await fs.rename(tmp, path);
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
  }

  /**
   * containerd native `mounts`: one rbind mount, `rw` for an active snapshot,
   * `ro` for a view (whose source is its parent's tree when it has one).
   * Committed snapshots have no mounts (`storage.GetSnapshot` refuses them).
   */
  mounts(s: SnapshotRecord): Mount[] {
    if (s.kind === SnapshotKind.Committed) {
      throw failedPrecondition(`failed to get snapshot mount: requested snapshot ${s.backendKey} not active or view`);
    }
    return [{ type: "bind", source: this.dirPath(s.dir), options: ["rbind", s.kind === SnapshotKind.View ? "ro" : "rw"] }];
  }

  /**
   * The directory to write a layer's files into: only an active snapshot's;
   * views and committed snapshots are read-only.
   */
  writableDir(s: SnapshotRecord): string {
    if (s.kind !== SnapshotKind.Active) {
      throw failedPrecondition(`snapshot ${quote(s.key)} is not active: it is read-only`);
    }
    return this.dirPath(s.dir);
  }

  /**
   * containerd native `Usage`: measured for an active snapshot; the usage a
   * committed one had when it was committed (its tree no longer changes, so
   * it is measured once and remembered); zero for a view, which owns nothing.
   */
  async usage(s: SnapshotRecord): Promise<Usage> {
    switch (s.kind) {
      case SnapshotKind.View:
        return { size: 0, inodes: 0 };
      case SnapshotKind.Active:
        return diskUsage(this.dirPath(s.dir));
      case SnapshotKind.Committed: {
        const known = this.frozenUsage.get(s.dir);
        if (known) return known;
        const measured = await diskUsage(this.dirPath(s.dir));
        this.frozenUsage.set(s.dir, measured);
        return measured;
      }
    }
  }

  /** Whether a snapshot directory is on disk. */
  hasDir(dir: string): Promise<boolean> {
    return exists(this.dirPath(dir));
  }

  /** Every snapshot directory on disk (the collector compares them with the live snapshots). */
  async listDirs(): Promise<string[]> {
    try {
      return (await fs.readdir(join(this.root, "snapshots"))).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  }

  /** The views applied an event naming `dir`: from now on the records say whether it is in use. */
  confirm(dir: string): void {
    this.unconfirmed.delete(dir);
  }

  /** Whether some directory was made for a command whose event has not confirmed it yet. */
  hasUnconfirmed(): boolean {
    return this.unconfirmed.size > 0;
  }

  /** Directories made for a command whose event has not confirmed them (candidates for the disk clean-up). */
  unconfirmedDirs(): string[] {
    return [...this.unconfirmed.keys()];
  }

  /**
   * Whether `dir` was made for a command whose event may still come (made
   * less than `graceMs` ago and not confirmed): not garbage yet.
   */
  awaitingEvent(dir: string, graceMs: number, now = Date.now()): boolean {
    const at = this.unconfirmed.get(dir);
    if (at === undefined) return false;
    if (now - at < graceMs) return true;
    this.unconfirmed.delete(dir);
    return false;
  }

  /** Deletes a snapshot directory (the collector's job, never a command's). */
  async removeDir(dir: string): Promise<void> {
    this.frozenUsage.delete(dir);
    await fs.rm(this.dirPath(dir), { recursive: true, force: true });
  }

  /** Removes trees left half-built by a process that stopped while copying. */
  async removeStaleTemporaries(): Promise<void> {
    this.rootReady = false;
    await fs.rm(join(this.root, "tmp"), { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
