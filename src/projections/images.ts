import { evolveImage, imageNameFits } from "../commands/images.js";
import type { StoredEvent } from "../events/envelope.js";
import type { ImageRecord } from "../events/image-events.js";
import { adaptRecord, All, Any, mapField, nonEmpty, Operator, Selector, type Adaptor, type Filter } from "./filters/index.js";
import { prefixRange } from "./key-range.js";
import type { Projection } from "./projection.js";
import type { ViewStore } from "./view-store.js";

/**
 * The `images` view: key `[namespace, name]` → {@link ImageRecord}, so one
 * namespace's images are one key range (listing one namespace never scans
 * another) and `namespaceUsage` sees whether a namespace still holds images.
 */
export const imagesDb = "images";

export const imagesProjection: Projection = {
  name: "images",
  databases: [imagesDb],
  apply(views: ViewStore, stored: StoredEvent): void {
    const e = stored.event;
    switch (e.type) {
      case "ImageCreated":
      case "ImageUpdated":
      case "ImageDeleted": {
        const name = e.type === "ImageDeleted" ? e.data.name : e.data.image.name;
        // Never throw inside the batch: an event no decider would write must not stop the views.
        if (!imageNameFits(name)) return;
        const db = views.db<ImageRecord, [string, string]>(imagesDb);
        const key: [string, string] = [stored.namespace, name];
        const next = evolveImage(db.get(key), e);
        if (next) db.putSync(key, next);
        else db.removeSync(key);
        return;
      }
      default:
        return;
    }
  },
};

export function getImage(views: ViewStore, namespace: string, name: string): ImageRecord | undefined {
  if (!imageNameFits(name)) return undefined;
  return views.db<ImageRecord, [string, string]>(imagesDb).get([namespace, name]);
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

/** The namespace's images that match `filter`, in name order (containerd lists in bolt key order). */
export function listImages(views: ViewStore, namespace: string, filter: Filter): ImageRecord[] {
  const names = exactNames(filter);
  if (names) {
    // Every alternative pins `name==…`: look those up instead of scanning.
    const out: ImageRecord[] = [];
    for (const name of names) {
      const image = getImage(views, namespace, name);
      if (image && filter.match(adaptImage(image))) out.push(image);
    }
    return out;
  }
  const out: ImageRecord[] = [];
  for (const { value } of views.db<ImageRecord, [string, string]>(imagesDb).getRange(prefixRange([namespace]))) {
    if (filter.match(adaptImage(value))) out.push(value);
  }
  return out;
}

/**
 * The names a filter can match when each of its alternatives requires
 * `name==<v>`; undefined when some alternative can match other names. Sorted
 * by UTF-8 bytes, the order of the view's keys.
 */
function exactNames(filter: Filter): string[] | undefined {
  if (!(filter instanceof Any)) return undefined;
  const names = new Set<string>();
  for (const alternative of filter.filters) {
    if (!(alternative instanceof All)) return undefined;
    const pin = alternative.filters.find(
      (s): s is Selector =>
        s instanceof Selector && s.operator === Operator.Equal && s.fieldpath.length === 1 && s.fieldpath[0] === "name",
    );
    if (!pin) return undefined;
    names.add(pin.value);
  }
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
