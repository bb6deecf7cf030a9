/**
 * What a namespace still holds, as the delete rule needs it (containerd
 * `namespaceStore.listNs`): images, blobs, containers and snapshots block a
 * delete; leases and ingests do not, they are dropped with the namespace.
 */
export interface NamespaceUsage {
  images: boolean;
  blobs: boolean;
  containers: boolean;
  /** Snapshotters that still hold snapshots of the namespace, in name order. */
  snapshotters: string[];
  /** Leases dropped with the namespace (decided divergence 4: each gets an event). */
  leases: string[];
  /** Active ingests dropped with the namespace. */
  ingests: string[];
}

export const emptyUsage: NamespaceUsage = {
  images: false,
  blobs: false,
  containers: false,
  snapshotters: [],
  leases: [],
  ingests: [],
};
