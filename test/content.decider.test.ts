import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decideContent, type ContentCommand, type ContentState } from "../src/domain/content.js";
import { PurserError } from "../src/errors/errdefs.js";
import type { DomainEvent } from "../src/events/catalog.js";
import type { ContentRecord } from "../src/events/content-events.js";
import type { IngestRecord } from "../src/events/ingest-events.js";
import type { LeaseResource } from "../src/events/lease-events.js";

const now = "2026-01-02T03:04:05.000Z";
const tomorrow = "2026-01-03T03:04:05.000Z";
const earlier = "2026-01-01T00:00:00.000Z";
const digest = "sha256:" + "a".repeat(64);
const other = "sha256:" + "b".repeat(64);

const content = (labels: Record<string, string> = {}): ContentRecord => ({ digest, size: 3, labels, createdAt: earlier, updatedAt: earlier });
const ingest = (over: Partial<IngestRecord> = {}): IngestRecord => ({
  ref: "r1",
  id: "id-old",
  expected: "",
  total: 10,
  shared: false,
  startedAt: earlier,
  expireAt: "2026-01-02T00:00:00.000Z",
  ...over,
});

interface LeaseChanges {
  hold?: LeaseResource[];
  release?: LeaseResource[];
}

/** given(state).when(command).then(events | error), as the house style reads. */
function given(state: Partial<ContentState> = {}) {
  const full: ContentState = { content: undefined, ingest: undefined, ...state };
  return {
    when(command: ContentCommand) {
      return {
        /** The events, and what the context lease holds before them and lets go of after. */
        then(expected: DomainEvent[], lease: LeaseChanges = {}) {
          const d = decideContent(command, full, now);
          assert.deepEqual(d.events, expected);
          assert.deepEqual({ hold: d.hold, release: d.release }, { hold: lease.hold ?? [], release: lease.release ?? [] });
          assert.equal(d.error, undefined);
        },
        /** Appends, then refuses (containerd refusals that still change state). */
        thenRefusesAfter(expected: DomainEvent[], lease: LeaseChanges, kind: string, message: string) {
          const d = decideContent(command, full, now);
          assert.deepEqual(d.events, expected);
          assert.deepEqual({ hold: d.hold, release: d.release }, { hold: lease.hold ?? [], release: lease.release ?? [] });
          assert.ok(d.error instanceof PurserError);
          assert.equal(d.error.kind, kind);
          assert.equal(d.error.message, message);
        },
        thenFails(kind: string, message: string) {
          assert.throws(
            () => decideContent(command, full, now),
            (err: unknown) => {
              assert.ok(err instanceof PurserError, String(err));
              assert.equal(err.kind, kind);
              assert.equal(err.message, message);
              return true;
            },
          );
        },
      };
    },
  };
}

const start = (over: Partial<Extract<ContentCommand, { type: "StartIngest" }>> = {}): ContentCommand => ({
  type: "StartIngest",
  ref: "r1",
  id: "id-new",
  expected: "",
  total: 0,
  shared: false,
  ...over,
});

describe("content decider: ingests (containerd A.7)", () => {
  test("open: a new ingest expires 24 h after now when no lease holds it", () => {
    given()
      .when(start({ expected: digest, total: 10 }))
      .then([
        {
          type: "IngestStarted",
          data: {
            ingest: { ref: "r1", id: "id-new", expected: digest, total: 10, shared: false, startedAt: now, expireAt: tomorrow },
            resumed: false,
          },
        },
      ], { hold: [{ type: "ingests", id: "r1" }] });
  });

  test("open under a lease: no expiry, the lease holds it", () => {
    given()
      .when(start({ lease: "l1" }))
      .then([
        {
          type: "IngestStarted",
          data: { ingest: { ref: "r1", id: "id-new", expected: "", total: 0, shared: false, startedAt: now, lease: "l1" }, resumed: false },
        },
      ], { hold: [{ type: "ingests", id: "r1" }] });
  });

  test("open again: the same ingest resumes (id, start kept) and its expiry is renewed", () => {
    given({ ingest: ingest({ expected: digest }) })
      .when(start({ total: 0 }))
      .then([
        {
          type: "IngestStarted",
          data: {
            ingest: { ref: "r1", id: "id-old", expected: digest, total: 10, shared: false, startedAt: earlier, expireAt: tomorrow },
            resumed: true,
          },
        },
      ], { hold: [{ type: "ingests", id: "r1" }] });
  });

  test("open again with another total: containerd's local store starts over", () => {
    given({ ingest: ingest() })
      .when(start({ total: 11 }))
      .then([
        {
          type: "IngestStarted",
          data: { ingest: { ref: "r1", id: "id-new", expected: "", total: 11, shared: false, startedAt: now, expireAt: tomorrow }, resumed: false },
        },
      ], { hold: [{ type: "ingests", id: "r1" }] });
  });

  test("open of a blob the host has: shared, its size as the total", () => {
    given()
      .when(start({ expected: digest, total: 3, shared: true }))
      .then([
        {
          type: "IngestStarted",
          data: { ingest: { ref: "r1", id: "id-new", expected: digest, total: 3, shared: true, startedAt: now, expireAt: tomorrow }, resumed: false },
        },
      ], { hold: [{ type: "ingests", id: "r1" }] });
  });

  const refusals: Array<[string, Partial<ContentState>, ContentCommand, string, string]> = [
    ["empty ref", {}, start({ ref: "" }), "InvalidArgument", "ref must not be empty: invalid argument"],
    ["abort of an unknown ref", {}, { type: "AbortIngest", ref: "nope" }, "NotFound", "reference nope: not found"],
    [
      "commit of an ingest that is gone",
      {},
      { type: "CommitContent", ref: "r1", digest, size: 3, labels: {}, ingestId: "id-old" },
      "NotFound",
      "reference r1: not found",
    ],
    [
      "commit of an ingest restarted meanwhile",
      { ingest: ingest({ id: "id-other" }) },
      { type: "CommitContent", ref: "r1", digest, size: 3, labels: {}, ingestId: "id-old" },
      "NotFound",
      "reference r1: not found",
    ],
    [
      "commit with a label too large",
      { ingest: ingest() },
      { type: "CommitContent", ref: "r1", digest, size: 3, labels: { k: "v".repeat(4999) }, ingestId: "id-old" },
      "InvalidArgument",
      "info.Labels: label key and value length (5000 bytes) greater than maximum size (4096 bytes), key: k: invalid argument",
    ],
  ];
  for (const [name, state, command, kind, message] of refusals) {
    test(`refused: ${name}`, () => given(state).when(command).thenFails(kind, message));
  }

  test("open of a blob the namespace holds: the lease takes hold of it, then AlreadyExists", () => {
    given({ content: content() })
      .when(start({ expected: digest }))
      .thenRefusesAfter([], { hold: [{ type: "content", id: digest }] }, "AlreadyExists", `content ${digest}: already exists`);
  });

  test("abort: IngestAborted, and the ingest leaves the lease", () => {
    given({ ingest: ingest() })
      .when({ type: "AbortIngest", ref: "r1" })
      .then([{ type: "IngestAborted", data: { ref: "r1" } }], { release: [{ type: "ingests", id: "r1" }] });
  });
});

describe("content decider: commit, update, delete (containerd A.7)", () => {
  test("commit: the full record, created = updated = now, empty labels dropped, the ingest consumed", () => {
    given({ ingest: ingest() })
      .when({ type: "CommitContent", ref: "r1", digest, size: 3, labels: { a: "1", gone: "" }, ingestId: "id-old" })
      .then(
        [
          {
            type: "ContentCommitted",
            data: { content: { digest, size: 3, labels: { a: "1" }, createdAt: now, updatedAt: now }, ref: "r1", ingestId: "id-old" },
          },
        ],
        // The lease's hold moves from the ingest to the blob.
        { hold: [{ type: "content", id: digest }], release: [{ type: "ingests", id: "r1" }] },
      );
  });

  test("a put (no ingest): the blob goes into the lease", () => {
    given()
      .when({ type: "CommitContent", ref: "r1", digest, size: 3, labels: {} })
      .then([{ type: "ContentCommitted", data: { content: { digest, size: 3, labels: {}, createdAt: now, updatedAt: now }, ref: "r1" } }], {
        hold: [{ type: "content", id: digest }],
      });
  });

  test("a put of a blob the namespace holds: the lease takes hold of it, then AlreadyExists", () => {
    given({ content: content() })
      .when({ type: "CommitContent", ref: "r1", digest, size: 3, labels: {} })
      .thenRefusesAfter([], { hold: [{ type: "content", id: digest }] }, "AlreadyExists", `content ${digest}: already exists`);
  });

  test("commit of a blob the namespace holds: containerd 1.6 still removes the ingest, then answers AlreadyExists", () => {
    given({ content: content(), ingest: ingest() })
      .when({ type: "CommitContent", ref: "r1", digest, size: 3, labels: {}, ingestId: "id-old" })
      .thenRefusesAfter(
        [{ type: "IngestAborted", data: { ref: "r1", reason: "already-exists" } }],
        { hold: [{ type: "content", id: digest }], release: [{ type: "ingests", id: "r1" }] },
        "AlreadyExists",
        `content ${digest}: already exists`,
      );
  });

  const updates: Array<[string, Record<string, string>, Record<string, string>, string[], Record<string, string>, string[]]> = [
    ["no paths replaces the labels", { a: "1", b: "2" }, { c: "3" }, [], { c: "3" }, ["labels"]],
    ["labels.<k> sets one key", { a: "1", b: "2" }, { b: "x", c: "3" }, ["labels.b"], { a: "1", b: "x" }, ["labels.b"]],
    ["labels.<k> with no value removes it", { a: "1", b: "2" }, {}, ["labels.a"], { b: "2" }, ["labels.a"]],
    ["labels replaces them all", { a: "1" }, { z: "9" }, ["labels"], { z: "9" }, ["labels"]],
    ["a key with dots", {}, { "a.b/c": "v" }, ["labels.a.b/c"], { "a.b/c": "v" }, ["labels.a.b/c"]],
  ];
  for (const [name, before, labels, fieldPaths, after, recorded] of updates) {
    test(`update: ${name}; only updatedAt changes`, () => {
      given({ content: content(before) })
        .when({ type: "UpdateContent", digest, labels, fieldPaths })
        .then([{ type: "ContentUpdated", data: { content: { ...content(after), updatedAt: now }, fieldPaths: recorded } }]);
    });
  }

  const badUpdates: Array<[string, ContentState["content"], string[], Record<string, string>, string, string]> = [
    ["missing blob", undefined, [], {}, "NotFound", `content digest ${digest}: not found`],
    ["a field other than labels", content(), ["size"], {}, "InvalidArgument", `cannot update "size" field on content info "${digest}": invalid argument`],
    [
      "a label too large",
      content(),
      ["labels.k"],
      { k: "v".repeat(4999) },
      "InvalidArgument",
      "info.Labels: label key and value length (5000 bytes) greater than maximum size (4096 bytes), key: k: invalid argument",
    ],
  ];
  for (const [name, record, fieldPaths, labels, kind, message] of badUpdates) {
    test(`update refused: ${name}`, () => given({ content: record }).when({ type: "UpdateContent", digest, labels, fieldPaths }).thenFails(kind, message));
  }

  test("delete: ContentDeleted (metadata only), and the blob leaves the lease", () => {
    given({ content: content() })
      .when({ type: "DeleteContent", digest })
      .then([{ type: "ContentDeleted", data: { digest } }], { release: [{ type: "content", id: digest }] });
  });

  test("delete of a blob the namespace does not hold", () => {
    given().when({ type: "DeleteContent", digest: other }).thenFails("NotFound", `content digest ${other}: not found`);
  });
});
