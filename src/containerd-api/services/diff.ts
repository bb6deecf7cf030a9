import type { AppliedDiff } from "../../unpack/diff-apply.js";
import type { Mount } from "../../protocol/results.js";
import { notImplemented } from "../../errors/errdefs.js";
import type { PurserCalls } from "../purser-calls.js";
import type { UnaryHandler } from "../unary.js";

/** What applies a layer into a prepared snapshot (the unpacker: unpack/diff-apply.ts). */
export interface DiffApplier {
  /** `minRv`: the views must have applied it first (the Prepare that made the snapshot, a moment ago). */
  applyDiff(namespace: string, layer: { digest: string; size: number; mediaType?: string }, mounts: readonly Mount[], minRv: number): Promise<AppliedDiff>;
}

/**
 * `containerd.services.diff.v1.Diff`: `Apply` unpacks a layer into the
 * active snapshot the mounts name (what `ctr images import` and every
 * client unpack does); `Diff`, which makes a layer from two trees, is not
 * provided.
 */
export function diffService(calls: PurserCalls, applier: DiffApplier): Record<string, UnaryHandler> {
  return {
    async apply(call) {
      const ns = calls.namespaceOf(call.metadata);
      const d = call.request.diff ?? { mediaType: "", digest: "", size: 0 };
      const mounts: Mount[] = (call.request.mounts ?? []).map((m: { type: string; source: string; options: string[] }) => ({ type: m.type, source: m.source, options: m.options }));
      const applied = await applier.applyDiff(ns, { digest: d.digest, size: Number(d.size) || 0, mediaType: d.mediaType }, mounts, calls.seenRv(ns));
      return { applied: { mediaType: applied.mediaType, digest: applied.digest, size: applied.size, annotations: {} } };
    },
    async diff() {
      throw notImplemented("purser does not compute diffs between snapshots (Diff.Diff)");
    },
  };
}
