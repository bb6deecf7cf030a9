import type { Writable } from "node:stream";
import tar, { type Pack } from "tar-stream";

/** Every entry's modification time: the same images always export to the same bytes. */
const epoch = new Date(0);

/**
 * A streaming tar writer for exports, on tar-stream's `pack()`: ustar headers
 * (a PAX record for what ustar cannot hold), owner 0:0, modification time 0.
 * Entries' data is written as it arrives, with backpressure from `out`
 * respected, so memory stays at about one chunk. The archive ends with two
 * zero blocks, as Go's `archive/tar` ends it. `out` is the caller's: it is
 * never ended here.
 */
export class TarWriter {
  private readonly pack: Pack = tar.pack();
  private readonly flowed: Promise<void>;

  constructor(out: Writable) {
    this.flowed = new Promise<void>((resolve, reject) => {
      this.pack.once("end", () => resolve());
      this.pack.once("error", reject);
      out.once("error", reject);
    });
    // A failure is reported by the write or finish that meets it.
    this.flowed.catch(() => {});
    // Not pipe(): that would end `out`, which belongs to the caller.
    this.pack.on("data", (chunk) => {
      if (out.write(chunk as Uint8Array)) return;
      this.pack.pause();
      out.once("drain", () => this.pack.resume());
    });
  }

  async directory(name: string, mode = 0o755): Promise<void> {
    await this.entry({ name: name.endsWith("/") ? name : `${name}/`, type: "directory", mode });
  }

  /** A symbolic link to `target` (as written, relative to the link's directory). */
  async symlink(name: string, target: string): Promise<void> {
    await this.entry({ name, type: "symlink", linkname: target, mode: 0o777 });
  }

  /**
   * A regular file of exactly `size` bytes from `data` (bytes, or chunks as
   * they arrive); a source that yields more or fewer fails the write.
   */
  async file(name: string, size: number, data: Uint8Array | AsyncIterable<Uint8Array>, mode = 0o644): Promise<void> {
    let sink!: ReturnType<Pack["entry"]>;
    const finished = new Promise<void>((done, fail) => {
      sink = this.pack.entry({ ...owner, name, size, mode, type: "file", mtime: epoch }, (err) => (err ? fail(err) : done()));
    });
    // Its failure is `finished`'s (and the archive's): no stray error event.
    sink.on("error", () => {});
    const chunks: AsyncIterable<Uint8Array> = data instanceof Uint8Array ? (async function* () { yield data; })() : data;
    let written = 0;
    try {
      for await (const chunk of chunks) {
        written += chunk.length;
        if (written > size) throw new Error(`tar entry ${name}: more than the declared ${size} bytes`);
        if (!sink.write(chunk)) await Promise.race([new Promise<void>((resolve) => sink.once("drain", () => resolve())), finished]);
      }
      if (written !== size) throw new Error(`tar entry ${name}: ${written} bytes instead of the declared ${size}`);
    } catch (err) {
      // The archive cannot go on with a short or long entry in it.
      sink.destroy(err as Error);
      finished.catch(() => {});
      throw err;
    }
    sink.end(undefined);
    await finished;
  }

  /** The end-of-archive marker; resolves once everything was handed to `out`. */
  async finish(): Promise<void> {
    this.pack.finalize();
    await this.flowed;
  }

  private entry(header: Omit<Parameters<Pack["entry"]>[0], "mtime" | "uid" | "gid">): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pack.entry({ ...owner, ...header, mtime: epoch }, (err) => (err ? reject(err) : resolve()));
    });
  }
}

const owner = { uid: 0, gid: 0 };
