import type { Key } from "lmdb";

/**
 * The key range of every array key that starts with `prefix`: from the
 * prefix itself up to the prefix followed by U+10FFFF, the greatest string
 * element (the largest UTF-8 sequence). Every view key is made of strings.
 *
 * (An end of `[…, last + "\0"]` is not safe: ordered-binary encodes a string
 * longer than ~64 bytes without escaping a trailing NUL, so for a digest or a
 * long snapshot key that end equalled the start and the range was empty.)
 */
export function prefixRange(prefix: readonly (string | number)[]): { start: Key; end: Key } {
  return {
    start: [...prefix] as Key,
    end: [...prefix, "\u{10FFFF}"] as Key,
  };
}
