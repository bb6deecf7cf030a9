import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { leaseAdditions, leaseRemovals } from "../src/domain/lease-recording.js";
import { randomLeaseId } from "../src/protocol/lease-id.js";
import { decideLease, parseLeaseResource, type LeaseCommand } from "../src/domain/leases.js";
import { PurserError } from "../src/errors/errdefs.js";
import type { DomainEvent } from "../src/events/catalog.js";
import type { LeaseRecord, LeaseResource } from "../src/events/lease-events.js";

const now = "2026-01-02T03:04:05.678Z";
const digest = `sha256:${"a".repeat(64)}`;
const lease = (id = "l1", labels: Record<string, string> = {}): LeaseRecord => ({ id, labels, createdAt: "2026-01-01T00:00:00.000Z" });

function given(record: LeaseRecord | undefined, holds: LeaseResource[] = [], rv?: number) {
  const state = { record, ...(rv !== undefined ? { rv } : {}), holds: (r: LeaseResource) => holds.some((h) => h.type === r.type && h.id === r.id) };
  return {
    when(command: LeaseCommand) {
      return {
        then(expected: DomainEvent[]) {
          assert.deepEqual(decideLease(command, state, now), expected);
        },
        thenFails(kind: string, message: string) {
          assert.throws(
            () => decideLease(command, state, now),
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

describe("lease decider (containerd A.9)", () => {
  test("create: full record, labels unvalidated, empty values dropped", () => {
    given(undefined)
      .when({ type: "CreateLease", id: "l1", labels: { big: "x".repeat(5000), gone: "" } })
      .then([{ type: "LeaseCreated", data: { lease: { id: "l1", labels: { big: "x".repeat(5000) }, createdAt: now } } }]);
  });

  test("create with an expiry: containerd.io/gc.expire = now + duration, RFC 3339 in whole seconds", () => {
    given(undefined)
      .when({ type: "CreateLease", id: "l1", labels: {}, expiresInMs: 24 * 3600_000 })
      .then([{ type: "LeaseCreated", data: { lease: { id: "l1", labels: { "containerd.io/gc.expire": "2026-01-03T03:04:05Z" }, createdAt: now } } }]);
  });

  test("delete, add and remove resources", () => {
    given(lease()).when({ type: "DeleteLease", id: "l1" }).then([{ type: "LeaseDeleted", data: { id: "l1" } }]);
    const r = { type: "snapshots/native", id: "k" };
    given(lease()).when({ type: "AddLeaseResource", id: "l1", resource: r }).then([{ type: "LeaseResourceAdded", data: { id: "l1", resource: r } }]);
    // The addition names the lease's incarnation (the rv of its LeaseCreated): a later lease of the same id cannot take it.
    given(lease(), [], 7).when({ type: "AddLeaseResource", id: "l1", resource: r }).then([{ type: "LeaseResourceAdded", data: { id: "l1", resource: r, leaseRv: 7 } }]);
    given(lease(), [r]).when({ type: "AddLeaseResource", id: "l1", resource: r }).then([]);
    given(lease(), [r]).when({ type: "DeleteLeaseResource", id: "l1", resource: r }).then([{ type: "LeaseResourceRemoved", data: { id: "l1", resource: r } }]);
    given(lease()).when({ type: "DeleteLeaseResource", id: "l1", resource: r }).then([]);
  });

  const refusals: Array<[string, LeaseRecord | undefined, LeaseCommand, string, string]> = [
    ["create: exists", lease(), { type: "CreateLease", id: "l1", labels: {} }, "AlreadyExists", 'lease "l1": already exists'],
    ["delete: missing", undefined, { type: "DeleteLease", id: "l1" }, "NotFound", 'lease "l1": not found'],
    ["add: missing lease (before the type is parsed)", undefined, { type: "AddLeaseResource", id: "l1", resource: { type: "bogus", id: "x" } }, "NotFound", 'lease "l1": not found'],
    ["remove: missing lease", undefined, { type: "DeleteLeaseResource", id: "l1", resource: { type: "content", id: digest } }, "NotFound", 'lease "l1": not found'],
    ["add: unknown type", lease(), { type: "AddLeaseResource", id: "l1", resource: { type: "images", id: "x" } }, "NotImplemented", "resource type images not supported yet: not implemented"],
    ["remove: unknown type", lease(), { type: "DeleteLeaseResource", id: "l1", resource: { type: "containers", id: "x" } }, "NotImplemented", "resource type containers not supported yet: not implemented"],
  ];
  for (const [name, record, command, kind, text] of refusals) {
    test(`refused: ${name}`, () => given(record).when(command).thenFails(kind, text));
  }
});

describe("lease resource types (containerd parseLeaseResource)", () => {
  const cases: Array<[string, LeaseResource, string | undefined, string | undefined]> = [
    ["content digest", { type: "content", id: digest }, undefined, undefined],
    ["ingest ref", { type: "ingests", id: "any ref" }, undefined, undefined],
    ["snapshot", { type: "snapshots/native", id: "k" }, undefined, undefined],
    ["snapshot of an empty snapshotter name", { type: "snapshots/", id: "k" }, undefined, undefined],
    ["content: not a digest", { type: "content", id: "nope" }, "InvalidArgument", "invalid content resource id nope: invalid checksum digest format: invalid argument"],
    ["content: short", { type: "content", id: "sha256:abc" }, "InvalidArgument", "invalid content resource id sha256:abc: invalid checksum digest length: invalid argument"],
    ["content: unknown algorithm", { type: "content", id: "md5:abc" }, "InvalidArgument", "invalid content resource id md5:abc: unsupported digest algorithm: invalid argument"],
    ["content/x", { type: "content/x", id: digest }, "InvalidArgument", "invalid resource type content/x: invalid argument"],
    ["ingests/x", { type: "ingests/x", id: "r" }, "InvalidArgument", "invalid resource type ingests/x: invalid argument"],
    ["snapshots alone", { type: "snapshots", id: "k" }, "InvalidArgument", "invalid snapshot resource type snapshots: invalid argument"],
    ["snapshots/a/b", { type: "snapshots/a/b", id: "k" }, "InvalidArgument", "invalid snapshot resource type snapshots/a/b: invalid argument"],
    ["empty type", { type: "", id: "k" }, "NotImplemented", "resource type  not supported yet: not implemented"],
    ["images (v2 only)", { type: "images", id: "k" }, "NotImplemented", "resource type images not supported yet: not implemented"],
  ];
  for (const [name, r, kind, text] of cases) {
    test(name, () => {
      if (!kind) return assert.deepEqual(parseLeaseResource(r), r);
      assert.throws(
        () => parseLeaseResource(r),
        (err: unknown) => err instanceof PurserError && err.kind === kind && err.message === text,
      );
    });
  }
});

describe("implicit leasing helper (lease-recording)", () => {
  const r = { type: "content", id: digest };
  test("no lease: nothing", () => assert.deepEqual(leaseAdditions(undefined, r), []));
  test("missing lease: containerd's text", () => {
    assert.throws(
      () => leaseAdditions({ id: "l1", exists: false, holds: () => false }, r),
      (err: unknown) => err instanceof PurserError && err.kind === "NotFound" && err.message === "lease does not exist: not found",
    );
  });
  test("records once", () => {
    assert.deepEqual(leaseAdditions({ id: "l1", exists: true, holds: () => false }, r), [{ type: "LeaseResourceAdded", data: { id: "l1", resource: r } }]);
    assert.deepEqual(leaseAdditions({ id: "l1", exists: true, holds: () => true }, r), []);
    assert.deepEqual(leaseAdditions({ id: "l1", exists: true, rv: 7, holds: () => false }, r), [{ type: "LeaseResourceAdded", data: { id: "l1", resource: r, leaseRv: 7 } }]);
  });
  test("releases only what is held, never fails", () => {
    assert.deepEqual(leaseRemovals({ id: "l1", exists: false, holds: () => true }, r), []);
    assert.deepEqual(leaseRemovals({ id: "l1", exists: true, holds: () => false }, r), []);
    assert.deepEqual(leaseRemovals({ id: "l1", exists: true, holds: () => true }, r), [{ type: "LeaseResourceRemoved", data: { id: "l1", resource: r } }]);
  });
});

test("random lease ids look like containerd's: <nanos of the second>-<4 base64url chars>", () => {
  for (let i = 0; i < 50; i++) {
    const id = randomLeaseId();
    assert.match(id, /^\d{1,9}-[A-Za-z0-9_-]{4}$/);
    assert.ok(Number(id.split("-")[0]) < 1e9);
  }
});
