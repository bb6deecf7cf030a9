import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * One purser process per data directory: two processes folding the same log
 * into the same LMDB views would apply events twice. (Several processes on one
 * NATS cluster are fine, each with its own data directory.)
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, "purser.pid");
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new Error(`data directory ${dataDir} is in use by purser process ${pid}`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  writeFileSync(file, `${process.pid}\n`);
  return () => rmSync(file, { force: true });
}

/**
 * Whether `pid` is a live purser serve. A zombie (killed, not yet reaped by
 * its parent: a container's init may never reap it) is not, and neither is
 * another program that got the pid since: a lock left by a killed serve must
 * never keep the next start out.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmdline.includes("serve");
  } catch {
    // No /proc (another OS), or the process just went: trust the signal check.
    return existsSync(`/proc/${pid}`) || !existsSync("/proc/self");
  }
}
