import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encode } from "@msgpack/msgpack";
import { decodeEventBody, encodeEventBody, EventDecodeError } from "../src/events/envelope.js";
import { eventSubject, idToken, namespaceOfStream, ObjectKind, streamName } from "../src/events/subjects.js";
import { commandSubject, globalSubject, parseCommandSubject } from "../src/protocol/subjects.js";
import { decodeToken, encodeToken } from "../src/events/token-encoding.js";
import { upcast } from "../src/events/upcasters.js";

describe("namespace token encoding", () => {
  const cases: Array<[string, string]> = [
    ["default", "default"],
    ["a.b", "a_2Eb"],
    ["a_b", "a_5Fb"],
    ["with-dash", "with-dash"],
    ["A.b_c-D", "A_2Eb_5Fc-D"],
    ["bad name", "bad_20name"],
    ["é", "_C3_A9"],
    ["x*>", "x_2A_3E"],
    ["", ""],
  ];
  for (const [name, token] of cases) {
    test(`${JSON.stringify(name)} ⇄ ${JSON.stringify(token)}`, () => {
      assert.equal(encodeToken(name), token);
      assert.equal(decodeToken(token), name);
    });
  }

  test("the output alphabet is subject- and stream-name safe", () => {
    for (const name of ["a.b.c", "x y", "*", ">", "/etc", "a\\b", "tab\t"]) {
      assert.match(encodeToken(name), /^[A-Za-z0-9_-]*$/);
    }
  });

  test("tokens that no encoding produces are rejected", () => {
    for (const bad of ["_global", "a_2", "a_zz", "a.b", "a b"]) assert.throws(() => decodeToken(bad));
  });

  test("a value has one spelling: other spellings of the same bytes are rejected", () => {
    // `_74` is `t`, `_2D` is `-`, `_C3_A9` is the only spelling of `é`: a deny rule on the canonical token must not be bypassable.
    for (const [alias, canonical] of [["_74enant-b", "tenant-b"], ["tenant_2Db", "tenant-b"], ["_41", "A"]] as const) {
      assert.throws(() => decodeToken(alias), { message: `invalid encoded token ${JSON.stringify(alias)}: not canonical (${JSON.stringify(canonical)})` });
    }
    assert.equal(parseCommandSubject("purser.v1._74enant-b.images.get"), undefined);
    assert.equal(namespaceOfStream("PURSER_NS__74enant-b"), undefined);
  });

  test("every identifier round-trips through the stream name", () => {
    for (const ns of ["default", "k8s.io", "moby", "a-b_c.d"]) {
      assert.equal(namespaceOfStream(streamName(ns)), ns);
    }
    assert.equal(namespaceOfStream("OTHER"), undefined);
  });
});

describe("subjects", () => {
  test("event subjects: one per object, ids as safe bounded tokens", () => {
    assert.equal(eventSubject("k8s.io", ObjectKind.Image, "nginx"), "purser.ev.k8s_2Eio.image.nginx");
    const long = eventSubject("default", ObjectKind.Image, "docker.io/library/" + "x".repeat(100) + ":latest");
    const token = long.split(".").pop()!;
    assert.match(token, /^~[0-9a-f]{40}$/);
    assert.equal(long.split(".").length, 5);
    // Digests contain ':' and are long: never raw tokens.
    assert.doesNotMatch(idToken("sha256:" + "a".repeat(64)), /[.:*> ]/);
  });

  test("command subjects parse back; global subjects are not namespaced", () => {
    assert.deepEqual(parseCommandSubject(commandSubject("a.b", "images", "create")), {
      namespace: "a.b",
      resource: "images",
      verb: "create",
    });
    assert.equal(parseCommandSubject(globalSubject("namespaces", "list")), undefined);
    assert.equal(parseCommandSubject("purser.v1._zz.images.create"), undefined);
  });
});

describe("event codec", () => {
  test("round trip of a full-state event", () => {
    const event = {
      type: "NamespaceCreated" as const,
      data: { namespace: { name: "foo", labels: { a: "b" }, createdAt: "t", updatedAt: "t" }, implicit: false },
    };
    assert.deepEqual(decodeEventBody(encodeEventBody(event)), { event, version: 1 });
  });

  test("garbage bodies are refused with a clear error", () => {
    const bodies = [
      new Uint8Array([0xc1]),
      encode("a string"),
      encode({ type: "Nope", version: 1, data: {} }),
      encode({ type: "NamespaceDeleted", version: 99, data: {} }),
      encode({ type: "NamespaceDeleted", version: "1", data: {} }),
    ];
    for (const body of bodies) assert.throws(() => decodeEventBody(body), EventDecodeError);
  });

  test("older versions are upcast on read, step by step", () => {
    const table = {
      NamespaceDeleted: {
        1: (d: unknown) => ({ ...(d as object), v2: true }),
        2: (d: unknown) => ({ ...(d as object), v3: true }),
      },
    };
    assert.deepEqual(upcast(table, "NamespaceDeleted", 1, 3, { name: "x" }), { name: "x", v2: true, v3: true });
    assert.throws(() => upcast({}, "NamespaceDeleted", 1, 2, {}), /no upcaster/);
  });
});

describe("event schemas, checked on read", () => {
  const cases: Array<[string, unknown, string]> = [
    ["LeaseCreated", { lease: { id: "l", labels: {}, createdAt: 5 } }, "LeaseCreated does not fit its schema: data.lease.createdAt must be a string"],
    ["SnapshotPrepared", { snapshot: { snapshotter: "native", key: "k", kind: "frozen" } }, "SnapshotPrepared does not fit its schema: data.snapshot.kind must be one of active, view, committed"],
    ["ContentDeleted", { digest: ["sha256:x"] }, "ContentDeleted does not fit its schema: data.digest must be a string"],
    ["NamespaceUpdated", { namespace: { name: "n", labels: {}, createdAt: "t", updatedAt: "t" }, fieldPaths: "labels" }, "NamespaceUpdated does not fit its schema: data.fieldPaths must be a list of strings"],
  ];
  for (const [type, data, message] of cases) {
    test(`${type}: ${message.split(": ").at(-1)}`, () => {
      assert.throws(() => decodeEventBody(encode({ type, version: 1, data })), (err: unknown) => err instanceof EventDecodeError && err.message === message);
    });
  }

  test("extra fields of a newer writer and optional ones left out are accepted", () => {
    const data = { ingest: { ref: "r", id: "i", expected: "", total: 0, shared: false, startedAt: "t", fromTheFuture: 1 }, resumed: false };
    assert.equal(decodeEventBody(encode({ type: "IngestStarted", version: 1, data })).event.type, "IngestStarted");
  });
});

