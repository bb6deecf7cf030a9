import { promises as fs } from "node:fs";
import { invalidArgument, notFound } from "../errors/errdefs.js";
import { maxJsonBlob } from "../oci/descriptor.js";
import type { BlobSource } from "../oci/image-walk.js";
import { getContent } from "../projections/content.js";
import type { ViewStore } from "../projections/view-store.js";
import type { BlobStore } from "./blob-store.js";

/**
 * An image's JSON blobs (manifests, indexes, configs) read from this host's
 * store as `namespace` may read them: NotFound for a blob the namespace does
 * not hold (another namespace's blob on the same disk is not its to read),
 * InvalidArgument for one too large to be JSON an image walk reads.
 */
export function namespaceBlobSource(views: () => ViewStore, namespace: string, blobs: BlobStore): BlobSource {
  return {
    read: async (desc) => {
      if (!getContent(views(), namespace, desc.digest)) throw notFound(`content digest ${desc.digest}`);
      const path = blobs.blobPath(desc.digest);
      const st = await fs.stat(path);
      if (st.size > maxJsonBlob) throw invalidArgument(`${desc.digest} is too large to be a manifest or config (${st.size} bytes)`);
      return fs.readFile(path);
    },
    has: async (desc) => getContent(views(), namespace, desc.digest) !== undefined,
  };
}
