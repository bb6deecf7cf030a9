import { constants as fsConstants, promises as fs } from "node:fs";
import { invalidArgument } from "../errors/errdefs.js";
import { ScopedRoot } from "../unpack/layer-paths.js";

/** More symbolic links than this on one path is a loop (Linux's MAXSYMLINKS). */
const maxLinks = 40;

/**
 * Reads a file of a container's root file system the way the container would
 * see it (containerd's `fs.RootPath`): every symbolic link on the way,
 * the last one included, is followed inside `root` — an absolute target
 * starts again at `root`, `..` stops there — so an image that links
 * `/etc/passwd` to the host's `/etc/shadow` reads nothing of the host's. The
 * file is opened without following a link (a swap after the check is not
 * followed either) and must be a regular file of at most `maxBytes`.
 * Undefined when the path does not exist in the tree.
 */
export async function readRootFile(root: string, path: string, maxBytes: number): Promise<string | undefined> {
  const scope = new ScopedRoot(root);
  let components = path.split("/").filter((c) => c !== "" && c !== ".");
  for (let links = 0; ; links++) {
    if (links > maxLinks) throw invalidArgument(`${path}: too many levels of symbolic links`);
    const name = components.pop();
    if (name === undefined || name === "..") return undefined;
    let dir: string | undefined;
    try {
      dir = scope.resolveDir(components, false);
    } catch {
      return undefined; // a component is a file: the path does not exist in the tree
    }
    if (dir === undefined) return undefined;
    const rel = dir === "" ? name : `${dir}/${name}`;
    const st = await fs.lstat(scope.abs(rel)).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      const target = await fs.readlink(scope.abs(rel));
      const next = target.split("/").filter((c) => c !== "" && c !== ".");
      components = target.startsWith("/") ? next : [...(dir === "" ? [] : dir.split("/")), ...next];
      continue;
    }
    if (!st.isFile()) throw invalidArgument(`${path} in the container's root file system is not a regular file`);
    const handle = await fs.open(scope.abs(rel), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      const size = (await handle.stat()).size;
      if (size > maxBytes) throw invalidArgument(`${path} in the container's root file system is larger than ${maxBytes} bytes`);
      return (await handle.readFile()).toString("utf8");
    } finally {
      await handle.close();
    }
  }
}
