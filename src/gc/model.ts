/**
 * The garbage collector's model of a host: the objects of each namespace, as
 * containerd 1.6's `metadata/gc.go` sees them (conformance A.10). It is built
 * from the views; the rules in roots.ts and references.ts turn it into a
 * graph, mark.ts marks it, and sweep.ts says what goes.
 */

/** containerd's `gc.ResourceType` values (1.6). */
export const ResourceType = {
  Content: 1,
  Snapshot: 2,
  Container: 3,
  Task: 4,
  Lease: 5,
  Ingest: 6,
} as const;
export type ResourceType = (typeof ResourceType)[keyof typeof ResourceType];

export const resourceTypeName: Record<ResourceType, string> = {
  1: "content",
  2: "snapshot",
  3: "container",
  4: "task",
  5: "lease",
  6: "ingest",
};

/**
 * A node of the reference graph. `key` is a digest (content), `<snapshotter>/<key>`
 * (snapshot), a ref (ingest) or an id (lease). `flat` is containerd's
 * `type | 0x20`: reached through a `gc.flat` lease, it follows fewer edges.
 */
export interface GcNode {
  type: ResourceType;
  namespace: string;
  key: string;
  flat?: boolean;
}

/** The identity of a node, flat or not (marking strips the flat bit, as Tricolor does). */
export function nodeId(n: Pick<GcNode, "type" | "namespace" | "key">): string {
  return `${n.type}\u0000${n.namespace}\u0000${n.key}`;
}

export interface GcImage {
  name: string;
  targetDigest: string;
  labels: Readonly<Record<string, string>>;
}
export interface GcContainer {
  id: string;
  snapshotter?: string;
  snapshotKey?: string;
  labels: Readonly<Record<string, string>>;
}
export interface GcContent {
  digest: string;
  labels: Readonly<Record<string, string>>;
}
export interface GcIngest {
  ref: string;
  /** The blob the ingest expects (shared-content ingests reference it). */
  expected?: string;
  /** RFC 3339; unset means the ingest is not a root unless leased (containerd's ingest-1 case). */
  expireAt?: string;
}
export interface GcSnapshot {
  snapshotter: string;
  key: string;
  parent?: string;
  labels: Readonly<Record<string, string>>;
}
export interface GcLeaseResource {
  /** `content`, `ingests` or `snapshots/<snapshotter>`. */
  type: string;
  id: string;
}
export interface GcLease {
  id: string;
  labels: Readonly<Record<string, string>>;
  resources: readonly GcLeaseResource[];
}

export interface NamespaceObjects {
  images: readonly GcImage[];
  containers: readonly GcContainer[];
  content: readonly GcContent[];
  ingests: readonly GcIngest[];
  snapshots: readonly GcSnapshot[];
  leases: readonly GcLease[];
}

/** Every namespace's objects. */
export type HostObjects = ReadonlyMap<string, NamespaceObjects>;

export const emptyNamespaceObjects: NamespaceObjects = {
  images: [],
  containers: [],
  content: [],
  ingests: [],
  snapshots: [],
  leases: [],
};
