import { promises as fs } from "node:fs";
import { join } from "node:path";
import { Limiter } from "../concurrency/limiter.js";
import type { Usage } from "../protocol/results.js";

/** containerd's `snapshots.Usage`: what a snapshot's own tree uses. */
/**
 * continuity's `fs.DiskUsage`, as containerd's native snapshotter measures a
 * snapshot: walk the tree without following links, count each inode once
 * (hard links share one), and add up the blocks each inode occupies (512-byte
 * units, `st_blocks`), so sparse files count what they really use.
 */
export async function diskUsage(root: string, concurrency = 32): Promise<Usage> {
  const limiter = new Limiter(concurrency);
  const seen = new Set<string>();
  let size = 0n;
  const visit = async (path: string): Promise<void> => {
    const st = await limiter.run(() => fs.lstat(path, { bigint: true }));
    const id = `${st.dev}:${st.ino}`;
    if (!seen.has(id)) {
      seen.add(id);
      size += st.blocks * 512n;
    }
    if (!st.isDirectory()) return;
    const names = await limiter.run(() => fs.readdir(path));
    await Promise.all(names.map((name) => visit(join(path, name))));
  };
  await visit(root);
  return { size: Number(size), inodes: seen.size };
}
