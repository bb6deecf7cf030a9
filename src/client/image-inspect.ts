import { isPurserError } from "../errors/errdefs.js";
import type { ImageRecord } from "../events/image-events.js";
import { maxJsonBlob, type Descriptor } from "../oci/descriptor.js";
import { chainId, checkImage, imageConfig, type BlobSource, type CheckResult } from "../oci/image-walk.js";
import { defaultPlatforms, type PlatformMatcher } from "../oci/platforms.js";
import type { PurserClient } from "./purser-client.js";

/**
 * What `ctr images check` computes about an image, from the namespace's
 * content through the client API (docs/import-export.md): completeness by
 * checking the platform's config and layers are held, unpacked-ness by
 * looking for the snapshot named by the layers' chain id. Queries only.
 * (`images ls` SIZE and PLATFORMS are kept by the server: image-usage.ts.)
 */

/**
 * A namespace's blobs as a {@link BlobSource}: manifests, indexes and configs
 * read through `content.read`, each digest fetched once per source (images
 * listed together share most of theirs).
 */
export class ContentBlobSource implements BlobSource {
  private readonly reads = new Map<string, Promise<Uint8Array>>();
  private readonly infos = new Map<string, Promise<boolean>>();

  constructor(
    private readonly client: PurserClient,
    private readonly namespace: string,
    private readonly minRv?: number,
  ) {}

  read(desc: Descriptor): Promise<Uint8Array> {
    let p = this.reads.get(desc.digest);
    if (!p) {
      if (desc.size > maxJsonBlob) return Promise.reject(new Error(`blob ${desc.digest} is ${desc.size} bytes: too large to read as JSON`));
      p = this.client.content.readBlob(this.namespace, desc.digest, { minRv: this.minRv });
      this.reads.set(desc.digest, p);
    }
    return p;
  }

  has(desc: Descriptor): Promise<boolean> {
    let p = this.infos.get(desc.digest);
    if (!p) {
      p = this.client.content.info(this.namespace, desc.digest, { minRv: this.minRv }).then(
        () => true,
        (err) => {
          if (isPurserError(err, "NotFound")) return false;
          throw err;
        },
      );
      this.infos.set(desc.digest, p);
    }
    return p;
  }
}

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function targetOf(image: ImageRecord): Descriptor {
  return { mediaType: image.target.mediaType, digest: image.target.digest, size: image.target.size };
}

/** One row of `ctr images check`. */
export interface ImageCheck extends CheckResult {
  name: string;
  /** Whether the snapshot of the image's layer chain exists in the snapshotter. */
  unpacked: boolean;
  /** Set when the check or the unpack lookup failed (ctr's "unable to check …"). */
  error?: string;
}

export async function checkImages(
  client: PurserClient,
  namespace: string,
  images: readonly ImageRecord[],
  opts: { minRv?: number; platform?: PlatformMatcher; snapshotter?: string } = {},
): Promise<ImageCheck[]> {
  const source = new ContentBlobSource(client, namespace, opts.minRv);
  const matcher = opts.platform ?? defaultPlatforms();
  return mapLimit(images, 8, async (image) => {
    const target = targetOf(image);
    let result: CheckResult;
    let error: string | undefined;
    try {
      result = await checkImage(source, target, matcher);
    } catch (err) {
      result = { available: false, required: [], present: [], missing: [] };
      error = `unable to check ${image.name}: ${(err as Error).message}`;
    }
    let unpacked = false;
    try {
      const { config } = await imageConfig(source, target, matcher);
      const chain = chainId(config.rootfs?.diff_ids ?? []);
      if (chain !== "") {
        unpacked = await client.snapshots.stat(namespace, chain, { snapshotter: opts.snapshotter, minRv: opts.minRv }).then(
          () => true,
          (err) => {
            if (isPurserError(err, "NotFound")) return false;
            throw err;
          },
        );
      }
    } catch (err) {
      error ??= `unable to check unpack for ${image.name}: ${(err as Error).message}`;
    }
    return { name: image.name, ...result, unpacked, ...(error ? { error } : {}) };
  });
}
