/**
 * The image decider, given/when/then, with no I/O: every rule and text of
 * conformance A.5, and the cases of containerd's metadata/images_test.go
 * (TestImagesCreateUpdateDelete) re-expressed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { decideImage, maxImageNameBytes, type ImageCommand, type ImageInput } from "../src/domain/images.js";
import { PurserError } from "../src/errors/errdefs.js";
import type { ImageEvent, ImageRecord } from "../src/events/image-events.js";
import { digestError } from "../src/validation/digest.js";

const now = "2026-01-02T03:04:05.000Z";
const earlier = "2026-01-01T00:00:00.000Z";

/** go-digest's `FromString`: what containerd's tests use for targets. */
const digestOf = (s: string) => "sha256:" + createHash("sha256").update(s).digest("hex");

function input(name: string, over: Partial<Omit<ImageInput, "target">> & { target?: Partial<ImageInput["target"]> } = {}): ImageInput {
  return {
    name,
    labels: over.labels ?? {},
    target: {
      mediaType: "",
      digest: digestOf(name),
      size: 0,
      annotations: {},
      ...over.target,
    },
  };
}

/** containerd's `imageBase()`. */
const base = (name: string): ImageInput =>
  input(name, {
    labels: { foo: "bar", baz: "boo" },
    target: { size: 10, mediaType: "application/vnd.oci.blab", annotations: { foo: "bar", baz: "boo" } },
  });

function stored(image: ImageInput, createdAt = earlier, updatedAt = earlier): ImageRecord {
  const [event] = decideImage({ type: "CreateImage", image }, { record: undefined }, createdAt);
  assert.equal(event!.type, "ImageCreated");
  return { ...(event as Extract<ImageEvent, { type: "ImageCreated" }>).data.image, updatedAt };
}

function given(record: ImageRecord | undefined) {
  return {
    when(command: ImageCommand) {
      return {
        then(expected: ImageEvent[]) {
          assert.deepEqual(decideImage(command, { record }, now), expected);
        },
        thenFails(kind: string, message: string) {
          assert.throws(
            () => decideImage(command, { record }, now),
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

describe("go-digest Validate (v1.0.0, as containerd 1.6 vendors it)", () => {
  const hex64 = "a".repeat(64);
  const cases: Array<[string, string, string | undefined]> = [
    ["sha256", `sha256:${hex64}`, undefined],
    ["sha384", `sha384:${"0".repeat(96)}`, undefined],
    ["sha512", `sha512:${"f".repeat(128)}`, undefined],
    ["empty", "", "invalid checksum digest format"],
    ["no colon", "sha256", "invalid checksum digest format"],
    ["empty algorithm", `:${hex64}`, "invalid checksum digest format"],
    ["empty encoded", "sha256:", "invalid checksum digest format"],
    ["short", "sha256:abc", "invalid checksum digest length"],
    ["long", `sha256:${hex64}0`, "invalid checksum digest length"],
    ["uppercase hex", `sha256:${"A".repeat(64)}`, "invalid checksum digest format"],
    ["not hex", `sha256:${"g".repeat(64)}`, "invalid checksum digest format"],
    ["unknown algorithm", "md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm"],
    ["unknown algorithm with separator", "sha3+b64:abc=", "unsupported digest algorithm"],
    ["uppercase algorithm", `SHA256:${hex64}`, "invalid checksum digest format"],
    ["unknown algorithm, bad encoded", "foo:a b", "invalid checksum digest format"],
  ];
  for (const [name, digest, want] of cases) {
    test(name, () => assert.equal(digestError(digest), want));
  }
});

describe("image decider: create (A.5)", () => {
  test("full record with the service clock; empty-valued labels and annotations dropped", () => {
    const image = base("img");
    image.labels.gone = "";
    image.target.annotations.gone = "";
    given(undefined)
      .when({ type: "CreateImage", image })
      .then([
        {
          type: "ImageCreated",
          data: {
            image: {
              name: "img",
              labels: { baz: "boo", foo: "bar" },
              target: {
                mediaType: "application/vnd.oci.blab",
                digest: digestOf("img"),
                size: 10,
                annotations: { baz: "boo", foo: "bar" },
              },
              createdAt: now,
              updatedAt: now,
            },
          },
        },
      ]);
  });

  test("no annotations: the target has none", () => {
    const [event] = decideImage({ type: "CreateImage", image: input("x", { target: { size: 1, mediaType: "m" } }) }, { record: undefined }, now);
    assert.deepEqual((event as Extract<ImageEvent, { type: "ImageCreated" }>).data.image.target, {
      mediaType: "m",
      digest: digestOf("x"),
      size: 1,
    });
  });

  // Validation, in containerd's order: name, labels, digest, size, media type.
  const invalid: Array<{ name: string; image: ImageInput; message: string }> = [
    { name: "empty name", image: { ...base("x"), name: "" }, message: "image name must not be empty: invalid argument" },
    {
      name: "name over the LMDB key limit (purser)",
      image: base("n".repeat(maxImageNameBytes + 1)),
      message: `image name greater than maximum length (${maxImageNameBytes} bytes): invalid argument`,
    },
    {
      name: "label too large (1.7+ wording), before the target",
      image: { ...input("x"), labels: { key: "v".repeat(4094) } },
      message:
        "image.Labels: label key and value length (4097 bytes) greater than maximum size (4096 bytes), key: key: invalid argument",
    },
    {
      name: "NoTarget (empty digest)",
      image: input("x", { labels: { foo: "bar" }, target: { digest: "" } }),
      message: 'Target.Digest "" invalid: invalid checksum digest format: invalid argument',
    },
    {
      name: "bad digest length",
      image: input("x", { target: { digest: "sha256:abc", size: 1, mediaType: "m" } }),
      message: 'Target.Digest "sha256:abc" invalid: invalid checksum digest length: invalid argument',
    },
    {
      name: "unsupported digest algorithm",
      image: input("x", { target: { digest: "md5:abc", size: 1, mediaType: "m" } }),
      message: 'Target.Digest "md5:abc" invalid: unsupported digest algorithm: invalid argument',
    },
    {
      name: "EmptySizeOnCreate",
      image: input("x", { target: { mediaType: "application/vnd.oci.blab" } }),
      message: "Target.Size must be greater than zero: invalid argument",
    },
    {
      name: "negative size",
      image: input("x", { target: { size: -1, mediaType: "m" } }),
      message: "Target.Size must be greater than zero: invalid argument",
    },
    {
      name: "EmptyMediaTypeOnCreate",
      image: input("x", { target: { size: 10 } }),
      message: "Target.MediaType must be set: invalid argument",
    },
  ];
  for (const c of invalid) {
    test(`invalid: ${c.name}`, () => {
      given(undefined).when({ type: "CreateImage", image: c.image }).thenFails("InvalidArgument", c.message);
    });
  }

  test("exists: AlreadyExists, after validation", () => {
    given(stored(base("img"))).when({ type: "CreateImage", image: base("img") }).thenFails("AlreadyExists", 'image "img": already exists');
    given(stored(base("img")))
      .when({ type: "CreateImage", image: input("img") })
      .thenFails("InvalidArgument", "Target.Size must be greater than zero: invalid argument");
  });
});

describe("image decider: update with field paths (containerd TestImagesCreateUpdateDelete)", () => {
  const cases: Array<{
    name: string;
    input: ImageInput;
    fieldPaths?: string[];
    expected?: Omit<ImageRecord, "name" | "createdAt" | "updatedAt">;
    expectedPaths?: string[];
    error?: [string, string];
  }> = [
    {
      name: "Touch",
      input: input("Touch", {
        labels: { foo: "bar", baz: "boo" },
        target: { size: 10, mediaType: "application/vnd.oci.blab", annotations: { foo: "bar" } },
      }),
      expected: {
        labels: { baz: "boo", foo: "bar" },
        target: { size: 10, mediaType: "application/vnd.oci.blab", digest: digestOf("Touch"), annotations: { foo: "bar" } },
      },
      expectedPaths: ["labels", "target"],
    },
    {
      name: "ReplaceLabels",
      input: input("ReplaceLabels", {
        labels: { for: "bar", boo: "boo" },
        target: { size: 10, mediaType: "application/vnd.oci.blab", annotations: { foo: "bar" } },
      }),
      expected: {
        labels: { boo: "boo", for: "bar" },
        target: { size: 10, mediaType: "application/vnd.oci.blab", digest: digestOf("ReplaceLabels"), annotations: { foo: "bar" } },
      },
    },
    {
      name: "ReplaceLabelsFieldPath",
      input: input("ReplaceLabelsFieldPath", {
        labels: { for: "bar", boo: "boo" },
        target: { size: 20, mediaType: "application/vnd.oci.blab+ignored", annotations: { not: "bar", new: "boo" } },
      }),
      fieldPaths: ["labels"],
      expected: {
        labels: { boo: "boo", for: "bar" },
        target: {
          size: 10,
          mediaType: "application/vnd.oci.blab",
          digest: digestOf("ReplaceLabelsFieldPath"),
          annotations: { baz: "boo", foo: "bar" },
        },
      },
      expectedPaths: ["labels"],
    },
    {
      name: "ReplaceLabelsAnnotationsFieldPath",
      input: input("ReplaceLabelsAnnotationsFieldPath", {
        labels: { for: "bar", boo: "boo" },
        target: { size: 20, mediaType: "application/vnd.oci.blab+ignored", annotations: { foo: "boo" } },
      }),
      fieldPaths: ["annotations", "labels"],
      expected: {
        labels: { boo: "boo", for: "bar" },
        target: {
          size: 10,
          mediaType: "application/vnd.oci.blab",
          digest: digestOf("ReplaceLabelsAnnotationsFieldPath"),
          annotations: { foo: "boo" },
        },
      },
    },
    {
      name: "ReplaceLabel",
      input: input("ReplaceLabel", {
        labels: { foo: "baz", baz: "bunk" },
        target: { size: 20, mediaType: "application/vnd.oci.blab+ignored", annotations: { foo: "bar" } },
      }),
      fieldPaths: ["labels.foo"],
      expected: {
        labels: { baz: "boo", foo: "baz" },
        target: {
          size: 10,
          mediaType: "application/vnd.oci.blab",
          digest: digestOf("ReplaceLabel"),
          annotations: { baz: "boo", foo: "bar" },
        },
      },
    },
    {
      name: "RemoveLabel (a key absent from the request reads as empty)",
      input: input("RemoveLabel"),
      fieldPaths: ["labels.foo"],
      expected: {
        labels: { baz: "boo" },
        target: {
          size: 10,
          mediaType: "application/vnd.oci.blab",
          digest: digestOf("RemoveLabel"),
          annotations: { baz: "boo", foo: "bar" },
        },
      },
    },
    {
      name: "ReplaceAnnotation",
      input: input("ReplaceAnnotation", {
        labels: { foo: "baz", baz: "bunk" },
        target: { size: 20, mediaType: "application/vnd.oci.blab+ignored", annotations: { foo: "baz", baz: "bunk" } },
      }),
      fieldPaths: ["annotations.foo"],
      expected: {
        labels: { baz: "boo", foo: "bar" },
        target: {
          size: 10,
          mediaType: "application/vnd.oci.blab",
          digest: digestOf("ReplaceAnnotation"),
          annotations: { baz: "boo", foo: "baz" },
        },
      },
    },
    {
      name: "RemoveAllAnnotations",
      input: input("RemoveAllAnnotations"),
      fieldPaths: ["annotations"],
      expected: {
        labels: { baz: "boo", foo: "bar" },
        target: { size: 10, mediaType: "application/vnd.oci.blab", digest: digestOf("RemoveAllAnnotations") },
      },
    },
    {
      name: "ReplaceTarget (as a unit)",
      input: input("ReplaceTarget", {
        target: { size: 10, mediaType: "application/vnd.oci.blab+replaced", annotations: { fox: "dog" } },
      }),
      fieldPaths: ["target"],
      expected: {
        labels: { baz: "boo", foo: "bar" },
        target: {
          size: 10,
          mediaType: "application/vnd.oci.blab+replaced",
          digest: digestOf("ReplaceTarget"),
          annotations: { fox: "dog" },
        },
      },
    },
    {
      name: "EmptySize (validation runs after the merge)",
      input: input("EmptySize", {
        labels: { foo: "bar", baz: "boo" },
        target: { size: 0, mediaType: "application/vnd.oci.blab", annotations: { foo: "bar" } },
      }),
      error: ["InvalidArgument", "Target.Size must be greater than zero: invalid argument"],
    },
    {
      name: "EmptyMediaType",
      input: input("EmptyMediaType", { labels: { foo: "bar", baz: "boo" }, target: { size: 10 } }),
      error: ["InvalidArgument", "Target.MediaType must be set: invalid argument"],
    },
    {
      name: "target replaced by an invalid one",
      input: input("BadTarget", { target: { size: 10, mediaType: "m", digest: "sha256:xyz" } }),
      fieldPaths: ["target"],
      error: ["InvalidArgument", 'Target.Digest "sha256:xyz" invalid: invalid checksum digest length: invalid argument'],
    },
    {
      name: "label too large through labels.<k>",
      input: input("BigLabel", { labels: { k: "v".repeat(4096) } }),
      fieldPaths: ["labels.k"],
      error: [
        "InvalidArgument",
        "image.Labels: label key and value length (4097 bytes) greater than maximum size (4096 bytes), key: k: invalid argument",
      ],
    },
    {
      name: "unknown field path",
      input: input("UnknownPath"),
      fieldPaths: ["labels.ok", "name"],
      error: ["InvalidArgument", 'cannot update "name" field on image "UnknownPath": invalid argument'],
    },
    {
      name: "target.size is not a path (target goes as a unit)",
      input: input("TargetSize"),
      fieldPaths: ["target.size"],
      error: ["InvalidArgument", 'cannot update "target.size" field on image "TargetSize": invalid argument'],
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const name = c.input.name;
      const record = stored(base(name), earlier, earlier);
      const command: ImageCommand = { type: "UpdateImage", image: c.input, fieldPaths: c.fieldPaths ?? [] };
      if (c.error) return given(record).when(command).thenFails(c.error[0], c.error[1]);
      given(record)
        .when(command)
        .then([
          {
            type: "ImageUpdated",
            data: {
              image: { name, ...c.expected!, createdAt: earlier, updatedAt: now },
              fieldPaths: c.expectedPaths ?? (c.fieldPaths?.length ? c.fieldPaths : ["labels", "target"]),
            },
          },
        ]);
    });
  }

  test("TryUpdateNameFail: another name is NotFound", () => {
    given(undefined)
      .when({ type: "UpdateImage", image: { ...base("x"), name: "test should fail" }, fieldPaths: [] })
      .thenFails("NotFound", 'image "test should fail": not found');
  });

  test("empty name (the store's text)", () => {
    given(undefined)
      .when({ type: "UpdateImage", image: { ...base("x"), name: "" }, fieldPaths: [] })
      .thenFails("InvalidArgument", "image name is required for update: invalid argument");
  });

  test("missing image is NotFound before a bad field path", () => {
    given(undefined)
      .when({ type: "UpdateImage", image: base("gone"), fieldPaths: ["bogus"] })
      .thenFails("NotFound", 'image "gone": not found');
  });
});

describe("image decider: delete", () => {
  test("deletes", () => {
    given(stored(base("img"))).when({ type: "DeleteImage", name: "img" }).then([{ type: "ImageDeleted", data: { name: "img" } }]);
  });
  test("missing: NotFound", () => {
    given(undefined).when({ type: "DeleteImage", name: "img" }).thenFails("NotFound", 'image "img": not found');
  });
});
