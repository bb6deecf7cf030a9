import { closeSync, openSync, readSync } from "node:fs";
import { PassThrough, Transform, type TransformCallback } from "node:stream";
import { createGunzip } from "node:zlib";
import { Decompress as ZstdStream } from "fzstd";

/**
 * Layer decompression, chosen from the stream's first bytes as containerd's
 * `archive/compression.DecompressStream` chooses it (not from the media type,
 * which a `docker save` archive or a careless pusher may get wrong): gzip
 * (`1f 8b`), zstd (`28 b5 2f fd`), anything else is an uncompressed tar.
 *
 * gzip is Node's zlib (native, off the JavaScript thread). Node 20's zlib has
 * no zstd, so zstd layers go through `fzstd`, a small, maintained, pure
 * JavaScript streaming decoder (no native build, no download at install):
 * slower than native zstd, and zstd layers are still rare.
 */
export const Compression = {
  Uncompressed: "uncompressed",
  Gzip: "gzip",
  Zstd: "zstd",
} as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

/** The compression of a file, from its magic bytes. */
export function detectCompression(path: string): Compression {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    return detectFromBytes(head.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

export function detectFromBytes(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return Compression.Gzip;
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return Compression.Zstd;
  return Compression.Uncompressed;
}

/** A transform from the compressed bytes to the tar stream. */
export function decompressor(compression: Compression): Transform {
  switch (compression) {
    case Compression.Gzip:
      return createGunzip({ chunkSize: 256 * 1024 });
    case Compression.Zstd:
      return new ZstdDecompressor();
    case Compression.Uncompressed:
      return new PassThrough();
  }
}

/** fzstd's push API as a Node transform. */
class ZstdDecompressor extends Transform {
  private readonly decoder = new ZstdStream((chunk) => {
    if (chunk.length > 0) this.push(chunk);
  });

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      callback();
    } catch (err) {
      callback(new Error(`zstd: ${(err as Error).message}`));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (err) {
      callback(new Error(`zstd: ${(err as Error).message}`));
    }
  }
}
