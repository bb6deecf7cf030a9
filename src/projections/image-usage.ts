import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { encode } from "@msgpack/msgpack";
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
import { RecordView } from "./record-view.js";
import type { ViewStore } from "./view-store.js";

/**
 * SIZE and PLATFORMS of `images ls`, kept in the views (docs/lmdb.md):
 *
 *   image-usage          [ns, target]        → ImageUsage as standard msgpack (in a bin, as
 *                                                        record-view.ts): sent in list pages as stored
 *   image-usage-sources  [ns, target]        → UsageSources  what the row was computed from
 *   image-usage-deps     [ns, digest, target] → true      the blobs each row read or missed
 *   image-usage-users    [ns, target, name]  → true       the images whose target it is
 *   image-usage-of       [ns, name]          → target     each image's row
 *
 * `target` is a hash of the target's digest, size and media type: every tag
 * of one manifest shares one row, walked once. A row is computed when its
 * first image appears, and again when a blob it read (or looked for and did
 * not find) enters or leaves the namespace: the deps say which rows a content
 * event touches — one per distinct target, however many tags — so a list
 * costs what a list without the columns costs and a content event what it
 * changes. The row goes with its last image.
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
export const imageUsageUsersDb = "image-usage-users";
export const imageUsageOfDb = "image-usage-of";

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
  const compute = (views: ViewStore, ns: string, key: string, target: ImageTarget) => {
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
    drop(views, ns, key);
    usageRows.put(views, ns, key, usage);
    views.db<UsageSources, [string, string]>(imageUsageSourcesDb).putSync([ns, key], sources);
    const deps = views.db<boolean, DepKey>(imageUsageDepsDb);
    for (const digest of sources.reads) deps.putSync([ns, digest, key], true);
  };

  /** Removes a target's row and its deps. */
  const drop = (views: ViewStore, ns: string, key: string) => {
    const rows = views.db<UsageSources, [string, string]>(imageUsageSourcesDb);
    const old = rows.get([ns, key]);
    if (!old) return;
    const deps = views.db<boolean, DepKey>(imageUsageDepsDb);
    for (const digest of old.reads) deps.removeSync([ns, digest, key]);
    rows.removeSync([ns, key]);
    usageRows.remove(views, ns, key);
  };

  /** The image no longer uses its target's row; the row goes with its last user. */
  const release = (views: ViewStore, ns: string, name: string) => {
    const of = views.db<string, [string, string]>(imageUsageOfDb);
    const key = of.get([ns, name]);
    if (key === undefined) return;
    of.removeSync([ns, name]);
    const users = views.db<boolean, DepKey>(imageUsageUsersDb);
    users.removeSync([ns, key, name]);
    const left = users.getKeys({ ...prefixRange([ns, key]), limit: 1 });
    if ([...left].length === 0) drop(views, ns, key);
  };

  return {
    name: "image-usage",
    databases: [imageUsageDb, imageUsageSourcesDb, imageUsageDepsDb, imageUsageUsersDb, imageUsageOfDb],
    apply(views: ViewStore, stored: StoredEvent): void {
      const ns = stored.namespace;
      const e = stored.event;
      switch (e.type) {
        case "ImageCreated":
        case "ImageUpdated": {
          // The images projection ran first: only a record it kept gets a row.
          const image = getImage(views, ns, e.data.image.name);
          if (!image) return;
          const key = targetKey(image.target);
          const of = views.db<string, [string, string]>(imageUsageOfDb);
          if (of.get([ns, image.name]) === key) return; // a label change: the same target
          release(views, ns, image.name);
          of.putSync([ns, image.name], key);
          views.db<boolean, DepKey>(imageUsageUsersDb).putSync([ns, key, image.name], true);
          // Tags of one manifest share its row: walked once.
          if (!views.db<UsageSources, [string, string]>(imageUsageSourcesDb).get([ns, key])) compute(views, ns, key, image.target);
          return;
        }
        case "ImageDeleted":
          release(views, ns, e.data.name);
          return;
        case "ContentCommitted":
        case "ContentDeleted": {
          // A blob entered or left the namespace: the targets whose walk read it (or missed it) change.
          const digest = e.type === "ContentDeleted" ? e.data.digest : e.data.content.digest;
          const keys = [...views.db<boolean, DepKey>(imageUsageDepsDb).getKeys(prefixRange([ns, digest]))].map((k) => String((k as unknown[])[2]));
          const sources = views.db<UsageSources, [string, string]>(imageUsageSourcesDb);
          for (const key of keys) {
            const row = sources.get([ns, key]);
            if (row) compute(views, ns, key, row.target);
          }
          return;
        }
        default:
          return;
      }
    },
  };
}

/**
 * The row key of a target: the walk depends on its digest, media type and
 * declared size. A 128-bit hash of them, so `[ns, key, name]` stays within an
 * LMDB key for the longest image name.
 */
function targetKey(t: ImageTarget): string {
  return createHash("sha256").update(`${t.digest}\n${t.size}\n${t.mediaType}`).digest("base64url").slice(0, 22);
}

/** The usage rows as standard msgpack (record-view.ts): a list page sends them as stored. */
const usageRows = new RecordView<ImageUsage>(imageUsageDb);

const noUsage = encode({ platforms: [] } satisfies ImageUsage);

/** The columns of one image as standard msgpack, as stored (a list page carries them beside the records). */
export function encodedImageUsage(views: ViewStore, namespace: string, name: string): Uint8Array {
  const key = views.db<string, [string, string]>(imageUsageOfDb).get([namespace, name]);
  return (key === undefined ? undefined : usageRows.encoded(views, namespace, key)) ?? noUsage;
}
