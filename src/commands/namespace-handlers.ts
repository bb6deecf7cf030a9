import { invalidArgument } from "../errors/errdefs.js";
import { namespaceSubject } from "../events/subjects.js";
import { getNamespace, listNamespaceRows, namespaceUsage, type NamespaceRow } from "../projections/namespaces.js";
import type { CommandDefinition, QueryDefinition } from "./command.js";
import { decideNamespace, type NamespaceCommand } from "../domain/namespaces.js";
import { notFound } from "../errors/errdefs.js";
import { quote } from "../validation/identifiers.js";
import { emptyUsage } from "../domain/namespace-usage.js";
import { optionalString, stringList, stringMap, type Payload } from "./payload.js";
import type { NamespaceRecord } from "../events/namespace-events.js";

/**
 * Namespace commands and queries. The namespace a command acts on is the one
 * in its subject (`purser.v1.<ns>.namespaces.<verb>`), so NATS permissions on
 * subjects confine a tenant to its own namespaces.
 */
function toRecord(row: NamespaceRow): NamespaceRecord {
  return { name: row.name, labels: row.labels, createdAt: row.createdAt, updatedAt: row.updatedAt };
}

function namespaceCommand<C extends NamespaceCommand>(
  verb: string,
  build: (namespace: string, payload: Payload) => C,
): CommandDefinition<C, NamespaceRecord | null> {
  return {
    resource: "namespaces",
    verb,
    parse: (payload, namespace) => build(namespace, payload),
    subject: (namespace) => namespaceSubject(namespace),
    decide(ctx, command) {
      const row = getNamespace(ctx.views, command.name);
      const usage = command.type === "DeleteNamespace" ? namespaceUsage(ctx.views, command.name) : undefined;
      const events = decideNamespace(
        command,
        { record: row && toRecord(row), usage: usage ?? emptyUsage },
        ctx.now,
      );
      const head = ctx.views.heads.get(namespaceSubject(command.name));
      const appends = events.map((event) => ({
        event,
        // Delete is a namespace-wide invariant (it must still be empty when it
        // lands): expect the stream's last sequence. The rest are per-object.
        expect:
          command.type === "DeleteNamespace"
            ? { lastSequence: ctx.appliedRv }
            : { lastSubjectSequence: head?.seq ?? 0 },
      }));
      const last = events[events.length - 1];
      const result = last && last.type !== "NamespaceDeleted" && "namespace" in last.data ? last.data.namespace : null;
      return { appends, result };
    },
    replay(ctx, command) {
      const row = getNamespace(ctx.views, command.name);
      return row ? toRecord(row) : null;
    },
  };
}

export const createNamespace = namespaceCommand("create", (name, p) => ({
  type: "CreateNamespace",
  name,
  labels: stringMap(p, "labels"),
}));

export const updateNamespace = namespaceCommand("update", (name, p) => ({
  type: "UpdateNamespace",
  name,
  labels: stringMap(p, "labels"),
  fieldPaths: stringList(p, "fieldPaths"),
}));

export const deleteNamespace = namespaceCommand("delete", (name) => ({ type: "DeleteNamespace", name }));

export const getNamespaceQuery: QueryDefinition<string, NamespaceRecord> = {
  resource: "namespaces",
  verb: "get",
  parse: (_p, namespace) => namespace,
  run(views, _ns, name) {
    const row = getNamespace(views, name);
    // Divergence 3: containerd answers an empty namespace for a missing one.
    if (!row) throw notFound(`namespace ${quote(name)}`);
    return toRecord(row);
  },
};

/** A page of the namespace list: a reply is one NATS message, so long lists come in pages. */
export interface NamespacePage {
  items: NamespaceRecord[];
  /** Continue after this name; absent on the last page. */
  next?: string;
}

/** Bytes of records per page (JSON-sized estimate): well within the default 1 MiB max_payload. */
const namespacePageBytes = 512 * 1024;

export const listNamespacesQuery: QueryDefinition<{ after?: string }, NamespacePage> = {
  resource: "namespaces",
  verb: "list",
  global: true,
  parse(p) {
    if (Object.keys(p).some((k) => k !== "after")) throw invalidArgument("namespaces list takes only `after` (the next page's cursor)");
    const after = optionalString(p, "after");
    return after === undefined ? {} : { after };
  },
  run(views, _ns, { after }) {
    const items: NamespaceRecord[] = [];
    let bytes = 0;
    for (const row of listNamespaceRows(views, after)) {
      const size = JSON.stringify(row).length;
      if (items.length > 0 && bytes + size > namespacePageBytes) return { items, next: items[items.length - 1]!.name };
      items.push(toRecord(row));
      bytes += size;
    }
    return { items };
  },
};
