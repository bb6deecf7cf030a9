/**
 * The container decider, given/when/then, with no I/O: every rule and text of
 * conformance A.6, and the cases of containerd's metadata/containers_test.go
 * (TestContainersCreateUpdateDelete) re-expressed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  decideContainer,
  type ContainerCommand,
  type ContainerInput,
  type ContainerState,
} from "../src/domain/containers.js";
import { PurserError } from "../src/errors/errdefs.js";
import type { ContainerEvent, ContainerRecord } from "../src/events/container-events.js";

const now = "2026-01-02T03:04:05.000Z";
const earlier = "2026-01-01T00:00:00.000Z";
const ns = "testing";

/** containerd's tests marshal an empty runtime spec into an Any; any opaque value will do here. */
const encoded = { type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec", value: new Uint8Array([123, 125]) };
const encodedUpdated = {
  type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
  value: new TextEncoder().encode('{"annotations":{"updated":"true"}}'),
};
const ext = (value: string) => ({ type_url: "test.update.extensions", value: new TextEncoder().encode(value) });

function input(over: Partial<ContainerInput> = {}): ContainerInput {
  return {
    id: "",
    labels: {},
    image: "",
    runtime: { name: "" },
    spec: undefined,
    snapshotter: "",
    snapshotKey: "",
    extensions: {},
    ...over,
  };
}

/** The record the create of `original` stores (created and updated `earlier`). */
function stored(original: ContainerInput): ContainerRecord {
  const [event] = decideContainer(
    { type: "CreateContainer", container: original },
    { namespace: ns, record: undefined, bucketExists: false },
    earlier,
  );
  return (event as Extract<ContainerEvent, { type: "ContainerCreated" }>).data.container;
}

function given(state: Partial<ContainerState>) {
  const full: ContainerState = { namespace: ns, record: undefined, bucketExists: true, ...state };
  return {
    when(command: ContainerCommand) {
      return {
        then(expected: ContainerEvent[]) {
          assert.deepEqual(decideContainer(command, full, now), expected);
        },
        thenFails(kind: string, message: string) {
          assert.throws(
            () => decideContainer(command, full, now),
            (err: unknown) => {
              assert.ok(err instanceof PurserError, `expected PurserError, got ${String(err)}`);
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

const pattern = "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$";

describe("container decider: create (A.6)", () => {
  test("full record with the service clock; empty-valued labels dropped; opaque values kept", () => {
    const options = { type_url: "runc.options", value: new Uint8Array([1, 2]) };
    given({ bucketExists: false })
      .when({
        type: "CreateContainer",
        container: input({
          id: "c1",
          labels: { a: "b", gone: "" },
          image: "docker.io/library/alpine:latest",
          runtime: { name: "io.containerd.runc.v2", options },
          spec: encoded,
          snapshotter: "native",
          snapshotKey: "c1",
          extensions: { hello: ext("hello") },
        }),
      })
      .then([
        {
          type: "ContainerCreated",
          data: {
            container: {
              id: "c1",
              labels: { a: "b" },
              image: "docker.io/library/alpine:latest",
              runtime: { name: "io.containerd.runc.v2", options },
              spec: encoded,
              snapshotter: "native",
              snapshotKey: "c1",
              extensions: { hello: ext("hello") },
              createdAt: now,
              updatedAt: now,
            },
          },
        },
      ]);
  });

  test("any msgpack value is a spec (a plain OCI spec object, a string, a number)", () => {
    for (const spec of [{ ociVersion: "1.0.2" }, "spec", 0, false, [1, 2]]) {
      const [event] = decideContainer(
        { type: "CreateContainer", container: input({ id: "c", runtime: { name: "r" }, spec }) },
        { namespace: ns, record: undefined, bucketExists: false },
        now,
      );
      assert.deepEqual((event as Extract<ContainerEvent, { type: "ContainerCreated" }>).data.container.spec, spec);
    }
  });

  const valid = { runtime: { name: "testruntime" }, spec: encoded };
  const invalid: Array<{ name: string; container: ContainerInput; message: string }> = [
    {
      name: "empty id",
      container: input({ ...valid }),
      message: "create container failed validation: container.ID: identifier must not be empty: invalid argument",
    },
    {
      name: "bad id (observed)",
      container: input({ ...valid, id: "bad id" }),
      message: `create container failed validation: container.ID: identifier "bad id" must match ${pattern}: invalid argument`,
    },
    {
      name: "id too long",
      container: input({ ...valid, id: "a".repeat(77) }),
      message: `create container failed validation: container.ID: identifier "${"a".repeat(77)}" greater than maximum length (76 characters): invalid argument`,
    },
    {
      name: "zero-length extension key, before labels",
      container: input({ ...valid, id: "c", extensions: { "": ext("x") }, labels: { k: "v".repeat(5000) } }),
      message: "create container failed validation: container.Extension keys must not be zero-length: invalid argument",
    },
    {
      name: "label too large (1.7+ wording, plural prefix)",
      container: input({ ...valid, id: "c", labels: { key: "v".repeat(4094) }, runtime: { name: "" } }),
      message:
        "create container failed validation: containers.Labels: label key and value length (4097 bytes) greater than maximum size (4096 bytes), key: key: invalid argument",
    },
    {
      name: "no runtime name",
      container: input({ id: "c", spec: encoded }),
      message: "create container failed validation: container.Runtime.Name must be set: invalid argument",
    },
    {
      name: "no spec",
      container: input({ id: "c", runtime: { name: "r" } }),
      message: "create container failed validation: container.Spec must be set: invalid argument",
    },
    {
      name: "nil spec",
      container: input({ id: "c", runtime: { name: "r" }, spec: null }),
      message: "create container failed validation: container.Spec must be set: invalid argument",
    },
    {
      name: "SnapshotKeyWithoutSnapshot",
      container: input({ ...valid, id: "SnapshotKeyWithoutSnapshot", snapshotKey: "/nosnapshot" }),
      message:
        "create container failed validation: container.Snapshotter must be set if container.SnapshotKey is set: invalid argument",
    },
  ];
  for (const c of invalid) {
    test(`invalid: ${c.name}`, () => {
      given({ bucketExists: false }).when({ type: "CreateContainer", container: c.container }).thenFails("InvalidArgument", c.message);
    });
  }

  test("image is not validated", () => {
    const [event] = decideContainer(
      { type: "CreateContainer", container: input({ ...valid, id: "c", image: "not a reference \u0001" }) },
      { namespace: ns, record: undefined, bucketExists: true },
      now,
    );
    assert.equal(event!.type, "ContainerCreated");
  });

  test("exists: AlreadyExists, after validation", () => {
    const record = stored(input({ ...valid, id: "c1" }));
    given({ record }).when({ type: "CreateContainer", container: input({ ...valid, id: "c1" }) }).thenFails(
      "AlreadyExists",
      'container "c1": already exists',
    );
    given({ record })
      .when({ type: "CreateContainer", container: input({ id: "c1", spec: encoded }) })
      .thenFails("InvalidArgument", "create container failed validation: container.Runtime.Name must be set: invalid argument");
  });
});

describe("container decider: update (containerd TestContainersCreateUpdateDelete)", () => {
  const cases: Array<{
    name: string;
    original: ContainerInput;
    input: ContainerInput;
    fieldPaths?: string[];
    expected?: Omit<ContainerRecord, "id" | "createdAt" | "updatedAt">;
    expectedPaths?: string[];
    error?: [string, string];
  }> = [
    {
      name: "UpdateIDFail",
      original: input({ spec: encoded, snapshotKey: "test-snapshot-key", snapshotter: "snapshotter", runtime: { name: "testruntime" } }),
      input: input({ id: "newid", spec: encoded, runtime: { name: "testruntime" } }),
      fieldPaths: ["id"],
      error: ["NotFound", 'container "newid": not found'],
    },
    {
      name: "UpdateRuntimeFail",
      original: input({ spec: encoded, snapshotKey: "test-snapshot-key", snapshotter: "snapshotter", runtime: { name: "testruntime" } }),
      input: input({ spec: encoded, runtime: { name: "testruntimedifferent" } }),
      fieldPaths: ["runtime"],
      error: ["InvalidArgument", 'cannot update "runtime" field on "UpdateRuntimeFail": invalid argument'],
    },
    {
      name: "UpdateRuntimeClearFail",
      original: input({ spec: encoded, snapshotKey: "test-snapshot-key", snapshotter: "snapshotter", runtime: { name: "testruntime" } }),
      input: input({ spec: encoded }),
      fieldPaths: ["runtime"],
      error: ["InvalidArgument", 'cannot update "runtime" field on "UpdateRuntimeClearFail": invalid argument'],
    },
    {
      name: "UpdateSpec",
      original: input({
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        runtime: { name: "testruntime" },
        image: "test image",
      }),
      input: input({ spec: encodedUpdated }),
      fieldPaths: ["spec"],
      expected: {
        labels: {},
        runtime: { name: "testruntime" },
        spec: encodedUpdated,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        image: "test image",
        extensions: {},
      },
    },
    {
      name: "UpdateSnapshot",
      original: input({
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        runtime: { name: "testruntime" },
        image: "test image",
      }),
      input: input({ snapshotKey: "test2-snapshot-key" }),
      fieldPaths: ["snapshotkey"],
      expected: {
        labels: {},
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "test2-snapshot-key",
        snapshotter: "snapshotter",
        image: "test image",
        extensions: {},
      },
    },
    {
      name: "UpdateImage",
      original: input({
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        runtime: { name: "testruntime" },
        image: "test image",
      }),
      input: input({ image: "test2 image" }),
      fieldPaths: ["image"],
      expected: {
        labels: {},
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        image: "test2 image",
        extensions: {},
      },
    },
    {
      name: "UpdateLabel",
      original: input({
        labels: { foo: "one", bar: "two" },
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        runtime: { name: "testruntime" },
        image: "test image",
      }),
      input: input({ labels: { bar: "baz" } }),
      fieldPaths: ["labels.bar"],
      expected: {
        labels: { foo: "one", bar: "baz" },
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        image: "test image",
        extensions: {},
      },
    },
    {
      name: "DeleteAllLabels",
      original: input({
        labels: { foo: "one", bar: "two" },
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        runtime: { name: "testruntime" },
        image: "test image",
      }),
      input: input({ labels: {} }),
      fieldPaths: ["labels"],
      expected: {
        labels: {},
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        image: "test image",
        extensions: {},
      },
    },
    {
      name: "DeleteLabel",
      original: input({
        labels: { foo: "one", bar: "two" },
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        runtime: { name: "testruntime" },
        image: "test image",
      }),
      input: input({ labels: { bar: "" } }),
      fieldPaths: ["labels.bar"],
      expected: {
        labels: { foo: "one" },
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "test-snapshot-key",
        snapshotter: "snapshotter",
        image: "test image",
        extensions: {},
      },
    },
    {
      name: "UpdateSnapshotKeyImmutable",
      original: input({ spec: encoded, runtime: { name: "testruntime" } }),
      input: input({ snapshotKey: "something", snapshotter: "something" }),
      fieldPaths: ["snapshotkey", "snapshotter"],
      error: ["InvalidArgument", 'cannot update "snapshotter" field on "UpdateSnapshotKeyImmutable": invalid argument'],
    },
    {
      name: "SnapshotKeyWithoutSnapshotter on update",
      original: input({ spec: encoded, runtime: { name: "testruntime" } }),
      input: input({ snapshotKey: "something" }),
      fieldPaths: ["snapshotkey"],
      error: [
        "InvalidArgument",
        "update failed validation: container.Snapshotter must be set if container.SnapshotKey is set: invalid argument",
      ],
    },
    {
      name: "ClearSpec",
      original: input({ spec: encoded, runtime: { name: "testruntime" } }),
      input: input({}),
      fieldPaths: ["spec"],
      error: ["InvalidArgument", "update failed validation: container.Spec must be set: invalid argument"],
    },
    {
      name: "UpdateExtensionsFull",
      original: input({ spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello") } }),
      input: input({ spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("world") } }),
      expected: {
        labels: {},
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "",
        snapshotter: "",
        image: "",
        extensions: { hello: ext("world") },
      },
      expectedPaths: ["labels", "spec", "extensions", "image", "snapshotkey"],
    },
    {
      name: "UpdateExtensionsNotInFieldpath",
      original: input({ spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello") } }),
      input: input({ spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("world") } }),
      fieldPaths: ["labels"],
      expected: {
        labels: {},
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "",
        snapshotter: "",
        image: "",
        extensions: { hello: ext("hello") },
      },
    },
    {
      name: "UpdateExtensionsFieldPath",
      original: input({ spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello") } }),
      input: input({ labels: { foo: "one" }, extensions: { hello: ext("world") } }),
      fieldPaths: ["extensions"],
      expected: {
        labels: {},
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "",
        snapshotter: "",
        image: "",
        extensions: { hello: ext("world") },
      },
    },
    {
      name: "UpdateExtensionsFieldPathIsolated",
      original: input({ spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello") } }),
      input: input({ extensions: { hello: ext("universe"), bar: ext("foo") } }),
      fieldPaths: ["extensions.bar"],
      expected: {
        labels: {},
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "",
        snapshotter: "",
        image: "",
        extensions: { hello: ext("hello"), bar: ext("foo") },
      },
    },
    {
      name: "RemoveExtension (purser: a key absent from the request is removed)",
      original: input({ spec: encoded, runtime: { name: "testruntime" }, extensions: { hello: ext("hello"), bar: ext("bar") } }),
      input: input({}),
      fieldPaths: ["extensions.hello"],
      expected: {
        labels: {},
        runtime: { name: "testruntime" },
        spec: encoded,
        snapshotKey: "",
        snapshotter: "",
        image: "",
        extensions: { bar: ext("bar") },
      },
    },
    {
      name: "zero-length extension key on update",
      original: input({ spec: encoded, runtime: { name: "testruntime" } }),
      input: input({ extensions: { "": ext("x") } }),
      fieldPaths: ["extensions"],
      error: ["InvalidArgument", "update failed validation: container.Extension keys must not be zero-length: invalid argument"],
    },
    {
      name: "label too large on update",
      original: input({ spec: encoded, runtime: { name: "testruntime" } }),
      input: input({ labels: { k: "v".repeat(4096) } }),
      fieldPaths: ["labels.k"],
      error: [
        "InvalidArgument",
        "update failed validation: containers.Labels: label key and value length (4097 bytes) greater than maximum size (4096 bytes), key: k: invalid argument",
      ],
    },
    {
      name: "SnapshotterImmutable (no field paths)",
      original: input({ spec: encoded, runtime: { name: "testruntime" }, snapshotter: "overlayfs", snapshotKey: "k" }),
      input: input({ spec: encoded, runtime: { name: "testruntime" }, snapshotter: "native", snapshotKey: "k" }),
      error: ["InvalidArgument", "container.Snapshotter field is immutable: invalid argument"],
    },
    {
      name: "RuntimeNameImmutable (no field paths)",
      original: input({ spec: encoded, runtime: { name: "testruntime" }, snapshotter: "overlayfs", snapshotKey: "k" }),
      input: input({ spec: encoded, runtime: { name: "other" }, snapshotter: "overlayfs", snapshotKey: "k" }),
      error: ["InvalidArgument", "container.Runtime.Name field is immutable: invalid argument"],
    },
    {
      name: "Snapshotter checked before the runtime name",
      original: input({ spec: encoded, runtime: { name: "testruntime" }, snapshotter: "overlayfs" }),
      input: input({ spec: encoded, runtime: { name: "other" } }),
      error: ["InvalidArgument", "container.Snapshotter field is immutable: invalid argument"],
    },
    {
      name: "FullReplace keeps runtime options and replaces the implied set",
      original: input({
        spec: encoded,
        runtime: { name: "testruntime", options: { type_url: "o", value: new Uint8Array([9]) } },
        snapshotter: "overlayfs",
        snapshotKey: "k",
        image: "img",
        labels: { a: "1" },
        extensions: { e: ext("e") },
      }),
      input: input({
        spec: encodedUpdated,
        runtime: { name: "testruntime", options: { type_url: "other", value: new Uint8Array([1]) } },
        snapshotter: "overlayfs",
        snapshotKey: "k2",
        image: "",
        labels: { b: "2" },
      }),
      expected: {
        labels: { b: "2" },
        runtime: { name: "testruntime", options: { type_url: "o", value: new Uint8Array([9]) } },
        spec: encodedUpdated,
        snapshotKey: "k2",
        snapshotter: "overlayfs",
        image: "",
        extensions: {},
      },
      expectedPaths: ["labels", "spec", "extensions", "image", "snapshotkey"],
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const id = c.name.replace(/[^A-Za-z0-9]+.*$/, "");
      const record = stored({ ...c.original, id });
      const command: ContainerCommand = {
        type: "UpdateContainer",
        container: { ...c.input, id: c.input.id || id },
        fieldPaths: c.fieldPaths ?? [],
      };
      const state: Partial<ContainerState> = { record: command.container.id === id ? record : undefined };
      if (c.error) return given(state).when(command).thenFails(c.error[0], c.error[1]);
      given(state)
        .when(command)
        .then([
          {
            type: "ContainerUpdated",
            data: {
              container: { id, ...c.expected!, createdAt: earlier, updatedAt: now },
              fieldPaths: c.expectedPaths ?? c.fieldPaths ?? [],
            },
          },
        ]);
    });
  }

  test("empty id (the store's text)", () => {
    given({}).when({ type: "UpdateContainer", container: input(), fieldPaths: [] }).thenFails(
      "InvalidArgument",
      "must specify a container id: invalid argument",
    );
  });

  test("no containers bucket in the namespace: the other NotFound text", () => {
    given({ bucketExists: false })
      .when({ type: "UpdateContainer", container: input({ id: "c1" }), fieldPaths: ["labels"] })
      .thenFails("NotFound", 'cannot update container "c1" in namespace "testing": not found');
  });

  test("NotFound before a bad field path", () => {
    given({}).when({ type: "UpdateContainer", container: input({ id: "c1" }), fieldPaths: ["bogus"] }).thenFails(
      "NotFound",
      'container "c1": not found',
    );
  });
});

describe("container decider: delete", () => {
  const record = stored(input({ id: "c1", spec: encoded, runtime: { name: "r" } }));
  test("deletes", () => {
    given({ record }).when({ type: "DeleteContainer", id: "c1" }).then([{ type: "ContainerDeleted", data: { id: "c1" } }]);
  });
  test("missing: NotFound, id unquoted (containerd's %v)", () => {
    given({}).when({ type: "DeleteContainer", id: "c1" }).thenFails("NotFound", "container c1: not found");
  });
  test("no containers bucket: NotFound naming the namespace", () => {
    given({ bucketExists: false }).when({ type: "DeleteContainer", id: "c1" }).thenFails(
      "NotFound",
      'cannot delete container "c1" in namespace "testing": not found',
    );
  });
});
