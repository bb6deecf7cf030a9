import { evolveNamespace } from "../domain/namespaces.js";
import type { NamespaceUsage } from "../domain/namespace-usage.js";
import type { StoredEvent } from "../events/envelope.js";
import type { NamespaceRecord } from "../events/namespace-events.js";
import { prefixRange } from "./key-range.js";
import type { Projection } from "./projection.js";
import type { ViewStore } from "./view-store.js";

/** A row of the `namespaces` view. */
export interface NamespaceRow extends NamespaceRecord {
  implicit: boolean;
}

export const namespacesDb = "namespaces";

/**
 * Folds namespace lifecycle events into the `namespaces` view (key: name).
 *
 * An event of any other resource in a namespace that has no row revives it as
 * an implicit namespace: normally the decider has appended an explicit implicit
 * `NamespaceCreated` first, but a write that was decided just before a
 * concurrent `NamespaceDeleted` landed can follow it in the log, and then the
 * namespace holds that object and must exist (see docs/decisions.md).
 */
export const namespacesProjection: Projection = {
  name: "namespaces",
  databases: [namespacesDb],
  apply(views: ViewStore, stored: StoredEvent): void {
    const db = views.db<NamespaceRow, string>(namespacesDb);
    const current = db.get(stored.namespace);
    const e = stored.event;
    switch (e.type) {
      case "NamespaceCreated":
      case "NamespaceUpdated":
      case "NamespaceDeleted": {
        const next = evolveNamespace(current, e);
        if (next) {
          const implicit = e.type === "NamespaceCreated" ? e.data.implicit : (current?.implicit ?? false);
          db.putSync(stored.namespace, { ...next, implicit });
        } else {
          db.removeSync(stored.namespace);
        }
        return;
      }
      default:
        if (!current && e.type !== "LeaseDeleted" && e.type !== "IngestAborted" && e.type !== "LeaseExpired" && e.type !== "IngestExpired") {
          db.putSync(stored.namespace, {
            name: stored.namespace,
            labels: {},
            createdAt: stored.time,
            updatedAt: stored.time,
            implicit: true,
          });
        }
    }
  },
};

export function getNamespace(views: ViewStore, name: string): NamespaceRow | undefined {
  return views.db<NamespaceRow, string>(namespacesDb).get(name);
}

/** Namespace rows in name order, after `after` when given (lazily: a page stops reading early). */
export function* listNamespaceRows(views: ViewStore, after?: string): Generator<NamespaceRow> {
  // Start at `after` itself and skip it: a NUL-suffixed start is not reliable
  // for long keys in ordered-binary (see key-range.ts).
  const range = after === undefined ? {} : { start: after };
  for (const { key, value } of views.db<NamespaceRow, string>(namespacesDb).getRange(range)) {
    if (after !== undefined && key <= after) continue;
    yield value;
  }
}

/**
 * What the namespace still holds, read from the other views (each keyed by
 * `[namespace, …]`). Views that do not exist yet are simply empty.
 */
export function namespaceUsage(views: ViewStore, name: string): NamespaceUsage {
  const any = (db: string) => {
    for (const _ of views.db(db).getKeys({ ...prefixRange([name]), limit: 1 })) return true;
    return false;
  };
  const keys = (db: string, index: number) =>
    [...views.db(db).getKeys(prefixRange([name]))].map((k) => String((k as unknown[])[index]));
  const snapshotters: string[] = [];
  // Snapshots are keyed [ns, snapshotter, key]: skip from one snapshotter to the next.
  let start = prefixRange([name]).start;
  for (;;) {
    let found: string | undefined;
    for (const k of views.db("snapshots").getKeys({ start, end: prefixRange([name]).end, limit: 1 })) {
      found = String((k as unknown[])[1]);
    }
    if (found === undefined) break;
    snapshotters.push(found);
    start = prefixRange([name, found]).end;
  }
  return {
    images: any("images"),
    blobs: any("content"),
    containers: any("containers"),
    snapshotters,
    leases: keys("leases", 1),
    ingests: keys("ingests", 1),
  };
}
