import type { ServerWritableStream } from "@grpc/grpc-js";
import type { ContentRecord } from "../../events/content-events.js";
import type { IngestStatus } from "../../protocol/results.js";
import { ContentHeader } from "../../protocol/content-headers.js";
import { maskPaths, timestamp } from "../messages.js";
import type { PurserCalls } from "../purser-calls.js";
import type { UnaryHandler } from "../unary.js";

/** containerd's `contentserver` sends a list in blocks of this many infos. */
const listBlock = 100;
/** The most one Read message carries (containerd's copy buffer is smaller; fewer, larger messages cost less here). */
const readChunk = 1024 * 1024;

export function infoMessage(c: ContentRecord) {
  return { digest: c.digest, size: c.size, createdAt: timestamp(c.createdAt), updatedAt: timestamp(c.updatedAt), labels: c.labels };
}

export function statusMessage(s: IngestStatus) {
  return { ref: s.ref, offset: s.offset, total: s.total, expected: s.expected, startedAt: timestamp(s.startedAt), updatedAt: timestamp(s.updatedAt) };
}

/** `containerd.services.content.v1.Content`'s unary methods (Write is content-write.ts). */
export function contentService(calls: PurserCalls): Record<string, UnaryHandler> {
  return {
    async info(call) {
      const { result } = await calls.runInCallNamespace<ContentRecord>(call.metadata, "content", "info", { digest: call.request.digest });
      return { info: infoMessage(result) };
    },
    async update(call) {
      const info = call.request.info ?? { digest: "", labels: {} };
      const { result } = await calls.runInCallNamespace<ContentRecord>(call.metadata, "content", "update", { digest: info.digest, labels: info.labels, fieldPaths: maskPaths(call.request.updateMask) });
      return { info: infoMessage(result) };
    },
    async delete(call) {
      await calls.runInCallNamespace(call.metadata, "content", "delete", { digest: call.request.digest });
      return {};
    },
    async status(call) {
      const { result } = await calls.runInCallNamespace<IngestStatus>(call.metadata, "content", "status", { ref: call.request.ref });
      return { status: statusMessage(result) };
    },
    async listStatuses(call) {
      const { result } = await calls.runInCallNamespace<IngestStatus[]>(call.metadata, "content", "statuses", { filters: call.request.filters });
      return { statuses: result.map(statusMessage) };
    },
    async abort(call) {
      await calls.runInCallNamespace(call.metadata, "content", "abort", { ref: call.request.ref });
      return {};
    },
  };
}

/** `List`: every blob the namespace holds (filters as containerd's), in blocks. */
export async function listContent(calls: PurserCalls, call: ServerWritableStream<any, any>): Promise<void> {
  const ns = calls.namespaceOf(call.metadata);
  const records = await calls.listAll<ContentRecord>(call.metadata, "content", ns, call.request.filters);
  for (let i = 0; i < records.length; i += listBlock) call.write({ info: records.slice(i, i + listBlock).map(infoMessage) });
}

/**
 * `Read`: `size` bytes from `offset` (0: to the end; past the end: to the
 * end), in messages of at most a MiB, each read from the blob as it is sent.
 */
export async function readContent(calls: PurserCalls, call: ServerWritableStream<any, any>): Promise<void> {
  const ns = calls.namespaceOf(call.metadata);
  const digest: string = call.request.digest;
  let offset = Math.max(0, Number(call.request.offset) || 0);
  const wanted = Number(call.request.size) || 0;
  let end: number | undefined;
  for (;;) {
    const left = end === undefined ? readChunk : Math.min(readChunk, end - offset);
    if (end !== undefined && left <= 0) return;
    const reply = await calls.runRaw(call.metadata, "content", "read", ns, { digest, offset, size: left });
    const size = Number(reply.headers?.get(ContentHeader.Size) ?? "0");
    end ??= wanted <= 0 || offset + wanted > size ? size : offset + wanted;
    const data = reply.data.subarray(0, Math.max(0, end - offset));
    if (data.length === 0) return;
    if (!call.write({ offset, data: Buffer.from(data.buffer, data.byteOffset, data.length) })) await new Promise((r) => call.once("drain", r));
    offset += data.length;
    if (call.cancelled) return;
  }
}
