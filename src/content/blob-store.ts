import { withPath } from "../errors/disk-space.js";
import { randomBytes } from "node:crypto";
import { constants, promises as fs, statfsSync } from "node:fs";
import { join } from "node:path";
import { notFound, resourceExhausted } from "../errors/errdefs.js";
import { inject, injectable } from "../di.js";
import { Tokens } from "../tokens.js";

/**
 * The host's blobs on the local file system (containerd `content/local`):
 *
 *   <data>/blobs/<alg>/<hex>     committed blobs, content-addressed, read-only,
 *                                shared by every namespace; never rewritten
 *   <data>/ingest/<id>/data      the bytes of an active ingest
 *   <data>/ingest/put-<random>   the bytes of a one-request put, for a moment
 *   <data>/ingest/spare-<random> empty files made ahead of time for puts
 *
 * A blob appears under blobs/ only complete and verified: the bytes are
 * written under ingest/ and hard-linked into place (`link` never replaces an
 * existing file, so a blob file, once there, keeps its inode), then the ingest
 * name is removed. Nothing here knows namespaces: which namespace holds which
 * blob is the `content` view.
 */

/** Where a blob lives under a blobs root: `<root>/<alg>/<hex>`, for a digest the caller has validated. */
export function blobPathIn(blobsRoot: string, digest: string): string {
  const at = digest.indexOf(":");
  return join(blobsRoot, digest.slice(0, at), digest.slice(at + 1));
}

/** The blobs root of a data directory. */
export function blobsRootOf(dataDir: string): string {
  return join(dataDir, "blobs");
}

@injectable()
export class BlobStore {
  readonly blobsRoot: string;
  readonly ingestRoot: string;
  /** Digests committed but not yet recorded in the log: the GC must not remove them. */
  private readonly pins = new Map<string, number>();
  /**
   * Counts unpins; `lastUnpin` says when each digest was last let go. The
   * collector notes the count before it catches its views up: a digest let
   * go since then may have its event in the log but not yet in the views
   * (docs/gc.md "The disk").
   */
  private unpins = 0;
  private readonly lastUnpin = new Map<string, number>();
  /**
   * Empty files created (and opened) ahead of time. Creating a file — its
   * inode — is the slowest step of storing a small blob on this kind of disk
   * (~0.5 ms, measured); a put takes a spare and the pool refills in the
   * background, so that cost leaves the request's path.
   */
  private readonly spares: Array<{ path: string; fh: fs.FileHandle }> = [];
  private refilling = false;
  private closed = false;
  /** Temporary names being removed after their put answered. */
  private readonly cleanups = new Set<Promise<void>>();

  constructor(
    @inject(Tokens.DataDir) private readonly dataDir: string,
    @inject(Tokens.ContentOptions) private readonly options: { fsync: boolean; diskReserveBytes: number },
  ) {
    this.blobsRoot = blobsRootOf(dataDir);
    this.ingestRoot = join(dataDir, "ingest");
  }

  /**
   * Refuses to write `bytes` more under the data directory when that would
   * leave less than the reserve free (`serve --disk-reserve`): the space is
   * kept for what must never fail for want of it, the event log (the
   * embedded NATS store lives there too) and the views. ResourceExhausted,
   * naming the path and the space; writes pass again once space is freed
   * (a collection, an abort), with no restart.
   */
  ensureRoom(bytes: number, path: string): void {
    if (this.options.diskReserveBytes <= 0) return;
    let free: number;
    try {
      const st = statfsSync(this.dataDir);
      free = st.bavail * st.bsize;
    } catch {
      return; // cannot tell: the write itself will say
    }
    if (free - bytes < this.options.diskReserveBytes) {
      throw resourceExhausted(
        `no space left on device writing ${path}: ${free} bytes free, ${this.options.diskReserveBytes} kept for the event log and views (serve --disk-reserve)`,
      );
    }
  }

  async init(): Promise<void> {
    await fs.mkdir(join(this.blobsRoot, "sha256"), { recursive: true });
    await fs.mkdir(this.ingestRoot, { recursive: true });
    // Spares of an earlier run: nothing refers to them.
    for (const name of await fs.readdir(this.ingestRoot)) {
      if (name.startsWith(sparePrefix)) await fs.rm(join(this.ingestRoot, name), { force: true });
    }
    this.refill();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.cleanups]);
    for (const spare of this.spares.splice(0)) {
      await spare.fh.close().catch(() => {});
      await fs.rm(spare.path, { force: true });
    }
  }

  /** `blobs/<alg>/<hex>` of a digest the caller has validated. */
  blobPath(digest: string): string {
    return blobPathIn(this.blobsRoot, digest);
  }

  /** The blob's size, or undefined when the host does not have it. */
  async size(digest: string): Promise<number | undefined> {
    try {
      return (await fs.stat(this.blobPath(digest))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  /** Reads up to `length` bytes at `offset` (fewer at the end of the blob). */
  async read(digest: string, offset: number, length: number): Promise<Uint8Array> {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(this.blobPath(digest), "r");
    } catch (err) {
      // containerd local store: `blob %v expected at %s: not found`.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw notFound(`blob ${digest} expected at ${this.blobPath(digest)}`);
      throw err;
    }
    try {
      const buf = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await fh.read(buf, filled, length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === length ? buf : buf.subarray(0, filled);
    } finally {
      await fh.close();
    }
  }

  /**
   * Stores verified bytes as a blob unless the host already has it; returns
   * whether a new blob file was written. `maybePresent`: the views say some
   * namespace holds the digest, so look before writing (otherwise `link`
   * finds out, and a new blob — the usual case — costs no extra stat).
   */
  async putBytes(digest: string, data: Uint8Array, maybePresent: boolean): Promise<boolean> {
    if (maybePresent && (await this.size(digest)) !== undefined) return false;
    const { path, fh } = await this.tempFile();
    try {
      let written = 0;
      try {
        while (written < data.length) written += (await fh.write(data, written, data.length - written, written)).bytesWritten;
        if (this.options.fsync) await fh.sync();
      } catch (err) {
        // A descriptor's write error names no file: name it (a full disk says where).
        throw withPath(err, path);
      }
      return await this.link(path, digest);
    } finally {
      // The temporary name and descriptor go after the answer; the blob stays.
      this.background(async () => {
        await fh.close();
        await fs.unlink(path);
      });
    }
  }

  /**
   * An open, empty, read-only-mode file under ingest/ for a put's bytes (the
   * mode applies to later opens; this descriptor writes): a spare when there is one.
   */
  private async tempFile(): Promise<{ path: string; fh: fs.FileHandle }> {
    const spare = this.spares.pop();
    this.refill();
    return spare ?? this.createTemp("put-");
  }

  private async createTemp(prefix: string): Promise<{ path: string; fh: fs.FileHandle }> {
    const path = join(this.ingestRoot, `${prefix}${randomBytes(12).toString("hex")}`);
    return { path, fh: await fs.open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o444) };
  }

  private refill(): void {
    if (this.refilling || this.closed || this.spares.length >= spareTarget) return;
    this.refilling = true;
    void (async () => {
      try {
        while (!this.closed && this.spares.length < spareTarget) {
          const spare = await this.createTemp(sparePrefix);
          if (this.closed) {
            // Made while the store was closing: close() has already let go of the others.
            await spare.fh.close().catch(() => {});
            await fs.rm(spare.path, { force: true });
            break;
          }
          this.spares.push(spare);
        }
      } catch {
        // A full disk or a vanished directory: puts create their own files.
      } finally {
        this.refilling = false;
      }
    })();
  }

  private background(work: () => Promise<void>): void {
    const done: Promise<void> = work()
      .catch(() => {})
      .finally(() => this.cleanups.delete(done));
    this.cleanups.add(done);
  }

  /**
   * Hard-links a complete, verified file into place. Returns false when the
   * blob was already there (the caller's bytes are then not needed).
   */
  async link(path: string, digest: string): Promise<boolean> {
    const target = this.blobPath(digest);
    try {
      await fs.link(path, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      if (code !== "ENOENT") throw err;
      // blobs/<alg>/ of an algorithm seen for the first time.
      await fs.mkdir(join(target, ".."), { recursive: true });
      return this.link(path, digest);
    }
    if (this.options.fsync) await syncDirectory(join(target, ".."));
    return true;
  }

  ingestDir(id: string): string {
    return join(this.ingestRoot, id);
  }

  ingestDataPath(id: string): string {
    return join(this.ingestRoot, id, "data");
  }

  async removeIngest(id: string): Promise<void> {
    await fs.rm(this.ingestDir(id), { recursive: true, force: true });
  }

  /** Entries of ingest/ (ingest ids and leftover put files): what a cleanup walks. */
  async ingestEntries(): Promise<Array<{ name: string; modifiedMs: number }>> {
    const out: Array<{ name: string; modifiedMs: number }> = [];
    for (const name of await fs.readdir(this.ingestRoot)) {
      try {
        out.push({ name, modifiedMs: (await fs.stat(join(this.ingestRoot, name))).mtimeMs });
      } catch {
        // removed meanwhile
      }
    }
    return out;
  }

  async removeIngestEntry(name: string): Promise<void> {
    await fs.rm(join(this.ingestRoot, name), { recursive: true, force: true });
  }

  /** Digests on the host (for the GC's content cleanup). */
  async *digests(): AsyncGenerator<string> {
    for (const alg of await fs.readdir(this.blobsRoot)) {
      for (const hex of await fs.readdir(join(this.blobsRoot, alg))) yield `${alg}:${hex}`;
    }
  }

  /** Removes a blob from the host (the GC, once no namespace and no ingest holds it). */
  async remove(digest: string): Promise<void> {
    await fs.rm(this.blobPath(digest), { force: true });
  }

  pin(digest: string): void {
    this.pins.set(digest, (this.pins.get(digest) ?? 0) + 1);
  }

  unpin(digest: string): void {
    const n = (this.pins.get(digest) ?? 0) - 1;
    if (n > 0) this.pins.set(digest, n);
    else this.pins.delete(digest);
    this.lastUnpin.set(digest, ++this.unpins);
  }

  /** The unpin count now (see {@link unpinnedSince}). */
  unpinEpoch(): number {
    return this.unpins;
  }

  /** Whether the digest was let go after `epoch` (a reading of {@link unpinEpoch}). */
  unpinnedSince(digest: string, epoch: number): boolean {
    return (this.lastUnpin.get(digest) ?? 0) > epoch;
  }

  /** The digests let go since the unpins last forgotten (candidates for the disk clean-up). */
  unpinnedDigests(): string[] {
    return [...this.lastUnpin.keys()];
  }

  /** Forgets unpins at or before `epoch` (no later question goes back that far). */
  forgetUnpins(epoch: number): void {
    for (const [digest, at] of this.lastUnpin) if (at <= epoch) this.lastUnpin.delete(digest);
  }

  /** Whether a commit of this digest is in flight in this process. */
  isPinned(digest: string): boolean {
    return this.pins.has(digest);
  }
}

const sparePrefix = "spare-";
/** Spares kept ready: enough for a burst of 16 writers twice over. */
const spareTarget = 32;

async function syncDirectory(path: string): Promise<void> {
  const fh = await fs.open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
