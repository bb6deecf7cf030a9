import { runToEnd, yieldEvery, type Steps } from "../concurrency/cooperative.js";
import { ingestUnexpired, labelRefs, leaseExpired, GcLabel, NextExpiry } from "./labels.js";
import { ResourceType, type GcNode, type HostObjects, type NamespaceObjects } from "./model.js";

/** An edge of the reference graph, with why it exists (for `purser gc why`). */
export interface Edge {
  node: GcNode;
  reason: string;
}

const content = (namespace: string, key: string, flat = false): GcNode => ({ type: ResourceType.Content, namespace, key, ...(flat ? { flat } : {}) });
const snapshot = (namespace: string, snapshotter: string, key: string, flat = false): GcNode => ({
  type: ResourceType.Snapshot,
  namespace,
  key: `${snapshotter}/${key}`,
  ...(flat ? { flat } : {}),
});

function labelEdges(namespace: string, labels: Readonly<Record<string, string>>, owner: string): Edge[] {
  const refs = labelRefs(labels);
  const keys = Object.keys(labels).sort();
  const out: Edge[] = [];
  for (const digest of refs.content) {
    const key = keys.find((k) => k.startsWith(GcLabel.ContentRef) && labels[k] === digest) ?? GcLabel.ContentRef;
    out.push({ node: content(namespace, digest), reason: `label ${key} of ${owner}` });
  }
  for (const s of refs.snapshots) {
    const key = keys.find((k) => k.startsWith(GcLabel.SnapshotRefPrefix + s.snapshotter) && labels[k] === s.key) ?? GcLabel.SnapshotRefPrefix;
    out.push({ node: snapshot(namespace, s.snapshotter, s.key), reason: `label ${key} of ${owner}` });
  }
  return out;
}

/**
 * The roots of one namespace (containerd 1.6 `scanRoots`): unexpired leases and
 * what they hold (flat when `gc.flat`), every image's target and label refs,
 * ingests whose expiry is in the future, content and snapshots labelled
 * `gc.root`, and every container's snapshot and label refs. Images and
 * containers are never collected in 1.6, so they are not nodes themselves.
 */
export function namespaceRoots(
  namespace: string,
  objects: NamespaceObjects,
  now: Date,
  onInvalidExpire: (lease: string, value: string) => void = () => {},
): Edge[] {
  return runToEnd(namespaceRootsSteps(namespace, objects, now, onInvalidExpire));
}

/** {@link namespaceRoots}, yielding every few hundred objects (concurrency/cooperative.ts). */
export function* namespaceRootsSteps(
  namespace: string,
  objects: NamespaceObjects,
  now: Date,
  onInvalidExpire: (lease: string, value: string) => void = () => {},
): Steps<Edge[]> {
  const out: Edge[] = [];
  let n = 0;
  for (const lease of objects.leases) {
    if (leaseExpired(lease.labels, now, (v) => onInvalidExpire(lease.id, v))) continue;
    const flat = lease.labels[GcLabel.Flat] !== undefined;
    const why = `lease ${lease.id}`;
    out.push({ node: { type: ResourceType.Lease, namespace, key: lease.id }, reason: `unexpired lease` });
    for (const r of lease.resources) {
      if (r.type === "content") out.push({ node: content(namespace, r.id, flat), reason: why });
      else if (r.type === "ingests") out.push({ node: { type: ResourceType.Ingest, namespace, key: r.id }, reason: why });
      else if (r.type.startsWith("snapshots/")) {
        out.push({ node: snapshot(namespace, r.type.slice("snapshots/".length), r.id, flat), reason: why });
      }
    }
  }
  for (const image of objects.images) {
    if (++n % yieldEvery === 0) yield;
    out.push({ node: content(namespace, image.targetDigest), reason: `target of image ${image.name}` });
    out.push(...labelEdges(namespace, image.labels, `image ${image.name}`));
  }
  for (const ingest of objects.ingests) {
    if (ingestUnexpired(ingest.expireAt, now)) {
      out.push({ node: { type: ResourceType.Ingest, namespace, key: ingest.ref }, reason: `ingest expiring at ${ingest.expireAt}` });
    }
  }
  for (const c of objects.content) {
    if (++n % yieldEvery === 0) yield;
    if (c.labels[GcLabel.Root] !== undefined) out.push({ node: content(namespace, c.digest), reason: `label ${GcLabel.Root}` });
  }
  for (const c of objects.containers) {
    if (++n % yieldEvery === 0) yield;
    if (c.snapshotter && c.snapshotKey) {
      out.push({ node: snapshot(namespace, c.snapshotter, c.snapshotKey), reason: `snapshot of container ${c.id}` });
    }
    out.push(...labelEdges(namespace, c.labels, `container ${c.id}`));
  }
  for (const s of objects.snapshots) {
    if (s.labels[GcLabel.Root] !== undefined) out.push({ node: snapshot(namespace, s.snapshotter, s.key), reason: `label ${GcLabel.Root}` });
  }
  return out;
}

export function hostRoots(objects: HostObjects, now: Date, onInvalidExpire?: (ns: string, lease: string, value: string) => void): Edge[] {
  return runToEnd(hostRootsSteps(objects, now, onInvalidExpire));
}

/** {@link hostRoots}, yielding after each namespace (concurrency/cooperative.ts). */
export function* hostRootsSteps(objects: HostObjects, now: Date, onInvalidExpire?: (ns: string, lease: string, value: string) => void): Steps<Edge[]> {
  const out: Edge[] = [];
  for (const [ns, objs] of objects) {
    for (const edge of yield* namespaceRootsSteps(ns, objs, now, (l, v) => onInvalidExpire?.(ns, l, v))) out.push(edge);
  }
  return out;
}

/**
 * Lookups by node key, built once per collection so references() is O(refs).
 */
export class ObjectIndex {
  private readonly content = new Map<string, Readonly<Record<string, string>>>();
  private readonly snapshots = new Map<string, { parent?: string; labels: Readonly<Record<string, string>> }>();
  private readonly ingests = new Map<string, string | undefined>();

  constructor(objects?: HostObjects) {
    if (objects) runToEnd(this.fill(objects));
  }

  /** An index built in steps (concurrency/cooperative.ts). */
  static *buildSteps(objects: HostObjects): Steps<ObjectIndex> {
    const index = new ObjectIndex();
    yield* index.fill(objects);
    return index;
  }

  private *fill(objects: HostObjects): Steps<void> {
    let n = 0;
    for (const [ns, o] of objects) {
      for (const c of o.content) {
        if (++n % yieldEvery === 0) yield;
        this.content.set(`${ns}\u0000${c.digest}`, c.labels);
      }
      for (const s of o.snapshots) {
        if (++n % yieldEvery === 0) yield;
        this.snapshots.set(`${ns}\u0000${s.snapshotter}/${s.key}`, { parent: s.parent, labels: s.labels });
      }
      for (const i of o.ingests) this.ingests.set(`${ns}\u0000${i.ref}`, i.expected);
    }
  }

  /**
   * What a node references (containerd `references`): content → its label
   * refs (none when flat); snapshot → its parent (flat stays flat) and, unless
   * flat, its label refs; ingest → the blob it expects. A node whose record is
   * gone references nothing ("Node may be created from dead edge").
   */
  references(node: GcNode): Edge[] {
    const at = `${node.namespace}\u0000${node.key}`;
    switch (node.type) {
      case ResourceType.Content: {
        const labels = this.content.get(at);
        if (!labels || node.flat) return [];
        return labelEdges(node.namespace, labels, `content ${node.key}`);
      }
      case ResourceType.Snapshot: {
        const s = this.snapshots.get(at);
        if (!s) return [];
        const slash = node.key.indexOf("/");
        const snapshotter = node.key.slice(0, slash);
        const out: Edge[] = [];
        if (s.parent) out.push({ node: snapshot(node.namespace, snapshotter, s.parent, node.flat), reason: `parent of snapshot ${node.key}` });
        if (!node.flat) out.push(...labelEdges(node.namespace, s.labels, `snapshot ${node.key}`));
        return out;
      }
      case ResourceType.Ingest: {
        const expected = this.ingests.get(at);
        return expected ? [{ node: content(node.namespace, expected), reason: `expected by ingest ${node.key}` }] : [];
      }
      default:
        return [];
    }
  }
}

/**
 * The first moment after `now` at which a root may stop being one by time
 * alone: the earliest future `gc.expire` of a lease, or `expireAt` of an
 * ingest. Undefined when none is in the future.
 */
export function nextExpiry(objects: HostObjects, now: Date): number | undefined {
  const next = new NextExpiry(now);
  for (const o of objects.values()) {
    for (const l of o.leases) next.consider(l.labels[GcLabel.Expire]);
    for (const i of o.ingests) next.consider(i.expireAt);
  }
  return next.value;
}
