import { alreadyExists, invalidArgument, notFound, type PurserError } from "../errors/errdefs.js";
import type { ContainerEvent, ContainerRecord, ContainerRuntime } from "../events/container-events.js";
import { identifierError, quote } from "../validation/identifiers.js";
import { validateLabel, withoutEmptyLabels } from "../validation/labels.js";

/**
 * The container decider: pure, no I/O, no clock (`now` comes with the call).
 * Rules: containerd 1.6 `metadata/containers.go` (conformance A.6).
 *
 * The service-level check of containerd's update (`Container.ID required`)
 * runs when the request is parsed (container-handlers.ts); the store-level
 * texts below are what containerd's store gives when called directly.
 */

/**
 * A container as a request carries it: the record without its times, every
 * field optional on the wire and a zero value here (proto3). `spec` is opaque;
 * `undefined` (or msgpack nil) means "not set".
 */
export type ContainerInput = Omit<ContainerRecord, "createdAt" | "updatedAt">;

export type ContainerCommand =
  | { type: "CreateContainer"; container: ContainerInput }
  | { type: "UpdateContainer"; container: ContainerInput; fieldPaths: string[] }
  | { type: "DeleteContainer"; id: string };

export interface ContainerState {
  /** The namespace the command runs in (containerd names it in some NotFound texts). */
  namespace: string;
  /** The container, or undefined when it does not exist (never created, or deleted). */
  record: ContainerRecord | undefined;
  /**
   * Whether containerd's `v1/<ns>/containers` bucket would exist: it is created
   * by the first container of the namespace and lives as long as the namespace.
   * Update and delete word their NotFound differently without it.
   */
  bucketExists: boolean;
}

/**
 * What an update without field paths replaces (containerd: "only allow
 * updates to these field on full replace"); recorded in the event.
 */
export const containerFullReplacePaths: readonly string[] = ["labels", "spec", "extensions", "image", "snapshotkey"];

export function decideContainer(command: ContainerCommand, state: ContainerState, now: string): ContainerEvent[] {
  switch (command.type) {
    case "CreateContainer": {
      const container = normalize(command.container);
      const err = validationError(container);
      if (err) throw err.wrap("create container failed validation");
      if (state.record) throw alreadyExists(`container ${quote(container.id)}`);
      return [{ type: "ContainerCreated", data: { container: toRecord(container, now, now) } }];
    }
    case "UpdateContainer": {
      const input = command.container;
      if (input.id === "") throw invalidArgument("must specify a container id");
      if (!state.bucketExists) {
        throw notFound(`cannot update container ${quote(input.id)} in namespace ${quote(state.namespace)}`);
      }
      if (!state.record) throw notFound(`container ${quote(input.id)}`);
      let fieldPaths: readonly string[] = command.fieldPaths;
      if (fieldPaths.length === 0) {
        fieldPaths = containerFullReplacePaths;
        // Fields that are immutable must cause an error when no field paths are
        // provided: this allows them to become mutable in the future
        // (containerd's comment, and its rule).
        if (state.record.snapshotter !== input.snapshotter) {
          throw invalidArgument("container.Snapshotter field is immutable");
        }
        if (state.record.runtime.name !== input.runtime.name) {
          throw invalidArgument("container.Runtime.Name field is immutable");
        }
      }
      const updated = merge(state.record, input, fieldPaths);
      const err = validationError(updated);
      if (err) throw err.wrap("update failed validation");
      return [
        {
          type: "ContainerUpdated",
          data: { container: toRecord(updated, state.record.createdAt, now), fieldPaths: [...fieldPaths] },
        },
      ];
    }
    case "DeleteContainer": {
      if (!state.bucketExists) {
        throw notFound(`cannot delete container ${quote(command.id)} in namespace ${quote(state.namespace)}`);
      }
      // containerd formats this one with %v: the id is not quoted.
      if (!state.record) throw notFound(`container ${command.id}`);
      return [{ type: "ContainerDeleted", data: { id: command.id } }];
    }
  }
}

/** Folds a container event into the container's record. */
export function evolveContainer(
  record: ContainerRecord | undefined,
  event: ContainerEvent,
): ContainerRecord | undefined {
  switch (event.type) {
    case "ContainerCreated":
      return event.data.container;
    case "ContainerUpdated":
      return event.data.container;
    case "ContainerDeleted":
      return undefined;
  }
}

/**
 * containerd's field mask, applied in the order given. `labels.<k>` and
 * `extensions.<k>` copy one key from the request; a key the request does not
 * carry is removed (a label reads as "", which containerd drops on write; for
 * an extension containerd 1.6 stores an empty Any, purser removes the key, see
 * docs/images-and-containers.md). The runtime and the snapshotter are never
 * updated.
 */
function merge(current: ContainerRecord, input: ContainerInput, fieldPaths: readonly string[]): ContainerInput {
  const updated: ContainerInput = {
    id: input.id,
    labels: { ...current.labels },
    image: current.image,
    runtime: { ...current.runtime },
    spec: current.spec,
    snapshotter: current.snapshotter,
    snapshotKey: current.snapshotKey,
    extensions: { ...current.extensions },
  };
  for (const path of fieldPaths) {
    if (path.startsWith("labels.")) {
      const key = path.slice("labels.".length);
      updated.labels[key] = input.labels[key] ?? "";
      continue;
    }
    if (path.startsWith("extensions.")) {
      const key = path.slice("extensions.".length);
      if (isSet(input.extensions[key])) updated.extensions[key] = input.extensions[key];
      else delete updated.extensions[key];
      continue;
    }
    switch (path) {
      case "labels":
        updated.labels = { ...input.labels };
        break;
      case "spec":
        updated.spec = input.spec;
        break;
      case "extensions":
        updated.extensions = { ...input.extensions };
        break;
      case "image":
        updated.image = input.image;
        break;
      case "snapshotkey":
        updated.snapshotKey = input.snapshotKey;
        break;
      default:
        throw invalidArgument(`cannot update ${quote(path)} field on ${quote(input.id)}`);
    }
  }
  return updated;
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** A defensive copy, so nothing the decider returns aliases the request's maps. */
function normalize(input: ContainerInput): ContainerInput {
  return { ...input, labels: { ...input.labels }, runtime: { ...input.runtime }, extensions: { ...input.extensions } };
}

/** containerd `validateContainer`, in its order; the caller adds its prefix. */
export function validationError(container: ContainerInput): PurserError | undefined {
  const idErr = identifierError(container.id);
  if (idErr) return idErr.wrap("container.ID");
  for (const k of Object.keys(container.extensions)) {
    if (k === "") return invalidArgument("container.Extension keys must not be zero-length");
  }
  // The image is not validated (as in containerd).
  try {
    for (const [k, v] of Object.entries(container.labels)) validateLabel("containers.Labels", k, v);
  } catch (err) {
    return err as PurserError;
  }
  if (container.runtime.name === "") return invalidArgument("container.Runtime.Name must be set");
  if (!isSet(container.spec)) return invalidArgument("container.Spec must be set");
  if (container.snapshotKey !== "" && container.snapshotter === "") {
    return invalidArgument("container.Snapshotter must be set if container.SnapshotKey is set");
  }
  return undefined;
}

/** The stored record: labels with empty values removed, extensions without unset values. */
function toRecord(c: ContainerInput, createdAt: string, updatedAt: string): ContainerRecord {
  const runtime: ContainerRuntime = { name: c.runtime.name };
  if (isSet(c.runtime.options)) runtime.options = c.runtime.options;
  const extensions: Record<string, unknown> = {};
  for (const k of Object.keys(c.extensions).sort()) if (isSet(c.extensions[k])) extensions[k] = c.extensions[k];
  return {
    id: c.id,
    labels: withoutEmptyLabels(c.labels),
    image: c.image,
    runtime,
    spec: c.spec,
    snapshotter: c.snapshotter,
    snapshotKey: c.snapshotKey,
    extensions,
    createdAt,
    updatedAt,
  };
}
