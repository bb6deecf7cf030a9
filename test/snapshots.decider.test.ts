import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ContextLease } from "../src/domain/lease-recording.js";
import { activeDir, decideSnapshot, type SnapshotCommand, type SnapshotDecision } from "../src/domain/snapshots.js";
import { PurserError } from "../src/errors/errdefs.js";
import type { LeaseResource } from "../src/events/lease-events.js";
import type { SnapshotRecord } from "../src/events/snapshot-events.js";

const now = "2026-01-02T03:04:05.000Z";
const earlier = "2026-01-01T00:00:00.000Z";

function snap(key: string, kind: SnapshotRecord["kind"], parent = "", extra: Partial<SnapshotRecord> = {}): SnapshotRecord {
  return {
    snapshotter: "native",
    key,
    kind,
    parent,
    labels: {},
    createdAt: earlier,
    updatedAt: earlier,
    backendKey: `ns1/b-${key}/${key}`,
    dir: `d-${key}`,
    ...extra,
  };
}

interface Given {
  snapshots?: SnapshotRecord[];
  /** Snapshot buckets exist (default: when there are snapshots). */
  bucket?: boolean;
  lease?: { id: string; exists: boolean; holds?: LeaseResource[] };
}

/** given(state).when(command).then(decision | error), as the house style reads. */
function given(g: Given = {}) {
  const rows = new Map((g.snapshots ?? []).map((s) => [s.key, s]));
  const lease: ContextLease | undefined = g.lease && {
    id: g.lease.id,
    exists: g.lease.exists,
    holds: (r) => (g.lease!.holds ?? []).some((h) => h.type === r.type && h.id === r.id),
  };
  const state = {
    namespace: "ns1",
    get: (k: string) => rows.get(k),
    hasChildren: (k: string) => [...rows.values()].some((s) => s.parent === k),
    snapshotterKnown: g.bucket ?? rows.size > 0,
    ...(lease ? { lease } : {}),
  };
  return {
    when(command: SnapshotCommand) {
      return {
        then(check: (d: SnapshotDecision) => void) {
          check(decideSnapshot(command, state, now));
        },
        thenFails(kind: string, message: string) {
          assert.throws(
            () => decideSnapshot(command, state, now),
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

const prepare = (key: string, parent = "", labels: Record<string, string> = {}): SnapshotCommand => ({
  type: "PrepareSnapshot",
  snapshotter: "native",
  key,
  parent,
  labels,
  id: "id1",
});
const view = (key: string, parent = ""): SnapshotCommand => ({ type: "CreateView", snapshotter: "native", key, parent, labels: {}, id: "id2" });
const commit = (name: string, key: string, labels: Record<string, string> = {}): SnapshotCommand => ({
  type: "CommitSnapshot",
  snapshotter: "native",
  name,
  key,
  labels,
  id: "id3",
});
const remove = (key: string): SnapshotCommand => ({ type: "RemoveSnapshot", snapshotter: "native", key });
const update = (key: string, labels: Record<string, string>, fieldPaths: string[] = []): SnapshotCommand => ({
  type: "UpdateSnapshot",
  snapshotter: "native",
  key,
  labels,
  fieldPaths,
});
const bigLabel = { k: "v".repeat(4096) };
const bigLabelText =
  "info.Labels: label key and value length (4097 bytes) greater than maximum size (4096 bytes), key: k: invalid argument";

describe("snapshot decider: prepare and view (containerd A.8)", () => {
  test("prepare without parent: an active snapshot with its own directory, guarded by its own subject", () => {
    given()
      .when(prepare("k1", "", { a: "b", gone: "" }))
      .then((d) => {
        const snapshot = snap("k1", "active", "", { labels: { a: "b" }, createdAt: now, updatedAt: now, backendKey: "ns1/id1/k1", dir: "id1" });
        assert.deepEqual(d.events, [{ type: "SnapshotPrepared", data: { snapshot } }]);
        assert.equal(d.namespaceWide, false);
      });
  });

  test("prepare on a committed parent: copies the parent's tree, namespace-wide", () => {
    given({ snapshots: [snap("p", "committed")] })
      .when(prepare("c", "p"))
      .then((d) => {
        assert.equal(d.namespaceWide, true);
        const s = d.snapshot!;
        assert.equal(s.parent, "p");
        assert.equal(s.dir, activeDir("id1", "d-p"));
        assert.notEqual(s.dir, "d-p");
      });
  });

  test("view on a committed parent mounts the parent's own tree; an empty view gets its own", () => {
    given({ snapshots: [snap("p", "committed")] })
      .when(view("v", "p"))
      .then((d) => {
        assert.equal(d.events[0]!.type, "SnapshotViewCreated");
        assert.equal(d.snapshot!.kind, "view");
        assert.equal(d.snapshot!.dir, "d-p");
      });
    given().when(view("v")).then((d) => assert.equal(d.snapshot!.dir, "id2"));
  });

  const refusals: Array<[string, Given, SnapshotCommand, string, string]> = [
    ["labels too large", {}, prepare("k", "", bigLabel), "InvalidArgument", bigLabelText],
    ["key exists", { snapshots: [snap("k", "active")] }, prepare("k"), "AlreadyExists", 'snapshot "k": already exists'],
    ["view key exists", { snapshots: [snap("k", "committed")] }, view("k"), "AlreadyExists", 'snapshot "k": already exists'],
    ["missing parent", {}, prepare("k", "nope"), "NotFound", "parent snapshot nope does not exist: not found"],
    [
      "active parent",
      { snapshots: [snap("p", "active")] },
      prepare("k", "p"),
      "InvalidArgument",
      'failed to create snapshot: parent "ns1/b-p/p" is not committed snapshot: invalid argument',
    ],
    [
      "view parent",
      { snapshots: [snap("p", "view")] },
      view("k", "p"),
      "InvalidArgument",
      'failed to create snapshot: parent "ns1/b-p/p" is not committed snapshot: invalid argument',
    ],
    ["lease missing", { lease: { id: "l1", exists: false } }, prepare("k"), "NotFound", "lease does not exist: not found"],
    // containerd checks the key and the parent before it touches the lease.
    ["key exists before lease", { snapshots: [snap("k", "active")], lease: { id: "l1", exists: false } }, prepare("k"), "AlreadyExists", 'snapshot "k": already exists'],
  ];
  for (const [name, g, command, kind, text] of refusals) {
    test(`prepare refused: ${name}`, () => given(g).when(command).thenFails(kind, text));
  }

  test("under a lease: the key is recorded first, then the snapshot", () => {
    given({ lease: { id: "l1", exists: true } })
      .when(prepare("k"))
      .then((d) => {
        assert.deepEqual(d.events[0], { type: "LeaseResourceAdded", data: { id: "l1", resource: { type: "snapshots/native", id: "k" } } });
        assert.equal(d.events[1]!.type, "SnapshotPrepared");
      });
  });

  test("existing target: the target joins the lease, then AlreadyExists (containerd's unpack shortcut)", () => {
    given({ snapshots: [snap("t", "committed")], lease: { id: "l1", exists: true } })
      .when(prepare("k", "", { "containerd.io/snapshot.ref": "t" }))
      .then((d) => {
        assert.deepEqual(d.events, [{ type: "LeaseResourceAdded", data: { id: "l1", resource: { type: "snapshots/native", id: "t" } } }]);
        assert.equal(d.error?.message, 'target snapshot "t": already exists');
        assert.equal(d.error?.kind, "AlreadyExists");
      });
    given({ snapshots: [snap("t", "committed")] })
      .when(prepare("k", "", { "containerd.io/snapshot.ref": "t" }))
      .then((d) => {
        assert.deepEqual(d.events, []);
        assert.equal(d.error?.message, 'target snapshot "t": already exists');
      });
  });

  test("absent target: an ordinary prepare that keeps the label", () => {
    given()
      .when(prepare("k", "", { "containerd.io/snapshot.ref": "t" }))
      .then((d) => assert.deepEqual(d.snapshot!.labels, { "containerd.io/snapshot.ref": "t" }));
  });
});

describe("snapshot decider: commit (containerd A.8)", () => {
  test("commit: a committed snapshot under the name, parent kept, labels replaced, same tree", () => {
    given({ snapshots: [snap("p", "committed"), snap("k", "active", "p", { labels: { old: "1" } })] })
      .when(commit("n", "k", { new: "2" }))
      .then((d) => {
        const snapshot = snap("n", "committed", "p", { labels: { new: "2" }, createdAt: now, updatedAt: now, backendKey: "ns1/id3/n", dir: "d-k" });
        assert.deepEqual(d.events, [{ type: "SnapshotCommitted", data: { snapshot, key: "k" } }]);
        assert.equal(d.namespaceWide, true);
      });
  });

  test("under a lease: the name joins the lease before the commit, the key leaves after it", () => {
    given({ snapshots: [snap("k", "active")], lease: { id: "l1", exists: true, holds: [{ type: "snapshots/native", id: "k" }] } })
      .when(commit("n", "k"))
      .then((d) =>
        assert.deepEqual(
          d.events.map((e) => e.type),
          ["LeaseResourceAdded", "SnapshotCommitted", "LeaseResourceRemoved"],
        ),
      );
  });

  const refusals: Array<[string, Given, SnapshotCommand, string, string]> = [
    ["labels too large", { snapshots: [snap("k", "active")] }, commit("n", "k", bigLabel), "InvalidArgument", bigLabelText],
    ["no snapshotter bucket", {}, commit("n", "k"), "NotFound", 'can not find snapshotter "native": not found'],
    ["name exists", { snapshots: [snap("k", "active"), snap("n", "committed")] }, commit("n", "k"), "AlreadyExists", 'snapshot "n": already exists'],
    ["key missing", { snapshots: [snap("other", "active")] }, commit("n", "k"), "NotFound", "snapshot k does not exist: not found"],
    ["key missing, empty bucket", { bucket: true }, commit("n", "k"), "NotFound", "snapshot k does not exist: not found"],
    ["lease missing before key missing", { bucket: true, lease: { id: "l1", exists: false } }, commit("n", "k"), "NotFound", "lease does not exist: not found"],
    [
      "dangling parent",
      { snapshots: [snap("k", "active", "gone")] },
      commit("n", "k"),
      "NotFound",
      "parent snapshot gone does not exist: not found",
    ],
    [
      "a view",
      { snapshots: [snap("v", "view")] },
      commit("n", "v"),
      "FailedPrecondition",
      'failed to commit snapshot: snapshot "ns1/b-v/v" is not active: failed precondition',
    ],
    [
      "a committed snapshot",
      { snapshots: [snap("c", "committed")] },
      commit("n", "c"),
      "FailedPrecondition",
      'failed to commit snapshot: snapshot "ns1/b-c/c" is not active: failed precondition',
    ],
  ];
  for (const [name, g, command, kind, text] of refusals) {
    test(`commit refused: ${name}`, () => given(g).when(command).thenFails(kind, text));
  }
});

describe("snapshot decider: remove and update (containerd A.8)", () => {
  test("remove: the event names snapshotter and key; a held key leaves the lease after it", () => {
    given({ snapshots: [snap("k", "active")], lease: { id: "l1", exists: true, holds: [{ type: "snapshots/native", id: "k" }] } })
      .when(remove("k"))
      .then((d) => {
        assert.deepEqual(d.events, [
          { type: "SnapshotRemoved", data: { snapshotter: "native", key: "k" } },
          { type: "LeaseResourceRemoved", data: { id: "l1", resource: { type: "snapshots/native", id: "k" } } },
        ]);
        assert.equal(d.namespaceWide, true);
      });
  });

  test("remove under a lease that is gone: no lease event, no error (containerd's removeSnapshotLease)", () => {
    given({ snapshots: [snap("k", "active")], lease: { id: "l1", exists: false } })
      .when(remove("k"))
      .then((d) => assert.deepEqual(d.events.map((e) => e.type), ["SnapshotRemoved"]));
  });

  const refusals: Array<[string, Given, SnapshotCommand, string, string]> = [
    ["missing", {}, remove("k"), "NotFound", "snapshot k does not exist: not found"],
    ["has a child", { snapshots: [snap("p", "committed"), snap("c", "active", "p")] }, remove("p"), "FailedPrecondition", "cannot remove snapshot with child: failed precondition"],
    ["dangling parent", { snapshots: [snap("c", "active", "gone")] }, remove("c"), "NotFound", "parent snapshot gone does not exist: not found"],
    ["update: empty name", {}, update("", {}), "InvalidArgument", "invalid argument"],
    ["update: missing", {}, update("k", { a: "b" }), "NotFound", "snapshot k does not exist: not found"],
    [
      "update: bad field path",
      { snapshots: [snap("k", "active")] },
      update("k", {}, ["parent"]),
      "InvalidArgument",
      'cannot update "parent" field on snapshot "k": invalid argument',
    ],
    ["update: labels too large", { snapshots: [snap("k", "active")] }, update("k", bigLabel, ["labels.k"]), "InvalidArgument", bigLabelText],
  ];
  for (const [name, g, command, kind, text] of refusals) {
    test(`refused: ${name}`, () => given(g).when(command).thenFails(kind, text));
  }

  const updates: Array<[string, Record<string, string>, Record<string, string>, string[], Record<string, string>]> = [
    ["no paths replaces all", { a: "1", b: "2" }, { c: "3" }, [], { c: "3" }],
    ["labels replaces all", { a: "1" }, { c: "3" }, ["labels"], { c: "3" }],
    ["labels.k sets one", { a: "1" }, { b: "2", ignored: "x" }, ["labels.b"], { a: "1", b: "2" }],
    ["labels.k absent removes", { a: "1", b: "2" }, {}, ["labels.a"], { b: "2" }],
    ["labels.k empty removes", { a: "1" }, { a: "" }, ["labels.a"], {}],
    ["dotted key is one key", {}, { "a.b": "1" }, ["labels.a.b"], { "a.b": "1" }],
  ];
  for (const [name, before, labels, paths, after] of updates) {
    test(`update: ${name}`, () => {
      given({ snapshots: [snap("k", "committed", "", { labels: before })] })
        .when(update("k", labels, paths))
        .then((d) => {
          assert.deepEqual(d.snapshot!.labels, after);
          assert.equal(d.snapshot!.updatedAt, now);
          assert.equal(d.snapshot!.createdAt, earlier);
          assert.deepEqual((d.events[0] as { data: { fieldPaths: string[] } }).data.fieldPaths, paths.length > 0 ? paths : ["labels"]);
        });
    });
  }
});
