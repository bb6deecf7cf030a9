import { readFileSync } from "node:fs";
import { encode } from "@msgpack/msgpack";
import type { Database } from "lmdb";
import type { StoredEvent } from "../events/envelope.js";
import type { ImageTarget } from "../events/image-events.js";
import type { ImageUsage } from "../protocol/results.js";
import { maxJsonBlob, type Descriptor } from "../oci/descriptor.js";
import { imagePlatformsSteps, imageSizeSteps, runReadsSync } from "../oci/image-walk.js";
import { defaultPlatforms } from "../oci/platforms.js";
import { digestError } from "../validation/digest.js";
import { getContent } from "./content.js";
import { getImage } from "./images.js";
import { prefixRange } from "./key-range.js";
import type { Projection } from "./projection.js";
import { unwrapBin, wrapBin } from "./record-view.js";
import type { ViewStore } from "./view-store.js";

/**
 * SIZE and PLATFORMS of `images ls`, kept in the views (docs/lmdb.md):
 *
 *   image-usage          [ns, name]          → ImageUsage as standard msgpack (in a bin, as
 *                                                        record-view.ts): sent in list pages as stored
 *   image-usage-sources  [ns, name]          → UsageSources  what the row was computed from
 *   image-usage-deps     [ns, digest, name]  → true       the blobs each row read or missed
 *
 * A row is computed when its image is created or its target changes, and again
 * when a blob it read (or looked for and did not find) enters or leaves the
 * namespace: the deps say which rows a content event touches, so a list costs
 * what a list without the columns costs and a content event what it changes.
 *
 * The walk is containerd's (`Image.Size` with the host's default platform,
 * `images.Platforms`), over the namespace's content: a blob counts only when
 * the namespace holds it (the content view) and its bytes are read from the
 * host's blob store, which never changes a blob's bytes (it is named by them).
 * That is the one read outside the views a projection makes; a rebuild gives
 * the same rows, because a blob leaves the disk only after every namespace
 * has let go of it, and that event recomputes the rows that read it.
 */
export const imageUsageDb = "image-usage";
export const imageUsageSourcesDb = "image-usage-sources";
export const imageUsageDepsDb = "image-usage-deps";

/** What one image's row was computed from. */
export interface UsageSources {
  /** The target the row was computed for (a label change leaves the row alone). */
  target: { digest: string; mediaType: string; size: number };
  /** Every digest the walk asked for, held or not (its deps). */
  reads: string[];
}


type DepKey = [string, string, string];

/**
 * Why a walk stopped (a blob not held, too large, too many reads) does not
 * matter: the column is `-`. One error object, thrown again and again: a
 * replay of images whose content is elsewhere would otherwise build two
 * errors, with their stacks, per image.
 */
const walkStopped = new Error("image usage walk stopped");

/** Bounds of one row's walk: it runs inside the batch's write transaction. */
const maxReads = 4096;
const maxUsageBlob = Math.min(maxJsonBlob, 4 * 1024 * 1024);
/** The read cache: blobs up to 64 KiB (manifests, indexes, configs), 4,096 of them, 16 MiB in all. */
const maxCachedBlob = 64 * 1024;
const maxCachedBlobs = 4096;
const maxCachedBytes = 16 * 1024 * 1024;

/** The projection, reading blobs from `blobPath(digest)` (a digest already validated). */
export function imageUsageProjection(blobPath: (digest: string) => string): Projection {
  /**
   * Recently read blobs by digest. A blob's bytes never change, so a cached
   * copy is never stale (whether the namespace holds it is asked of the
   * content view every time); tags of one image, and a rebuild's replay,
   * read the same manifests over and over.
   */
  const recent = new Map<string, Uint8Array>();
  let recentBytes = 0;
  const readBlob = (digest: string): Uint8Array => {
    const hit = recent.get(digest);
    if (hit) {
      recent.delete(digest);
      recent.set(digest, hit);
      return hit;
    }
    const bytes = readFileSync(blobPath(digest));
    if (bytes.byteLength <= maxCachedBlob) {
      recent.set(digest, bytes);
      recentBytes += bytes.byteLength;
      for (const [d, b] of recent) {
        if (recentBytes <= maxCachedBytes && recent.size <= maxCachedBlobs) break;
        recent.delete(d);
        recentBytes -= b.byteLength;
      }
    }
    return bytes;
  };
  const compute = (views: ViewStore, ns: string, name: string, target: ImageTarget) => {
    const reads = new Set<string>();
    let attempts = 0;
    const read = (desc: Descriptor): Uint8Array => {
      // An index that names itself would walk for ever: a crafted image costs a bounded walk.
      if (++attempts > maxReads) throw walkStopped;
      reads.add(desc.digest);
      const held = digestError(desc.digest) ? undefined : getContent(views, ns, desc.digest);
      if (!held) throw walkStopped;
      // The held size, not the declared one: a manifest may call a layer small.
      if (held.size > maxUsageBlob) throw walkStopped;
      return readBlob(desc.digest);
    };
    const desc: Descriptor = { mediaType: target.mediaType, digest: target.digest, size: target.size };
    let size: number | undefined;
    let platforms: string[];
    // Any failure of the walk (a missing or malformed blob) is a column ctr cannot fill: `-`.
    try {
      size = runReadsSync(imageSizeSteps(desc, defaultPlatforms()), read);
    } catch {
      size = undefined;
    }
    try {
      platforms = runReadsSync(imagePlatformsSteps(desc), read);
    } catch {
      platforms = [];
    }
    const usage: ImageUsage = { ...(size === undefined ? {} : { size }), platforms };
    const sources: UsageSources = {
      target: { digest: target.digest, mediaType: target.mediaType, size: target.size },
      reads: [...reads].sort(),
    };
    drop(views, ns, name);
    usageRows(views).putSync([ns, name], wrapBin(encode(usage)));
    views.db<UsageSources, [string, string]>(imageUsageSourcesDb).putSync([ns, name], sources);
    const deps = views.db<boolean, DepKey>(imageUsageDepsDb);
    for (const digest of sources.reads) deps.putSync([ns, digest, name], true);
  };

  const drop = (views: ViewStore, ns: string, name: string) => {
    const rows = views.db<UsageSources, [string, string]>(imageUsageSourcesDb);
    const old = rows.get([ns, name]);
    if (!old) return;
    const deps = views.db<boolean, DepKey>(imageUsageDepsDb);
    for (const digest of old.reads) deps.removeSync([ns, digest, name]);
    rows.removeSync([ns, name]);
    usageRows(views).removeSync([ns, name]);
  };

  return {
    name: "image-usage",
    databases: [imageUsageDb, imageUsageSourcesDb, imageUsageDepsDb],
    apply(views: ViewStore, stored: StoredEvent): void {
      const ns = stored.namespace;
      const e = stored.event;
      switch (e.type) {
        case "ImageCreated":
        case "ImageUpdated": {
          // The images projection ran first: only a record it kept gets a row.
          const image = getImage(views, ns, e.data.image.name);
          if (!image) return;
          const old = views.db<UsageSources, [string, string]>(imageUsageSourcesDb).get([ns, image.name]);
          const t = image.target;
          if (old && old.target.digest === t.digest && old.target.mediaType === t.mediaType && old.target.size === t.size) return;
          compute(views, ns, image.name, t);
          return;
        }
        case "ImageDeleted":
          drop(views, ns, e.data.name);
          return;
        case "ContentCommitted":
        case "ContentDeleted": {
          // A blob entered or left the namespace: the rows that read it (or missed it) change.
          const digest = e.type === "ContentDeleted" ? e.data.digest : e.data.content.digest;
          const names = [...views.db<boolean, DepKey>(imageUsageDepsDb).getKeys(prefixRange([ns, digest]))].map((k) => String((k as unknown[])[2]));
          for (const name of names) {
            const image = getImage(views, ns, name);
            if (image) compute(views, ns, name, image.target);
            else drop(views, ns, name);
          }
          return;
        }
        default:
          return;
      }
    },
  };
}

const handles = new WeakMap<ViewStore, Database<Uint8Array, [string, string]>>();

/** The usage rows through a binary handle: their bytes are standard msgpack, not lmdb's encoding. */
function usageRows(views: ViewStore): Database<Uint8Array, [string, string]> {
  let db = handles.get(views);
  if (!db) {
    db = views.root.openDB<Uint8Array, [string, string]>({ name: imageUsageDb, encoding: "binary" });
    handles.set(views, db);
  }
  return db;
}

const noUsage = encode({ platforms: [] } satisfies ImageUsage);

/** The columns of one image as standard msgpack, as stored (a list page carries them beside the records). */
export function encodedImageUsage(views: ViewStore, namespace: string, name: string): Uint8Array {
  const stored = usageRows(views).get([namespace, name]);
  return stored ? unwrapBin(stored) : noUsage;
}
