import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from "node:fs";
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar, { type Header } from "tar-stream";
import { cleanEntryName, joinRel, NotADirectoryError, Rejection, ScopedRoot } from "./layer-paths.js";

/**
 * Applies an uncompressed layer tar to a directory that already holds the
 * tree of the layers below it (the native snapshotter's active snapshot is a
 * copy of its parent): containerd's `archive.Apply` with its naive (non
 * overlay) whiteout handling.
 *
 * - `.wh.<name>` removes `<name>` (and all under it) from the directory;
 * - `.wh..wh..opq` empties the directory of everything this layer did not
 *   itself write (an opaque directory hides the lower layers' entries);
 * - other `.wh..wh.*` names are aufs bookkeeping and are skipped;
 * - directories, regular files, symbolic links (verbatim, whatever they point
 *   to: they are data, resolved by the container, never by us), hard links
 *   (to an entry inside the tree), FIFOs and device nodes (devices only as
 *   root); permission bits including setuid/setgid/sticky, modification
 *   times, and owners when running as root (`chown` before `chmod`, which
 *   would otherwise lose setuid);
 * - an entry replaces whatever its path held (a directory only by a
 *   non-directory); a directory entry over an existing directory merges;
 * - a directory's mode and times are set after all entries are written
 *   (writing into it changes its mtime).
 *
 * Path safety is layer-paths.ts's: names that are absolute or climb out with
 * `..`, and hard links to such names, are **refused and reported** (the rest
 * of the layer is applied); symbolic links met as parents are resolved in the
 * tree's scope. Nothing is ever written outside `root`.
 *
 * Every file-system call is synchronous: this runs on a worker thread
 * (apply-worker.ts) whose only job it is, and a synchronous call is several
 * times cheaper than a round trip through libuv's thread pool per call. The
 * stream is never buffered whole: each file's bytes go to disk as they come.
 */

export interface ApplyOptions {
  /** Set owners from the tar headers (default: when running as root, as containerd). */
  chown?: boolean;
  /** Refuse a layer whose uncompressed stream is longer (a gzip bomb): `serve --unpack-max-layer-bytes`. */
  maxBytes?: number;
  /** Refuse a layer with more tar entries: `serve --unpack-max-layer-entries`. */
  maxEntries?: number;
}

/** A layer over one of the bounds of {@link ApplyOptions}: hostile or absurd, refused before it fills the disk. */
export class LayerLimitError extends Error {
  override readonly name = "LayerLimitError";
}

/** An entry that was not written, and why. */
export interface EntryNote {
  name: string;
  reason: string;
}

export interface ApplyReport {
  /** Entries written (directories, files, links, nodes) and whiteouts applied. */
  entries: number;
  /** Entries refused because they would reach outside the tree. */
  rejected: EntryNote[];
  /** Entries left out for lack of privilege (device nodes as non-root) or support (sockets, unknown types). */
  skipped: EntryNote[];
  /** PAX extended attributes (`SCHILY.xattr.*`) not applied: Node.js has no API for them. */
  ignoredXattrs: number;
}

/** Where the report notes stop (a hostile layer could name millions of bad entries). */
const maxNotes = 1000;

export async function applyTar(root: string, source: readonly (Readable | Transform)[], options: ApplyOptions = {}): Promise<ApplyReport> {
  const applier = new TarApplier(root, options.chown ?? process.getuid?.() === 0);
  const extract = tar.extract();
  const piping = pipeline([...source, extract] as unknown as [Readable, ...Transform[]]);
  try {
    let entries = 0;
    for await (const entry of extract) {
      if (options.maxEntries !== undefined && ++entries > options.maxEntries) {
        throw new LayerLimitError(`the layer has more than ${options.maxEntries} entries (serve --unpack-max-layer-entries)`);
      }
      await applier.entry(entry.header, entry);
    }
    await piping;
  } catch (err) {
    extract.destroy(err as Error);
    await piping.catch(() => {});
    throw err;
  }
  applier.finish();
  return applier.report;
}

type DirMeta = { rel: string; header: Header };

class TarApplier {
  readonly report: ApplyReport = { entries: 0, rejected: [], skipped: [], ignoredXattrs: 0 };
  private readonly scope: ScopedRoot;
  /** Every path this layer wrote (real, relative): an opaque directory keeps them. */
  private readonly written = new Set<string>();
  private readonly dirMeta: DirMeta[] = [];

  constructor(
    root: string,
    private readonly chown: boolean,
  ) {
    this.scope = new ScopedRoot(root);
  }

  async entry(header: Header, data: AsyncIterable<unknown>): Promise<void> {
    const pax = (header as Header & { pax?: Record<string, string> }).pax;
    if (pax) for (const k of Object.keys(pax)) if (k.startsWith("SCHILY.xattr.")) this.report.ignoredXattrs++;

    // tar-stream folds PAX and GNU long-name records into the header (and skips PAX global headers, as containerd does).
    const type: string = header.type ?? "file";
    const comps = cleanEntryName(header.name);
    if (typeof comps === "string") {
      this.note(this.report.rejected, header.name, comps);
      return drain(data);
    }
    if (comps.length === 0) return drain(data); // the root itself: containerd leaves it as it is

    const base = comps[comps.length - 1]!;
    const parentComps = comps.slice(0, -1);
    if (base.startsWith(".wh.")) {
      this.whiteout(header.name, parentComps, base);
      return drain(data);
    }

    const parent = this.resolveParent(header.name, parentComps);
    const rel = joinRel(parent, base);
    const path = this.scope.abs(rel);
    this.written.add(rel);

    switch (type) {
      case "directory":
        this.directory(rel, path);
        this.dirMeta.push({ rel, header });
        this.report.entries++;
        return drain(data);
      case "file":
      case "contiguous-file":
        await this.file(rel, path, header, data);
        this.report.entries++;
        return;
      case "symlink":
        this.replace(rel, () => symlinkSync(header.linkname ?? "", path));
        if (this.chown) lchownSync(path, header.uid ?? 0, header.gid ?? 0);
        lutimesSync(path, mtimeOf(header), mtimeOf(header));
        this.report.entries++;
        return drain(data);
      case "link":
        this.hardLink(header, rel, path);
        return drain(data);
      case "fifo":
      case "character-device":
      case "block-device":
        this.node(header, rel, path, type);
        return drain(data);
      default:
        this.note(this.report.skipped, header.name, `unsupported entry type ${type}`);
        return drain(data);
    }
  }

  /**
   * Directory owners, modes and times, last (writing entries into a directory
   * changes its mtime). A later entry of the layer may have replaced the
   * directory, or one of its parents, with a symlink (`d/` then `d -> /etc`):
   * metadata is applied through a descriptor of the directory itself, opened
   * without following links after checking every parent is still a real
   * directory, so it never reaches outside the snapshot, nor a file whose
   * inode the snapshot shares with its parent (docs/unpack.md).
   */
  finish(): void {
    for (const { rel, header } of this.dirMeta) {
      const fd = this.openOwnDirectory(rel);
      if (fd === undefined) continue; // a later entry removed or replaced it
      try {
        if (this.chown) fchownSync(fd, header.uid ?? 0, header.gid ?? 0);
        fchmodSync(fd, (header.mode ?? 0o755) & 0o7777);
        futimesSync(fd, mtimeOf(header), mtimeOf(header));
      } finally {
        closeSync(fd);
      }
    }
  }

  /** A descriptor of `rel` when it and every parent are real directories of the snapshot, else undefined. */
  private openOwnDirectory(rel: string): number | undefined {
    const comps = rel.split("/").filter((c) => c !== "");
    for (let i = 1; i < comps.length; i++) {
      const st = lstatSync(this.scope.abs(comps.slice(0, i).join("/")), { throwIfNoEntry: false });
      if (!st?.isDirectory()) return undefined;
    }
    try {
      return openSync(this.scope.abs(rel), fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR") || isErrno(err, "ELOOP")) return undefined;
      throw err;
    }
  }

  private resolveParent(name: string, parentComps: string[]): string {
    try {
      return this.scope.resolveDir(parentComps, true)!;
    } catch (err) {
      if (err instanceof NotADirectoryError) throw new Error(`cannot apply ${JSON.stringify(name)}: its parent ${err.path} is not a directory`);
      throw err;
    }
  }

  private whiteout(name: string, parentComps: string[], base: string): void {
    let parent: string | undefined;
    try {
      parent = this.scope.resolveDir(parentComps, false);
    } catch (err) {
      if (err instanceof NotADirectoryError) return; // nothing below a non-directory to hide
      throw err;
    }
    if (base === ".wh..wh..opq") {
      this.report.entries++;
      if (parent !== undefined) this.emptyOpaque(parent);
      return;
    }
    if (base.startsWith(".wh..wh.")) return; // aufs metadata (.wh..wh.plnk, .wh..wh.aufs)
    const hidden = base.slice(".wh.".length);
    if (hidden === "" || hidden === "." || hidden === "..") {
      this.note(this.report.rejected, name, Rejection.BadWhiteout);
      return;
    }
    this.report.entries++;
    if (parent === undefined) return;
    const rel = joinRel(parent, hidden);
    const st = lstatSync(this.scope.abs(rel), { throwIfNoEntry: false });
    if (st) this.remove(rel, st);
  }

  /** containerd's walk: everything under the directory the layer did not write goes (its own entries stay). */
  private emptyOpaque(dir: string): void {
    let names: string[];
    try {
      names = readdirSync(this.scope.abs(dir));
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return;
      throw err;
    }
    for (const n of names) {
      const rel = joinRel(dir, n);
      const st = lstatSync(this.scope.abs(rel));
      if (!this.written.has(rel)) this.remove(rel, st);
      else if (st.isDirectory()) this.emptyOpaque(rel);
    }
  }

  private directory(rel: string, path: string): void {
    try {
      mkdirSync(path, { mode: 0o755 });
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
      const st = lstatSync(path);
      if (!st.isDirectory()) {
        this.remove(rel, st);
        mkdirSync(path, { mode: 0o755 });
      }
    }
    this.scope.addDir(rel);
  }

  private async file(rel: string, path: string, header: Header, data: AsyncIterable<unknown>): Promise<void> {
    // O_EXCL: never opens what is there (a symlink left by a lower layer is replaced, not followed).
    const fd = this.replace(rel, () => openSync(path, "wx", 0o600));
    try {
      for await (const chunk of data) {
        const buf = chunk as Buffer;
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      }
      if (this.chown) fchownSync(fd, header.uid ?? 0, header.gid ?? 0);
      fchmodSync(fd, (header.mode ?? 0o644) & 0o7777);
      futimesSync(fd, mtimeOf(header), mtimeOf(header));
    } finally {
      closeSync(fd);
    }
  }

  private hardLink(header: Header, rel: string, path: string): void {
    const target = cleanEntryName(header.linkname ?? "");
    if (typeof target === "string" || target.length === 0) {
      const reason = target === Rejection.Absolute ? Rejection.LinkAbsolute : Rejection.LinkEscapes;
      this.written.delete(rel);
      this.note(this.report.rejected, header.name, reason);
      return;
    }
    let targetParent: string | undefined;
    try {
      targetParent = this.scope.resolveDir(target.slice(0, -1), false);
    } catch (err) {
      if (!(err instanceof NotADirectoryError)) throw err;
    }
    if (targetParent === undefined) throw new Error(`hard link ${JSON.stringify(header.name)}: target ${JSON.stringify(header.linkname)} does not exist`);
    const targetRel = joinRel(targetParent, target[target.length - 1]!);
    if (targetRel === rel) return; // a link to itself: nothing to do
    const targetPath = this.scope.abs(targetRel);
    // link(2) does not follow a symlink target: the new name is another link to the same symlink inode.
    const st = lstatSync(targetPath, { throwIfNoEntry: false });
    if (!st) throw new Error(`hard link ${JSON.stringify(header.name)}: target ${JSON.stringify(header.linkname)} does not exist`);
    if (st.isDirectory()) throw new Error(`hard link ${JSON.stringify(header.name)}: target ${JSON.stringify(header.linkname)} is a directory`);
    this.replace(rel, () => linkSync(targetPath, path));
    this.report.entries++;
  }

  private node(header: Header, rel: string, path: string, type: "fifo" | "character-device" | "block-device"): void {
    if (type !== "fifo" && !this.chown) {
      // containerd, unprivileged (a user namespace), skips device nodes the same way.
      this.written.delete(rel);
      this.note(this.report.skipped, header.name, `${type} needs root`);
      return;
    }
    const args =
      type === "fifo" ? [path, "p"] : [path, type === "character-device" ? "c" : "b", String(header.devmajor ?? 0), String(header.devminor ?? 0)];
    // Node.js has no mknod(2); device nodes are rare in layers (most images leave /dev empty).
    this.replace(rel, () => execFileSync("mknod", args, { stdio: ["ignore", "ignore", "pipe"] }));
    if (this.chown) chownSync(path, header.uid ?? 0, header.gid ?? 0);
    chmodSync(path, (header.mode ?? 0o644) & 0o7777);
    utimesSync(path, mtimeOf(header), mtimeOf(header));
    this.report.entries++;
  }

  /** Runs `create`; if the path is taken, removes what is there and runs it again. */
  private replace<T>(rel: string, create: () => T): T {
    try {
      return create();
    } catch (err) {
      if (!isErrno(err, "EEXIST") && !(err as { stderr?: Buffer }).stderr?.toString().includes("File exists")) throw err;
    }
    const st = lstatSync(this.scope.abs(rel), { throwIfNoEntry: false });
    if (st) this.remove(rel, st);
    return create();
  }

  private remove(rel: string, st: Stats): void {
    if (st.isDirectory()) {
      rmSync(this.scope.abs(rel), { recursive: true, force: true });
      this.scope.forget(rel);
    } else {
      unlinkSync(this.scope.abs(rel));
    }
  }

  private note(list: EntryNote[], name: string, reason: string): void {
    if (list.length < maxNotes) list.push({ name, reason });
  }
}

function mtimeOf(h: Header): Date {
  return h.mtime ?? new Date(0);
}

async function drain(data: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of data) {
    // an entry's bytes must be read before the next entry comes
  }
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}
