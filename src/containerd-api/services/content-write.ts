import { randomUUID } from "node:crypto";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { ContentRecord } from "../../events/content-events.js";
import { invalidArgument, isPurserError, outOfRange, PurserError, ErrorKind } from "../../errors/errdefs.js";
import type { Logger } from "../../observability/logger.js";
import { ContentHeader, encodeRefHeader } from "../../protocol/content-headers.js";
import { writerKeepaliveMs } from "../../protocol/defaults.js";
import type { IngestStatus } from "../../protocol/results.js";
import { timestamp } from "../messages.js";
import type { PurserCalls } from "../purser-calls.js";
import { grpcFailure } from "../unary.js";

/** containerd's `WriteAction` names as protos.ts decodes them. */
const Action = { Stat: "STAT", Write: "WRITE", Commit: "COMMIT" } as const;

/**
 * `Content.Write`, the bidirectional stream, with containerd's semantics
 * (`contentserver.Write`): the first message names the ref (and may declare
 * the total and expected digest) and opens the ingest, taking the ref's lock
 * for the stream; then each message is answered in turn: STAT with the
 * ingest's status, WRITE with the offset after its data (an offset, when
 * given, must be the current one; 0 on an ingest with bytes starts it over),
 * COMMIT with the digest once committed. An expected digest the namespace
 * already holds ends the stream with AlreadyExists and aborts the ingest.
 * When the stream ends without error the last response is sent once more,
 * as containerd's server does.
 *
 * The lock lives as long as the stream: it is renewed while the stream is
 * open and let go the moment it ends, however it ends (a client that is
 * killed or cancels frees the ref at once, as with containerd).
 */
export async function writeContent(calls: PurserCalls, call: ServerDuplexStream<any, any>, log: Logger): Promise<void> {
  const session = `grpc-${randomUUID()}`;
  let ns = "";
  let ref = "";
  let opened = false;
  let keepalive: NodeJS.Timeout | undefined;
  const releaseLock = () => {
    if (keepalive) clearInterval(keepalive);
    keepalive = undefined;
    if (opened) {
      opened = false;
      void calls.run(call.metadata, "content", "close", ns, { ref, session }).catch(() => {});
    }
  };
  call.once("cancelled", releaseLock);
  let last: Record<string, unknown> | undefined;
  try {
    ns = calls.namespaceOf(call.metadata);
    const iterator = (call as AsyncIterable<any>)[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) return;
    let req = first.value;
    ref = req.ref;
    if (ref === "") throw new PurserError(ErrorKind.InvalidArgument, "first message must have a reference");
    let total = Number(req.total) || 0;
    let expected: string = req.expected;
    const opening = await calls.run<IngestStatus>(call.metadata, "content", "open", ns, { ref, session, expected, size: total });
    opened = true;
    keepalive = setInterval(() => {
      void calls.run(call.metadata, "content", "keepalive", ns, { ref, session }).catch(() => {});
    }, writerKeepaliveMs);
    let offset = opening.result.offset;
    const startedAt = timestamp(opening.result.startedAt);
    let updatedAt = timestamp(opening.result.updatedAt);
    const write = async (at: number, data: Uint8Array) => {
      const h = natsHeaders();
      h.set(ContentHeader.Ref, encodeRefHeader(ref));
      h.set(ContentHeader.Session, session);
      h.set(ContentHeader.Offset, String(at));
      const { result } = await calls.run<{ offset: number }>(call.metadata, "content", "write", ns, {}, { headers: h, body: data });
      offset = result.offset;
      updatedAt = timestamp(new Date().toISOString());
    };
    for (;;) {
      const msg: Record<string, unknown> = { action: req.action, offset };
      if (req.expected !== "" && req !== first.value) {
        expected = req.expected;
        const held = await calls.run(call.metadata, "content", "info", ns, { digest: expected }).then(
          () => true,
          (err) => (isPurserError(err, "NotFound") ? false : Promise.reject(err)),
        );
        if (held) {
          releaseLock();
          await calls.run(call.metadata, "content", "abort", ns, { ref }).catch(() => {});
          throw new PurserError(ErrorKind.AlreadyExists, `blob with expected digest ${expected} exists`);
        }
      }
      if (Number(req.total) > 0) total = Number(req.total);
      switch (req.action) {
        case Action.Stat:
          msg.digest = "";
          msg.startedAt = startedAt;
          msg.updatedAt = updatedAt;
          msg.total = total;
          break;
        case Action.Write:
        case Action.Commit: {
          const at = Number(req.offset) || 0;
          if (at > 0 && at !== offset) throw outOfRange(`write @${at} must occur at current offset ${offset}`);
          const data: Buffer = req.data;
          if (data.length > 0 || (at === 0 && offset > 0)) await write(at, data);
          msg.offset = offset;
          if (req.action === Action.Commit) {
            const labels = req.labels && Object.keys(req.labels).length > 0 ? req.labels : {};
            const { result } = await calls.run<ContentRecord>(call.metadata, "content", "commit", ns, { ref, session, size: total, expected, labels });
            opened = false; // the commit ended the ingest and its lock
            msg.digest = result.digest;
          } else {
            msg.digest = "";
          }
          break;
        }
        default:
          throw invalidArgument(`unknown write action ${JSON.stringify(req.action)}`);
      }
      call.write(msg);
      last = msg;
      if (req.action === Action.Commit) break;
      const next = await iterator.next();
      if (next.done) break;
      req = next.value;
    }
    // containerd's server pumps its last response through once more when the stream ends well.
    if (last && !call.cancelled) call.write(last);
    call.end();
  } catch (err) {
    if (!call.cancelled) call.emit("error", grpcFailure(err, log, "Content/Write"));
  } finally {
    releaseLock();
  }
}

