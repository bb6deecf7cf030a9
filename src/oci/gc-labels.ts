import type { Descriptor } from "./descriptor.js";
import { isConfigType, isLayerType, isManifestType } from "./media-types.js";

/**
 * The labels containerd puts on imported content so the garbage collector
 * follows an image's graph (`images.SetChildrenLabels` with
 * `images.ChildGCLabels`, containerd 1.6; A.10 "Labels"): a parent blob
 * (manifest, index) carries one `containerd.io/gc.ref.content.*` label per
 * child, and a layer carries `containerd.io/uncompressed` with its diff id.
 */
export const LabelUncompressed = "containerd.io/uncompressed";
export const LabelGcRefConfig = "containerd.io/gc.ref.content.config";

/** The label key prefix for a child (`ChildGCLabels`); a key ending in `.` is numbered. */
function childKey(child: Descriptor): string {
  if (isConfigType(child.mediaType)) return LabelGcRefConfig;
  if (isManifestType(child.mediaType)) return "containerd.io/gc.ref.content.m.";
  if (isLayerType(child.mediaType)) return "containerd.io/gc.ref.content.l.";
  return "containerd.io/gc.ref.content.";
}

/**
 * The labels a parent gets for its children, in order: `…config`,
 * `…l.0`, `…l.1` for a manifest; `…m.0`, `…m.1` for an index (`…<n>` for
 * children of other types). A key seen a second time is numbered from 1
 * (containerd's counter per key).
 */
export function childrenLabels(children: readonly Descriptor[]): Record<string, string> {
  const labels: Record<string, string> = {};
  const seen = new Map<string, number>();
  for (const child of children) {
    let key = childKey(child);
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    if (n > 0 || key.endsWith(".")) key = `${key}${n}`;
    labels[key] = child.digest;
  }
  return labels;
}
