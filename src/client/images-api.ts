import type { ImageRecord } from "../events/image-events.js";
import type { UnpackResult } from "../protocol/results.js";
import type { ImageUsage } from "../protocol/results.js";
import { listAllPages, listAllPagesWith } from "./list-pages.js";
import type { CommandOptions, PurserClient, QueryOptions, Reply } from "./purser-client.js";

/** An image as a request carries it (docs/protocol.md); absent fields are zero values. */
export interface ImageSpec {
  name: string;
  labels?: Record<string, string>;
  target?: {
    mediaType?: string;
    digest?: string;
    size?: number;
    annotations?: Record<string, string>;
  };
}

/** Images of a namespace: containerd's images service over purser's protocol. */
export class ImagesApi {
  constructor(private readonly client: PurserClient) {}

  create(namespace: string, image: ImageSpec, opts?: CommandOptions) {
    return this.client.command<ImageRecord>(namespace, "images", "create", image, opts);
  }

  /**
   * Updates with field paths (`labels`, `labels.<k>`, `annotations`,
   * `annotations.<k>`, `target`); no paths replaces the whole image.
   */
  update(namespace: string, image: ImageSpec, fieldPaths: string[] = [], opts?: CommandOptions) {
    return this.client.command<ImageRecord>(namespace, "images", "update", { ...image, fieldPaths }, opts);
  }

  /**
   * `sync`: return only after the collection that follows the delete (the
   * blobs and snapshot directories only this image held are gone: docs/gc.md).
   */
  async delete(namespace: string, name: string, options: { sync?: boolean } = {}, opts?: CommandOptions) {
    const reply = await this.client.command<null>(namespace, "images", "delete", { name, sync: options.sync ?? false }, opts);
    if (options.sync) await this.client.gc.collect();
    return reply;
  }

  get(namespace: string, name: string, opts?: QueryOptions) {
    return this.client.query<ImageRecord>(namespace, "images", "get", { name }, opts);
  }

  /** containerd filters: several strings are ORed, commas within one AND. Reads every page of the list. */
  list(namespace: string, filters: string[] = [], opts?: QueryOptions) {
    return listAllPages<ImageRecord>(this.client, namespace, "images", filters, opts);
  }

  /**
   * The list with each image's SIZE and PLATFORMS as `ctr images ls` prints
   * them, kept by the server (the image-usage view): one request per page,
   * as the list alone. `usage[i]` belongs to `images[i]`.
   */
  async listWithUsage(namespace: string, filters: string[] = [], opts?: QueryOptions): Promise<Reply<{ images: ImageRecord[]; usage: ImageUsage[] }>> {
    const { rv, result } = await listAllPagesWith<ImageRecord, ImageUsage>(this.client, namespace, "images", filters, { usage: true }, opts);
    return { rv, result: { images: result.records, usage: result.companions } };
  }

  /**
   * Unpacks the image's layers into a snapshot chain on the server
   * (docs/unpack.md): layers whose chain id the namespace holds are skipped, so
   * unpacking again changes nothing. `opts.lease` runs it under that lease
   * instead of a temporary one. Large images take a while: the default timeout
   * is 10 minutes.
   */
  unpack(namespace: string, name: string, options: { snapshotter?: string; platform?: string } = {}, opts: CommandOptions = {}) {
    return this.client.command<UnpackResult>(
      namespace,
      "images",
      "unpack",
      { name, snapshotter: options.snapshotter, platform: options.platform },
      { ...opts, timeoutMs: opts.timeoutMs ?? 10 * 60_000 },
    );
  }
}
