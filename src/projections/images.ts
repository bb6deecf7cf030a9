import type { Transaction } from "lmdb";
import { evolveImage, imageNameFits } from "../domain/images.js";
import type { StoredEvent } from "../events/envelope.js";
import type { ImageRecord } from "../events/image-events.js";
import { adaptRecord, Always, mapField, nonEmpty, type Adaptor, type Filter } from "../filters/index.js";
import { candidateIds, exactField, labelSelector } from "./label-index.js";
import type { Projection } from "./projection.js";
import { RecordView, type RecordPage } from "./record-view.js";
import type { ViewStore } from "./view-store.js";

/**
 * The `images` view: key `[namespace, name]` → {@link ImageRecord} (as
 * msgpack, see record-view.ts), so one namespace's images are one key range
 * (listing one namespace never scans another) and `namespaceUsage` sees
 * whether a namespace still holds images.
 */
export const imagesDb = "images";

const images = new RecordView<ImageRecord>(imagesDb, { labels: (r) => r.labels });

/** Every ImageRecord of every namespace, `[namespace, id]` first (the collector's graph). */
export function allImages(views: ViewStore, transaction?: Transaction): Generator<{ key: [string, string]; record: ImageRecord }> {
  return images.entries(views, transaction);
}

export const imagesProjection: Projection = {
  name: "images",
  databases: images.databases,
  apply(views: ViewStore, stored: StoredEvent): void {
    const e = stored.event;
    switch (e.type) {
      case "ImageCreated":
      case "ImageUpdated":
      case "ImageDeleted": {
        const name = e.type === "ImageDeleted" ? e.data.name : e.data.image.name;
        // Never throw inside the batch: an event no decider would write must not stop the views.
        if (!imageNameFits(name)) return;
        // Events carry the full record: the next state never depends on the current one.
        const next = evolveImage(undefined, e);
        if (next) images.put(views, stored.namespace, name, next);
        else images.remove(views, stored.namespace, name);
        return;
      }
      default:
        return;
    }
  },
};

export function getImage(views: ViewStore, namespace: string, name: string): ImageRecord | undefined {
  if (!imageNameFits(name)) return undefined;
  return images.get(views, namespace, name);
}

/**
 * containerd `adaptImage` (`metadata/adaptors.go`): `name`,
 * `target.digest`, `target.mediatype`, `labels.<k>`, `annotations.<k>`
 * (the target's annotations).
 */
export function adaptImage(image: ImageRecord): Adaptor {
  return adaptRecord({
    name: () => nonEmpty(image.name),
    target: adaptRecord({
      digest: () => nonEmpty(image.target.digest),
      mediatype: () => nonEmpty(image.target.mediaType),
    }),
    labels: (rest) => mapField(image.labels, rest),
    annotations: (rest) => mapField(image.target.annotations, rest),
  });
}

/**
 * One page of the namespace's images that match `filter`, in name order
 * (containerd lists in bolt key order), at most `maxBytes` of records.
 */
export function listImagesPage(
  views: ViewStore,
  namespace: string,
  filter: Filter,
  page: { after?: string; maxBytes: number; companion?: (name: string) => Uint8Array },
): RecordPage {
  const match = filter === Always ? undefined : (image: ImageRecord) => filter.match(adaptImage(image));
  // `name==…` or an indexed label in every alternative: read those records instead of scanning.
  const ids = candidateIds(filter, [exactField("name"), labelSelector(images.labelIndex!, views, namespace)])?.filter(imageNameFits);
  return images.page(views, namespace, { ...page, match, ...(ids ? { ids } : {}) });
}
