import { isPurserError } from "../errors/errdefs.js";
import type { ContainerRecord } from "../events/container-events.js";
import type { ContainerFromImage, ContainerSpec } from "./containers-api.js";
import type { PurserClient, Reply } from "./purser-client.js";

/**
 * Containers with a root file system, as containerd's client makes them
 * (`NewContainer` with `WithNewSnapshot`, and `Delete` with
 * `WithSnapshotCleanup`; docs/unpack.md):
 *
 * - create: unpack the image if it is not yet (the server skips what is
 *   there), prepare an active snapshot keyed by the container id on the
 *   image's top chain id, create the container naming it
 *   (`snapshotter`/`snapshotKey`). All of it under a lease (the caller's or
 *   a temporary one), so a client that dies half-way leaves nothing the
 *   collector would keep: once the container exists, it holds its snapshot.
 * - delete: remove the snapshot (unless kept), then the container.
 */

/** A lease lives a day if the client dies before deleting it (containerd's `WithLease`). */
const leaseExpiryMs = 24 * 60 * 60 * 1000;

export interface RootfsOptions {
  /** Default `native`. */
  snapshotter?: string;
  /** Run under this lease (kept) instead of a temporary one. */
  lease?: string;
}

export interface CreatedContainer extends Reply<ContainerRecord> {
  /** The chain id the container's snapshot was prepared on. */
  parent: string;
}

/**
 * Creates `container` (its `image` must name an image of the namespace) with
 * a new active snapshot `container.id` on the image's unpacked layers.
 * Refuses as the parts do: `image "x": not found`, `snapshot "id": already
 * exists`, `container "id": already exists` (the snapshot prepared for it is
 * then removed again).
 */
export async function createContainerWithSnapshot(
  client: PurserClient,
  namespace: string,
  container: (ContainerSpec & { image: string }) | { fromImage: ContainerFromImage },
  opts: RootfsOptions = {},
): Promise<CreatedContainer> {
  const id = "fromImage" in container ? container.fromImage.id : container.id;
  const image = "fromImage" in container ? container.fromImage.image : container.image;
  const snapshotter = opts.snapshotter ?? client.snapshots.defaultSnapshotter;
  let rv = 0;
  const saw = <T extends { rv: number }>(r: T): T => {
    rv = Math.max(rv, r.rv);
    return r;
  };
  const lease = opts.lease ?? saw(await client.leases.create(namespace, { expiresInMs: leaseExpiryMs })).result.id;
  try {
    // `image.IsUnpacked` then `Unpack`, as ctr does before `WithNewSnapshot`: one request, a no-op when unpacked.
    const unpacked = saw(await client.images.unpack(namespace, image, { snapshotter }, { lease })).result;
    const parent = unpacked.chainId;
    saw(await client.snapshots.prepare(namespace, id, parent, { snapshotter, lease }));
    let created: Reply<ContainerRecord>;
    try {
      // With the snapshot in place, as ctr: the spec's user and groups are read from it.
      created = saw(
        "fromImage" in container
          ? await client.containers.createFromImage(namespace, { ...container.fromImage, snapshotter, snapshotKey: id }, { lease })
          : await client.containers.create(namespace, { ...container, snapshotter, snapshotKey: id }, { lease }),
      );
    } catch (err) {
      // The snapshot was made for this container only.
      await client.snapshots.remove(namespace, id, { snapshotter, lease }).then(saw, () => {});
      throw err;
    }
    return { rv, result: created.result, parent };
  } finally {
    if (!opts.lease) await client.leases.delete(namespace, lease).then(saw, () => {});
  }
}

export interface DeleteOptions {
  /** Keep the container's snapshot (ctr's `--keep-snapshot`). */
  keepSnapshot?: boolean;
}

/**
 * Deletes a container and, unless kept, its snapshot first (ctr loads the
 * container, then containerd's `WithSnapshotCleanup`: a snapshot already gone is fine; one that cannot be
 * removed, e.g. `cannot remove snapshot with child: failed precondition`,
 * stops the delete before the container goes).
 */
export async function deleteContainerWithSnapshot(
  client: PurserClient,
  namespace: string,
  id: string,
  opts: DeleteOptions & { minRv?: number } = {},
): Promise<Reply<null>> {
  let rv = 0;
  // As ctr's `LoadContainer`: a missing container is refused by the get, in its words.
  const c = (await client.containers.get(namespace, id, { minRv: opts.minRv })).result;
  if (!opts.keepSnapshot && c.snapshotKey) {
    try {
      rv = (await client.snapshots.remove(namespace, c.snapshotKey, { snapshotter: c.snapshotter })).rv;
    } catch (err) {
      if (!isPurserError(err, "NotFound")) throw err;
    }
  }
  const reply = await client.containers.delete(namespace, id);
  return { rv: Math.max(rv, reply.rv), result: null };
}
