import type { Key } from "lmdb";

/**
 * The key range of every array key that starts with `prefix`. Ordered-binary
 * sorts `[ns, x, …]` between `[ns]` and `[ns + "\0"]`; names and ids never
 * contain NUL (validation refuses it), so nothing else falls in between.
 */
export function prefixRange(prefix: readonly (string | number)[]): { start: Key; end: Key } {
  const last = prefix[prefix.length - 1];
  return {
    start: [...prefix] as Key,
    end: [...prefix.slice(0, -1), `${String(last)}\u0000`] as Key,
  };
}
