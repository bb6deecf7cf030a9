import { alreadyExists, invalidArgument, notFound, type PurserError } from "../errors/errdefs.js";
import type { ContentEvent, ContentRecord } from "../events/content-events.js";
import type { IngestEvent, IngestRecord } from "../events/ingest-events.js";
import type { LeaseResource } from "../events/lease-events.js";
import { quote } from "../validation/identifiers.js";
import { validateLabel, withoutEmptyLabels } from "../validation/labels.js";

/**
 * The content decider: pure, no I/O, no clock (`now` comes with the call).
 * Rules: containerd 1.6 `metadata/content.go` (conformance A.7, A.2, A.3).
 *
 * What needs the disk — the bytes written so far, their digest, whether a blob
 * exists on the host — is established by the content service
 * (src/content/content-service.ts) and arrives here as part of the command;
 * what needs the namespace's metadata is decided here.
 *
 * Implicit leasing (A.9) is part of the decision: what the context lease must
 * come to hold (`hold`, recorded before the events) and let go of (`release`,
 * after them), as containerd's `addContentLease`/`addIngestLease` and their
 * `remove…` twins do inside the same bolt transaction. Without a lease they
 * mean nothing.
 */
export type ContentCommand =
  | {
      type: "StartIngest";
      ref: string;
      /** The id a new ingest gets (an existing one keeps its own unless it restarts). */
      id: string;
      expected: string;
      total: number;
      /** The expected blob exists on the host and may be shared (shared policy). */
      shared: boolean;
      lease?: string;
    }
  | {
      type: "CommitContent";
      ref: string;
      digest: string;
      size: number;
      labels: Record<string, string>;
      /** The ingest this commit consumes (its id), if one was open for the ref. */
      ingestId?: string;
    }
  | { type: "AbortIngest"; ref: string }
  | { type: "UpdateContent"; digest: string; labels: Record<string, string>; fieldPaths: string[] }
  | { type: "DeleteContent"; digest: string };

export interface ContentState {
  /**
   * The namespace's record of the command's digest (StartIngest: the expected
   * digest), or undefined when the namespace does not hold it.
   */
  content: ContentRecord | undefined;
  /** The namespace's active ingest of the command's ref, if any. */
  ingest: IngestRecord | undefined;
}

/** How long an ingest opened without a lease lives (containerd: `expireat = now+24h`). */
export const ingestExpiryMs = 24 * 60 * 60 * 1000;

/** containerd validates content labels with this context (`info.Labels: …`). */
export const contentLabelsContext = "info.Labels";

/** What a content command decides. */
export interface ContentDecision {
  events: Array<ContentEvent | IngestEvent>;
  /** Resources the context lease must hold, recorded before the events. */
  hold: LeaseResource[];
  /** Resources that leave the context lease, after the events. */
  release: LeaseResource[];
  /** Refuse once the events and lease changes are appended (containerd refusals that still change state). */
  error?: PurserError;
}

const contentResource = (digest: string): LeaseResource => ({ type: "content", id: digest });
const ingestResource = (ref: string): LeaseResource => ({ type: "ingests", id: ref });

function decided(events: ContentDecision["events"], hold: LeaseResource[] = [], release: LeaseResource[] = [], error?: PurserError): ContentDecision {
  return error ? { events, hold, release, error } : { events, hold, release };
}

export function decideContent(command: ContentCommand, state: ContentState, now: string): ContentDecision {
  switch (command.type) {
    case "StartIngest": {
      if (command.ref === "") throw invalidArgument("ref must not be empty");
      // containerd: a blob already in this namespace goes into the context
      // lease (so no other removal takes it meanwhile), and the answer is
      // AlreadyExists; the lease change is kept.
      if (command.expected !== "" && state.content) {
        return decided([], [contentResource(command.expected)], [], alreadyExists(`content ${command.expected}`));
      }
      const existing = state.ingest;
      // containerd's local store starts over when the declared total changes
      // ("provided total differs from status"); otherwise the ingest resumes.
      const restart = existing !== undefined && command.total > 0 && existing.total > 0 && command.total !== existing.total;
      const resumed = existing !== undefined && !restart;
      const ingest: IngestRecord = {
        ref: command.ref,
        id: resumed ? existing!.id : command.id,
        expected: command.expected !== "" ? command.expected : resumed ? existing!.expected : "",
        total: command.total > 0 ? command.total : resumed ? existing!.total : 0,
        shared: command.shared,
        startedAt: resumed ? existing!.startedAt : now,
      };
      // Every open renews the expiry of an unleased ingest, as containerd's does.
      if (command.lease) ingest.lease = command.lease;
      else ingest.expireAt = new Date(Date.parse(now) + ingestExpiryMs).toISOString();
      return decided([{ type: "IngestStarted", data: { ingest, resumed } }], [ingestResource(command.ref)]);
    }
    case "CommitContent": {
      if (command.ingestId !== undefined && state.ingest?.id !== command.ingestId) {
        throw notFound(`reference ${command.ref}`);
      }
      for (const [k, v] of Object.entries(command.labels)) validateLabel(contentLabelsContext, k, v);
      if (state.content) {
        // containerd 1.6 still removes the ingest (and moves the lease's hold
        // from the ingest to the blob), then answers AlreadyExists.
        const exists = alreadyExists(`content ${command.digest}`);
        if (!state.ingest) return decided([], [contentResource(command.digest)], [], exists);
        return decided(
          [{ type: "IngestAborted", data: { ref: command.ref, reason: "already-exists" } }],
          [contentResource(command.digest)],
          [ingestResource(command.ref)],
          exists,
        );
      }
      const content: ContentRecord = {
        digest: command.digest,
        size: command.size,
        labels: withoutEmptyLabels(command.labels),
        createdAt: now,
        updatedAt: now,
      };
      const data: { content: ContentRecord; ref: string; ingestId?: string } = { content, ref: command.ref };
      if (state.ingest) data.ingestId = state.ingest.id;
      return decided([{ type: "ContentCommitted", data }], [contentResource(command.digest)], state.ingest ? [ingestResource(command.ref)] : []);
    }
    case "AbortIngest": {
      if (command.ref === "") throw invalidArgument("ref must not be empty");
      if (!state.ingest) throw notFound(`reference ${command.ref}`);
      return decided([{ type: "IngestAborted", data: { ref: command.ref } }], [], [ingestResource(command.ref)]);
    }
    case "UpdateContent": {
      if (!state.content) throw notFound(`content digest ${command.digest}`);
      let labels: Record<string, string>;
      if (command.fieldPaths.length > 0) {
        labels = { ...state.content.labels };
        for (const path of command.fieldPaths) {
          if (path.startsWith("labels.")) {
            const key = path.slice("labels.".length);
            labels[key] = command.labels[key] ?? "";
            continue;
          }
          if (path === "labels") {
            labels = { ...command.labels };
            continue;
          }
          throw invalidArgument(`cannot update ${quote(path)} field on content info ${quote(command.digest)}`);
        }
      } else {
        labels = { ...command.labels };
      }
      for (const [k, v] of Object.entries(labels)) validateLabel(contentLabelsContext, k, v);
      return decided([
        {
          type: "ContentUpdated",
          data: {
            content: { ...state.content, labels: withoutEmptyLabels(labels), updatedAt: now },
            fieldPaths: command.fieldPaths.length > 0 ? [...command.fieldPaths] : ["labels"],
          },
        },
      ]);
    }
    case "DeleteContent": {
      if (!state.content) throw notFound(`content digest ${command.digest}`);
      return decided([{ type: "ContentDeleted", data: { digest: command.digest } }], [], [contentResource(command.digest)]);
    }
  }
}

/**
 * Folds a content event into the namespace's record of that digest. Events
 * carry the full record, so the next state never depends on the current one.
 */
export function evolveContent(_record: ContentRecord | undefined, event: ContentEvent): ContentRecord | undefined {
  switch (event.type) {
    case "ContentCommitted":
      return event.data.content;
    case "ContentUpdated":
      return event.data.content;
    case "ContentDeleted":
      return undefined;
  }
}
