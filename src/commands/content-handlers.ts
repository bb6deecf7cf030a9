import { invalidArgument, notFound } from "../errors/errdefs.js";
import type { ContentRecord } from "../events/content-events.js";
import type { IngestRecord } from "../events/ingest-events.js";
import { eventSubject, ObjectKind } from "../events/subjects.js";
import { parseFilters, type Filter } from "../projections/filters/index.js";
import { contentAdaptor, getContent, getIngest, listContent } from "../projections/content.js";
import { digestError } from "../validation/digest.js";
import { quote } from "../validation/identifiers.js";
import type { CommandContext, CommandDefinition, Decision, QueryDefinition } from "./command.js";
import { decideContent, type ContentCommand } from "./content.js";
import { objectExpectation, withImplicitNamespace } from "./namespace-guard.js";
import { requiredString, stringList, stringMap, type Payload } from "./payload.js";

/**
 * Content metadata commands and queries (`purser.v1.<ns>.content.<verb>`), and
 * the ingest commands the content service runs once it has done the disk work
 * (src/content/content-service.ts). Payload shapes: docs/protocol.md.
 */

/**
 * containerd's services validate the digest of each request before the store
 * sees it; Info and Update with `%q failed validation`, Delete with the bare
 * go-digest text.
 */
export function checkDigest(digest: string, style: "quoted" | "bare" | "read"): void {
  const err = digestError(digest);
  if (err === undefined) return;
  if (style === "quoted") throw invalidArgument(`${quote(digest)} failed validation`);
  if (style === "read") throw invalidArgument(`${digest}: ${err}`);
  throw invalidArgument(err);
}

/** The content filters of a list (`digest`, `labels.<k>`), several strings ORed. */
export function parseContentFilters(p: Payload): Filter {
  return parseFilters(stringList(p, "filters"));
}

function contentSubject(namespace: string, digest: string): string {
  return eventSubject(namespace, ObjectKind.Content, digest);
}

function ingestSubject(namespace: string, ref: string): string {
  return eventSubject(namespace, ObjectKind.Ingest, ref);
}

/** Runs the decider on the views and attaches the per-object expectations. */
function decide(ctx: CommandContext, command: ContentCommand): Decision<ContentRecord | IngestRecord | null> {
  const digest =
    command.type === "StartIngest" ? command.expected : command.type === "AbortIngest" ? "" : command.digest;
  const ref = command.type === "StartIngest" || command.type === "CommitContent" || command.type === "AbortIngest" ? command.ref : "";
  const state = {
    content: digest === "" ? undefined : getContent(ctx.views, ctx.namespace, digest),
    ingest: ref === "" ? undefined : getIngest(ctx.views, ctx.namespace, ref),
  };
  const events = decideContent(command, state, ctx.now);
  const appends = events.map((event) => ({
    event,
    expect: objectExpectation(
      ctx,
      event.type === "IngestStarted" || event.type === "IngestAborted" ? ingestSubject(ctx.namespace, ref) : contentSubject(ctx.namespace, digest),
    ),
  }));
  const last = events[events.length - 1];
  let result: ContentRecord | IngestRecord | null = null;
  if (last?.type === "IngestStarted") result = last.data.ingest;
  else if (last?.type === "ContentCommitted" || last?.type === "ContentUpdated") result = last.data.content;
  // Creates run through the implicit-namespace guard (decided divergence 1).
  const creates = last?.type === "IngestStarted" || last?.type === "ContentCommitted";
  return { appends: creates ? withImplicitNamespace(ctx, appends) : appends, result };
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
  decide: (ctx, c) => decide(ctx, c) as Decision<ContentRecord>,
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
  decide(ctx, c) {
    const command = ctx.lease ? { ...c, lease: ctx.lease } : c;
    return { appends: decide(ctx, command).appends, result: null };
  },
  replay: () => null,
};

// --- Commands the content service runs after its disk work -------------------

/**
 * The service builds these commands itself (after its own checks), so their
 * `parse` takes the command as it is.
 */
type Internal<T extends ContentCommand["type"]> = Extract<ContentCommand, { type: T }>;

export const startIngest: CommandDefinition<Internal<"StartIngest">, IngestRecord> = {
  resource: "content",
  verb: "open",
  parse: (p) => p as unknown as Internal<"StartIngest">,
  subject: (namespace, c) => ingestSubject(namespace, c.ref),
  decide: (ctx, c) => decide(ctx, ctx.lease ? { ...c, lease: ctx.lease } : c) as Decision<IngestRecord>,
  replay(ctx, c) {
    const row = getIngest(ctx.views, ctx.namespace, c.ref);
    if (!row) throw notFound(`reference ${c.ref}`);
    return ingestRecordOf(row);
  },
};

/**
 * The result of a commit: the new record, or — when the namespace already held
 * the blob and the ingest was removed — the digest the service reports as
 * AlreadyExists once the removal is appended.
 */
export type CommitResult = { content: ContentRecord } | { alreadyExists: string };

export const commitContent: CommandDefinition<Internal<"CommitContent">, CommitResult> = {
  resource: "content",
  verb: "commit",
  parse: (p) => p as unknown as Internal<"CommitContent">,
  subject: (namespace, c) => contentSubject(namespace, c.digest),
  decide(ctx, c) {
    const decision = decide(ctx, ctx.lease ? { ...c, lease: ctx.lease } : c);
    const last = decision.appends[decision.appends.length - 1]?.event;
    const result: CommitResult =
      last?.type === "IngestAborted" ? { alreadyExists: c.digest } : { content: decision.result as ContentRecord };
    return { appends: decision.appends, result };
  },
  replay(ctx, c) {
    const record = getContent(ctx.views, ctx.namespace, c.digest);
    if (!record) throw notFound(`content digest ${c.digest}`);
    return { content: record };
  },
};

export const abortIngest: CommandDefinition<Internal<"AbortIngest">, IngestRecord | null> = {
  resource: "content",
  verb: "abort",
  parse: (p) => p as unknown as Internal<"AbortIngest">,
  subject: (namespace, c) => ingestSubject(namespace, c.ref),
  decide: (ctx, c) => ({ appends: decide(ctx, c).appends, result: getIngestRecord(ctx, c.ref) }),
  replay: () => null,
};

function getIngestRecord(ctx: CommandContext, ref: string): IngestRecord | null {
  const row = getIngest(ctx.views, ctx.namespace, ref);
  return row ? ingestRecordOf(row) : null;
}

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

export const listContentQuery: QueryDefinition<Filter, ContentRecord[]> = {
  resource: "content",
  verb: "list",
  // containerd's Walk returns the filter parse error as it is (images and
  // containers wrap it in InvalidArgument once more).
  parse: parseContentFilters,
  run: (views, namespace, filter) => listContent(views, namespace).filter((r) => filter.match(contentAdaptor(r))),
};
