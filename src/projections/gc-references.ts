import { createHash } from "node:crypto";
import type { StoredEvent } from "../events/envelope.js";
import type { LeaseRecord } from "../events/lease-events.js";
import type { SnapshotRecord } from "../events/snapshot-events.js";
import { GcLabel, labelRefs } from "../gc/labels.js";
import { getContainer } from "./containers.js";
import { getContent, getIngest } from "./content.js";
import { getImage } from "./images.js";
import { prefixRange } from "./key-range.js";
import { leaseResourcesDb, leasesDb } from "./leases.js";
import type { Projection } from "./projection.js";
import { snapshotsDb } from "./snapshots.js";
import type { ViewStore } from "./view-store.js";

/**
 * The garbage collector's reference graph, kept as events are applied
 * (docs/gc.md "The reference graph"), so a collection reads only what
 * changed since the last one (gc/incremental-plan.ts):
 *
 *   gc-nodes      [ns, tok(id)]                    → GcNodeRow   each object's outgoing edges
 *   gc-referrers  [ns, tok(to), tok(from), kind]   → [to, from] when a token is hashed, else 0
 *   gc-dirty      [ns, tok(id)]                    → {id, seq}   scratch: objects to look at again
 *
 * Ids: `c:<digest>`, `s:<snapshotter>/<key>`, `i:<ref>`, `l:<lease>`, and the
 * owners that are never collected, `m:<image name>` and `k:<container id>`.
 * A node row exists exactly while its record does. The rows are derived from
 * the views this event has just written (this projection runs last), never
 * from the event alone, so they equal a rebuild's.
 *
 * An object is dirty when its own row changed (created, labels, parent) or
 * when an edge to it went away: only then can it have stopped being
 * reachable. The collector clears dirty rows up to the rv a successful sweep
 * planned at; rows are scratch, not part of the compared views.
 */
export const gcNodesDb = "gc-nodes";
export const gcReferrersDb = "gc-referrers";
export const gcDirtyDb = "gc-dirty";

/** Why an edge exists; what the marking does with it depends on the kind. */
export const EdgeKind = {
  /** From an image or container (a root). */
  Owner: 0,
  /** From a lease (a root while the lease is unexpired). */
  Lease: 1,
  /** From a `gc.flat` lease: the target is reached flat. */
  FlatLease: 2,
  /** A `gc.ref.*` label of content or a snapshot: followed only when the source is reached non-flat. */
  Label: 3,
  /** A snapshot's parent: followed in both flavours, keeping the flavour. */
  Parent: 4,
  /** A shared ingest's expected blob. */
  Expected: 5,
} as const;
export type EdgeKind = (typeof EdgeKind)[keyof typeof EdgeKind];

export interface GcNodeRow {
  id: string;
  /** `[to, kind]`, sorted, without duplicates. */
  edges: Array<[string, EdgeKind]>;
  /** Labelled `gc.root`. */
  root?: true;
}

export interface GcDirtyRow {
  id: string;
  /** The stream sequence of the event that last made it dirty. */
  seq: number;
}

/** Ids up to this many UTF-8 bytes are their own key part (LMDB keys hold at most 1,978 bytes). */
const maxPlainToken = 200;

export function gcToken(id: string): string {
  if (Buffer.byteLength(id) <= maxPlainToken) return id;
  return "#" + createHash("sha256").update(id).digest("base64url");
}

export const contentId = (digest: string) => `c:${digest}`;
export const snapshotId = (snapshotter: string, key: string) => `s:${snapshotter}/${key}`;
export const ingestId = (ref: string) => `i:${ref}`;
export const leaseId = (id: string) => `l:${id}`;
const imageId = (name: string) => `m:${name}`;
const containerId = (id: string) => `k:${id}`;

/** Collectible ids (content, snapshots, ingests): the only ones that are ever dirty. */
export function collectible(id: string): boolean {
  return id.startsWith("c:") || id.startsWith("s:") || id.startsWith("i:");
}

function labelEdges(labels: Readonly<Record<string, string>> | undefined, kind: EdgeKind): Array<[string, EdgeKind]> {
  if (!labels) return [];
  const refs = labelRefs(labels);
  return [...refs.content.map((d): [string, EdgeKind] => [contentId(d), kind]), ...refs.snapshots.map((s): [string, EdgeKind] => [snapshotId(s.snapshotter, s.key), kind])];
}

/** The row an object's current record makes (containerd's `references` and `scanRoots`), or undefined when it is gone. */
function derive(views: ViewStore, ns: string, id: string): GcNodeRow | undefined {
  const rest = id.slice(2);
  let edges: Array<[string, EdgeKind]>;
  let root = false;
  switch (id.slice(0, 2)) {
    case "m:": {
      const image = getImage(views, ns, rest);
      if (!image) return undefined;
      edges = [[contentId(image.target.digest), EdgeKind.Owner], ...labelEdges(image.labels, EdgeKind.Owner)];
      break;
    }
    case "k:": {
      const c = getContainer(views, ns, rest);
      if (!c) return undefined;
      edges = labelEdges(c.labels, EdgeKind.Owner);
      if (c.snapshotter && c.snapshotKey) edges.unshift([snapshotId(c.snapshotter, c.snapshotKey), EdgeKind.Owner]);
      break;
    }
    case "c:": {
      const c = getContent(views, ns, rest);
      if (!c) return undefined;
      edges = labelEdges(c.labels, EdgeKind.Label);
      root = c.labels?.[GcLabel.Root] !== undefined;
      break;
    }
    case "s:": {
      const slash = rest.indexOf("/");
      const snapshotter = rest.slice(0, slash);
      const s = views.db<SnapshotRecord>(snapshotsDb).get([ns, snapshotter, rest.slice(slash + 1)]);
      if (!s) return undefined;
      edges = labelEdges(s.labels, EdgeKind.Label);
      if (s.parent !== "") edges.push([snapshotId(snapshotter, s.parent), EdgeKind.Parent]);
      root = s.labels?.[GcLabel.Root] !== undefined;
      break;
    }
    case "i:": {
      const ingest = getIngest(views, ns, rest);
      if (!ingest) return undefined;
      // containerd keeps `expected` only for a shared ingest, and only that one references its blob.
      edges = ingest.shared && ingest.expected ? [[contentId(ingest.expected), EdgeKind.Expected]] : [];
      break;
    }
    case "l:": {
      const lease = views.db<LeaseRecord>(leasesDb).get([ns, rest]);
      if (!lease) return undefined;
      const flat = lease.labels?.[GcLabel.Flat] !== undefined;
      const held = flat ? EdgeKind.FlatLease : EdgeKind.Lease;
      edges = [];
      for (const key of views.db(leaseResourcesDb).getKeys(prefixRange([ns, rest]))) {
        const [, , type, rid] = key as [string, string, string, string];
        if (type === "content") edges.push([contentId(rid), held]);
        // An ingest is never reached flat (containerd: only content and snapshots take the flat bit).
        else if (type === "ingests") edges.push([ingestId(rid), EdgeKind.Lease]);
        else if (type.startsWith("snapshots/")) edges.push([snapshotId(type.slice("snapshots/".length), rid), held]);
      }
      break;
    }
    default:
      return undefined;
  }
  const unique = [...new Map(edges.map((e) => [`${e[1]}\u0000${e[0]}`, e])).values()].sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1],
  );
  return { id, edges: unique, ...(root ? { root: true as const } : {}) };
}

/** The ids whose rows an event may change. */
function affected(stored: StoredEvent): string[] {
  const e = stored.event;
  switch (e.type) {
    case "ImageCreated":
    case "ImageUpdated":
      return [imageId(e.data.image.name)];
    case "ImageDeleted":
      return [imageId(e.data.name)];
    case "ContainerCreated":
    case "ContainerUpdated":
      return [containerId(e.data.container.id)];
    case "ContainerDeleted":
      return [containerId(e.data.id)];
    case "ContentCommitted":
      return [contentId(e.data.content.digest), ingestId(e.data.ref)];
    case "ContentUpdated":
      return [contentId(e.data.content.digest)];
    case "ContentDeleted":
      return [contentId(e.data.digest)];
    case "IngestStarted":
      return [ingestId(e.data.ingest.ref)];
    case "IngestAborted":
    case "IngestExpired":
      return [ingestId(e.data.ref)];
    case "LeaseCreated":
      return [leaseId(e.data.lease.id)];
    case "LeaseResourceAdded":
    case "LeaseResourceRemoved":
    case "LeaseDeleted":
    case "LeaseExpired":
      return [leaseId(e.data.id)];
    case "SnapshotPrepared":
    case "SnapshotViewCreated":
    case "SnapshotUpdated":
      return [snapshotId(e.data.snapshot.snapshotter, e.data.snapshot.key)];
    case "SnapshotCommitted":
      return [snapshotId(e.data.snapshot.snapshotter, e.data.key), snapshotId(e.data.snapshot.snapshotter, e.data.snapshot.key)];
    case "SnapshotRemoved":
      return [snapshotId(e.data.snapshotter, e.data.key)];
    default:
      return [];
  }
}

const sameRow = (a: GcNodeRow | undefined, b: GcNodeRow | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.root === b.root && JSON.stringify(a.edges) === JSON.stringify(b.edges));

/** The referrer row's value: the full ids when a token hides one. */
const referrerValue = (to: string, from: string) => (gcToken(to) !== to || gcToken(from) !== from ? [to, from] : 0);

export const gcReferencesProjection: Projection = {
  name: "gc-references",
  databases: [gcNodesDb, gcReferrersDb],
  scratchDatabases: [gcDirtyDb],
  apply(views: ViewStore, stored: StoredEvent): void {
    const ns = stored.namespace;
    const nodes = views.db<GcNodeRow>(gcNodesDb);
    const referrers = views.db(gcReferrersDb);
    const dirty = views.db<GcDirtyRow>(gcDirtyDb);
    const markDirty = (id: string) => {
      if (collectible(id)) dirty.putSync([ns, gcToken(id)], { id, seq: stored.seq });
    };
    for (const id of affected(stored)) {
      const key = [ns, gcToken(id)];
      const before = nodes.get(key);
      const after = derive(views, ns, id);
      if (sameRow(before, after)) continue;
      const kept = new Set((after?.edges ?? []).map(([to, kind]) => `${kind}\u0000${to}`));
      const had = new Set((before?.edges ?? []).map(([to, kind]) => `${kind}\u0000${to}`));
      for (const [to, kind] of before?.edges ?? []) {
        if (kept.has(`${kind}\u0000${to}`)) continue;
        referrers.removeSync([ns, gcToken(to), gcToken(id), kind]);
        // It lost a reference: it may be garbage now.
        markDirty(to);
      }
      for (const [to, kind] of after?.edges ?? []) {
        if (!had.has(`${kind}\u0000${to}`)) referrers.putSync([ns, gcToken(to), gcToken(id), kind], referrerValue(to, id));
      }
      if (after) nodes.putSync(key, after);
      else nodes.removeSync(key);
      markDirty(id);
    }
  },
};

/** An object's row, as `transaction` sees the views. */
export function gcNode(views: ViewStore, ns: string, id: string, transaction?: import("lmdb").Transaction): GcNodeRow | undefined {
  return views.db<GcNodeRow>(gcNodesDb).get([ns, gcToken(id)], transaction ? { transaction } : undefined);
}

/** Who references an object, and how (`[from, kind]`). */
export function* gcReferrers(views: ViewStore, ns: string, id: string, transaction?: import("lmdb").Transaction): Generator<[string, EdgeKind]> {
  const tok = gcToken(id);
  for (const { key, value } of views.db(gcReferrersDb).getRange({ ...prefixRange([ns, tok]), ...(transaction ? { transaction } : {}) })) {
    const [, , fromTok, kind] = key as [string, string, string, EdgeKind];
    yield [Array.isArray(value) ? String(value[1]) : fromTok, kind];
  }
}
