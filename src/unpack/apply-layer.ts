import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { applyTar, LayerLimitError, type ApplyOptions, type ApplyReport } from "./apply-tar.js";
import { decompressor, detectCompression, type Compression } from "./decompress.js";

/** One layer to apply: a blob on disk into a directory. */
export interface LayerJob {
  /** The (compressed or not) layer blob. */
  blobPath: string;
  /** The directory to apply it to (an active snapshot's tree). */
  dir: string;
  /** The diff id the config promises (`rootfs.diff_ids[i]`): the uncompressed stream must hash to it (absent: no promise, as containerd's Diff.Apply). */
  diffId?: string;
  options?: ApplyOptions;
}

export interface LayerResult extends ApplyReport {
  compression: Compression;
  /** The digest of the uncompressed stream. */
  diffId: string;
  /** Bytes of the uncompressed stream. */
  size: number;
}

/** The uncompressed stream did not hash to the config's diff id (the layer is not the one the image names). */
export class DiffIdMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    // containerd's text (`rootfs/apply.go`) names the digest it calculated.
    super(`wrong diff id calculated on extraction ${JSON.stringify(actual)} (the config says ${expected})`);
  }
}

/**
 * Streams a layer blob through its decompressor and a sha256 of the
 * uncompressed bytes into {@link applyTar}; memory stays bounded by the
 * streams' buffers whatever the layer's size. The diff id is checked at the
 * end, over every byte (trailing padding after the tar's end included, as
 * containerd's digester sees it): a mismatch throws
 * {@link DiffIdMismatchError}, and the caller throws the tree away.
 */
export async function applyLayer(job: LayerJob): Promise<LayerResult> {
  const compression = detectCompression(job.blobPath);
  const hasher = new HashingPassThrough(job.options?.maxBytes);
  const report = await applyTar(
    job.dir,
    [createReadStream(job.blobPath, { highWaterMark: 256 * 1024 }), decompressor(compression), hasher],
    job.options,
  );
  const diffId = `sha256:${hasher.hash.digest("hex")}`;
  if (job.diffId !== undefined && diffId !== job.diffId) throw new DiffIdMismatchError(job.diffId, diffId);
  return { ...report, compression, diffId, size: hasher.bytes };
}

/** Passes bytes through while hashing them; past `maxBytes` the stream fails (the decompressor stops with it). */
class HashingPassThrough extends Transform {
  readonly hash: Hash = createHash("sha256");
  bytes = 0;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      callback(new LayerLimitError(`the layer expands beyond ${this.maxBytes} bytes (serve --unpack-max-layer-bytes)`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }
}
