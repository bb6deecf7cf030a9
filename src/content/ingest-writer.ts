import { createHash, type Hash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import type { IngestRecord } from "../events/ingest-events.js";
import { withPath } from "../errors/disk-space.js";
import type { BlobStore } from "./blob-store.js";

/**
 * The bytes of one active ingest, as this process holds them: an open data
 * file, the offset (its size: the offset lives on disk, as containerd's does,
 * so no event is needed per chunk) and the running SHA-256 of everything
 * written, so a commit verifies the digest without reading the file again.
 *
 * A writer is rebuilt after a restart by hashing the data file once
 * (containerd's `resumeStatus` does the same). A shared ingest has no data
 * file: it counts as fully written, and a write "unshares" it first.
 */
export class IngestWriter {
  /** The rv of the event that last opened the ingest: the views must reach it before a commit decides. */
  openedRv = 0;
  private fh?: fs.FileHandle;
  private hash: Hash = createHash("sha256");
  private sealed = false;

  private constructor(
    readonly namespace: string,
    public record: IngestRecord,
    private readonly blobs: BlobStore,
    public offset: number,
    public updatedAt: number,
    public shared: boolean,
  ) {}

  get id(): string {
    return this.record.id;
  }

  get dataPath(): string {
    return this.blobs.ingestDataPath(this.record.id);
  }

  /** A writer for an ingest whose data file may hold bytes from before (hashed again here). */
  static async open(namespace: string, record: IngestRecord, blobs: BlobStore, nowMs: number): Promise<IngestWriter> {
    if (record.shared) return new IngestWriter(namespace, record, blobs, record.total, nowMs, true);
    const w = new IngestWriter(namespace, record, blobs, 0, nowMs, false);
    try {
      const st = await fs.stat(w.dataPath);
      w.updatedAt = st.mtimeMs;
      // Already linked as a blob (a crash after the link, before the event):
      // the inode is the blob's now, so it is never written again.
      if (st.nlink > 1 || (st.mode & 0o222) === 0) w.sealed = true;
      await new Promise<void>((resolve, reject) => {
        const stream = createReadStream(w.dataPath, { highWaterMark: 1 << 20 });
        stream.on("data", (chunk) => {
          w.hash.update(chunk as Buffer);
          w.offset += (chunk as Buffer).length;
        });
        stream.on("end", resolve);
        stream.on("error", reject);
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    return w;
  }

  /** The digest of the bytes written so far. */
  digest(): string {
    return `sha256:${this.hash.copy().digest("hex")}`;
  }

  /** Appends at the current offset (the caller has checked the request's offset). */
  async write(data: Uint8Array, nowMs: number): Promise<void> {
    const fh = await this.file();
    // The file write runs on libuv's pool while this thread hashes; a failed
    // write leaves the hash untouched, so a resume after it stays correct.
    const writing = writeAll(fh, data, this.offset);
    const hash = this.hash.copy();
    hash.update(data);
    try {
      await writing;
    } catch (err) {
      throw withPath(err, this.dataPath);
    }
    this.hash = hash;
    this.offset += data.length;
    this.updatedAt = nowMs;
  }

  /** Starts over at offset 0 (a write `@0` to an ingest that has bytes: containerd truncates). */
  async truncate(nowMs: number): Promise<void> {
    if (this.sealed) {
      // The sealed bytes may already be a blob (a hard link to them): never
      // write into that inode again, start a new file.
      await fs.rm(this.dataPath, { force: true });
      this.sealed = false;
    } else {
      await (await this.file()).truncate(0);
    }
    this.shared = false;
    this.hash = createHash("sha256");
    this.offset = 0;
    this.updatedAt = nowMs;
  }

  /**
   * Turns a shared ingest into one with its own bytes: a copy of the blob it
   * shares, so a write can continue after it (containerd `createAndCopy`).
   */
  async unshare(blobPath: string, nowMs: number): Promise<void> {
    await this.truncate(nowMs);
    const fh = await this.file();
    for await (const chunk of createReadStream(blobPath, { highWaterMark: 1 << 20 })) {
      const buf = chunk as Buffer;
      await fh.write(buf, 0, buf.length, this.offset);
      this.hash.update(buf);
      this.offset += buf.length;
    }
  }

  /**
   * Closes the data file for a commit: flushed (when asked), read-only, ready
   * to be linked as a blob. From here on only a commit or a restart at offset 0
   * may follow ({@link isSealed}).
   */
  async seal(fsync: boolean): Promise<void> {
    if (this.sealed) return;
    const fh = await this.file();
    if (fsync) await fh.sync();
    await fh.chmod(0o444);
    await fh.close();
    this.fh = undefined;
    this.sealed = true;
  }

  get isSealed(): boolean {
    return this.sealed;
  }

  /** Whether the data file is open (a descriptor held). */
  get holdsFile(): boolean {
    return this.fh !== undefined;
  }

  /** Lets go of the data file; the bytes stay for a later resume. */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  private async file(): Promise<fs.FileHandle> {
    if (!this.fh) {
      await fs.mkdir(this.blobs.ingestDir(this.record.id), { recursive: true });
      // "a+" would ignore positions on Linux; "r+" needs the file: create it first.
      try {
        this.fh = await fs.open(this.dataPath, "r+");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        this.fh = await fs.open(this.dataPath, "wx+", 0o644);
      }
    }
    return this.fh;
  }
}

async function writeAll(fh: fs.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) written += (await fh.write(data, written, data.length - written, position + written)).bytesWritten;
}
