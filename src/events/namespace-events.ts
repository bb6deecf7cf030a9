/** Events of a namespace's own lifecycle. Each carries the full resulting record. */

export interface NamespaceRecord {
  name: string;
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface NamespaceCreated {
  type: "NamespaceCreated";
  data: {
    namespace: NamespaceRecord;
    /**
     * True when a write of another resource created the namespace (containerd
     * creates it silently; purser records it: decided divergence 1).
     */
    implicit: boolean;
  };
}

export interface NamespaceUpdated {
  type: "NamespaceUpdated";
  data: { namespace: NamespaceRecord; fieldPaths: string[] };
}

export interface NamespaceDeleted {
  type: "NamespaceDeleted";
  data: { name: string };
}

export type NamespaceEvent = NamespaceCreated | NamespaceUpdated | NamespaceDeleted;
