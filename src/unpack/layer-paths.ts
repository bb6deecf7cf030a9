import { lstatSync, mkdirSync, readlinkSync } from "node:fs";

/**
 * Paths of a layer's entries, confined to the directory they are applied to.
 *
 * A tar entry names a path relative to the root of the file system it
 * describes. Two things can lead a naive extractor out of the snapshot, and
 * both are closed here:
 *
 * - the **name itself**: `../x`, `a/../../x` or `/etc/x`. Such a name has no
 *   meaning inside a root file system; the entry is refused
 *   ({@link cleanEntryName}) and reported, never written.
 * - **symbolic links met on the way**: a lower layer (or an earlier entry)
 *   made `lnk -> /tmp`, and a later entry is `lnk/file`. The parent is
 *   resolved the way the container will see it ({@link ScopedRoot.resolveDir}):
 *   an absolute target starts again at the snapshot's root and `..` stops
 *   there, as containerd's `fs.RootPath` does. The host's `/tmp` is never
 *   reached. The last component of a path is never followed: an entry
 *   replaces a symlink, it does not write through it.
 */

/** Why an entry was refused. */
export const Rejection = {
  Absolute: "absolute path",
  Escapes: "path escapes the snapshot",
  Empty: "empty name",
  LinkAbsolute: "hard link to an absolute path",
  LinkEscapes: "hard link target escapes the snapshot",
  BadWhiteout: "whiteout names no entry",
} as const;
export type Rejection = (typeof Rejection)[keyof typeof Rejection];

/**
 * The components of a tar entry name, cleaned lexically (`.`, empty
 * components and `a/..` pairs removed), or the reason it is refused: an
 * absolute name, or one whose `..` climbs above the root. `[]` is the root
 * itself (`./`).
 */
export function cleanEntryName(name: string): string[] | Rejection {
  if (name === "") return Rejection.Empty;
  if (name.startsWith("/")) return Rejection.Absolute;
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) return Rejection.Escapes;
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

/** Symbolic links followed while resolving one path, at most (Linux's MAXSYMLINKS is 40; continuity allows 255). */
const maxLinks = 255;

/** A directory that, inside the snapshot, is not one (a file where a parent directory should be). */
export class NotADirectoryError extends Error {
  constructor(readonly path: string) {
    super(`${path} is not a directory`);
  }
}

/**
 * The root of a tree being written, and the directories inside it known to
 * be real directories (not links), so that a layer's thousands of entries in
 * the same few directories cost one `lstat` per directory, not per entry.
 * Everything is synchronous: it runs on a worker thread that does nothing
 * else (apply-worker.ts), where a system call is cheapest without a round
 * trip through libuv's pool.
 */
export class ScopedRoot {
  /** Relative paths (`a/b`) known to be real directories in the tree. */
  private readonly dirs = new Set<string>();

  constructor(readonly root: string) {}

  /** The absolute path of a relative one ("" is the root). */
  abs(rel: string): string {
    return rel === "" ? this.root : `${this.root}/${rel}`;
  }

  /**
   * Resolves the directory `components` name inside the root and returns
   * its real relative path: every symbolic link on the way is followed in
   * the root's scope. With `create`, missing directories are made (mode
   * 0755, as containerd's `MkdirAll` of a parent); without, undefined is
   * returned when one is missing. Throws {@link NotADirectoryError} when a
   * component is something else than a directory.
   */
  resolveDir(components: readonly string[], create: boolean): string | undefined {
    const out: string[] = [];
    const queue = [...components];
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        out.pop(); // at the root, `..` is the root
        continue;
      }
      out.push(c);
      const rel = out.join("/");
      if (this.dirs.has(rel)) continue;
      const st = lstatSync(this.abs(rel), { throwIfNoEntry: false });
      if (!st) {
        if (!create) return undefined;
        mkdirSync(this.abs(rel), { mode: 0o755 });
        this.dirs.add(rel);
        continue;
      }
      if (st.isDirectory()) {
        this.dirs.add(rel);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++links > maxLinks) throw new Error(`too many levels of symbolic links resolving ${components.join("/")}`);
        out.pop();
        const target = readlinkSync(this.abs(rel));
        if (target.startsWith("/")) out.length = 0;
        queue.unshift(...target.split("/"));
        continue;
      }
      throw new NotADirectoryError(rel);
    }
    return out.join("/");
  }

  /** Records that `rel` is a directory made by the caller. */
  addDir(rel: string): void {
    this.dirs.add(rel);
  }

  /** Forgets `rel` and everything under it (the caller removed or replaced it). */
  forget(rel: string): void {
    if (!this.dirs.delete(rel)) return;
    const prefix = `${rel}/`;
    for (const d of this.dirs) if (d.startsWith(prefix)) this.dirs.delete(d);
  }
}

/** `parent/name`, or `name` at the root. */
export function joinRel(parent: string, name: string): string {
  return parent === "" ? name : `${parent}/${name}`;
}
