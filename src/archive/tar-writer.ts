import type { Writable } from "node:stream";

/**
 * A streaming tar writer for exports: POSIX ustar headers (a PAX `path`
 * record for names that do not fit), owner 0:0, modification time 0, so the
 * same images always export to the same bytes. Entries' data is written as it
 * arrives, with the writable's backpressure respected; memory stays at one
 * chunk. Ends with two zero blocks, as Go's `archive/tar` does (no padding to
 * a 10 KiB record).
 */
const block = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: string, size: number, mode: number, typeflag: string): Buffer {
  const h = Buffer.alloc(block);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(0, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(typeflag, 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  h.write(octal(0, 8), 329, "ascii");
  h.write(octal(0, 8), 337, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return h;
}

function paxHeader(name: string): Buffer {
  const body = (len: number) => `${len} path=${name}\n`;
  let length = Buffer.byteLength(body(0));
  while (Buffer.byteLength(body(length)) !== length) length = Buffer.byteLength(body(length));
  const data = Buffer.from(body(length));
  return Buffer.concat([header("PaxHeaders/" + name.slice(-80), data.length, 0o644, "x"), data, Buffer.alloc(padding(data.length))]);
}

function padding(size: number): number {
  return (block - (size % block)) % block;
}

export class TarWriter {
  constructor(private readonly out: Writable) {}

  private write(chunk: Uint8Array): Promise<void> {
    if (this.out.write(chunk)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        this.out.off("drain", onDrain);
        reject(err);
      };
      const onDrain = () => {
        this.out.off("error", onError);
        resolve();
      };
      this.out.once("drain", onDrain);
      this.out.once("error", onError);
    });
  }

  private async writeHeader(name: string, size: number, mode: number, typeflag: string): Promise<void> {
    if (Buffer.byteLength(name) > 100) await this.write(paxHeader(name));
    await this.write(header(name, size, mode, typeflag));
  }

  async directory(name: string, mode = 0o755): Promise<void> {
    await this.writeHeader(name.endsWith("/") ? name : `${name}/`, 0, mode, "5");
  }

  /** A symbolic link to `target` (as written, relative to the link's directory). */
  async symlink(name: string, target: string): Promise<void> {
    if (Buffer.byteLength(target) > 100) throw new Error(`tar symlink ${name}: target longer than 100 bytes`);
    const h = header(name, 0, 0o777, "2");
    h.write(target, 157, 100, "utf8");
    let sum = 0;
    h.write("        ", 148, "ascii");
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
    await this.write(h);
  }

  /**
   * A regular file of exactly `size` bytes from `data` (bytes, or chunks as
   * they arrive); a source that yields more or fewer fails the write.
   */
  async file(name: string, size: number, data: Uint8Array | AsyncIterable<Uint8Array>, mode = 0o644): Promise<void> {
    await this.writeHeader(name, size, mode, "0");
    let written = 0;
    const chunks: AsyncIterable<Uint8Array> = data instanceof Uint8Array ? (async function* () { yield data; })() : data;
    for await (const chunk of chunks) {
      written += chunk.length;
      if (written > size) throw new Error(`tar entry ${name}: more than the declared ${size} bytes`);
      await this.write(chunk);
    }
    if (written !== size) throw new Error(`tar entry ${name}: ${written} bytes instead of the declared ${size}`);
    const pad = padding(size);
    if (pad > 0) await this.write(Buffer.alloc(pad));
  }

  /** The end-of-archive marker. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(2 * block));
  }
}
