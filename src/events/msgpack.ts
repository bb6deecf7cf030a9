import { Decoder, Encoder } from "@msgpack/msgpack";

/**
 * Shared msgpack codecs. `@msgpack/msgpack`'s `encode`/`decode` functions build
 * a new Encoder/Decoder (buffers, key cache) on every call; on the hot paths —
 * every event replayed, every request and reply — one long-lived instance
 * each is cheaper. Decoders and encoders handle re-entrant use by cloning.
 */
const decoder = new Decoder();
/** Event bodies: an undefined field is stored as nil, as it always has been. */
const eventEncoder = new Encoder();
/** Requests and replies: undefined fields are left out. */
const wireEncoder = new Encoder({ ignoreUndefined: true });

export function decodeMsgpack(data: Uint8Array): unknown {
  return decoder.decode(data);
}

/** An event body, in a fresh buffer. */
export function encodeEventMsgpack(value: unknown): Uint8Array {
  return eventEncoder.encode(value);
}

/** A request or reply, in a fresh buffer; undefined fields are left out. */
export function encodeWireMsgpack(value: unknown): Uint8Array {
  return wireEncoder.encode(value);
}
