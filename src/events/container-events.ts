/**
 * Container events. Each carries the full resulting record, so replay needs
 * nothing else (containerd's `/containers/*` events carry a few fields only).
 */

/** The runtime a container runs with; `options` is opaque (a `{type_url, value}` Any in containerd). */
export interface ContainerRuntime {
  name: string;
  options?: unknown;
}

/**
 * A container's metadata (containerd `containers.Container`). `spec`, the
 * runtime options and each extension are opaque values: any msgpack value,
 * stored and returned unchanged (containerd's `{type_url, value}` Any is one).
 */
export interface ContainerRecord {
  id: string;
  labels: Record<string, string>;
  /** The image reference it was created from; not validated (as in containerd). */
  image: string;
  runtime: ContainerRuntime;
  spec: unknown;
  snapshotter: string;
  snapshotKey: string;
  extensions: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface ContainerCreated {
  type: "ContainerCreated";
  data: { container: ContainerRecord };
}

export interface ContainerUpdated {
  type: "ContainerUpdated";
  /**
   * `fieldPaths` are the request's paths; a full replacement (no paths)
   * records containerd's implied set: labels, spec, extensions, image, snapshotkey.
   */
  data: { container: ContainerRecord; fieldPaths: string[] };
}

export interface ContainerDeleted {
  type: "ContainerDeleted";
  data: { id: string };
}

export type ContainerEvent = ContainerCreated | ContainerUpdated | ContainerDeleted;
