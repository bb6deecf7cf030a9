/**
 * Containers against a real nats-server and LMDB, table-driven in the style of
 * containerd's metadata/containers_test.go: every case named, every error
 * asserted by class and exact text (conformance A.6, A.12, A.13).
 */
import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { after, before, describe, test } from "node:test";
import type { ContainerSpec } from "../src/client/containers-api.js";
import { readEvents } from "../src/client/event-log.js";
import type { ContainerRecord } from "../src/events/container-events.js";
import { containerdPayload } from "../src/events/containerd-payload.js";
import type { StoredEvent } from "../src/events/envelope.js";
import { commandSubject } from "../src/protocol/subjects.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { rejects } from "./support/assertions.js";

function steppingClock(start = Date.parse("2026-03-01T00:00:00.000Z")) {
  let t = start;
  return { now: () => new Date((t += 1000)) };
}

async function events(p: TestPurser, namespace: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  await readEvents(p.client.nc, { namespaces: [namespace], follow: false }, (e) => out.push(e));
  return out;
}

/**
 * Bytes come back as Node Buffers (msgpack decodes bin as views of the
 * message, and NATS hands Buffers): same bytes, another prototype. Compare as
 * plain Uint8Arrays.
 */
function plain<T>(value: T): T {
  if (value instanceof Uint8Array) return new Uint8Array(value) as T;
  if (Array.isArray(value)) return value.map(plain) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)])) as T;
  }
  return value;
}

/** containerd's tests store a marshalled runtime spec (an Any); here, the Any as a map. */
const encoded = { type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec", value: new TextEncoder().encode("{}") };
const encodedUpdated = {
  type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
  value: new TextEncoder().encode('{"annotations":{"updated":"true"}}'),
};
const ext = (value: string) => ({ type_url: "test.update.extensions", value: new TextEncoder().encode(value) });

/** The fields every case expects unless it says otherwise (the zero values a record keeps). */
const zero = { labels: {}, image: "", snapshotter: "", snapshotKey: "", extensions: {} };

describe("containers against a real nats-server and LMDB", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser({ clock: steppingClock() });
  });
  after(async () => {
    await p.stop();
  });

  describe("TestContainersList", () => {
    const ns = "ctrlist";
    const testset = new Map<string, ContainerRecord>();
    let rv = 0;
    before(async () => {
      for (let i = 0; i < 4; i++) {
        const id = `container-${i}`;
        const reply = await p.client.containers.create(ns, {
          id,
          labels: { idlabel: id, even: String(i % 2 === 0), odd: String(i % 2 !== 0), "a.b": "dotted" },
          spec: encoded,
          snapshotKey: "test-snapshot-key",
          snapshotter: "snapshotter",
          runtime: { name: i === 3 ? "otherruntime" : "testruntime" },
          image: i === 2 ? "" : "test image",
        });
        assert.equal(reply.result.createdAt, reply.result.updatedAt);
        testset.set(id, reply.result);
        rv = reply.rv;
      }
    });

    const all = ["container-0", "container-1", "container-2", "container-3"];
    const cases: Array<{ name: string; filters: string[]; want: string[] }> = [
      { name: "FullSet", filters: [], want: all },
      { name: "FullSetFiltered (OR)", filters: ["labels.even==true", "labels.odd==true"], want: all },
      { name: "Even", filters: ["labels.even==true"], want: ["container-0", "container-2"] },
      { name: "Odd", filters: ["labels.odd==true"], want: ["container-1", "container-3"] },
      { name: "ByID", filters: ["id==container-0"], want: ["container-0"] },
      { name: "ByIDLabelEven", filters: ["labels.idlabel==container-0,labels.even==true"], want: ["container-0"] },
      { name: "ByRuntime", filters: ["runtime.name==testruntime"], want: ["container-0", "container-1", "container-2"] },
      { name: "ByImage", filters: ['image=="test image"'], want: ["container-0", "container-1", "container-3"] },
      { name: "ImagePresent (empty is absent)", filters: ["image"], want: ["container-0", "container-1", "container-3"] },
      { name: "ImageNotEqual matches the absent one", filters: ['image!="test image"'], want: ["container-2"] },
      { name: "LabelKeyWithDot", filters: ["labels.a.b==dotted"], want: all },
      { name: "runtime alone is not a field", filters: ["runtime"], want: [] },
      { name: "snapshotter is not a filter field", filters: ["snapshotter==snapshotter"], want: [] },
      { name: "IDRegexp", filters: ["id~=|container-[03]|"], want: ["container-0", "container-3"] },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const { result } = await p.client.containers.list(ns, c.filters, { minRv: rv });
        assert.deepEqual(
          result.map((x) => x.id),
          c.want,
        );
        for (const x of result) assert.deepEqual(plain(x), plain(testset.get(x.id)));
      });
    }

    test("parse error is wrapped twice", async () => {
      await rejects(
        p.client.containers.list(ns, ["image~=,id?=?fbaq"]),
        "InvalidArgument",
        "filters: parse error: [image~= >|,|< id?=?fbaq]: expected value or quoted: invalid argument: invalid argument",
      );
    });

    test("delete everything, then delete again: NotFound", async () => {
      let last = 0;
      for (const id of testset.keys()) {
        last = (await p.client.containers.delete(ns, id)).rv;
        await rejects(p.client.containers.delete(ns, id), "NotFound", `container ${id}: not found`);
      }
      const { result } = await p.client.containers.list(ns, [], { minRv: last });
      assert.deepEqual(result, []);
    });
  });

  describe("TestContainersCreateUpdateDelete", () => {
    const ns = "ctrcud";
    const cases: Array<{
      name: string;
      original: Omit<ContainerSpec, "id">;
      createError?: [string, string];
      input?: Partial<ContainerSpec>;
      fieldPaths?: string[];
      expected?: Omit<ContainerRecord, "id" | "createdAt" | "updatedAt">;
      error?: [string, string];
    }> = [
      {
        name: "UpdateIDFail",
        original: { spec: encoded, snapshotKey: "test-snapshot-key", snapshotter: "snapshotter", runtime: { name: "testruntime" } },
        input: { id: "newid", spec: encoded, runtime: { name: "testruntime" } },
        fieldPaths: ["id"],
        error: ["NotFound", 'container "newid": not found'],
      },
      {
        name: "UpdateRuntimeFail",
        original: { snapshotKey: "test-snapshot-key", snapshotter: "snapshotter", spec: encoded, runtime: { name: "testruntime" } },
        input: { spec: encoded, runtime: { name: "testruntimedifferent" } },
        fieldPaths: ["runtime"],
        error: ["InvalidArgument", 'cannot update "runtime" field on "UpdateRuntimeFail": invalid argument'],
      },
      {
        name: "UpdateRuntimeClearFail",
        original: { spec: encoded, snapshotKey: "test-snapshot-key", snapshotter: "snapshotter", runtime: { name: "testruntime" } },
        input: { spec: encoded },
        fieldPaths: ["runtime"],
        error: ["InvalidArgument", 'cannot update "runtime" field on "UpdateRuntimeClearFail": invalid argument'],
      },
      {
        name: "UpdateSpec",
        original: { spec: encoded, snapshotKey: "test-snapshot-key", snapshotter: "snapshotter", runtime: { name: "testruntime" }, image: "test image" },
        input: { spec: encodedUpdated },
        fieldPaths: ["spec"],
        expected: {
          ...zero,
          runtime: { name: "testruntime" },
          spec: encodedUpdated,
          snapshotKey: "test-snapshot-key",
          snapshotter: "snapshotter",
          image: "test image",
        },
      },
      {
        name: "UpdateSnapshot",
        original: { spec: encoded, snapshotKey: "test-snapshot-key", snapshotter: "snapshotter", runtime: { name: "testruntime" }, image: "test image" },
        input: { snapshotKey: "test2-snapshot-key" },
        fieldPaths: ["snapshotkey"],
        expected: {
          ...zero,
          runtime: { name: "testruntime" },
          spec: encoded,
          snapshotKey: "test2-snapshot-key",
          snapshotter: "snapshotter",
          image: "test image",
        },
      },
      {
        name: "UpdateImage",
        original: { spec: encoded, snapshotKey: "test-snapshot-key", snapshotter: "snapshotter", runtime: { name: "testruntime" }, image: "test image" },
        input: { image: "test2 image" },
        fieldPaths: ["image"],
        expected: {
          ...zero,
          runtime: { name: "testruntime" },
          spec: encoded,
          snapshotKey: "test-snapshot-key",
          snapshotter: "snapshotter",
          image: "test2 image",
        },
      },
      {
        name: "UpdateLabel",
        original: {
          labels: { foo: "one", bar: "two" },
          spec: encoded,
          snapshotKey: "test-snapshot-key",
          snapshotter: "snapshotter",
          runtime: { name: "testruntime" },
          image: "test image",
        },
        input: { labels: { bar: "baz" } },
        fieldPaths: ["labels.bar"],
        expected: {
          ...zero,
          labels: { foo: "one", bar: "baz" },
          runtime: { name: "testruntime" },
          spec: encoded,
          snapshotKey: "test-snapshot-key",
          snapshotter: "snapshotter",
          image: "test image",
        },
      },
      {
        name: "DeleteAllLabels",
        original: {
          labels: { foo: "one", bar: "two" },
          spec: encoded,
          snapshotKey: "test-snapshot-key",
          snapshotter: "snapshotter",
          runtime: { name: "testruntime" },
          image: "test image",
        },
        input: {},
        fieldPaths: ["labels"],
        expected: {
          ...zero,
          runtime: { name: "testruntime" },
          spec: encoded,
          snapshotKey: "test-snapshot-key",
          snapshotter: "snapshotter",
          image: "test image",
        },
      },
      {
        name: "DeleteLabel",
        original: {
          labels: { foo: "one", bar: "two" },
          spec: encoded,
          snapshotKey: "test-snapshot-key",
          snapshotter: "snapshotter",
          runtime: { name: "testruntime" },
          image: "test image",
        },
        input: { labels: { bar: "" } },
        fieldPaths: ["labels.bar"],
        expected: {
          ...zero,
          labels: { foo: "one" },
          runtime: { name: "testruntime" },
          spec: encoded,
          snapshotKey: "test-snapshot-key",
          snapshotter: "snapshotter",
          image: "test image",
        },
      },
      {
        name: "UpdateSnapshotKeyImmutable",
        original: { spec: encoded, runtime: { name: "testruntime" } },
        input: { snapshotKey: "something", snapshotter: "something" },
        fieldPaths: ["snapshotkey", "snapshotter"],
        error: ["InvalidArgument", 'cannot update "snapshotter" field on "UpdateSnapshotKeyImmutable": invalid argument'],
      },
      {
        name: "SnapshotKeyWithoutSnapshot",
        original: { spec: encoded, snapshotKey: "/nosnapshot", runtime: { name: "testruntime" } },
        createError: [
          "InvalidArgument",
          "create container failed validation: container.Snapshotter must be set if container.SnapshotKey is set: invalid argument",
        ],
      },
      {
        name: "UpdateExtensionsFull",
        original: { spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello") } },
        input: { spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("world") } },
        expected: { ...zero, spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("world") } },
      },
      {
        name: "UpdateExtensionsNotInFieldpath",
        original: { spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello") } },
        input: { spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("world") } },
        fieldPaths: ["labels"],
        expected: { ...zero, spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello") } },
      },
      {
        name: "UpdateExtensionsFieldPath",
        original: { spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello") } },
        input: { labels: { foo: "one" }, extensions: { hello: ext("world") } },
        fieldPaths: ["extensions"],
        expected: { ...zero, spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("world") } },
      },
      {
        name: "UpdateExtensionsFieldPathIsolated",
        original: { spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello") } },
        input: { extensions: { hello: ext("universe"), bar: ext("foo") } },
        fieldPaths: ["extensions.bar"],
        expected: { ...zero, spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello"), bar: ext("foo") } },
      },
      {
        name: "SnapshotterImmutable",
        original: { spec: encoded, runtime: { name: "testruntime" }, snapshotter: "overlayfs", snapshotKey: "k" },
        input: { spec: encoded, runtime: { name: "testruntime" }, snapshotter: "native", snapshotKey: "k" },
        error: ["InvalidArgument", "container.Snapshotter field is immutable: invalid argument"],
      },
      {
        name: "RuntimeNameImmutable",
        original: { spec: encoded, runtime: { name: "testruntime" }, snapshotter: "overlayfs", snapshotKey: "k" },
        input: { spec: encoded, runtime: { name: "other" }, snapshotter: "overlayfs", snapshotKey: "k" },
        error: ["InvalidArgument", "container.Runtime.Name field is immutable: invalid argument"],
      },
      {
        name: "FullReplaceNeedsSpec",
        original: { spec: encoded, runtime: { name: "testruntime" } },
        input: { runtime: { name: "testruntime" } },
        error: ["InvalidArgument", "update failed validation: container.Spec must be set: invalid argument"],
      },
      {
        name: "OpaqueValuesRoundTrip",
        original: {
          spec: { ociVersion: "1.0.2-dev", process: { args: ["sh"], env: ["A=1"] }, nested: [1, "two", { three: null }] },
          runtime: { name: "io.containerd.runc.v2", options: { type_url: "runc", value: new Uint8Array([0, 255]) } },
          extensions: { n: 42, s: "text", m: { deep: { er: true } } },
        },
        input: { extensions: { b: new Uint8Array([1, 2, 3]) } },
        fieldPaths: ["extensions.b"],
        expected: {
          ...zero,
          spec: { ociVersion: "1.0.2-dev", process: { args: ["sh"], env: ["A=1"] }, nested: [1, "two", { three: null }] },
          runtime: { name: "io.containerd.runc.v2", options: { type_url: "runc", value: new Uint8Array([0, 255]) } },
          extensions: { n: 42, s: "text", m: { deep: { er: true } }, b: new Uint8Array([1, 2, 3]) },
        },
      },
      {
        name: "bad id",
        original: { spec: encoded, runtime: { name: "r" } },
        createError: [
          "InvalidArgument",
          'create container failed validation: container.ID: identifier "bad id" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument',
        ],
      },
      {
        name: "NoRuntime",
        original: { spec: encoded },
        createError: ["InvalidArgument", "create container failed validation: container.Runtime.Name must be set: invalid argument"],
      },
      {
        name: "NoSpec",
        original: { runtime: { name: "r" } },
        createError: ["InvalidArgument", "create container failed validation: container.Spec must be set: invalid argument"],
      },
      {
        name: "EmptyExtensionKey",
        original: { spec: encoded, runtime: { name: "r" }, extensions: { "": ext("x") } },
        createError: [
          "InvalidArgument",
          "create container failed validation: container.Extension keys must not be zero-length: invalid argument",
        ],
      },
      {
        name: "LabelTooLarge",
        original: { spec: encoded, runtime: { name: "r" }, labels: { k: "v".repeat(4096) } },
        createError: [
          "InvalidArgument",
          "create container failed validation: containers.Labels: label key and value length (4097 bytes) greater than maximum size (4096 bytes), key: k: invalid argument",
        ],
      },
    ];

    for (const c of cases) {
      test(c.name, async () => {
        const id = c.name;
        if (c.createError) {
          await rejects(p.client.containers.create(ns, { ...c.original, id }), c.createError[0], c.createError[1]);
          return;
        }
        const created = await p.client.containers.create(ns, { ...c.original, id });
        assert.equal(created.result.createdAt, created.result.updatedAt);
        const input: ContainerSpec = { ...c.input, id: c.input?.id ?? id };
        if (c.error) {
          await rejects(p.client.containers.update(ns, input, c.fieldPaths), c.error[0], c.error[1]);
          const got = await p.client.containers.get(ns, id, { minRv: created.rv });
          assert.deepEqual(plain(got.result), plain(created.result), "a refused update changes nothing");
          return;
        }
        const updated = await p.client.containers.update(ns, input, c.fieldPaths);
        const expected: ContainerRecord = {
          id,
          ...c.expected!,
          createdAt: created.result.createdAt,
          updatedAt: updated.result.updatedAt,
        };
        assert.deepEqual(plain(updated.result), expected);
        assert.ok(updated.result.updatedAt > updated.result.createdAt, "updatedAt after createdAt");
        const got = await p.client.containers.get(ns, id, { minRv: updated.rv });
        assert.deepEqual(plain(got.result), expected);
      });
    }
  });

  describe("NotFound texts and the service in front of the store", () => {
    test("get names the namespace", async () => {
      await rejects(p.client.containers.get("ctrnf", "c1"), "NotFound", 'container "c1" in namespace "ctrnf": not found');
    });
    test("update and delete before the namespace ever held a container", async () => {
      await p.client.namespaces.create("ctrnf");
      await rejects(
        p.client.containers.update("ctrnf", { id: "c1", runtime: { name: "r" }, spec: {} }),
        "NotFound",
        'cannot update container "c1" in namespace "ctrnf": not found',
      );
      await rejects(p.client.containers.delete("ctrnf", "c1"), "NotFound", 'cannot delete container "c1" in namespace "ctrnf": not found');
    });
    test("once it has (the bucket outlives its containers), and again after the namespace is recreated", async () => {
      const created = await p.client.containers.create("ctrnf", { id: "c0", runtime: { name: "r" }, spec: {} });
      await p.client.containers.delete("ctrnf", "c0");
      await rejects(p.client.containers.update("ctrnf", { id: "c1", runtime: { name: "r" }, spec: {} }), "NotFound", 'container "c1": not found');
      await rejects(p.client.containers.delete("ctrnf", "c1"), "NotFound", "container c1: not found");
      assert.ok(created.rv > 0);
      await p.client.namespaces.delete("ctrnf");
      await p.client.namespaces.create("ctrnf");
      await rejects(p.client.containers.delete("ctrnf", "c1"), "NotFound", 'cannot delete container "c1" in namespace "ctrnf": not found');
    });
    test("update without an id: the service's text", async () => {
      await rejects(p.client.containers.update("ctrnf", { id: "" }), "InvalidArgument", "Container.ID required: invalid argument");
    });
    test("create twice: AlreadyExists", async () => {
      await p.client.containers.create("ctrsvc", { id: "dup", runtime: { name: "r" }, spec: {} });
      await rejects(p.client.containers.create("ctrsvc", { id: "dup", runtime: { name: "r" }, spec: {} }), "AlreadyExists", 'container "dup": already exists');
    });
    test("a container holds its namespace", async () => {
      await p.client.containers.create("ctrhold", { id: "c", runtime: { name: "r" }, spec: {} });
      await rejects(
        p.client.namespaces.delete("ctrhold"),
        "FailedPrecondition",
        'namespace "ctrhold" must be empty, but it still has containers: failed precondition',
      );
      await p.client.containers.delete("ctrhold", "c");
      await p.client.namespaces.delete("ctrhold");
    });
    const shapes: Array<{ name: string; payload: Record<string, unknown>; message: string }> = [
      { name: "runtime not a map", payload: { id: "x", runtime: "runc" }, message: 'request field "runtime" must be a map: invalid argument' },
      {
        name: "runtime name not a string",
        payload: { id: "x", runtime: { name: 1 } },
        message: 'request field "runtime.name" must be a string: invalid argument',
      },
      { name: "extensions not a map", payload: { id: "x", extensions: [1] }, message: 'request field "extensions" must be a map: invalid argument' },
      { name: "snapshotKey not a string", payload: { id: "x", snapshotKey: 1 }, message: 'request field "snapshotKey" must be a string: invalid argument' },
    ];
    for (const c of shapes) {
      test(`payload shape: ${c.name}`, async () => {
        await rejects(p.client.requestRaw(commandSubject("ctrsvc", "containers", "create"), encode(c.payload)), "InvalidArgument", c.message);
      });
    }
  });

  describe("events", () => {
    test("full records, field paths, containerd topics and payloads", async () => {
      const ns = "ctrevents";
      const options = { type_url: "runc", value: new Uint8Array([1]) };
      await p.client.containers.create(ns, { id: "ev", image: "img", runtime: { name: "r", options }, spec: encoded, labels: { a: "1" } });
      await p.client.containers.update(ns, { id: "ev", snapshotKey: "k", labels: { b: "2" } }, ["labels.b"]);
      await p.client.containers.update(ns, { id: "ev", runtime: { name: "r" }, spec: encodedUpdated, image: "img2" });
      await p.client.containers.delete(ns, "ev");
      const log = (await events(p, ns)).filter((e) => e.event.type.startsWith("Container"));
      assert.deepEqual(
        log.map((e) => [e.event.type, e.topic]),
        [
          ["ContainerCreated", "/containers/create"],
          ["ContainerUpdated", "/containers/update"],
          ["ContainerUpdated", "/containers/update"],
          ["ContainerDeleted", "/containers/delete"],
        ],
      );
      const [created, labelled, replaced, deleted] = log.map((e) => plain(e.event));
      assert.deepEqual(containerdPayload(created!), { id: "ev", image: "img", runtime: { name: "r", options } });
      assert.deepEqual(containerdPayload(labelled!), { id: "ev", image: "img", labels: { a: "1", b: "2" }, snapshot_key: "" });
      assert.deepEqual(containerdPayload(replaced!), { id: "ev", image: "img2", labels: {}, snapshot_key: "" });
      assert.deepEqual(containerdPayload(deleted!), { id: "ev" });
      if (labelled!.type === "ContainerUpdated") assert.deepEqual(labelled.data.fieldPaths, ["labels.b"]);
      if (replaced!.type === "ContainerUpdated") {
        assert.deepEqual(replaced.data.fieldPaths, ["labels", "spec", "extensions", "image", "snapshotkey"]);
        // The full record: the runtime options survive a full replacement.
        assert.deepEqual(replaced.data.container.runtime, { name: "r", options });
        assert.deepEqual(replaced.data.container.spec, encodedUpdated);
      }
    });
  });
});
