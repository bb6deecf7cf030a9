/**
 * Image events. Each carries the full resulting record, so replay needs
 * nothing else (containerd's `/images/*` events carry only name and labels).
 */

/**
 * What an image points at: an OCI descriptor, reduced to the fields containerd
 * stores (`metadata/images.go` writes digest, media type, size and the
 * annotations; urls and platform are not kept).
 */
export interface ImageTarget {
  mediaType: string;
  digest: string;
  size: number;
  /** Present only when there is at least one annotation (empty values are removed on write). */
  annotations?: Record<string, string>;
}

export interface ImageRecord {
  name: string;
  labels: Record<string, string>;
  target: ImageTarget;
  createdAt: string;
  updatedAt: string;
}

export interface ImageCreated {
  type: "ImageCreated";
  data: { image: ImageRecord };
}

export interface ImageUpdated {
  type: "ImageUpdated";
  /**
   * `fieldPaths` are the request's paths; a full replacement (no paths)
   * records the fields it replaced: `labels` and `target`.
   */
  data: { image: ImageRecord; fieldPaths: string[] };
}

export interface ImageDeleted {
  type: "ImageDeleted";
  data: { name: string };
}

export type ImageEvent = ImageCreated | ImageUpdated | ImageDeleted;
