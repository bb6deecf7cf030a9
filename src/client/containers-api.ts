import type { ContainerRecord } from "../events/container-events.js";
import { listAllPages } from "./list-pages.js";
import type { CommandOptions, PurserClient, QueryOptions } from "./purser-client.js";

/**
 * A container as a request carries it (docs/protocol.md); absent fields are
 * zero values. `spec`, `runtime.options` and the extensions are opaque: any
 * msgpack value, stored and returned unchanged.
 */
export interface ContainerSpec {
  id: string;
  labels?: Record<string, string>;
  image?: string;
  runtime?: { name?: string; options?: unknown };
  spec?: unknown;
  snapshotter?: string;
  snapshotKey?: string;
  extensions?: Record<string, unknown>;
}

/**
 * A container to be made from an image on the server, as `ctr containers
 * create IMAGE ID` makes one (docs/images-and-containers.md): the spec from
 * the image config and these options, the labels with the image's.
 */
export interface ContainerFromImage {
  id: string;
  image: string;
  runtime?: { name?: string; options?: unknown };
  labels?: Record<string, string>;
  snapshotter?: string;
  snapshotKey?: string;
  /** Replaces the image's command (entrypoint included), as ctr's trailing arguments. */
  args?: string[];
  env?: string[];
  cwd?: string;
  tty?: boolean;
  readOnly?: boolean;
  allowNewPrivileges?: boolean;
  annotations?: Record<string, string>;
  platform?: string;
}

/** Containers of a namespace: containerd's containers service over purser's protocol. */
export class ContainersApi {
  constructor(private readonly client: PurserClient) {}

  create(namespace: string, container: ContainerSpec, opts?: CommandOptions) {
    return this.client.command<ContainerRecord>(namespace, "containers", "create", container, opts);
  }

  /** Creates a container whose spec and labels the server builds from the image (see {@link ContainerFromImage}). */
  createFromImage(namespace: string, container: ContainerFromImage, opts?: CommandOptions) {
    return this.client.command<ContainerRecord>(namespace, "containers", "create-from-image", container, opts);
  }

  /**
   * Updates with field paths (`labels`, `labels.<k>`, `extensions`,
   * `extensions.<k>`, `spec`, `image`, `snapshotkey`); no paths replaces
   * those fields and requires the snapshotter and runtime name unchanged.
   */
  update(namespace: string, container: ContainerSpec, fieldPaths: string[] = [], opts?: CommandOptions) {
    return this.client.command<ContainerRecord>(namespace, "containers", "update", { ...container, fieldPaths }, opts);
  }

  delete(namespace: string, id: string, opts?: CommandOptions) {
    return this.client.command<null>(namespace, "containers", "delete", { id }, opts);
  }

  get(namespace: string, id: string, opts?: QueryOptions) {
    return this.client.query<ContainerRecord>(namespace, "containers", "get", { id }, opts);
  }

  /** containerd filters: several strings are ORed, commas within one AND. Reads every page of the list. */
  list(namespace: string, filters: string[] = [], opts?: QueryOptions) {
    return listAllPages<ContainerRecord>(this.client, namespace, "containers", filters, opts);
  }
}
