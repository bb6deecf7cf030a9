import { execFile } from "node:child_process";
import { constants, promises as fs, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Limiter } from "../concurrency/limiter.js";

const run = promisify(execFile);

/**
 * Copies a directory tree the way the native snapshotter must (containerd's
 * `continuity/fs.CopyDir`): every entry keeps its type, permission bits
 * (setuid, setgid and sticky included) and timestamps; symbolic links are
 * copied as links, verbatim, never followed or rewritten; hard links within
 * the tree stay hard links; ownership is kept when the process may chown
 * (root); FIFOs and device nodes are recreated; sockets are skipped, as
 * continuity does.
 *
 * Regular files are copied with `COPYFILE_FICLONE`: a reflink (a shared,
 * copy-on-write extent) where the file system supports one (btrfs, xfs), a
 * plain copy elsewhere. Extended attributes are not copied (Node.js has no
 * API for them): the native snapshotter prefers GNU `cp -a` where it exists
 * (native.ts) and uses this where it does not.
 *
 * `dst` must not exist. A directory gets its final mode and times only
 * after its entries are in place (writing into it changes its mtime, and a
 * read-only mode would refuse the writes).
 */
export interface CopyTreeOptions {
  /** File-system operations in flight (default 64). */
  concurrency?: number;
  /** Keep owners (default: when running as root). */
  preserveOwnership?: boolean;
}

export async function copyTree(src: string, dst: string, options: CopyTreeOptions = {}): Promise<void> {
  const limiter = new Limiter(options.concurrency ?? 64);
  const chown = options.preserveOwnership ?? process.getuid?.() === 0;
  const links = new Map<string, Promise<string>>();
  const op = <T>(f: () => Promise<T>) => limiter.run(f);

  const applyMeta = async (path: string, st: BigIntStats, isLink: boolean) => {
    if (chown) await op(() => fs.lchown(path, Number(st.uid), Number(st.gid)));
    // chown clears setuid/setgid, so the mode comes after it. A link's mode cannot be changed on Linux.
    if (!isLink) await op(() => fs.chmod(path, Number(st.mode) & 0o7777));
    const atime = Number(st.atimeNs) / 1e9;
    const mtime = Number(st.mtimeNs) / 1e9;
    await op(() => (isLink ? fs.lutimes(path, atime, mtime) : fs.utimes(path, atime, mtime)));
  };

  const copyEntry = async (from: string, to: string, st: BigIntStats): Promise<void> => {
    if (st.isDirectory()) {
      await op(() => fs.mkdir(to, { mode: 0o700 }));
      const names = await op(() => fs.readdir(from));
      await Promise.all(
        names.map(async (name) => {
          const child = join(from, name);
          const cst = await op(() => fs.lstat(child, { bigint: true }));
          await copyEntry(child, join(to, name), cst);
        }),
      );
      await applyMeta(to, st, false);
      return;
    }
    if (st.isSymbolicLink()) {
      const target = await op(() => fs.readlink(from));
      await op(() => fs.symlink(target, to));
      await applyMeta(to, st, true);
      return;
    }
    if (st.isFile()) {
      if (st.nlink > 1n) {
        const id = `${st.dev}:${st.ino}`;
        const first = links.get(id);
        if (first) {
          // Wait for the first copy outside the limiter: holding a slot while
          // waiting for work that needs one could exhaust them all.
          const target = await first;
          await op(() => fs.link(target, to));
          return;
        }
        links.set(id, copyFile(from, to, st).then(() => to));
        await links.get(id);
        return;
      }
      await copyFile(from, to, st);
      return;
    }
    if (st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice()) {
      const args = st.isFIFO() ? [to, "p"] : [to, st.isCharacterDevice() ? "c" : "b", String(devMajor(st.rdev)), String(devMinor(st.rdev))];
      await op(() => run("mknod", args));
      await applyMeta(to, st, false);
      return;
    }
    // Sockets belong to a running process; a copy of one means nothing.
  };

  const copyFile = async (from: string, to: string, st: BigIntStats) => {
    await op(() => fs.copyFile(from, to, constants.COPYFILE_FICLONE));
    await applyMeta(to, st, false);
  };

  const root = await fs.lstat(src, { bigint: true });
  if (!root.isDirectory()) throw new Error(`copy tree: ${src} is not a directory`);
  await copyEntry(src, dst, root);
}

/** glibc's `gnu_dev_major` / `gnu_dev_minor` for Linux's 64-bit dev_t. */
function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}
