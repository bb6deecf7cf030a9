import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { ErrorKind, PurserError } from "./errdefs.js";

/**
 * A write the file system refused for want of space (ENOSPC, EDQUOT) as
 * containerd's ResourceExhausted, naming the path and the space left, instead
 * of an internal error: the host's disk is full, not purser broken (issue 12).
 */
export function diskFullError(err: unknown, context = ""): PurserError | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code !== "ENOSPC" && e?.code !== "EDQUOT") return undefined;
  const path = e.path ?? "";
  let free = "";
  try {
    if (path) {
      const st = statfsSync(dirname(path));
      free = `, ${st.bavail * st.bsize} bytes free`;
    }
  } catch {
    // the directory went away too: say what we know
  }
  const what = e.code === "EDQUOT" ? "disk quota exceeded" : "no space left on device";
  return new PurserError(ErrorKind.ResourceExhausted, `${context ? `${context}: ` : ""}${what}${path ? ` writing ${path}` : ""}${free}`, { cause: err });
}

/** The error with `path` set when it has none (a descriptor's write errors name no file; a full disk should say where). */
export function withPath(err: unknown, path: string): unknown {
  if (err instanceof Error && (err as NodeJS.ErrnoException).code !== undefined && (err as NodeJS.ErrnoException).path === undefined) {
    (err as NodeJS.ErrnoException).path = path;
  }
  return err;
}
