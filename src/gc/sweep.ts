import { runToEnd, yieldEvery, type Steps } from "../concurrency/cooperative.js";
import { nodeId, ResourceType, type GcNode, type HostObjects } from "./model.js";
import type { Reach } from "./mark.js";

/** What a collection removes: every lease, ingest, blob link and snapshot not marked. */
export interface Removal {
  type: typeof ResourceType.Lease | typeof ResourceType.Ingest | typeof ResourceType.Content | typeof ResourceType.Snapshot;
  namespace: string;
  /** lease id, ingest ref, digest, or `<snapshotter>/<key>`. */
  key: string;
}

/**
 * containerd's `scanAll` + `remove`: leases (only expired ones can be unmarked),
 * ingests, content and snapshots that were not marked. Containers and images
 * are never collected in 1.6. Snapshots come children first, so each removal
 * is valid on its own (a parent is never removed before its children).
 */
export function unreachable(objects: HostObjects, black: ReadonlyMap<string, Reach>): Removal[] {
  return runToEnd(unreachableSteps(objects, black));
}

/** {@link unreachable}, yielding every few hundred objects (concurrency/cooperative.ts). */
export function* unreachableSteps(objects: HostObjects, black: ReadonlyMap<string, Reach>): Steps<Removal[]> {
  const out: Removal[] = [];
  let n = 0;
  const dead = (type: Removal["type"], namespace: string, key: string) => !black.has(nodeId({ type, namespace, key } as GcNode));
  for (const [ns, o] of [...objects].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const l of o.leases) if (dead(ResourceType.Lease, ns, l.id)) out.push({ type: ResourceType.Lease, namespace: ns, key: l.id });
    for (const i of o.ingests) if (dead(ResourceType.Ingest, ns, i.ref)) out.push({ type: ResourceType.Ingest, namespace: ns, key: i.ref });
    for (const c of o.content) {
      if (++n % yieldEvery === 0) yield;
      if (dead(ResourceType.Content, ns, c.digest)) out.push({ type: ResourceType.Content, namespace: ns, key: c.digest });
    }
    const deadSnapshots = o.snapshots.filter((s) => dead(ResourceType.Snapshot, ns, `${s.snapshotter}/${s.key}`));
    for (const s of childrenFirst(deadSnapshots)) {
      out.push({ type: ResourceType.Snapshot, namespace: ns, key: `${s.snapshotter}/${s.key}` });
    }
  }
  return out;
}

/** Snapshots ordered so that every child comes before its parent (stable otherwise). */
export function childrenFirst<T extends { snapshotter: string; key: string; parent?: string }>(snapshots: readonly T[]): T[] {
  const byId = new Map(snapshots.map((s) => [`${s.snapshotter}/${s.key}`, s]));
  const depth = new Map<string, number>();
  const depthOf = (id: string, guard = 0): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const s = byId.get(id);
    const d = s?.parent && guard < 10_000 ? 1 + depthOf(`${s.snapshotter}/${s.parent}`, guard + 1) : 0;
    depth.set(id, d);
    return d;
  };
  return [...snapshots].sort((a, b) => depthOf(`${b.snapshotter}/${b.key}`) - depthOf(`${a.snapshotter}/${a.key}`));
}
