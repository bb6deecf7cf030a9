import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { encode } from "@msgpack/msgpack";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { isPurserError } from "../errors/errdefs.js";
import { writerKeepaliveMs } from "../protocol/defaults.js";
import type { ContentRecord } from "../events/content-events.js";
import { commandSubject } from "../protocol/subjects.js";
import { RequestHeader } from "../protocol/request-headers.js";
import type { IngestStatus } from "../protocol/results.js";
import { ContentHeader, encodeRefHeader } from "../protocol/content-headers.js";
import { listAllPages } from "./list-pages.js";
import type { CommandOptions, PurserClient, QueryOptions, Reply } from "./purser-client.js";

export type { IngestStatus } from "../protocol/results.js";
export type { ContentRecord } from "../events/content-events.js";

/** A chunk of a blob as `content.read` answers it. */
export interface ReadChunk {
  data: Uint8Array;
  offset: number;
  /** The blob's whole size. */
  size: number;
  /** The rv of the views that answered. */
  rv: number;
}

/** How a blob travels: chunk size and how many chunks are in flight at once. */
export interface TransferOptions {
  /** Bytes per request (default: the most the server's max_payload allows, up to 1 MiB). */
  chunkSize?: number;
  /** Requests in flight at once (default 4): the pipelining that makes large blobs fast. */
  inFlight?: number;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

export interface WriteProgress {
  ref: string;
  /** Bytes the server has acknowledged (a resumed or shared ingest starts above 0). */
  offset: number;
  /** The declared size, 0 when unknown. */
  total: number;
}

export interface OpenOptions extends TransferOptions {
  /** The digest the blob must have; a blob already on the host may then be shared. */
  expected?: string;
  /** The size the blob must have (0: unknown). */
  size?: number;
  /** Run under this lease (it then holds the ingest and the blob). */
  lease?: string;
  onProgress?: (p: WriteProgress) => void;
}

export interface WriteOptions extends OpenOptions {
  labels?: Record<string, string>;
  /**
   * Always through an ingest, even a blob that fits in one request: a failed
   * commit then leaves the ingest active with its bytes, as containerd's
   * Writer does (`ctr content ingest`, then `content active` shows it).
   */
  viaIngest?: boolean;
  /**
   * While another writer holds the ref, wait for it (as containerd's
   * `content.OpenWriter` does) instead of failing; called once, with the
   * server's `ref … locked for …` text, when the wait begins.
   */
  onLockWait?: (locked: string) => void;
}

export interface CommitOptions {
  /** Overrides the size declared at open. */
  size?: number;
  /** Overrides the digest declared at open. */
  expected?: string;
  labels?: Record<string, string>;
}

/** What {@link ContentApi.writeBlob} did. */
export interface WriteResult {
  digest: string;
  size: number;
  /** False when the namespace already held the blob (containerd's WriteBlob treats that as success too). */
  created: boolean;
  /** The rv of the commit (0 when nothing was appended): pass it as `minRv` to read your write. */
  rv: number;
  /** The record the commit created. */
  info?: ContentRecord;
}

export interface ReadOptions extends TransferOptions {
  /** Start here (default 0). */
  offset?: number;
  /** Read at most this many bytes (default: to the end). */
  length?: number;
  /** Read only from views that have applied this rv (read-your-writes). */
  minRv?: number;
}

/**
 * Bytes per chunk by default: as large as the server's max_payload allows
 * (1 MiB in infra/nats.conf, less room for headers); fewer, larger messages
 * measured fastest (docs/content.md).
 */
export const defaultChunkSize = 1024 * 1024;
export const defaultInFlight = 4;
const defaultTimeoutMs = 30_000;
/** Room a request needs beside its chunk (msgpack framing, headers). */
const requestOverhead = 16 * 1024;

/**
 * Content of a namespace: containerd's content service over purser's protocol
 * (docs/content.md, docs/protocol.md).
 *
 * Writing: {@link writeBlob} streams any `Readable`/async iterable (or a byte
 * array) into the store and commits it; a blob that fits in one chunk goes in
 * one request. For control over the steps use {@link openWriter} (open →
 * write chunks → commit), which resumes an interrupted ingest of the same ref.
 * Reading: {@link reader} is a `Readable` of the blob's bytes, fetched in
 * pipelined chunks; memory stays bounded by `chunkSize × inFlight` either way.
 */
export class ContentApi {
  constructor(private readonly client: PurserClient) {}

  info(namespace: string, digest: string, opts?: QueryOptions) {
    return this.client.query<ContentRecord>(namespace, "content", "info", { digest }, opts);
  }

  /**
   * containerd filters on `digest` and `labels.<k>`: several strings are ORed,
   * commas within one AND. Reads every page of the list (docs/protocol.md).
   */
  list(namespace: string, filters: string[] = [], opts?: QueryOptions): Promise<Reply<ContentRecord[]>> {
    return listAllPages<ContentRecord>(this.client, namespace, "content", filters, opts);
  }

  /** Sets labels; with field paths (`labels`, `labels.<k>`) only those change, an empty value removes. */
  update(namespace: string, digest: string, labels: Record<string, string>, fieldPaths: string[] = [], opts?: CommandOptions) {
    return this.client.command<ContentRecord>(namespace, "content", "update", { digest, labels, fieldPaths }, opts);
  }

  /** Removes the namespace's hold on the blob; the bytes go when the GC finds no holder. */
  delete(namespace: string, digest: string, opts?: CommandOptions) {
    return this.client.command<null>(namespace, "content", "delete", { digest }, opts);
  }

  /** The status of an active ingest (containerd `Status`). */
  status(namespace: string, ref: string, opts?: QueryOptions) {
    return this.client.query<IngestStatus>(namespace, "content", "status", { ref }, opts);
  }

  /** Active ingests, filtered on `ref` (containerd `ListStatuses`; `ctr content active`). */
  statuses(namespace: string, filters: string[] = [], opts?: QueryOptions) {
    return this.client.query<IngestStatus[]>(namespace, "content", "statuses", { filters }, opts);
  }

  abort(namespace: string, ref: string, opts?: CommandOptions) {
    return this.client.command<null>(namespace, "content", "abort", { ref }, opts);
  }

  /** A whole blob in one request: verified, stored and committed. */
  put(namespace: string, ref: string, data: Uint8Array, opts: WriteOptions & CommandOptions = {}) {
    return this.client.command<ContentRecord>(
      namespace,
      "content",
      "put",
      { ref, data, expected: opts.expected, size: opts.size, labels: opts.labels },
      { lease: opts.lease, timeoutMs: opts.timeoutMs, commandId: opts.commandId, correlationId: opts.correlationId },
    );
  }

  /**
   * Opens (or resumes) the ingest `ref`. Throws AlreadyExists when `expected`
   * is already in the namespace, Unavailable while another writer holds the ref.
   * The writer's {@link BlobWriter.offset} is where the data must continue.
   */
  async openWriter(namespace: string, ref: string, opts: OpenOptions = {}): Promise<BlobWriter> {
    const session = randomUUID();
    const reply = await this.client.command<IngestStatus>(
      namespace,
      "content",
      "open",
      { ref, session, expected: opts.expected, size: opts.size },
      { lease: opts.lease, timeoutMs: opts.timeoutMs },
    );
    const writer = new BlobWriter(this.client, namespace, ref, session, reply.result, reply.rv, this.transfer(opts), opts, () => this.live.delete(writer));
    this.live.add(writer);
    return writer;
  }

  /** Writers opened and not yet committed, closed or aborted (each holds its ref's lock on the server). */
  private readonly live = new Set<BlobWriter>();

  openWriters(): number {
    return this.live.size;
  }

  /**
   * Lets go of every open writer's ref lock at once (the CLI on Ctrl-C), so
   * the same command run again does not wait for the lock to expire; the
   * ingests and their bytes stay, to be resumed.
   */
  async releaseWriters(): Promise<void> {
    await Promise.allSettled([...this.live].map((w) => w.release()));
  }

  /**
   * Writes a blob from any source and commits it (containerd `content.WriteBlob`):
   * a blob that fits in one chunk is put in one request; a larger one is
   * streamed through an ingest, resuming an interrupted one of the same ref
   * (the bytes it already has are skipped). A blob the namespace already holds
   * is a success with `created: false`.
   */
  async writeBlob(
    namespace: string,
    ref: string,
    source: Readable | AsyncIterable<Uint8Array> | Uint8Array,
    opts: WriteOptions = {},
  ): Promise<WriteResult> {
    const { chunkSize } = this.transfer(opts);
    // A put carries the labels too: it must still fit in one message.
    const putLimit = chunkSize - Buffer.byteLength(JSON.stringify(opts.labels ?? {}));
    const iterator = bytesOf(source)[Symbol.asyncIterator]();
    const head: Uint8Array[] = [];
    let headBytes = 0;
    let ended = false;
    while (headBytes <= putLimit && !opts.viaIngest) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        break;
      }
      head.push(next.value);
      headBytes += next.value.length;
    }
    if (ended) {
      const data = head.length === 1 ? head[0]! : Buffer.concat(head);
      try {
        const reply = await this.whileLocked(opts, () => this.put(namespace, ref, data, opts));
        opts.onProgress?.({ ref, offset: data.length, total: opts.size ?? data.length });
        return { digest: reply.result.digest, size: reply.result.size, created: true, rv: reply.rv, info: reply.result };
      } catch (err) {
        const existing = existingDigest(err);
        if (existing) return { digest: existing, size: data.length, created: false, rv: 0 };
        // A put is a write and a commit in one: its size and digest checks are the commit's.
        if (isPurserError(err, "FailedPrecondition")) commitFailures.add(err as object);
        throw err;
      }
    }

    let writer: BlobWriter;
    try {
      writer = await this.whileLocked(opts, () => this.openWriter(namespace, ref, opts));
    } catch (err) {
      const existing = existingDigest(err);
      if (existing) {
        await iterator.return?.();
        return { digest: existing, size: opts.size ?? 0, created: false, rv: 0 };
      }
      throw err;
    }
    try {
      // A resumed ingest has its first bytes already, a shared one all of them:
      // skip that many of the source (containerd's Copy seeks the same way).
      let skip = writer.offset;
      const feed = async (chunk: Uint8Array) => {
        if (skip >= chunk.length) {
          skip -= chunk.length;
          return;
        }
        await writer.write(skip > 0 ? chunk.subarray(skip) : chunk);
        skip = 0;
      };
      for (const chunk of head) await feed(chunk);
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) await feed(next.value);
      const reply = await writer.commit({ size: opts.size, expected: opts.expected, labels: opts.labels }).catch((err: unknown) => {
        if (err !== null && typeof err === "object") commitFailures.add(err);
        throw err;
      });
      return { digest: reply.result.digest, size: reply.result.size, created: true, rv: reply.rv, info: reply.result };
    } catch (err) {
      const existing = existingDigest(err);
      if (existing) return { digest: existing, size: writer.offset, created: false, rv: 0 };
      await writer.close().catch(() => {});
      await iterator.return?.().catch(() => {});
      throw err;
    }
  }

  /** Runs `attempt` again while the ref is locked by another writer, if the caller asked to wait. */
  private async whileLocked<T>(opts: WriteOptions, attempt: () => Promise<T>): Promise<T> {
    let told = false;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await attempt();
      } catch (err) {
        if (!opts.onLockWait || !isPurserError(err, "Unavailable") || !/\blocked\b/.test(err.detail)) throw err;
        if (!told) opts.onLockWait((err as Error).message);
        told = true;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * The blob's bytes as a `Readable`, fetched `chunkSize` at a time with up to
   * `inFlight` requests ahead of the consumer. NotFound (`content digest …`)
   * when the namespace does not hold the blob, as an `error` event.
   */
  reader(namespace: string, digest: string, opts: ReadOptions = {}): Readable {
    const { chunkSize, inFlight, timeoutMs } = this.transfer(opts);
    const subject = commandSubject(namespace, "content", "read");
    const readChunk = async (offset: number, size: number): Promise<ReadChunk> => {
      const h = natsHeaders();
      if (opts.minRv) h.set(RequestHeader.MinRv, String(opts.minRv));
      const msg = await this.client.requestMsg(subject, encode({ digest, offset, size }), h, timeoutMs);
      const header = (name: string) => Number(msg.headers?.get(name) ?? "0");
      return { data: msg.data, offset: header(ContentHeader.Offset), size: header(ContentHeader.Size), rv: header(ContentHeader.Rv) };
    };
    async function* chunks(): AsyncGenerator<Buffer> {
      const start = opts.offset ?? 0;
      const first = await readChunk(start, opts.length !== undefined ? Math.min(opts.length, chunkSize) : chunkSize);
      const end = opts.length !== undefined ? Math.min(first.size, start + opts.length) : first.size;
      let next = start + first.data.length;
      if (first.data.length > 0) yield asBuffer(first.data);
      const window: Array<{ offset: number; length: number; reply: Promise<ReadChunk> }> = [];
      const fill = () => {
        while (window.length < inFlight && next < end) {
          const length = Math.min(chunkSize, end - next);
          const reply = readChunk(next, length);
          reply.catch(() => {}); // awaited below; a consumer that stops early must not leave it unhandled
          window.push({ offset: next, length, reply });
          next += length;
        }
      };
      fill();
      while (window.length > 0) {
        const slot = window.shift()!;
        let chunk = await slot.reply;
        let got = chunk.data.length;
        if (got > 0) yield asBuffer(chunk.data);
        // A server with a smaller max_payload answers less: fetch the rest in order.
        while (got < slot.length) {
          chunk = await readChunk(slot.offset + got, slot.length - got);
          if (chunk.data.length === 0) throw new Error(`blob ${digest} ended at ${slot.offset + got} of ${end} bytes`);
          got += chunk.data.length;
          yield asBuffer(chunk.data);
        }
        fill();
      }
    }
    return Readable.from(chunks(), { objectMode: false, highWaterMark: chunkSize });
  }

  /** A whole (small) blob in memory: manifests, configs, indexes. */
  async readBlob(namespace: string, digest: string, opts: ReadOptions = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.reader(namespace, digest, opts)) parts.push(chunk as Buffer);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private transfer(opts: TransferOptions): Required<TransferOptions> {
    const maxPayload = this.client.nc.info?.max_payload ?? 1024 * 1024;
    return {
      chunkSize: Math.max(1, Math.min(opts.chunkSize ?? defaultChunkSize, maxPayload - requestOverhead)),
      inFlight: Math.max(1, opts.inFlight ?? defaultInFlight),
      timeoutMs: opts.timeoutMs ?? defaultTimeoutMs,
    };
  }
}

/** Errors of {@link ContentApi.writeBlob} that came from the commit (ctr words them `failed commit on ref …`). */
const commitFailures = new WeakSet<object>();

export function isCommitFailure(err: unknown): boolean {
  return err !== null && typeof err === "object" && commitFailures.has(err);
}

/**
 * One writer of one ingest (a session: the server's lock on the ref is held by
 * it). {@link write} takes data of any size, cuts and coalesces it into
 * chunks and keeps up to `inFlight` of them on the wire; the server applies
 * them in order. The first failure fails every later call.
 */
export class BlobWriter {
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  /** Chunk buffers to reuse (at most `inFlight` + 1 exist). */
  private readonly buffers: Buffer[] = [];
  /** Offset of the next chunk sent. */
  private sent: number;
  private acked: number;
  private readonly window: Array<Promise<void>> = [];
  private failure: unknown;
  private readonly transfer: Required<TransferOptions>;

  constructor(
    private readonly client: PurserClient,
    readonly namespace: string,
    readonly ref: string,
    private readonly session: string,
    /** The status when the writer was opened: `offset` is where the data continues. */
    readonly opened: IngestStatus,
    /** The rv of the open (its `IngestStarted`). */
    readonly openedRv: number,
    transfer: Required<TransferOptions>,
    private readonly opts: OpenOptions = {},
    private readonly ended: () => void = () => {},
  ) {
    this.transfer = transfer;
    this.sent = opened.offset;
    this.acked = opened.offset;
    // The server frees the ref of a writer it has not heard from for a few
    // periods: a killed client's lock goes within seconds, a live one's never
    // (while it reads a slow source, or while its commit runs).
    this.keepalive = setInterval(() => {
      this.client
        .requestRaw(commandSubject(this.namespace, "content", "keepalive"), encode({ ref: this.ref, session: this.session }), natsHeaders(), this.transfer.timeoutMs)
        .catch(() => {}); // the next write or commit reports what is wrong
    }, writerKeepaliveMs);
    this.keepalive.unref();
  }

  private readonly keepalive: NodeJS.Timeout;

  private finish(): void {
    clearInterval(this.keepalive);
    this.ended();
  }

  /** Bytes accepted so far: acknowledged plus in flight plus buffered. */
  get offset(): number {
    return this.sent + this.bufferedBytes;
  }

  /** Bytes the server has acknowledged. */
  get acknowledged(): number {
    return this.acked;
  }

  /**
   * Queues `data`; resolves once it is buffered or on the wire (waits while
   * the window is full). `data` must not change afterwards (it may be sent as it is).
   */
  async write(data: Uint8Array): Promise<void> {
    this.check();
    let at = 0;
    while (at < data.length) {
      const room = this.transfer.chunkSize - this.bufferedBytes;
      const piece = data.subarray(at, at + room);
      at += piece.length;
      this.buffered.push(piece);
      this.bufferedBytes += piece.length;
      if (this.bufferedBytes >= this.transfer.chunkSize) await this.sendBuffered();
    }
  }

  /** Sends what is buffered and waits until the server has acknowledged everything. */
  async flush(): Promise<void> {
    this.check();
    if (this.bufferedBytes > 0) await this.sendBuffered();
    while (this.window.length > 0) await this.window[0];
    this.check();
  }

  /** Flushes, then commits: size and digest verified, the blob linked into the namespace. */
  async commit(opts: CommitOptions = {}): Promise<Reply<ContentRecord>> {
    await this.flush();
    const reply = await this.client.command<ContentRecord>(
      this.namespace,
      "content",
      "commit",
      { ref: this.ref, session: this.session, size: opts.size, expected: opts.expected, labels: opts.labels },
      { lease: this.opts.lease, timeoutMs: this.transfer.timeoutMs },
    );
    this.finish();
    return reply;
  }

  /** Lets go of the ref (the ingest and its bytes stay, to be resumed). */
  async close(): Promise<void> {
    await Promise.allSettled(this.window);
    await this.release();
  }

  /** Lets go of the ref now, without waiting for chunks in flight (an interrupted client). */
  async release(): Promise<void> {
    this.finish();
    await this.client.requestRaw(
      commandSubject(this.namespace, "content", "close"),
      encode({ ref: this.ref, session: this.session }),
      natsHeaders(),
      this.transfer.timeoutMs,
    );
  }

  /** Aborts the ingest: its bytes are removed. */
  async abort(): Promise<void> {
    this.finish();
    await Promise.allSettled(this.window);
    await this.client.command(this.namespace, "content", "abort", { ref: this.ref }, { timeoutMs: this.transfer.timeoutMs });
  }

  private async sendBuffered(): Promise<void> {
    const pieces = this.buffered;
    const bytes = this.bufferedBytes;
    this.buffered = [];
    this.bufferedBytes = 0;
    while (this.window.length >= this.transfer.inFlight) await this.window[0];
    this.check();
    // Pieces (64 KiB from a file or stdin stream) are gathered into one of a
    // few reused buffers: a buffer goes back to the pool only once the
    // server has answered its chunk, long after NATS copied it out.
    let chunk: Uint8Array;
    let pooled: Buffer | undefined;
    if (pieces.length === 1) {
      chunk = pieces[0]!;
    } else {
      pooled = this.buffers.pop() ?? Buffer.allocUnsafe(this.transfer.chunkSize);
      let at = 0;
      for (const piece of pieces) {
        pooled.set(piece, at);
        at += piece.length;
      }
      chunk = pooled.subarray(0, bytes);
    }
    const offset = this.sent;
    this.sent += chunk.length;
    const h = natsHeaders();
    h.set(ContentHeader.Ref, encodeRefHeader(this.ref));
    h.set(ContentHeader.Session, this.session);
    h.set(ContentHeader.Offset, String(offset));
    const request = this.client
      .requestRaw<{ offset: number }>(commandSubject(this.namespace, "content", "write"), chunk, h, this.transfer.timeoutMs)
      .then(
        (reply) => {
          this.acked = reply.result.offset;
          this.opts.onProgress?.({ ref: this.ref, offset: this.acked, total: this.opened.total });
        },
        (err) => {
          this.failure ??= err;
        },
      )
      .finally(() => {
        const i = this.window.indexOf(request);
        if (i >= 0) this.window.splice(i, 1);
        if (pooled) this.buffers.push(pooled);
      });
    this.window.push(request);
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/** A blob the namespace already holds: containerd's `content <digest>: already exists`. */
function existingDigest(err: unknown): string | undefined {
  if (!isPurserError(err, "AlreadyExists")) return undefined;
  return /^content (\S+)$/.exec(err.detail)?.[1];
}

function bytesOf(source: Readable | AsyncIterable<Uint8Array> | Uint8Array): AsyncIterable<Uint8Array> {
  if (source instanceof Uint8Array) {
    return (async function* () {
      yield source;
    })();
  }
  return source as AsyncIterable<Uint8Array>;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
}
