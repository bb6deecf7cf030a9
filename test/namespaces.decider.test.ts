import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { emptyUsage, type NamespaceUsage } from "../src/domain/namespace-usage.js";
import { decideNamespace, type NamespaceCommand, type NamespaceState } from "../src/domain/namespaces.js";
import { PurserError } from "../src/errors/errdefs.js";
import type { DomainEvent } from "../src/events/catalog.js";
import type { NamespaceRecord } from "../src/events/namespace-events.js";

const now = "2026-01-02T03:04:05.000Z";
const earlier = "2026-01-01T00:00:00.000Z";
const existing = (labels: Record<string, string> = {}): NamespaceRecord => ({
  name: "ns1",
  labels,
  createdAt: earlier,
  updatedAt: earlier,
});

/** given(state).when(command).then(events | error), as the house style reads. */
function given(record: NamespaceRecord | undefined, usage: Partial<NamespaceUsage> = {}) {
  const state: NamespaceState = { record, usage: { ...emptyUsage, ...usage } };
  return {
    when(command: NamespaceCommand) {
      return {
        then(expected: DomainEvent[]) {
          assert.deepEqual(decideNamespace(command, state, now), expected);
        },
        thenFails(kind: string, message: string) {
          assert.throws(
            () => decideNamespace(command, state, now),
            (err: unknown) => err instanceof PurserError && err.kind === kind && err.message === message,
          );
        },
      };
    },
  };
}

describe("namespace decider (containerd A.4 + decided divergences)", () => {
  test("create: full record, empty-valued labels dropped", () => {
    given(undefined)
      .when({ type: "CreateNamespace", name: "ns1", labels: { a: "b", gone: "" } })
      .then([
        {
          type: "NamespaceCreated",
          data: { namespace: { name: "ns1", labels: { a: "b" }, createdAt: now, updatedAt: now }, implicit: false },
        },
      ]);
  });

  const invalid: Array<[string, string, string]> = [
    ["empty", "", "identifier must not be empty: invalid argument"],
    ["space", "bad name", 'identifier "bad name" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument'],
    ["leading dot", ".x", 'identifier ".x" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument'],
    ["double separator", "a..b", 'identifier "a..b" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument'],
    ["77 chars", "a".repeat(77), `identifier "${"a".repeat(77)}" greater than maximum length (76 characters): invalid argument`],
  ];
  for (const [name, ns, text] of invalid) {
    test(`create: invalid name (${name})`, () => {
      given(undefined).when({ type: "CreateNamespace", name: ns, labels: {} }).thenFails("InvalidArgument", text);
    });
  }

  test("create: 76 characters is the limit", () => {
    const name = "a".repeat(76);
    assert.equal(decideNamespace({ type: "CreateNamespace", name, labels: {} }, { record: undefined, usage: emptyUsage }, now).length, 1);
  });

  test("create: label over 4096 bytes (1.7+ wording, divergence 8), checked before existence", () => {
    given(existing())
      .when({ type: "CreateNamespace", name: "ns1", labels: { k: "v".repeat(4096) } })
      .thenFails(
        "InvalidArgument",
        "namespace.Labels: label key and value length (4097 bytes) greater than maximum size (4096 bytes), key: k: invalid argument",
      );
  });

  test("create: exists", () => {
    given(existing()).when({ type: "CreateNamespace", name: "ns1", labels: {} }).thenFails("AlreadyExists", 'namespace "ns1": already exists');
  });

  test("update with field paths: only the named keys change, empty removes", () => {
    given(existing({ keep: "1", drop: "2" }))
      .when({ type: "UpdateNamespace", name: "ns1", labels: { add: "3" }, fieldPaths: ["labels.add", "labels.drop"] })
      .then([
        {
          type: "NamespaceUpdated",
          data: {
            namespace: { name: "ns1", labels: { add: "3", keep: "1" }, createdAt: earlier, updatedAt: now },
            fieldPaths: ["labels.add", "labels.drop"],
          },
        },
      ]);
  });

  test("update without field paths replaces every label", () => {
    given(existing({ old: "1" }))
      .when({ type: "UpdateNamespace", name: "ns1", labels: { new: "2" }, fieldPaths: [] })
      .then([
        {
          type: "NamespaceUpdated",
          data: { namespace: { name: "ns1", labels: { new: "2" }, createdAt: earlier, updatedAt: now }, fieldPaths: ["labels"] },
        },
      ]);
  });

  for (const path of ["labels", "name", "x.labels"]) {
    test(`update: field path ${JSON.stringify(path)} is refused`, () => {
      given(existing())
        .when({ type: "UpdateNamespace", name: "ns1", labels: {}, fieldPaths: [path] })
        .thenFails("InvalidArgument", `cannot update ${JSON.stringify(path)} field: invalid argument`);
    });
  }

  test("update of a missing namespace: NotFound (divergence 2), and names are validated", () => {
    given(undefined)
      .when({ type: "UpdateNamespace", name: "ns1", labels: { a: "b" }, fieldPaths: ["labels.a"] })
      .thenFails("NotFound", 'namespace "ns1": not found');
    given(undefined)
      .when({ type: "UpdateNamespace", name: "bad name", labels: { a: "b" }, fieldPaths: ["labels.a"] })
      .thenFails("InvalidArgument", 'identifier "bad name" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument');
  });

  test("delete of an empty namespace", () => {
    given(existing()).when({ type: "DeleteNamespace", name: "ns1" }).then([{ type: "NamespaceDeleted", data: { name: "ns1" } }]);
  });

  test("delete of a missing namespace", () => {
    given(undefined).when({ type: "DeleteNamespace", name: "ns1" }).thenFails("NotFound", 'namespace "ns1": not found');
  });

  const held: Array<[string, Partial<NamespaceUsage>, string]> = [
    [
      "images, blobs, containers and snapshots (containerd's observed text)",
      { images: true, blobs: true, containers: true, snapshotters: ["overlayfs"] },
      'namespace "ns1" must be empty, but it still has images, blobs, containers, snapshots on "overlayfs" snapshotter: failed precondition',
    ],
    [
      "images, blobs and snapshots (the fixture's text)",
      { images: true, blobs: true, snapshotters: ["native"] },
      'namespace "ns1" must be empty, but it still has images, blobs, snapshots on "native" snapshotter: failed precondition',
    ],
    ["only blobs", { blobs: true }, 'namespace "ns1" must be empty, but it still has blobs: failed precondition'],
    [
      "snapshots on two snapshotters",
      { snapshotters: ["native", "overlayfs"] },
      'namespace "ns1" must be empty, but it still has snapshots on "native" snapshotter, snapshots on "overlayfs" snapshotter: failed precondition',
    ],
  ];
  for (const [name, usage, text] of held) {
    test(`delete refused: ${name}`, () => {
      given(existing(), usage).when({ type: "DeleteNamespace", name: "ns1" }).thenFails("FailedPrecondition", text);
    });
  }

  test("delete drops leases and ingests, each with an event first (divergence 4)", () => {
    given(existing(), { leases: ["l1", "l2"], ingests: ["ref-1"] })
      .when({ type: "DeleteNamespace", name: "ns1" })
      .then([
        { type: "LeaseDeleted", data: { id: "l1" } },
        { type: "LeaseDeleted", data: { id: "l2" } },
        { type: "IngestAborted", data: { ref: "ref-1" } },
        { type: "NamespaceDeleted", data: { name: "ns1" } },
      ]);
  });
});
