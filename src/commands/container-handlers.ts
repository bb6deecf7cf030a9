import { invalidArgument, notFound } from "../errors/errdefs.js";
import type { ContainerRecord } from "../events/container-events.js";
import { eventSubject, ObjectKind } from "../events/subjects.js";
import { containerBucketExists, getContainer, listContainersPage } from "../projections/containers.js";
import { quote } from "../validation/identifiers.js";
import type { CommandContext, CommandDefinition, QueryDefinition } from "./command.js";
import { decideContainer, type ContainerCommand, type ContainerInput } from "../domain/containers.js";
import { parseListRequest, toListPage, type ListPage, type ListRequest } from "./list-request.js";
import { objectExpectation, withImplicitNamespace } from "./namespace-guard.js";
import { nestedMap, optionalString, stringList, stringMap, type Payload } from "./payload.js";

/**
 * Container commands and queries (`purser.v1.<ns>.containers.<verb>`):
 * containerd's containers service (`services/containers/local.go`) in front
 * of the decider.
 *
 * Payloads (msgpack maps; absent fields are zero values, as in proto3):
 *   create  {id, labels?, image?, runtime: {name, options?}, spec, snapshotter?,
 *            snapshotKey?, extensions?: {key: any}}
 *   update  the same fields, plus fieldPaths?
 *   delete  {id}
 *   get     {id}
 *   list    {filters?: string[], after?, maxBytes?} → {items: msgpack array, next?} (list-request.ts)
 *
 * `spec`, `runtime.options` and each extension are opaque: any msgpack value,
 * stored and returned unchanged.
 */

function containerSubject(namespace: string, id: string): string {
  return eventSubject(namespace, ObjectKind.Container, id);
}

function parseContainer(p: Payload): ContainerInput {
  const runtime = nestedMap(p, "runtime");
  const options = runtime["runtime.options"];
  return {
    id: optionalString(p, "id") ?? "",
    labels: stringMap(p, "labels"),
    image: optionalString(p, "image") ?? "",
    runtime: {
      name: optionalString(runtime, "runtime.name") ?? "",
      ...(options === undefined || options === null ? {} : { options }),
    },
    spec: p.spec ?? undefined,
    snapshotter: optionalString(p, "snapshotter") ?? "",
    snapshotKey: optionalString(p, "snapshotKey") ?? "",
    extensions: anyMap(p, "extensions"),
  };
}

/** A map of string keys to opaque values (extensions). */
function anyMap(p: Payload, field: string): Record<string, unknown> {
  const v = p[field];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) {
    throw invalidArgument(`request field ${JSON.stringify(field)} must be a map`);
  }
  return { ...(v as Record<string, unknown>) };
}

function decideOnViews(ctx: CommandContext, command: ContainerCommand, id: string) {
  const subject = containerSubject(ctx.namespace, id);
  const events = decideContainer(
    command,
    {
      namespace: ctx.namespace,
      record: getContainer(ctx.views, ctx.namespace, id),
      bucketExists: containerBucketExists(ctx.views, ctx.namespace),
    },
    ctx.now,
  );
  const appends = events.map((event) => ({ event, expect: objectExpectation(ctx, subject) }));
  const last = events[events.length - 1];
  return { appends, record: last && last.type !== "ContainerDeleted" ? last.data.container : null };
}

export const createContainer: CommandDefinition<ContainerCommand & { type: "CreateContainer" }, ContainerRecord> = {
  resource: "containers",
  verb: "create",
  parse: (p) => ({ type: "CreateContainer", container: parseContainer(p) }),
  subject: (namespace, c) => containerSubject(namespace, c.container.id),
  decide(ctx, c) {
    const { appends, record } = decideOnViews(ctx, c, c.container.id);
    // Any write creates a missing namespace (containerd A.4; purser records it: divergence 1).
    return { appends: withImplicitNamespace(ctx, appends), result: record! };
  },
  replay: (ctx, c) => current(ctx, c.container.id),
};

export const updateContainer: CommandDefinition<ContainerCommand & { type: "UpdateContainer" }, ContainerRecord> = {
  resource: "containers",
  verb: "update",
  parse(p) {
    const container = parseContainer(p);
    // The service's check, before the store's (`must specify a container id`).
    if (container.id === "") throw invalidArgument("Container.ID required");
    return { type: "UpdateContainer", container, fieldPaths: stringList(p, "fieldPaths") };
  },
  subject: (namespace, c) => containerSubject(namespace, c.container.id),
  decide(ctx, c) {
    const { appends, record } = decideOnViews(ctx, c, c.container.id);
    return { appends, result: record! };
  },
  replay: (ctx, c) => current(ctx, c.container.id),
};

export const deleteContainer: CommandDefinition<ContainerCommand & { type: "DeleteContainer" }, null> = {
  resource: "containers",
  verb: "delete",
  parse: (p) => ({ type: "DeleteContainer", id: optionalString(p, "id") ?? "" }),
  subject: (namespace, c) => containerSubject(namespace, c.id),
  decide(ctx, c) {
    const { appends } = decideOnViews(ctx, c, c.id);
    return { appends, result: null };
  },
  replay: () => null,
};

function notFoundInNamespace(id: string, namespace: string) {
  return notFound(`container ${quote(id)} in namespace ${quote(namespace)}`);
}

/** The reply of a command that was already applied: the container as it is now. */
function current(ctx: CommandContext, id: string): ContainerRecord {
  const record = getContainer(ctx.views, ctx.namespace, id);
  if (!record) throw notFoundInNamespace(id, ctx.namespace);
  return record;
}

export const getContainerQuery: QueryDefinition<string, ContainerRecord> = {
  resource: "containers",
  verb: "get",
  parse: (p) => optionalString(p, "id") ?? "",
  run(views, namespace, id) {
    const record = getContainer(views, namespace, id);
    if (!record) throw notFoundInNamespace(id, namespace);
    return record;
  },
};

/** One page of the namespace's containers (see list-request.ts); the client reads every page. */
export const listContainersQuery: QueryDefinition<ListRequest, ListPage> = {
  resource: "containers",
  verb: "list",
  parse: (p) => parseListRequest(p),
  run: (views, namespace, { filter, ...page }) => toListPage(listContainersPage(views, namespace, filter, page)),
};
