import { join, sep } from "node:path";
import { invalidArgument, notFound } from "../errors/errdefs.js";
import type { BlobStore } from "../content/blob-store.js";
import { MediaType } from "../oci/media-types.js";
import { getContent } from "../projections/content.js";
import { prefixRange } from "../projections/key-range.js";
import type { ProjectionRuntime } from "../projections/runtime.js";
import { getSnapshot, snapshotDirsDb } from "../projections/snapshots.js";
import type { Mount } from "../protocol/results.js";
import type { SnapshotService } from "../snapshots/snapshot-service.js";
import { SnapshotKind } from "../events/snapshot-events.js";
import { digestError } from "../validation/digest.js";
import { isSnapshotDirName } from "../validation/snapshot-dir.js";
import { quote } from "../validation/identifiers.js";
import { requireNamespace } from "../validation/namespace.js";
import type { LayerApplier } from "./layer-applier.js";
import { checkLayerType, type UnpackLimits } from "./unpacker.js";
import { extractError } from "./extract-error.js";

/** What containerd's walking differ answers: the uncompressed layer's descriptor. */
export interface AppliedDiff {
  mediaType: string;
  digest: string;
  size: number;
}

interface Deps {
  runtime: ProjectionRuntime;
  blobs: BlobStore;
  snapshots: SnapshotService;
  applier: LayerApplier;
  limits: UnpackLimits;
}


/**
 * containerd's `Diff.Apply` on purser's native snapshotter: the mounts must
 * be exactly what `Prepare` gave for an active snapshot of this namespace
 * (one bind mount of its directory): a client names a tree to write into,
 * and nothing but an active snapshot's tree of its own namespace may be
 * written. The layer (a blob the namespace holds, of a layer media type) is
 * applied with the unpacker's applier and limits, on its worker threads.
 */
export async function applyDiffToMounts(d: Deps, namespace: string, layer: { digest: string; size: number; mediaType?: string }, mounts: readonly Mount[]): Promise<AppliedDiff> {
  requireNamespace(namespace);
  if (layer.mediaType !== undefined) checkLayerType(layer.mediaType);
  if (digestError(layer.digest)) throw invalidArgument(`${quote(layer.digest)} failed validation`);
  const dir = activeDirOf(d, namespace, mounts);
  const views = d.runtime.views;
  if (!getContent(views, namespace, layer.digest)) throw notFound(`content digest ${layer.digest}`);
  d.blobs.ensureRoom(layer.size, dir);
  d.blobs.pin(layer.digest);
  try {
    const applied = await d.applier.apply({
      blobPath: d.blobs.blobPath(layer.digest),
      dir,
      options: { maxBytes: d.limits.maxLayerBytes, maxEntries: d.limits.maxLayerEntries },
    });
    return { mediaType: MediaType.OciLayer, digest: applied.diffId, size: applied.size };
  } catch (err) {
    throw extractError(err, layer.digest);
  } finally {
    d.blobs.unpin(layer.digest);
  }
}

function activeDirOf(d: Deps, namespace: string, mounts: readonly Mount[]): string {
  const refuse = () => invalidArgument(`the mounts must be the one bind mount Prepare gave for an active snapshot of namespace ${quote(namespace)}`);
  if (mounts.length !== 1 || mounts[0]!.type !== "bind") throw refuse();
  const source = mounts[0]!.source;
  const views = d.runtime.views;
  for (const sn of d.snapshots.snapshotters.all()) {
    const under = join(sn.root, "snapshots") + sep;
    if (!source.startsWith(under)) continue;
    const dir = source.slice(under.length);
    if (!isSnapshotDirName(dir) || sn.dirPath(dir) !== source) throw refuse();
    for (const key of views.db<number, [string, string, string, string]>(snapshotDirsDb).getKeys(prefixRange([sn.name, dir]))) {
      const [, , ns, name] = key as [string, string, string, string];
      if (ns !== namespace) continue;
      if (getSnapshot(views, ns, sn.name, name)?.kind === SnapshotKind.Active) return source;
    }
    throw refuse();
  }
  throw refuse();
}
