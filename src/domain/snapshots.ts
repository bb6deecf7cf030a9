import { createHash } from "node:crypto";
import { alreadyExists, failedPrecondition, invalidArgument, notFound, type PurserError } from "../errors/errdefs.js";
import type { DomainEvent } from "../events/catalog.js";
import { SnapshotKind, type SnapshotRecord } from "../events/snapshot-events.js";
import { quote } from "../validation/identifiers.js";
import { validateLabels, withoutEmptyLabels } from "../validation/labels.js";
import { leaseAdditions, leaseRemovals, snapshotResource, type ContextLease } from "./lease-recording.js";

/**
 * The snapshot decider: pure, no I/O, no clock (`now` comes with the call).
 * Rules and texts: containerd 1.6 `metadata/snapshot.go` over the native
 * snapshotter's `snapshots/storage` (conformance A.8), in containerd's order
 * of checks. A command returns its events and whether its OCC expectation
 * must cover the whole namespace (it read other snapshots than its own).
 */
export type SnapshotCommand =
  | {
      type: "PrepareSnapshot" | "CreateView";
      snapshotter: string;
      key: string;
      parent: string;
      labels: Record<string, string>;
      /** A fresh id of this command (its backend key and directory). */
      id: string;
    }
  | { type: "CommitSnapshot"; snapshotter: string; name: string; key: string; labels: Record<string, string>; id: string }
  | { type: "RemoveSnapshot"; snapshotter: string; key: string }
  | { type: "UpdateSnapshot"; snapshotter: string; key: string; labels: Record<string, string>; fieldPaths: string[] };

/** What a decision may read: the namespace's snapshots of one snapshotter, and the context lease. */
export interface SnapshotState {
  namespace: string;
  get(key: string): SnapshotRecord | undefined;
  hasChildren(key: string): boolean;
  /** containerd's snapshotter bucket of the namespace exists (it did hold a snapshot of this snapshotter). */
  snapshotterKnown: boolean;
  /** The lease the command runs under, if any. */
  lease?: ContextLease;
}

export interface SnapshotDecision {
  events: DomainEvent[];
  /**
   * The decision read snapshots other than the one its event lives on (a
   * parent, the key a name is committed from, children): it must be appended
   * expecting the namespace's last sequence, or a concurrent change to those
   * could slip in between. Otherwise the snapshot's own subject suffices.
   */
  namespaceWide: boolean;
  /** The snapshot as the command leaves it (prepare, view, commit, update). */
  snapshot?: SnapshotRecord;
  /** Append the events, then refuse with this (containerd's existing-target prepare). */
  error?: PurserError;
}

/** `containerd.io/snapshot.ref`: the name a prepare will commit to; if it exists, the work is done. */
export const snapshotRefLabel = "containerd.io/snapshot.ref";
const labelsContext = "info.Labels";

/** containerd's `createKey`: the backend's name of a metadata key. */
export function backendKey(namespace: string, id: string, key: string): string {
  return `${namespace}/${id}/${key}`;
}

/**
 * The directory of a new active snapshot. It depends on the parent's tree it
 * copies, so a retry that found a different parent (removed and made again
 * between two attempts) never reuses a copy of the old one.
 */
export function activeDir(id: string, parentDir: string): string {
  return parentDir === "" ? id : createHash("sha256").update(`${id}\u0000${parentDir}`).digest("hex").slice(0, 24);
}

export function decideSnapshot(command: SnapshotCommand, state: SnapshotState, now: string): SnapshotDecision {
  switch (command.type) {
    case "PrepareSnapshot":
    case "CreateView": {
      validateLabels(labelsContext, command.labels);
      const sn = command.snapshotter;
      const target = command.labels[snapshotRefLabel];
      if (target !== undefined && target !== "" && state.get(target)) {
        // The target is already there: containerd records it in the lease and
        // then answers AlreadyExists, so the caller (an unpacker) skips the
        // layer while the lease keeps the existing snapshot alive.
        return {
          events: leaseAdditions(state.lease, snapshotResource(sn, target)),
          namespaceWide: false,
          error: alreadyExists(`target snapshot ${quote(target)}`),
        };
      }
      if (state.get(command.key)) throw alreadyExists(`snapshot ${quote(command.key)}`);
      let parentDir = "";
      if (command.parent !== "") {
        const parent = state.get(command.parent);
        if (!parent) throw notFound(`parent snapshot ${command.parent} does not exist`);
        if (parent.kind !== SnapshotKind.Committed) {
          // The backend's refusal (storage.CreateSnapshot), wrapped by the native snapshotter.
          throw invalidArgument(`failed to create snapshot: parent ${quote(parent.backendKey)} is not committed snapshot`);
        }
        parentDir = parent.dir;
      }
      const leaseEvents = leaseAdditions(state.lease, snapshotResource(sn, command.key));
      const view = command.type === "CreateView";
      const snapshot: SnapshotRecord = {
        snapshotter: sn,
        key: command.key,
        kind: view ? SnapshotKind.View : SnapshotKind.Active,
        parent: command.parent,
        labels: withoutEmptyLabels(command.labels),
        createdAt: now,
        updatedAt: now,
        backendKey: backendKey(state.namespace, command.id, command.key),
        // A view with a parent mounts the parent's tree itself; anything else gets its own.
        dir: view && parentDir !== "" ? parentDir : activeDir(command.id, view ? "" : parentDir),
      };
      return {
        // The lease first: should the command stop between the two, the lease
        // holds a key that does not exist yet, never the reverse.
        events: [...leaseEvents, { type: view ? "SnapshotViewCreated" : "SnapshotPrepared", data: { snapshot } }],
        namespaceWide: command.parent !== "",
        snapshot,
      };
    }
    case "CommitSnapshot": {
      validateLabels(labelsContext, command.labels);
      const sn = command.snapshotter;
      if (!state.snapshotterKnown) throw notFound(`can not find snapshotter ${quote(sn)}`);
      if (state.get(command.name)) throw alreadyExists(`snapshot ${quote(command.name)}`);
      const leaseIn = leaseAdditions(state.lease, snapshotResource(sn, command.name));
      const active = state.get(command.key);
      if (!active) throw notFound(`snapshot ${command.key} does not exist`);
      if (active.parent !== "" && !state.get(active.parent)) {
        throw notFound(`parent snapshot ${active.parent} does not exist`);
      }
      if (active.kind !== SnapshotKind.Active) {
        throw failedPrecondition(`failed to commit snapshot: snapshot ${quote(active.backendKey)} is not active`);
      }
      // The committed snapshot takes the commit's labels, not the active one's (storage.CommitActive: "do not inherit").
      const snapshot: SnapshotRecord = {
        snapshotter: sn,
        key: command.name,
        kind: SnapshotKind.Committed,
        parent: active.parent,
        labels: withoutEmptyLabels(command.labels),
        createdAt: now,
        updatedAt: now,
        backendKey: backendKey(state.namespace, command.id, command.name),
        dir: active.dir,
      };
      return {
        events: [
          ...leaseIn,
          { type: "SnapshotCommitted", data: { snapshot, key: command.key } },
          ...leaseRemovals(state.lease, snapshotResource(sn, command.key)),
        ],
        namespaceWide: true,
        snapshot,
      };
    }
    case "RemoveSnapshot": {
      const existing = state.get(command.key);
      if (!existing) throw notFound(`snapshot ${command.key} does not exist`);
      if (state.hasChildren(command.key)) throw failedPrecondition("cannot remove snapshot with child");
      if (existing.parent !== "" && !state.get(existing.parent)) {
        throw notFound(`parent snapshot ${existing.parent} does not exist`);
      }
      return {
        events: [
          { type: "SnapshotRemoved", data: { snapshotter: command.snapshotter, key: command.key } },
          ...leaseRemovals(state.lease, snapshotResource(command.snapshotter, command.key)),
        ],
        namespaceWide: true,
      };
    }
    case "UpdateSnapshot": {
      if (command.key === "") throw invalidArgument("");
      const existing = state.get(command.key);
      if (!existing) throw notFound(`snapshot ${command.key} does not exist`);
      let labels: Record<string, string>;
      if (command.fieldPaths.length > 0) {
        labels = { ...existing.labels };
        for (const path of command.fieldPaths) {
          if (path.startsWith("labels.")) {
            const key = path.slice("labels.".length);
            labels[key] = command.labels[key] ?? "";
          } else if (path === "labels") {
            labels = { ...command.labels };
          } else {
            throw invalidArgument(`cannot update ${quote(path)} field on snapshot ${quote(command.key)}`);
          }
        }
      } else {
        labels = { ...command.labels };
      }
      validateLabels(labelsContext, labels);
      const snapshot: SnapshotRecord = { ...existing, labels: withoutEmptyLabels(labels), updatedAt: now };
      return {
        events: [
          {
            type: "SnapshotUpdated",
            data: { snapshot, fieldPaths: command.fieldPaths.length > 0 ? [...command.fieldPaths] : ["labels"] },
          },
        ],
        // A commit moves a key to another subject; an update on the key's own
        // subject alone could land after it and be lost.
        namespaceWide: true,
        snapshot,
      };
    }
  }
}
