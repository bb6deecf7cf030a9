import { alreadyExists, invalidArgument, notFound } from "../errors/errdefs.js";
import type { ImageEvent, ImageRecord, ImageTarget } from "../events/image-events.js";
import { digestError } from "../validation/digest.js";
import { quote } from "../validation/identifiers.js";
import { validateLabel, withoutEmptyLabels } from "../validation/labels.js";

/**
 * The image decider: pure, no I/O, no clock (`now` comes with the call).
 * Rules: containerd 1.6 `metadata/images.go` (conformance A.5).
 *
 * The service-level check of containerd (`Image.Name required`) runs when the
 * request is parsed (image-handlers.ts); the store-level texts below are what
 * containerd's store gives when called directly, and stay for callers that
 * bypass the service.
 */

/** An image as a request carries it: every field optional on the wire, zero values here (proto3). */
export interface ImageInput {
  name: string;
  labels: Record<string, string>;
  target: {
    mediaType: string;
    digest: string;
    size: number;
    annotations: Record<string, string>;
  };
}

export type ImageCommand =
  | { type: "CreateImage"; image: ImageInput }
  | { type: "UpdateImage"; image: ImageInput; fieldPaths: string[] }
  | { type: "DeleteImage"; name: string };

export interface ImageState {
  /** The image, or undefined when it does not exist (never created, or deleted). */
  record: ImageRecord | undefined;
}

/**
 * LMDB refuses keys over 1978 bytes. An image's view key is its namespace (at
 * most 76 bytes), its name and a few bytes of encoding, so names are limited
 * to this many UTF-8 bytes: a purser limit (containerd's bolt allows 32 KiB;
 * real references stay far below 1 KiB). Reads of longer names answer "absent".
 */
export const maxImageNameBytes = 1800;

export function imageNameFits(name: string): boolean {
  return Buffer.byteLength(name) <= maxImageNameBytes;
}

/** What a full replacement (an update without field paths) replaces; recorded in the event. */
export const imageFullReplacePaths: readonly string[] = ["labels", "target"];

export function decideImage(command: ImageCommand, state: ImageState, now: string): ImageEvent[] {
  switch (command.type) {
    case "CreateImage": {
      // containerd validates before it looks for an existing image.
      const image = normalize(command.image);
      validateImage(image);
      if (state.record) throw alreadyExists(`image ${quote(image.name)}`);
      return [{ type: "ImageCreated", data: { image: toRecord(image, now, now) } }];
    }
    case "UpdateImage": {
      const input = command.image;
      if (input.name === "") throw invalidArgument("image name is required for update");
      if (!state.record) throw notFound(`image ${quote(input.name)}`);
      const updated = merge(state.record, input, command.fieldPaths);
      validateImage(updated);
      return [
        {
          type: "ImageUpdated",
          data: {
            image: toRecord(updated, state.record.createdAt, now),
            fieldPaths: command.fieldPaths.length > 0 ? [...command.fieldPaths] : [...imageFullReplacePaths],
          },
        },
      ];
    }
    case "DeleteImage": {
      if (!state.record) throw notFound(`image ${quote(command.name)}`);
      return [{ type: "ImageDeleted", data: { name: command.name } }];
    }
  }
}

/** Folds an image event into the image's record. */
export function evolveImage(record: ImageRecord | undefined, event: ImageEvent): ImageRecord | undefined {
  switch (event.type) {
    case "ImageCreated":
      return event.data.image;
    case "ImageUpdated":
      return event.data.image;
    case "ImageDeleted":
      return undefined;
  }
}

/**
 * containerd's field mask, applied in the order given: `labels.<k>` and
 * `annotations.<k>` copy one key from the request (an absent key reads as "",
 * which removes it on write), `labels` and `annotations` replace the map,
 * `target` replaces the descriptor as a unit. No paths: the request replaces
 * the image.
 */
function merge(current: ImageRecord, input: ImageInput, fieldPaths: readonly string[]): ImageInput {
  if (fieldPaths.length === 0) return normalize(input);
  const updated: ImageInput = {
    name: input.name,
    labels: { ...current.labels },
    target: {
      mediaType: current.target.mediaType,
      digest: current.target.digest,
      size: current.target.size,
      annotations: { ...(current.target.annotations ?? {}) },
    },
  };
  for (const path of fieldPaths) {
    if (path.startsWith("labels.")) {
      const key = path.slice("labels.".length);
      updated.labels[key] = input.labels[key] ?? "";
      continue;
    }
    if (path.startsWith("annotations.")) {
      const key = path.slice("annotations.".length);
      updated.target.annotations[key] = input.target.annotations[key] ?? "";
      continue;
    }
    switch (path) {
      case "labels":
        updated.labels = { ...input.labels };
        break;
      case "target":
        // containerd replaces the target as a unit: it is pulled as a unit, and
        // changing the digest without the size and media type makes no sense.
        updated.target = { ...input.target, annotations: { ...input.target.annotations } };
        break;
      case "annotations":
        updated.target.annotations = { ...input.target.annotations };
        break;
      default:
        throw invalidArgument(`cannot update ${quote(path)} field on image ${quote(input.name)}`);
    }
  }
  return updated;
}

/** A defensive copy, so nothing the decider returns aliases the request. */
function normalize(input: ImageInput): ImageInput {
  return {
    name: input.name,
    labels: { ...input.labels },
    target: { ...input.target, annotations: { ...input.target.annotations } },
  };
}

/** containerd `validateImage` + `validateTarget`, in their order. */
export function validateImage(image: ImageInput): void {
  if (image.name === "") throw invalidArgument("image name must not be empty");
  if (!imageNameFits(image.name)) {
    throw invalidArgument(`image name greater than maximum length (${maxImageNameBytes} bytes)`);
  }
  for (const [k, v] of Object.entries(image.labels)) validateLabel("image.Labels", k, v);
  validateTarget(image.target);
}

function validateTarget(target: ImageInput["target"]): void {
  // containerd validates only the fields it stores.
  const err = digestError(target.digest);
  if (err) throw invalidArgument(`Target.Digest ${quote(target.digest)} invalid: ${err}`);
  if (target.size <= 0) throw invalidArgument("Target.Size must be greater than zero");
  if (target.mediaType === "") throw invalidArgument("Target.MediaType must be set");
}

/** The stored record: labels and annotations with empty values removed, as containerd's writes drop them. */
function toRecord(image: ImageInput, createdAt: string, updatedAt: string): ImageRecord {
  const annotations = withoutEmptyLabels(image.target.annotations);
  const target: ImageTarget = {
    mediaType: image.target.mediaType,
    digest: image.target.digest,
    size: image.target.size,
  };
  if (Object.keys(annotations).length > 0) target.annotations = annotations;
  return { name: image.name, labels: withoutEmptyLabels(image.labels), target, createdAt, updatedAt };
}
