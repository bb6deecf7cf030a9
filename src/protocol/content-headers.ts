/**
 * The content data plane's wire format (docs/protocol.md): a chunk travels as
 * the raw body of its message, so neither side copies it into or out of a
 * msgpack map; what describes the chunk travels in these headers.
 *
 *   content.write   request body: the chunk; headers Ref, Session, Offset
 *                   reply: msgpack {rv, result: {offset}}
 *   content.read    request: msgpack {digest, offset?, size?}
 *                   reply body: the chunk; headers Offset, Size (the blob's), Rv
 */
export const ContentHeader = {
  /** The ingest ref, percent-encoded (`encodeURIComponent`): refs may hold any character. */
  Ref: "Purser-Content-Ref",
  /** The writer session that holds the ref's lock. */
  Session: "Purser-Content-Session",
  /** Where the chunk starts in the blob. */
  Offset: "Purser-Content-Offset",
  /** The blob's whole size (read replies). */
  Size: "Purser-Content-Size",
  /** The rv of the views that answered (read replies). */
  Rv: "Purser-Rv",
} as const;

export function encodeRefHeader(ref: string): string {
  return encodeURIComponent(ref);
}

export function decodeRefHeader(value: string): string {
  return decodeURIComponent(value);
}
