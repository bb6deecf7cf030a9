import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decideContent, type ContentCommand, type ContentState } from "../src/commands/content.js";
import { PurserError } from "../src/errors/errdefs.js";
import type { DomainEvent } from "../src/events/catalog.js";
import type { ContentRecord } from "../src/events/content-events.js";
import type { IngestRecord } from "../src/events/ingest-events.js";

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

/** given(state).when(command).then(events | error), as the house style reads. */
function given(state: Partial<ContentState> = {}) {
  const full: ContentState = { content: undefined, ingest: undefined, ...state };
  return {
    when(command: ContentCommand) {
      return {
        then(expected: DomainEvent[]) {
          assert.deepEqual(decideContent(command, full, now), expected);
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
      ]);
  });

  test("open under a lease: no expiry, the lease holds it", () => {
    given()
      .when(start({ lease: "l1" }))
      .then([
        {
          type: "IngestStarted",
          data: { ingest: { ref: "r1", id: "id-new", expected: "", total: 0, shared: false, startedAt: now, lease: "l1" }, resumed: false },
        },
      ]);
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
      ]);
  });

  test("open again with another total: containerd's local store starts over", () => {
    given({ ingest: ingest() })
      .when(start({ total: 11 }))
      .then([
        {
          type: "IngestStarted",
          data: { ingest: { ref: "r1", id: "id-new", expected: "", total: 11, shared: false, startedAt: now, expireAt: tomorrow }, resumed: false },
        },
      ]);
  });

  test("open of a blob the host has: shared, its size as the total", () => {
    given()
      .when(start({ expected: digest, total: 3, shared: true }))
      .then([
        {
          type: "IngestStarted",
          data: { ingest: { ref: "r1", id: "id-new", expected: digest, total: 3, shared: true, startedAt: now, expireAt: tomorrow }, resumed: false },
        },
      ]);
  });

  const refusals: Array<[string, Partial<ContentState>, ContentCommand, string, string]> = [
    ["empty ref", {}, start({ ref: "" }), "InvalidArgument", "ref must not be empty: invalid argument"],
    ["expected already in the namespace", { content: content() }, start({ expected: digest }), "AlreadyExists", `content ${digest}: already exists`],
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
    [
      "a put of a blob the namespace holds",
      { content: content() },
      { type: "CommitContent", ref: "r1", digest, size: 3, labels: {} },
      "AlreadyExists",
      `content ${digest}: already exists`,
    ],
  ];
  for (const [name, state, command, kind, message] of refusals) {
    test(`refused: ${name}`, () => given(state).when(command).thenFails(kind, message));
  }

  test("abort: IngestAborted", () => {
    given({ ingest: ingest() }).when({ type: "AbortIngest", ref: "r1" }).then([{ type: "IngestAborted", data: { ref: "r1" } }]);
  });
});

describe("content decider: commit, update, delete (containerd A.7)", () => {
  test("commit: the full record, created = updated = now, empty labels dropped, the ingest consumed", () => {
    given({ ingest: ingest() })
      .when({ type: "CommitContent", ref: "r1", digest, size: 3, labels: { a: "1", gone: "" }, ingestId: "id-old", lease: "l1" })
      .then([
        {
          type: "ContentCommitted",
          data: { content: { digest, size: 3, labels: { a: "1" }, createdAt: now, updatedAt: now }, ref: "r1", ingestId: "id-old", lease: "l1" },
        },
      ]);
  });

  test("commit of a blob the namespace holds: the ingest is removed (the service then answers AlreadyExists)", () => {
    given({ content: content(), ingest: ingest() })
      .when({ type: "CommitContent", ref: "r1", digest, size: 3, labels: {}, ingestId: "id-old" })
      .then([{ type: "IngestAborted", data: { ref: "r1", reason: "already-exists" } }]);
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

  test("delete: ContentDeleted (metadata only), with the lease that lets go of it", () => {
    given({ content: content() }).when({ type: "DeleteContent", digest, lease: "l1" }).then([{ type: "ContentDeleted", data: { digest, lease: "l1" } }]);
  });

  test("delete of a blob the namespace does not hold", () => {
    given().when({ type: "DeleteContent", digest: other }).thenFails("NotFound", `content digest ${other}: not found`);
  });
});
