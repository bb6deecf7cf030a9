/**
 * go-digest v1.0.0 `Digest.Validate` (the version containerd 1.6 vendors):
 * `<algorithm>:<encoded>` where the algorithm is one containerd can compute
 * (sha256, sha384, sha512) and the encoded part is lowercase hex of exactly
 * twice the hash size. Its errors are plain texts with no class; callers wrap
 * them (images: `Target.Digest %q invalid: <text>: invalid argument`).
 */
export const DigestError = {
  InvalidFormat: "invalid checksum digest format",
  InvalidLength: "invalid checksum digest length",
  Unsupported: "unsupported digest algorithm",
} as const;
export type DigestError = (typeof DigestError)[keyof typeof DigestError];

/** Hash size in bytes of each available algorithm. */
const algorithms: Readonly<Record<string, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** go-digest's `DigestRegexpAnchored`. */
const digestPattern = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const lowerHex = /^[a-f0-9]+$/;

/** The error text go-digest gives for `digest`, or undefined when it is valid. */
export function digestError(digest: string): DigestError | undefined {
  const i = digest.indexOf(":");
  if (i <= 0 || i + 1 === digest.length) return DigestError.InvalidFormat;
  const algorithm = digest.slice(0, i);
  const encoded = digest.slice(i + 1);
  const size = Object.hasOwn(algorithms, algorithm) ? algorithms[algorithm] : undefined;
  if (size === undefined) {
    return digestPattern.test(digest) ? DigestError.Unsupported : DigestError.InvalidFormat;
  }
  // Go's len() counts bytes: a non-ASCII character can never be hex anyway.
  if (Buffer.byteLength(encoded) !== size * 2) return DigestError.InvalidLength;
  return lowerHex.test(encoded) ? undefined : DigestError.InvalidFormat;
}
