import type { Transaction } from "lmdb";
import { evolveContainer } from "../domain/containers.js";
import type { ContainerRecord } from "../events/container-events.js";
import type { StoredEvent } from "../events/envelope.js";
import { adaptRecord, Always, mapField, nonEmpty, type Adaptor, type Filter } from "../filters/index.js";
import type { Projection } from "./projection.js";
import { candidateIds, exactField, labelSelector } from "./label-index.js";
import { RecordView, type RecordPage } from "./record-view.js";
import type { ViewStore } from "./view-store.js";

/**
 * The `containers` view: key `[namespace, id]` → {@link ContainerRecord} (as
 * msgpack, see record-view.ts), so
 * one namespace's containers are one key range and `namespaceUsage` sees
 * whether a namespace still holds containers.
 *
 * `containerBuckets`: key namespace → `true` once the namespace has held a
 * container, until the namespace is deleted. It stands for containerd's
 * `v1/<ns>/containers` bucket, whose absence changes the NotFound texts of
 * update and delete (A.6).
 */
export const containersDb = "containers";
export const containerBucketsDb = "containerBuckets";

const containers = new RecordView<ContainerRecord>(containersDb, { labels: (r) => r.labels });

/** Every ContainerRecord of every namespace, `[namespace, id]` first (the collector's graph). */
export function allContainers(views: ViewStore, transaction?: Transaction): Generator<{ key: [string, string]; record: ContainerRecord }> {
  return containers.entries(views, transaction);
}

export const containersProjection: Projection = {
  name: "containers",
  databases: [...containers.databases, containerBucketsDb],
  apply(views: ViewStore, stored: StoredEvent): void {
    const e = stored.event;
    switch (e.type) {
      case "ContainerCreated":
      case "ContainerUpdated":
      case "ContainerDeleted": {
        const id = e.type === "ContainerDeleted" ? e.data.id : e.data.container.id;
        // Never throw inside the batch: an id no decider would accept must not stop the views.
        if (!idFits(id)) return;
        // Events carry the full record: the next state never depends on the current one.
        const next = evolveContainer(undefined, e);
        if (next) containers.put(views, stored.namespace, id, next);
        else containers.remove(views, stored.namespace, id);
        if (e.type === "ContainerCreated") views.db<boolean, string>(containerBucketsDb).putSync(stored.namespace, true);
        return;
      }
      case "NamespaceDeleted":
        // containerd drops the namespace's whole bucket, the containers bucket with it.
        views.db<boolean, string>(containerBucketsDb).removeSync(stored.namespace);
        return;
      default:
        return;
    }
  },
};

/** Ids are identifiers (at most 76 characters): anything much longer cannot exist, and might not fit an LMDB key. */
function idFits(id: string): boolean {
  return Buffer.byteLength(id) <= 1024;
}

export function getContainer(views: ViewStore, namespace: string, id: string): ContainerRecord | undefined {
  if (!idFits(id)) return undefined;
  return containers.get(views, namespace, id);
}

/** Whether containerd's containers bucket of the namespace would exist (see {@link containerBucketsDb}). */
export function containerBucketExists(views: ViewStore, namespace: string): boolean {
  return views.db<boolean, string>(containerBucketsDb).get(namespace) === true;
}

/** containerd `adaptContainer` (`metadata/adaptors.go`): `id`, `runtime.name`, `image`, `labels.<k>`. */
export function adaptContainer(container: ContainerRecord): Adaptor {
  return adaptRecord({
    id: () => nonEmpty(container.id),
    runtime: adaptRecord({ name: () => nonEmpty(container.runtime.name) }),
    image: () => nonEmpty(container.image),
    labels: (rest) => mapField(container.labels, rest),
  });
}

/** One page of the namespace's containers that match `filter`, in id order, at most `maxBytes` of records. */
export function listContainersPage(
  views: ViewStore,
  namespace: string,
  filter: Filter,
  page: { after?: string; maxBytes: number },
): RecordPage {
  const match = filter === Always ? undefined : (container: ContainerRecord) => filter.match(adaptContainer(container));
  // `id==…` or an indexed label in every alternative: read those records instead of scanning.
  const ids = candidateIds(filter, [exactField("id"), labelSelector(containers.labelIndex!, views, namespace)])?.filter(idFits);
  return containers.page(views, namespace, { ...page, match, ...(ids ? { ids } : {}) });
}
