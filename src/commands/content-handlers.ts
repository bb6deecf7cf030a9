import { invalidArgument, notFound } from "../errors/errdefs.js";
import type { ContentRecord } from "../events/content-events.js";
import type { IngestRecord } from "../events/ingest-events.js";
import { eventSubject, ObjectKind } from "../events/subjects.js";
import { getContent, getIngest, listContentPage } from "../projections/content.js";
import { parseFilters } from "../filters/index.js";
import { digestError } from "../validation/digest.js";
import { quote } from "../validation/identifiers.js";
import type { Append, CommandContext, CommandDefinition, CommandHandler, Decision, QueryDefinition } from "./command.js";
import { decideContent, type ContentCommand } from "../domain/content.js";
import { recordInLease, releaseFromLease } from "./context-lease.js";
import { defaultPageBytes, toListPage, type ListPage, type ListRequest } from "./list-request.js";
import { objectExpectation, withImplicitNamespace } from "./namespace-guard.js";
import { optionalInteger, optionalString, requiredString, stringList, stringMap, type Payload } from "./payload.js";

/**
 * Content metadata commands and queries (`purser.v1.<ns>.content.<verb>`), and
 * the ingest commands the content service runs once it has done the disk work
 * (src/content/content-service.ts). Payload shapes: docs/protocol.md.
 *
 *   info    {digest}                                → ContentRecord
 *   list    {filters?, after?, maxBytes?}           → a page {items, next?} (list-request.ts)
 *   update  {digest, labels, fieldPaths?}           → ContentRecord
 *   delete  {digest}                                → null
 */

/**
 * containerd's services validate the digest of each request before the store
 * sees it: Info and Update with `%q failed validation`, Delete with the bare
 * go-digest text, Read with `<digest>: <text>`.
 */
export function checkDigest(digest: string, style: "quoted" | "bare" | "read"): void {
  const err = digestError(digest);
  if (err === undefined) return;
  if (style === "quoted") throw invalidArgument(`${quote(digest)} failed validation`);
  if (style === "read") throw invalidArgument(`${digest}: ${err}`);
  throw invalidArgument(err);
}

function contentSubject(namespace: string, digest: string): string {
  return eventSubject(namespace, ObjectKind.Content, digest);
}

function ingestSubject(namespace: string, ref: string): string {
  return eventSubject(namespace, ObjectKind.Ingest, ref);
}

/**
 * Runs the decider on the views and turns its decision into appends: the
 * context lease's recordings first, then the content and ingest events (each
 * under its object's OCC expectation; creates through the implicit-namespace
 * guard), then what leaves the lease.
 */
function decideOnViews(ctx: CommandContext, command: ContentCommand): Decision<ContentRecord | IngestRecord | null> {
  const digest = command.type === "StartIngest" ? command.expected : command.type === "AbortIngest" ? "" : command.digest;
  const ref = command.type === "StartIngest" || command.type === "CommitContent" || command.type === "AbortIngest" ? command.ref : "";
  const state = {
    content: digest === "" ? undefined : getContent(ctx.views, ctx.namespace, digest),
    ingest: ref === "" ? undefined : getIngest(ctx.views, ctx.namespace, ref),
  };
  const decision = decideContent(command, state, ctx.now);
  const own: Append[] = decision.events.map((event) => ({
    event,
    expect: objectExpectation(
      ctx,
      event.type === "IngestStarted" || event.type === "IngestAborted" ? ingestSubject(ctx.namespace, ref) : contentSubject(ctx.namespace, digest),
    ),
  }));
  const held = decision.hold.flatMap((r) => recordInLease(ctx, r));
  const released = decision.release.flatMap((r) => releaseFromLease(ctx, r));
  const last = decision.events[decision.events.length - 1];
  const creates = last?.type === "IngestStarted" || last?.type === "ContentCommitted";
  const appends = [...held, ...own, ...released];
  let result: ContentRecord | IngestRecord | null = null;
  if (last?.type === "IngestStarted") result = last.data.ingest;
  else if (last?.type === "ContentCommitted" || last?.type === "ContentUpdated") result = last.data.content;
  return {
    appends: creates || held.length > 0 ? withImplicitNamespace(ctx, appends) : appends,
    result,
    ...(decision.error ? { error: decision.error } : {}),
  };
}

function ingestRecordOf(row: IngestRecord & { seq?: number }): IngestRecord {
  const { seq: _seq, ...record } = row;
  return record;
}

// --- Commands served as endpoints -------------------------------------------

export const updateContent: CommandDefinition<Extract<ContentCommand, { type: "UpdateContent" }>, ContentRecord> = {
  resource: "content",
  verb: "update",
  parse(p) {
    const digest = requiredString(p, "digest");
    checkDigest(digest, "quoted");
    return { type: "UpdateContent", digest, labels: stringMap(p, "labels"), fieldPaths: stringList(p, "fieldPaths") };
  },
  subject: (namespace, c) => contentSubject(namespace, c.digest),
  decide: (ctx, c) => decideOnViews(ctx, c) as Decision<ContentRecord>,
  replay(ctx, c) {
    const record = getContent(ctx.views, ctx.namespace, c.digest);
    if (!record) throw notFound(`content digest ${c.digest}`);
    return record;
  },
};

export const deleteContent: CommandDefinition<Extract<ContentCommand, { type: "DeleteContent" }>, null> = {
  resource: "content",
  verb: "delete",
  parse(p) {
    const digest = requiredString(p, "digest");
    checkDigest(digest, "bare");
    return { type: "DeleteContent", digest };
  },
  subject: (namespace, c) => contentSubject(namespace, c.digest),
  decide: (ctx, c) => ({ appends: decideOnViews(ctx, c).appends, result: null }),
  replay: () => null,
};

// --- Commands the content service runs after its disk work -------------------

/**
 * The content service builds these commands itself, after its own checks and
 * disk work, and runs them typed (`CommandRunner.execute`): no payload to parse.
 */
type Internal<T extends ContentCommand["type"]> = Extract<ContentCommand, { type: T }>;

export const startIngest: CommandHandler<Internal<"StartIngest">, IngestRecord> = {
  resource: "content",
  verb: "open",
  subject: (namespace, c) => ingestSubject(namespace, c.ref),
  decide: (ctx, c) => decideOnViews(ctx, ctx.lease ? { ...c, lease: ctx.lease } : c) as Decision<IngestRecord>,
  replay(ctx, c) {
    const row = getIngest(ctx.views, ctx.namespace, c.ref);
    if (!row) throw notFound(`reference ${c.ref}`);
    return ingestRecordOf(row);
  },
};

/**
 * A commit, with the host effect its `ContentCommitted` depends on: `place`
 * puts the verified bytes under blobs/ (idempotent: a blob already there is
 * left alone). It runs after the decision accepted the commit and before the
 * event is appended, so the log never names a blob the host lacks.
 */
export type CommitCommand = Internal<"CommitContent"> & { place?: () => Promise<void> };

export const commitContent: CommandHandler<CommitCommand, ContentRecord> = {
  resource: "content",
  verb: "commit",
  subject: (namespace, c) => contentSubject(namespace, c.digest),
  decide: (ctx, c) => decideOnViews(ctx, c) as Decision<ContentRecord>,
  async beforeAppend(_ctx, c, decision) {
    if (c.place && decision.appends.some((a) => a.event.type === "ContentCommitted")) await c.place();
  },
  replay(ctx, c) {
    const record = getContent(ctx.views, ctx.namespace, c.digest);
    if (!record) throw notFound(`content digest ${c.digest}`);
    return record;
  },
};

export const abortIngest: CommandHandler<Internal<"AbortIngest">, IngestRecord | null> = {
  resource: "content",
  verb: "abort",
  subject: (namespace, c) => ingestSubject(namespace, c.ref),
  decide(ctx, c) {
    const row = getIngest(ctx.views, ctx.namespace, c.ref);
    return { appends: decideOnViews(ctx, c).appends, result: row ? ingestRecordOf(row) : null };
  },
  replay: () => null,
};

// --- Queries -----------------------------------------------------------------

export const getContentQuery: QueryDefinition<string, ContentRecord> = {
  resource: "content",
  verb: "info",
  parse(p) {
    const digest = requiredString(p, "digest");
    checkDigest(digest, "quoted");
    return digest;
  },
  run(views, namespace, digest) {
    const record = getContent(views, namespace, digest);
    if (!record) throw notFound(`content digest ${digest}`);
    return record;
  },
};

const minPageBytes = 1024;
const maxPageBytes = 64 * 1024 * 1024;

/**
 * One page of the namespace's content (`digest`, `labels.<k>` filters, ORed
 * strings). containerd's Walk returns a filter's parse error as it is (images
 * and containers wrap it in InvalidArgument once more).
 */
export const listContentQuery: QueryDefinition<ListRequest, ListPage> = {
  resource: "content",
  verb: "list",
  parse(p: Payload) {
    const filter = parseFilters(stringList(p, "filters"));
    const after = optionalString(p, "after");
    const maxBytes = Math.max(minPageBytes, Math.min(maxPageBytes, optionalInteger(p, "maxBytes") ?? defaultPageBytes));
    return { filter, maxBytes, ...(after === undefined ? {} : { after }) };
  },
  run: (views, namespace, { filter, ...page }) => toListPage(listContentPage(views, namespace, filter, page)),
};
