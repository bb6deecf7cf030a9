import { createHash, randomUUID } from "node:crypto";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { CommandRunner, type Clock } from "../commands/command-runner.js";
import { writerKeepaliveMs } from "../protocol/defaults.js";
import { abortIngest, checkDigest, commitContent, startIngest } from "../commands/content-handlers.js";
import { optionalInteger, requiredString, stringList, stringMap, type Payload } from "../commands/payload.js";
import { inject, injectable } from "../di.js";
import { contentLabelsContext } from "../domain/content.js";
import { EndpointKind, EndpointScope, RawReply, type Endpoint, type EndpointReply, type RequestContext } from "../endpoints/endpoint.js";
import { failedPrecondition, invalidArgument, isPurserError, notFound, outOfRange, unavailable } from "../errors/errdefs.js";
import type { ContentRecord } from "../events/content-events.js";
import { EventStore } from "../events/event-store.js";
import { parseFilters } from "../filters/index.js";
import type { Logger } from "../observability/logger.js";
import { blobHolders, getContent, getIngest, ingestAdaptor, ingestsDb, listIngests, type IngestRow } from "../projections/content.js";
import { ProjectionRuntime } from "../projections/runtime.js";
import { ContentHeader, decodeRefHeader } from "../protocol/content-headers.js";
import type { IngestStatus } from "../protocol/results.js";
import { Tokens } from "../tokens.js";
import { quote } from "../validation/identifiers.js";
import { validateLabels } from "../validation/labels.js";
import { BlobStore } from "./blob-store.js";
import { bytesOf, expectedOf, ingestRecordOf, keyOf, newIngestId, refOf, sizeOf } from "./content-payload.js";
import { IngestTable } from "./ingest-table.js";
import type { IngestWriter } from "./ingest-writer.js";
import { parseSharingPolicy, SharingPolicy } from "./sharing-policy.js";

/** Server-side content settings (`PurserConfig.content`). */
export interface ContentOptions {
  /** containerd's `content_sharing_policy`: `shared` (default) or `isolated`. */
  sharingPolicy: string;
  /** fsync each blob (and its directory) before it is linked into place. */
  fsync: boolean;
  /** A writer's lock is free for another session after this long without a request. */
  lockTimeoutMs: number;
  /** An ingest's open file and running hash are dropped from memory after this long idle. */
  idleWriterMs: number;
  /** An ingest's data file is closed after this long without a write (reopened by the next). */
  idleFileMs: number;
  /** Open ingests a namespace may have at once: `serve --content-max-ingests`. */
  maxIngestsPerNamespace: number;
  /** Free space under the data directory that blob, ingest and unpack writes leave for the log and views: `serve --disk-reserve`. */
  diskReserveBytes: number;
}

export const defaultContentOptions: ContentOptions = {
  sharingPolicy: SharingPolicy.Shared,
  fsync: false,
  lockTimeoutMs: 3 * writerKeepaliveMs,
  diskReserveBytes: 64 * 1024 * 1024,
  idleWriterMs: 10 * 60_000,
  idleFileMs: 2_000,
  maxIngestsPerNamespace: 4096,
};

/** Room a reply needs beside the bytes of a chunk (msgpack framing, headers). */
const replyOverhead = 16 * 1024;

/**
 * The content plane of one purser process: the blob store on its disk, the
 * active ingests' bytes, and the endpoints that move bytes
 * (`purser.v1.<ns>.content.{put,open,write,commit,close,abort,status,statuses,read}`;
 * docs/protocol.md). Metadata changes go through the command runner like any
 * other command; chunk writes append nothing (the offset lives on disk).
 *
 * Every operation on one ingest (namespace + ref) runs in arrival order on a
 * per-ingest queue: a client may pipeline several writes, and they are applied
 * one after the other at the offsets they name.
 *
 * The blobs live on this process's disk, so one purser process serves the
 * content of a host (docs/content.md).
 */
@injectable()
export class ContentService {
  private readonly policy: SharingPolicy;
  private readonly ingests: IngestTable;
  /**
   * The digest and size each writer session declared when it opened its
   * ingest: a commit that names none checks against its own session's
   * (containerd's Write stream keeps `expected` and `total` per stream, not in
   * the ingest), so a later session resuming the ingest is not bound by an
   * earlier one's.
   */
  private readonly sessionExpected = new Map<string, { session: string; expected: string; total: number }>();
  private fileTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    @inject(Tokens.BlobStore) readonly blobs: BlobStore,
    @inject(Tokens.ContentOptions) private readonly options: ContentOptions,
    @inject(Tokens.CommandRunner) private readonly runner: CommandRunner,
    @inject(Tokens.ProjectionRuntime) private readonly runtime: ProjectionRuntime,
    @inject(Tokens.EventStore) private readonly store: EventStore,
    @inject(Tokens.Clock) private readonly clock: Clock,
    @inject(Tokens.Logger) private readonly log: Logger,
  ) {
    this.policy = parseSharingPolicy(options.sharingPolicy);
    this.ingests = new IngestTable(blobs, options.lockTimeoutMs);
  }

  /**
   * The content endpoints (`purser.v1.<ns>.content.<verb>`). A chunk to write
   * is the raw body of its request (src/protocol/content-headers.ts).
   */
  endpoints(): Endpoint[] {
    const endpoint = (verb: string, kind: EndpointKind, run: (ctx: RequestContext, p: Payload) => Promise<EndpointReply>): Endpoint => ({
      resource: "content",
      verb,
      scope: EndpointScope.Namespace,
      kind,
      rawBody: verb === "write",
      run,
    });
    return [
      endpoint("put", EndpointKind.Command, (ctx, p) => this.put(ctx, p)),
      endpoint("open", EndpointKind.Command, (ctx, p) => this.open(ctx, p)),
      endpoint("write", EndpointKind.Command, (ctx) => this.write(ctx)),
      endpoint("commit", EndpointKind.Command, (ctx, p) => this.commit(ctx, p)),
      endpoint("close", EndpointKind.Command, (ctx, p) => this.close(ctx, p)),
      endpoint("keepalive", EndpointKind.Command, (ctx, p) => this.keepalive(ctx, p)),
      endpoint("abort", EndpointKind.Command, (ctx, p) => this.abort(ctx, p)),
      endpoint("status", EndpointKind.Query, (ctx, p) => this.status(ctx, p)),
      endpoint("statuses", EndpointKind.Query, (ctx, p) => this.statuses(ctx, p)),
      endpoint("read", EndpointKind.Query, (ctx, p) => this.read(ctx, p)),
    ];
  }

  async start(): Promise<void> {
    await this.blobs.init();
    this.runtime.onBatch((events) => this.ingests.onApplied(events, this.log));
    this.idleTimer = setInterval(() => this.ingests.dropIdle(() => this.nowMs(), this.options.idleWriterMs), Math.min(60_000, this.options.idleWriterMs));
    this.idleTimer.unref();
    this.fileTimer = setInterval(() => this.ingests.releaseIdleFiles(() => this.nowMs(), this.options.idleFileMs), Math.max(100, Math.min(1000, this.options.idleFileMs)));
    this.fileTimer.unref();
    void this.removeOrphanIngests().catch((err) => this.log.warn("ingest cleanup failed", { err }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    if (this.fileTimer) clearInterval(this.fileTimer);
    await this.ingests.close();
    await this.blobs.close();
  }

  // --- endpoints ---------------------------------------------------------------

  /**
   * One request: the whole blob in `data`, verified, stored (unless the host
   * has it) and committed. What the client library does for any blob that fits
   * in one chunk; it never shows up as an active ingest.
   */
  private put(ctx: RequestContext, p: Payload): Promise<EndpointReply> {
    const ns = ctx.namespace;
    const ref = refOf(p);
    const data = bytesOf(p, "data");
    const expected = expectedOf(p);
    const size = sizeOf(p);
    const labels = stringMap(p, "labels");
    validateLabels(contentLabelsContext, labels);
    const key = keyOf(ns, ref);
    return this.ingests.serial(key, async () => {
      const session = `put-${randomUUID()}`;
      this.ingests.locks.acquire(key, ref, session, this.nowMs());
      let pinned: string | undefined;
      let consumed: IngestRow | undefined;
      try {
        // containerd's Writer answers AlreadyExists for an expected blob the
        // namespace holds before any bytes move: the commit below decides that
        // (with the lease's hold on the blob), the bytes are not looked at.
        const holdsExpected = expected !== "" && getContent(this.runtime.views, ns, expected) !== undefined;
        let digest = expected;
        if (!holdsExpected) {
          digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
          if (size > 0 && size !== data.length) throw failedPrecondition(`${quote(ref)} failed size validation: ${data.length} != ${size}`);
          if (expected !== "" && expected !== digest) throw failedPrecondition(`unexpected commit digest ${digest}, expected ${expected}`);
        }
        // A put of a ref whose streamed ingest was left behind consumes that ingest.
        consumed = getIngest(this.runtime.views, ns, ref);
        // The bytes go under blobs/ once the commit is decided, before its event
        // (again on an OCC retry: then they are there already).
        const place = async () => {
          if (pinned) return;
          this.blobs.ensureRoom(data.length, this.blobs.blobPath(digest));
          this.blobs.pin((pinned = digest));
          await this.blobs.putBytes(digest, data, blobHolders(this.runtime.views, digest).length > 0);
        };
        const reply = await this.runner.execute(
          commitContent,
          ns,
          { type: "CommitContent", ref, digest, size: data.length, labels, place, ...(consumed ? { ingestId: consumed.id } : {}) },
          ctx.meta,
        );
        if (consumed) await this.ingests.finish(key, consumed.id);
        return { rv: reply.rv, result: reply.result };
      } catch (err) {
        if (consumed && isPurserError(err, "AlreadyExists")) await this.ingests.finish(key, consumed.id);
        throw err;
      } finally {
        this.ingests.locks.release(key, session);
        if (pinned) this.blobs.unpin(pinned);
      }
    });
  }

  /**
   * Opens an ingest, or opens it again (resume): takes the ref's lock for the
   * session, decides sharing, appends `IngestStarted`, and answers the status
   * (its offset is where the client continues).
   */
  private open(ctx: RequestContext, p: Payload): Promise<EndpointReply> {
    const ns = ctx.namespace;
    const ref = refOf(p);
    const session = requiredString(p, "session");
    const expected = expectedOf(p);
    const size = sizeOf(p);
    const key = keyOf(ns, ref);
    return this.ingests.serial(key, async () => {
      this.ingests.locks.acquire(key, ref, session, this.nowMs());
      // A shared open relies on the blob being on the host: pinned until its
      // IngestStarted is in the log, the collector leaves it alone (docs/gc.md).
      if (expected !== "") this.blobs.pin(expected);
      try {
        let total = size;
        let shared = false;
        if (expected !== "" && this.policy === SharingPolicy.Shared && !getContent(this.runtime.views, ns, expected)) {
          const onHost = await this.blobs.size(expected);
          // containerd: shared only when the declared size is 0 or the blob's.
          if (onHost !== undefined && (size === 0 || size === onHost)) {
            shared = true;
            total = onHost;
          }
        }
        const before = getIngest(this.runtime.views, ns, ref);
        if (!before) this.checkIngestBound(ns);
        const reply = await this.runner.execute(
          startIngest,
          ns,
          { type: "StartIngest", ref, id: newIngestId(), expected, total, shared },
          ctx.meta,
        );
        if (before && before.id !== reply.result.id) await this.blobs.removeIngest(before.id);
        const writer = await this.ingests.adopt(ns, key, reply.result, reply.rv, this.nowMs());
        this.sessionExpected.set(key, { session, expected, total: size });
        return { rv: reply.rv, result: this.ingests.statusOf(reply.result, writer) };
      } catch (err) {
        this.ingests.locks.release(key, session);
        throw err;
      } finally {
        if (expected !== "") this.blobs.unpin(expected);
      }
    });
  }

  /**
   * Writes one chunk at `offset`, which must be the ingest's current offset
   * (`write @N must occur at current offset M`: OutOfRange); offset 0 on an
   * ingest that has bytes starts it over, as containerd's service does.
   */
  private write(ctx: RequestContext): Promise<EndpointReply> {
    const ns = ctx.namespace;
    const header = (name: string) => ctx.headers?.get(name) ?? "";
    let ref: string;
    try {
      ref = refOf({ ref: decodeRefHeader(header(ContentHeader.Ref)) });
    } catch (err) {
      if (err instanceof URIError) throw invalidArgument(`${ContentHeader.Ref} is not percent-encoded`);
      throw err;
    }
    const session = header(ContentHeader.Session);
    if (session === "") throw invalidArgument(`${ContentHeader.Session} is required`);
    const offset = Number(header(ContentHeader.Offset) || "0");
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalidArgument(`${ContentHeader.Offset} must be a non-negative integer`);
    const data = ctx.body;
    const key = keyOf(ns, ref);
    return this.ingests.serial(key, async () => {
      const now = this.nowMs();
      this.ingests.locks.acquire(key, ref, session, now);
      const w = await this.writerOf(ns, key, ref);
      if (offset > 0 && offset !== w.offset) throw outOfRange(`write @${offset} must occur at current offset ${w.offset}`);
      if (w.isSealed && offset > 0) throw failedPrecondition(`ingest ${ref} is being committed`);
      const wasShared = w.shared;
      if (offset === 0 && w.offset > 0) await w.truncate(now);
      if (data.length > 0) {
        this.blobs.ensureRoom(data.length + (w.shared ? w.record.total : 0), w.dataPath);
        if (w.shared) await w.unshare(this.blobs.blobPath(w.record.expected), now);
        await w.write(data, now);
      }
      if (wasShared && !w.shared) await this.recordUnshared(ns, w, ctx);
      return { rv: 0, result: { offset: w.offset } };
    });
  }

  /**
   * Verifies size and digest (containerd's FailedPrecondition texts), links the
   * bytes into the blob store unless the host has them, and appends
   * `ContentCommitted`. A blob the namespace already holds removes the ingest
   * and answers AlreadyExists, as containerd does.
   */
  private commit(ctx: RequestContext, p: Payload): Promise<EndpointReply> {
    const ns = ctx.namespace;
    const ref = refOf(p);
    const session = requiredString(p, "session");
    const size = sizeOf(p);
    const expectedArg = expectedOf(p);
    const labels = stringMap(p, "labels");
    validateLabels(contentLabelsContext, labels);
    const key = keyOf(ns, ref);
    return this.ingests.serial(key, async () => {
      this.ingests.locks.acquire(key, ref, session, this.nowMs());
      const w = await this.writerOf(ns, key, ref);
      await this.runtime.waitFor(ns, w.openedRv);
      const record = w.record;
      const opened = this.sessionExpected.get(key);
      const mine = opened?.session === session ? opened : undefined;
      const wantSize = size > 0 ? size : w.shared ? record.total : (mine?.total ?? 0);
      const declared = w.shared ? record.expected : (mine?.expected ?? "");
      const expected = expectedArg !== "" ? expectedArg : declared;
      let digest: string;
      let actualSize: number;
      if (w.shared) {
        if (wantSize > 0 && wantSize !== record.total) {
          throw failedPrecondition(`${quote(ref)} failed size validation: ${record.total} != ${wantSize}`);
        }
        if (expected !== record.expected) throw failedPrecondition(`${quote(ref)} unexpected digest`);
        digest = record.expected;
        actualSize = record.total;
      } else {
        if (wantSize > 0 && wantSize !== w.offset) throw failedPrecondition(`${quote(ref)} failed size validation: ${w.offset} != ${wantSize}`);
        digest = w.digest();
        actualSize = w.offset;
        if (expected !== "" && expected !== digest) throw failedPrecondition(`unexpected commit digest ${digest}, expected ${expected}`);
      }
      // The bytes go under blobs/ once the commit is decided, before its event.
      const place = async () => {
        if (w.shared) return;
        if (!w.isSealed) await w.seal(this.options.fsync);
        await this.blobs.link(w.dataPath, digest);
      };
      this.blobs.pin(digest);
      try {
        const reply = await this.runner.execute(
          commitContent,
          ns,
          { type: "CommitContent", ref, digest, size: actualSize, labels, ingestId: w.id, place },
          ctx.meta,
        );
        await this.ingests.finish(key, w.id);
        this.sessionExpected.delete(key);
        return { rv: reply.rv, result: reply.result };
      } catch (err) {
        // AlreadyExists: the ingest was removed (containerd's commit does that).
        // NotFound: it was aborted meanwhile (its namespace deleted). Either way it is over.
        if (isPurserError(err, "AlreadyExists") || isPurserError(err, "NotFound")) await this.ingests.finish(key, w.id);
        throw err;
      } finally {
        this.blobs.unpin(digest);
      }
    });
  }

  /**
   * A writer's heartbeat (the client sends one every `writerKeepaliveMs`,
   * src/protocol/defaults.ts): renews its lock, or takes it back if it is
   * free. A writer that stops sending them (killed) frees the ref
   * `lockTimeoutMs` after the last one, as containerd frees it when the
   * write stream breaks.
   */
  private keepalive(ctx: RequestContext, p: Payload): Promise<EndpointReply> {
    const ref = refOf(p);
    const session = requiredString(p, "session");
    const key = keyOf(ctx.namespace, ref);
    // Only an ingest's writer has a lock to keep: a heartbeat for a ref with no
    // ingest takes none (a flood of made-up refs would grow the lock table).
    if (!getIngest(this.runtime.views, ctx.namespace, ref)) throw notFound(`reference ${ref}`);
    this.ingests.locks.acquire(key, ref, session, this.nowMs());
    return Promise.resolve({ rv: 0, result: null });
  }

  /** Lets go of the lock and the open file; the ingest and its bytes stay (containerd's writer Close). */
  private close(ctx: RequestContext, p: Payload): Promise<EndpointReply> {
    const ns = ctx.namespace;
    const ref = refOf(p);
    const session = requiredString(p, "session");
    const key = keyOf(ns, ref);
    return this.ingests.serial(key, async () => {
      this.ingests.locks.release(key, session);
      if (this.sessionExpected.get(key)?.session === session) this.sessionExpected.delete(key);
      await this.ingests.loaded(key)?.close();
      return { rv: 0, result: null };
    });
  }

  /** Aborts an ingest: `IngestAborted`, and its bytes are removed (`reference %v: not found` if none). */
  private abort(ctx: RequestContext, p: Payload): Promise<EndpointReply> {
    const ns = ctx.namespace;
    const ref = refOf(p);
    const key = keyOf(ns, ref);
    return this.ingests.serial(key, async () => {
      const reply = await this.runner.execute(abortIngest, ns, { type: "AbortIngest", ref }, ctx.meta);
      this.sessionExpected.delete(key);
      const id = reply.result?.id ?? this.ingests.loaded(key)?.id;
      if (id) await this.ingests.finish(key, id);
      this.ingests.locks.release(key);
      return { rv: reply.rv, result: null };
    });
  }

  /** containerd `Status`: `reference %v: not found` for an unknown ref. */
  private async status(ctx: RequestContext, p: Payload): Promise<EndpointReply> {
    const ns = ctx.namespace;
    const ref = refOf(p);
    const row = await this.ingestRow(ns, ref, ctx.minRv);
    if (!row) throw notFound(`reference ${ref}`);
    return { rv: this.runtime.applied(ns), result: await this.ingests.statusOfRow(ns, row) };
  }

  /** containerd `ListStatuses`: the namespace's active ingests, filtered on `ref`. */
  private async statuses(ctx: RequestContext, p: Payload): Promise<EndpointReply> {
    const ns = ctx.namespace;
    const filter = parseFilters(stringList(p, "filters"));
    await this.runtime.reachMinRv(ns, ctx.minRv);
    const rows = listIngests(this.runtime.views, ns).filter((r) => filter.match(ingestAdaptor(r.ref)));
    const result: IngestStatus[] = [];
    for (const row of rows) result.push(await this.ingests.statusOfRow(ns, row));
    return { rv: this.runtime.applied(ns), result };
  }

  /**
   * One chunk of a blob the namespace holds (`content digest %v: not found`
   * otherwise, even when the host has it: access is per namespace).
   */
  private async read(ctx: RequestContext, p: Payload): Promise<EndpointReply> {
    const ns = ctx.namespace;
    const digest = requiredString(p, "digest");
    checkDigest(digest, "read");
    let offset = optionalInteger(p, "offset") ?? 0;
    const size = optionalInteger(p, "size") ?? 0;
    const record = await this.contentRow(ns, digest, ctx.minRv);
    if (!record) throw notFound(`content digest ${digest}`);
    if (offset < 0) offset = 0;
    if (offset > record.size) throw outOfRange(`read past object length ${record.size} bytes`);
    const most = this.maxChunk();
    const length = Math.min(size > 0 ? size : most, most, record.size - offset);
    const data = length > 0 ? await this.blobs.read(digest, offset, length) : new Uint8Array(0);
    const h = natsHeaders();
    h.set(ContentHeader.Offset, String(offset));
    h.set(ContentHeader.Size, String(record.size));
    h.set(ContentHeader.Rv, String(this.runtime.applied(ns)));
    return new RawReply(data, h);
  }

  // --- ingests in memory ---------------------------------------------------------

  /** The writer of an open ingest, loaded from the views and its data file when not in memory. */
  private async writerOf(ns: string, key: string, ref: string): Promise<IngestWriter> {
    const loaded = this.ingests.loaded(key);
    if (loaded) return loaded;
    const row = await this.ingestRow(ns, ref, 0);
    if (!row) throw notFound(`reference ${ref}`);
    return this.ingests.adopt(ns, key, ingestRecordOf(row), row.seq, this.nowMs());
  }

  /** A new ingest past the namespace's bound of open ones is refused (issue 11: a flood of opens). */
  private checkIngestBound(ns: string): void {
    const open = listIngests(this.runtime.views, ns).length;
    if (open >= this.options.maxIngestsPerNamespace) {
      throw unavailable(
        `namespace ${JSON.stringify(ns)} has ${open} open ingests, the most serve --content-max-ingests allows: commit or abort some, or wait for them to expire`,
      );
    }
  }

  /** A write turned a shared ingest into one with its own bytes: the record says so. */
  private async recordUnshared(ns: string, w: IngestWriter, ctx: RequestContext): Promise<void> {
    const r = w.record;
    const reply = await this.runner.execute(
      startIngest,
      ns,
      { type: "StartIngest", ref: r.ref, id: r.id, expected: r.expected, total: r.total, shared: false },
      { ...ctx.meta, commandId: randomUUID() },
    );
    w.record = reply.result;
    w.openedRv = reply.rv;
  }

  /**
   * The views' row of an ingest; a miss is checked against the log first (the
   * views may lag a write made a moment ago, here or in another process).
   */
  private async ingestRow(ns: string, ref: string, minRv: number): Promise<IngestRow | undefined> {
    await this.runtime.reachMinRv(ns, minRv);
    const row = getIngest(this.runtime.views, ns, ref);
    if (row) return row;
    await this.catchUp(ns);
    return getIngest(this.runtime.views, ns, ref);
  }

  private async contentRow(ns: string, digest: string, minRv: number): Promise<ContentRecord | undefined> {
    await this.runtime.reachMinRv(ns, minRv);
    const record = getContent(this.runtime.views, ns, digest);
    if (record) return record;
    await this.catchUp(ns);
    return getContent(this.runtime.views, ns, digest);
  }

  /** Waits until the views have applied the namespace's log as it is now. */
  private async catchUp(ns: string): Promise<void> {
    await this.runtime.waitFor(ns, await this.store.lastSequence(ns));
  }

  /**
   * Bytes under ingest/ that no ingest of any namespace owns (a crash between
   * creating them and recording the ingest, a put interrupted by a crash, an
   * ingest dropped with its namespace while this process was down). Runs once
   * the views have caught up; anything touched in the last 10 minutes stays.
   */
  private async removeOrphanIngests(): Promise<void> {
    await this.runtime.catchUp(10 * 60_000);
    if (this.stopped) return;
    const live = new Set<string>();
    for (const { value } of this.runtime.views.db<IngestRow>(ingestsDb).getRange()) live.add(value.id);
    for (const id of this.ingests.liveIds()) live.add(id);
    const cutoff = Date.now() - 10 * 60_000;
    for (const entry of await this.blobs.ingestEntries()) {
      if (live.has(entry.name) || entry.modifiedMs > cutoff || entry.name.startsWith("spare-")) continue;
      this.log.info("removing orphaned ingest bytes", { entry: entry.name });
      await this.blobs.removeIngestEntry(entry.name);
    }
  }

  // --- requests ------------------------------------------------------------------

  private nowMs(): number {
    return this.clock.now().getTime();
  }

  /** The largest chunk a reply can carry on this NATS (its max_payload). */
  private maxChunk(): number {
    const maxPayload = this.store.nc.info?.max_payload ?? 1024 * 1024;
    return Math.max(4096, maxPayload - replyOverhead);
  }
}
