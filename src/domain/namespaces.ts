import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "../errors/errdefs.js";
import type { DomainEvent } from "../events/catalog.js";
import type { NamespaceEvent, NamespaceRecord } from "../events/namespace-events.js";
import { identifierError, quote } from "../validation/identifiers.js";
import { validateLabel, withoutEmptyLabels } from "../validation/labels.js";
import type { NamespaceUsage } from "./namespace-usage.js";

/**
 * The namespace decider: pure, no I/O, no clock (`now` comes with the call).
 * Rules: containerd 1.6 `metadata/namespaces.go` and
 * `services/namespaces/local.go` (conformance A.4) and the decided divergences.
 */
export type NamespaceCommand =
  | { type: "CreateNamespace"; name: string; labels: Record<string, string> }
  | { type: "UpdateNamespace"; name: string; labels: Record<string, string>; fieldPaths: string[] }
  | { type: "DeleteNamespace"; name: string };

export interface NamespaceState {
  /** The namespace, or undefined when it does not exist (never created, or deleted). */
  record: NamespaceRecord | undefined;
  usage: NamespaceUsage;
}

const labelsContext = "namespace.Labels";

function validateName(name: string): void {
  const err = identifierError(name);
  if (err) throw err;
}

export function decideNamespace(command: NamespaceCommand, state: NamespaceState, now: string): DomainEvent[] {
  switch (command.type) {
    case "CreateNamespace": {
      validateName(command.name);
      for (const [k, v] of Object.entries(command.labels)) validateLabel(labelsContext, k, v);
      if (state.record) throw alreadyExists(`namespace ${quote(command.name)}`);
      return [
        {
          type: "NamespaceCreated",
          data: {
            namespace: { name: command.name, labels: withoutEmptyLabels(command.labels), createdAt: now, updatedAt: now },
            implicit: false,
          },
        },
      ];
    }
    case "UpdateNamespace": {
      validateName(command.name);
      // containerd allows only `labels.<key>` in a mask; a bare `labels` is refused too.
      for (const path of command.fieldPaths) {
        if (!path.startsWith("labels.")) throw invalidArgument(`cannot update ${quote(path)} field`);
      }
      // Divergence 2: containerd silently creates a missing namespace here.
      if (!state.record) throw notFound(`namespace ${quote(command.name)}`);
      let labels: Record<string, string>;
      if (command.fieldPaths.length > 0) {
        labels = { ...state.record.labels };
        for (const path of command.fieldPaths) {
          const key = path.slice("labels.".length);
          const value = command.labels[key] ?? "";
          validateLabel(labelsContext, key, value);
          labels[key] = value;
        }
      } else {
        for (const [k, v] of Object.entries(command.labels)) validateLabel(labelsContext, k, v);
        labels = { ...command.labels };
      }
      return [
        {
          type: "NamespaceUpdated",
          data: {
            namespace: { ...state.record, labels: withoutEmptyLabels(labels), updatedAt: now },
            fieldPaths: command.fieldPaths.length > 0 ? [...command.fieldPaths] : ["labels"],
          },
        },
      ];
    }
    case "DeleteNamespace": {
      validateName(command.name);
      if (!state.record) throw notFound(`namespace ${quote(command.name)}`);
      const remaining = blockingContents(state.usage);
      if (remaining.length > 0) {
        throw failedPrecondition(`namespace ${quote(command.name)} must be empty, but it still has ${remaining.join(", ")}`);
      }
      // Divergence 4: what containerd drops silently with the bucket gets an event each.
      const dropped: DomainEvent[] = [];
      for (const id of state.usage.leases) dropped.push({ type: "LeaseDeleted", data: { id } });
      for (const ref of state.usage.ingests) dropped.push({ type: "IngestAborted", data: { ref } });
      return [...dropped, { type: "NamespaceDeleted", data: { name: command.name } }];
    }
  }
}

/** containerd's order: images, blobs, containers, then snapshots per snapshotter. */
export function blockingContents(usage: NamespaceUsage): string[] {
  const out: string[] = [];
  if (usage.images) out.push("images");
  if (usage.blobs) out.push("blobs");
  if (usage.containers) out.push("containers");
  for (const s of usage.snapshotters) out.push(`snapshots on ${quote(s)} snapshotter`);
  return out;
}

/**
 * The event that creates a namespace implicitly, when a write of another
 * resource lands in a namespace that does not exist (divergence 1).
 */
export function implicitNamespaceCreation(name: string, now: string): NamespaceEvent {
  return {
    type: "NamespaceCreated",
    data: { namespace: { name, labels: {}, createdAt: now, updatedAt: now }, implicit: true },
  };
}

/** Folds a namespace event into the namespace's record. */
export function evolveNamespace(record: NamespaceRecord | undefined, event: NamespaceEvent): NamespaceRecord | undefined {
  switch (event.type) {
    case "NamespaceCreated":
      return event.data.namespace;
    case "NamespaceUpdated":
      return event.data.namespace;
    case "NamespaceDeleted":
      return undefined;
  }
}
