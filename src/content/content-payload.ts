import { randomBytes } from "node:crypto";
import { checkDigest } from "../commands/content-handlers.js";
import { invalidArgument } from "../errors/errdefs.js";
import type { IngestRecord } from "../events/ingest-events.js";
import type { IngestRow } from "../projections/content.js";
import { optionalInteger, optionalString, type Payload } from "../commands/payload.js";

/**
 * The content requests' fields (docs/protocol.md), checked before anything is
 * read or written: InvalidArgument with containerd's texts.
 */

/** LMDB keys hold at most 1978 bytes; an ingest's key is [namespace, ref]. */
export const maxRefBytes = 1800;

export function keyOf(ns: string, ref: string): string {
  return `${ns}\u0000${ref}`;
}

export function newIngestId(): string {
  return randomBytes(16).toString("hex");
}

export function ingestRecordOf(row: IngestRow): IngestRecord {
  const { seq: _seq, ...record } = row;
  return record;
}

/** containerd: `ref must not be empty` (local store and metadata Writer). */
export function refOf(p: Payload): string {
  const ref = optionalString(p, "ref") ?? "";
  if (ref === "") throw invalidArgument("ref must not be empty");
  if (Buffer.byteLength(ref) > maxRefBytes) throw invalidArgument(`ref greater than maximum length (${maxRefBytes} bytes)`);
  if (ref.includes("\u0000")) throw invalidArgument("ref must not contain NUL");
  return ref;
}

export function expectedOf(p: Payload): string {
  const expected = optionalString(p, "expected") ?? "";
  if (expected !== "") checkDigest(expected, "quoted");
  return expected;
}

export function sizeOf(p: Payload): number {
  const size = optionalInteger(p, "size") ?? 0;
  if (size < 0) throw invalidArgument(`request field "size" must not be negative`);
  return size;
}

export function bytesOf(p: Payload, field: string): Uint8Array {
  const v = p[field];
  if (v === undefined || v === null) return new Uint8Array(0);
  if (!(v instanceof Uint8Array)) throw invalidArgument(`request field ${JSON.stringify(field)} must be binary`);
  return v;
}
