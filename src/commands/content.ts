import { alreadyExists, invalidArgument, notFound } from "../errors/errdefs.js";
import type { ContentEvent, ContentRecord } from "../events/content-events.js";
import type { IngestEvent, IngestRecord } from "../events/ingest-events.js";
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
      lease?: string;
    }
  | { type: "AbortIngest"; ref: string }
  | { type: "UpdateContent"; digest: string; labels: Record<string, string>; fieldPaths: string[] }
  | { type: "DeleteContent"; digest: string; lease?: string };

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

export function decideContent(command: ContentCommand, state: ContentState, now: string): Array<ContentEvent | IngestEvent> {
  switch (command.type) {
    case "StartIngest": {
      if (command.ref === "") throw invalidArgument("ref must not be empty");
      // containerd: the blob is already in this namespace → AlreadyExists (after
      // adding it to the context lease; see docs/content.md for leases).
      if (command.expected !== "" && state.content) throw alreadyExists(`content ${command.expected}`);
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
      return [{ type: "IngestStarted", data: { ingest, resumed } }];
    }
    case "CommitContent": {
      if (command.ingestId !== undefined && state.ingest?.id !== command.ingestId) {
        throw notFound(`reference ${command.ref}`);
      }
      for (const [k, v] of Object.entries(command.labels)) validateLabel(contentLabelsContext, k, v);
      if (state.content) {
        // containerd removes the ingest and then answers AlreadyExists; the
        // service turns this event into that error once it is appended.
        if (!state.ingest) throw alreadyExists(`content ${command.digest}`);
        return [{ type: "IngestAborted", data: { ref: command.ref, reason: "already-exists" } }];
      }
      const content: ContentRecord = {
        digest: command.digest,
        size: command.size,
        labels: withoutEmptyLabels(command.labels),
        createdAt: now,
        updatedAt: now,
      };
      const data: { content: ContentRecord; ref: string; ingestId?: string; lease?: string } = { content, ref: command.ref };
      if (state.ingest) data.ingestId = state.ingest.id;
      if (command.lease) data.lease = command.lease;
      return [{ type: "ContentCommitted", data }];
    }
    case "AbortIngest": {
      if (command.ref === "") throw invalidArgument("ref must not be empty");
      if (!state.ingest) throw notFound(`reference ${command.ref}`);
      return [{ type: "IngestAborted", data: { ref: command.ref } }];
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
      return [
        {
          type: "ContentUpdated",
          data: {
            content: { ...state.content, labels: withoutEmptyLabels(labels), updatedAt: now },
            fieldPaths: command.fieldPaths.length > 0 ? [...command.fieldPaths] : ["labels"],
          },
        },
      ];
    }
    case "DeleteContent": {
      if (!state.content) throw notFound(`content digest ${command.digest}`);
      return [{ type: "ContentDeleted", data: command.lease ? { digest: command.digest, lease: command.lease } : { digest: command.digest } }];
    }
  }
}

/** Folds a content event into the namespace's record of that digest. */
export function evolveContent(record: ContentRecord | undefined, event: ContentEvent): ContentRecord | undefined {
  switch (event.type) {
    case "ContentCommitted":
      return event.data.content;
    case "ContentUpdated":
      return event.data.content;
    case "ContentDeleted":
      return undefined;
  }
}
