import { invalidArgument, notFound } from "../errors/errdefs.js";
import type { ImageRecord } from "../events/image-events.js";
import { eventSubject, ObjectKind } from "../events/subjects.js";
import { getImage, listImagesPage } from "../projections/images.js";
import { encodedImageUsage } from "../projections/image-usage.js";
import { quote } from "../validation/identifiers.js";
import type { Append, CommandContext, CommandDefinition, QueryDefinition } from "./command.js";
import { decideImage, type ImageCommand, type ImageInput } from "../domain/images.js";
import { parseListRequest, toListPage, type ListPage, type ListRequest } from "./list-request.js";
import { objectExpectation, withImplicitNamespace } from "./namespace-guard.js";
import { nestedMap, optionalBoolean, optionalInteger, optionalString, stringList, stringMap, type Payload } from "./payload.js";

/**
 * Image commands and queries (`purser.v1.<ns>.images.<verb>`): containerd's
 * images service (`services/images/local.go`) in front of the decider.
 *
 * Payloads (msgpack maps; absent fields are zero values, as in proto3):
 *   create  {name, labels?, target: {mediaType, digest, size, annotations?}}
 *   update  {name, labels?, target?, fieldPaths?}
 *   delete  {name, sync?}
 *   get     {name}
 *   list    {filters?: string[], after?, maxBytes?} → {items: msgpack array, next?} (list-request.ts)
 */

function imageSubject(namespace: string, name: string): string {
  return eventSubject(namespace, ObjectKind.Image, name);
}

/** The request's image; the service refuses an empty name before the store sees it. */
function parseImage(p: Payload): ImageInput {
  const name = optionalString(p, "name") ?? "";
  if (name === "") throw invalidArgument("Image.Name required");
  const t = nestedMap(p, "target");
  return {
    name,
    labels: stringMap(p, "labels"),
    target: {
      mediaType: optionalString(t, "target.mediaType") ?? "",
      digest: optionalString(t, "target.digest") ?? "",
      size: optionalInteger(t, "target.size") ?? 0,
      annotations: stringMap(t, "target.annotations"),
    },
  };
}

function decideOnViews(ctx: CommandContext, command: ImageCommand, name: string): { appends: Append[]; record: ImageRecord | null } {
  const subject = imageSubject(ctx.namespace, name);
  const events = decideImage(command, { record: getImage(ctx.views, ctx.namespace, name) }, ctx.now);
  const appends = events.map((event) => ({ event, expect: objectExpectation(ctx, subject) }));
  const last = events[events.length - 1];
  return { appends, record: last && last.type !== "ImageDeleted" ? last.data.image : null };
}

export const createImage: CommandDefinition<ImageCommand & { type: "CreateImage" }, ImageRecord> = {
  resource: "images",
  verb: "create",
  parse: (p) => ({ type: "CreateImage", image: parseImage(p) }),
  subject: (namespace, c) => imageSubject(namespace, c.image.name),
  decide(ctx, c) {
    const { appends, record } = decideOnViews(ctx, c, c.image.name);
    // Any write creates a missing namespace (containerd A.4; purser records it: divergence 1).
    return { appends: withImplicitNamespace(ctx, appends), result: record! };
  },
  replay: (ctx, c) => current(ctx, c.image.name),
};

export const updateImage: CommandDefinition<ImageCommand & { type: "UpdateImage" }, ImageRecord> = {
  resource: "images",
  verb: "update",
  parse: (p) => ({ type: "UpdateImage", image: parseImage(p), fieldPaths: stringList(p, "fieldPaths") }),
  subject: (namespace, c) => imageSubject(namespace, c.image.name),
  decide(ctx, c) {
    const { appends, record } = decideOnViews(ctx, c, c.image.name);
    return { appends, result: record! };
  },
  replay: (ctx, c) => current(ctx, c.image.name),
};

/**
 * `sync` is accepted as containerd's `DeleteImageRequest.sync`; it will wait
 * for the garbage collection the delete triggers once purser has a collector
 * (today there is nothing to wait for).
 */
export const deleteImage: CommandDefinition<ImageCommand & { type: "DeleteImage" } & { sync: boolean }, null> = {
  resource: "images",
  verb: "delete",
  parse: (p) => ({ type: "DeleteImage", name: optionalString(p, "name") ?? "", sync: optionalBoolean(p, "sync") ?? false }),
  subject: (namespace, c) => imageSubject(namespace, c.name),
  decide(ctx, c) {
    const { appends } = decideOnViews(ctx, { type: "DeleteImage", name: c.name }, c.name);
    return { appends, result: null };
  },
  replay: () => null,
};

/** The reply of a command that was already applied: the image as it is now. */
function current(ctx: CommandContext, name: string): ImageRecord {
  const record = getImage(ctx.views, ctx.namespace, name);
  if (!record) throw notFound(`image ${quote(name)}`);
  return record;
}

export const getImageQuery: QueryDefinition<string, ImageRecord> = {
  resource: "images",
  verb: "get",
  parse: (p) => optionalString(p, "name") ?? "",
  run(views, namespace, name) {
    const record = getImage(views, namespace, name);
    if (!record) throw notFound(`image ${quote(name)}`);
    return record;
  },
};

/**
 * One page of the namespace's images (see list-request.ts); the client reads
 * every page. `usage: true` adds each image's SIZE and PLATFORMS, from the
 * image-usage view (what `images ls` prints), at no extra request.
 */
export const listImagesQuery: QueryDefinition<ListRequest & { usage: boolean }, ListPage> = {
  resource: "images",
  verb: "list",
  parse: (p) => ({ ...parseListRequest(p), usage: optionalBoolean(p, "usage") ?? false }),
  run: (views, namespace, { filter, usage, ...page }) =>
    toListPage(
      listImagesPage(views, namespace, filter, {
        ...page,
        ...(usage ? { companion: (name: string) => encodedImageUsage(views, namespace, name) } : {}),
      }),
    ),
};
