/**
 * Images against a real nats-server and LMDB, table-driven in the style of
 * containerd's metadata/images_test.go: every case named, every error asserted
 * by class and exact text (conformance A.5, A.12, A.13).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encode } from "@msgpack/msgpack";
import { after, before, describe, test } from "node:test";
import { readEvents } from "../src/client/event-log.js";
import type { ImageSpec } from "../src/client/images-api.js";
import { PurserError } from "../src/errors/errdefs.js";
import { containerdPayload } from "../src/events/containerd-payload.js";
import type { StoredEvent } from "../src/events/envelope.js";
import type { ImageRecord } from "../src/events/image-events.js";
import { commandSubject } from "../src/protocol/subjects.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { rejects } from "./support/assertions.js";

const digestOf = (s: string) => "sha256:" + createHash("sha256").update(s).digest("hex");

/** A clock the test moves: every reading is one second after the previous one. */
function steppingClock(start = Date.parse("2026-03-01T00:00:00.000Z")) {
  let t = start;
  return { now: () => new Date((t += 1000)) };
}

/** containerd's `imageBase()`. */
function imageBase(name: string): ImageSpec {
  return {
    name,
    labels: { foo: "bar", baz: "boo" },
    target: {
      size: 10,
      mediaType: "application/vnd.oci.blab",
      digest: digestOf(name),
      annotations: { foo: "bar", baz: "boo" },
    },
  };
}

async function events(p: TestPurser, namespace: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  await readEvents(p.client.nc, { namespaces: [namespace], follow: false }, (e) => out.push(e));
  return out;
}

describe("images against a real nats-server and LMDB", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser({ clock: steppingClock() });
  });
  after(async () => {
    await p.stop();
  });

  describe("TestImagesList", () => {
    const ns = "imglist";
    const testset = new Map<string, ImageRecord>();
    let rv = 0;
    before(async () => {
      for (let i = 0; i < 4; i++) {
        const name = `image-${i}`;
        const reply = await p.client.images.create(ns, {
          name,
          labels: { namelabel: name, even: String(i % 2 === 0), odd: String(i % 2 !== 0) },
          target: {
            size: 10,
            mediaType: i === 3 ? "text/plain" : "application/vnd.containerd.test",
            digest: digestOf(name),
            annotations: { foo: i < 2 ? "bar" : "baz", [`a.${i}`]: "dotted" },
          },
        });
        assert.equal(reply.result.createdAt, reply.result.updatedAt, "timestamps equal on create");
        testset.set(name, reply.result);
        rv = reply.rv;
      }
    });

    const cases: Array<{ name: string; filters: string[]; want: string[] }> = [
      { name: "FullSet", filters: [], want: ["image-0", "image-1", "image-2", "image-3"] },
      { name: "FullSetFiltered (OR)", filters: ["labels.even==true", "labels.odd==true"], want: ["image-0", "image-1", "image-2", "image-3"] },
      { name: "Even", filters: ["labels.even==true"], want: ["image-0", "image-2"] },
      { name: "Odd", filters: ["labels.odd==true"], want: ["image-1", "image-3"] },
      { name: "ByName", filters: ["name==image-0"], want: ["image-0"] },
      { name: "ByNames (OR of exact names)", filters: ["name==image-3", "name==image-1"], want: ["image-1", "image-3"] },
      { name: "ByNameAndLabel", filters: ["name==image-1,labels.even==true"], want: [] },
      { name: "ByNameLabelEven", filters: ["labels.namelabel==image-0,labels.even==true"], want: ["image-0"] },
      { name: "ByMediaType", filters: ["target.mediatype~=application/vnd.*"], want: ["image-0", "image-1", "image-2"] },
      { name: "ByDigest", filters: [`target.digest==${digestOf("image-2")}`], want: ["image-2"] },
      { name: "ByAnnotation", filters: ["annotations.foo==baz"], want: ["image-2", "image-3"] },
      { name: "AnnotationKeyWithDot", filters: ["annotations.a.1"], want: ["image-1"] },
      { name: "LabelPresent", filters: ["labels.namelabel"], want: ["image-0", "image-1", "image-2", "image-3"] },
      { name: "LabelAbsent matches !=", filters: ["labels.nope!=x"], want: ["image-0", "image-1", "image-2", "image-3"] },
      { name: "NameNotEqual", filters: ["name!=image-0"], want: ["image-1", "image-2", "image-3"] },
      { name: "NameRegexp", filters: ["name~=/^image-[12]$/"], want: ["image-1", "image-2"] },
      { name: "target alone is not a field", filters: ["target"], want: [] },
      { name: "unknown field", filters: ["size==10"], want: [] },
      { name: "empty filter string matches everything", filters: [""], want: ["image-0", "image-1", "image-2", "image-3"] },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const { result } = await p.client.images.list(ns, c.filters, { minRv: rv });
        assert.deepEqual(
          result.map((i) => i.name),
          c.want,
        );
        for (const image of result) assert.deepEqual(image, testset.get(image.name));
      });
    }

    const parseErrors: Array<{ name: string; filters: string[]; message: string }> = [
      {
        name: "observed: value starting with a separator",
        filters: ["name==.x"],
        message: "filters: parse error: [name== >|.|< x]: expected value or quoted: invalid argument: invalid argument",
      },
      {
        name: "missing value",
        filters: ["labels.even=="],
        message: "filters: parse error: [labels.even==]: expected value or quoted: invalid argument: invalid argument",
      },
      {
        name: "an error in any of the strings",
        filters: ["name==image-0", "name==/x/"],
        message: "filters: parse error: [name== >|/|< x/]: invalid quote encountered: invalid argument: invalid argument",
      },
    ];
    for (const c of parseErrors) {
      test(`parse error: ${c.name}`, async () => {
        await rejects(p.client.images.list(ns, c.filters), "InvalidArgument", c.message);
      });
    }

    test("invalid regular expression: InvalidArgument at parse time (divergence 5)", async () => {
      await assert.rejects(p.client.images.list(ns, ["name~=/a(/"]), (err: unknown) => {
        assert.ok(err instanceof PurserError);
        assert.equal(err.kind, "InvalidArgument");
        assert.match(err.message, /^filters: parse error: .*: invalid argument: invalid argument$/);
        return true;
      });
    });

    test("another namespace sees none of them", async () => {
      const created = await p.client.images.create("imglist-other", imageBase("image-0"));
      const { result } = await p.client.images.list("imglist-other", [], { minRv: created.rv });
      assert.deepEqual(
        result.map((i) => i.name),
        ["image-0"],
      );
      assert.notDeepEqual(result[0], testset.get("image-0"));
    });

    test("delete everything, then delete again: NotFound", async () => {
      let last = 0;
      for (const name of testset.keys()) {
        last = (await p.client.images.delete(ns, name)).rv;
        // No minRv needed: a command decided on stale views fails its OCC check and decides again.
        await rejects(p.client.images.delete(ns, name), "NotFound", `image "${name}": not found`);
      }
      const { result } = await p.client.images.list(ns, [], { minRv: last });
      assert.deepEqual(result, []);
    });
  });

  describe("TestImagesCreateUpdateDelete", () => {
    const ns = "imgcud";
    const cases: Array<{
      name: string;
      original?: ImageSpec;
      createError?: [string, string];
      input?: Partial<ImageSpec>;
      fieldPaths?: string[];
      expected?: Omit<ImageRecord, "name" | "createdAt" | "updatedAt">;
      error?: [string, string];
    }> = [
      {
        name: "Touch",
        input: {
          labels: { foo: "bar", baz: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", annotations: { foo: "bar" } },
        },
        expected: {
          labels: { foo: "bar", baz: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", digest: "", annotations: { foo: "bar" } },
        },
      },
      {
        name: "NoTarget",
        original: { name: "NoTarget", labels: { foo: "bar", baz: "boo" } },
        createError: ["InvalidArgument", 'Target.Digest "" invalid: invalid checksum digest format: invalid argument'],
      },
      {
        name: "ReplaceLabels",
        input: {
          labels: { for: "bar", boo: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", annotations: { foo: "bar" } },
        },
        expected: {
          labels: { for: "bar", boo: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", digest: "", annotations: { foo: "bar" } },
        },
      },
      {
        name: "ReplaceLabelsFieldPath",
        input: {
          labels: { for: "bar", boo: "boo" },
          target: { size: 20, mediaType: "application/vnd.oci.blab+ignored", annotations: { not: "bar", new: "boo" } },
        },
        fieldPaths: ["labels"],
        expected: {
          labels: { for: "bar", boo: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", digest: "", annotations: { foo: "bar", baz: "boo" } },
        },
      },
      {
        name: "ReplaceLabelsAnnotationsFieldPath",
        input: {
          labels: { for: "bar", boo: "boo" },
          target: { size: 20, mediaType: "application/vnd.oci.blab+ignored", annotations: { foo: "boo" } },
        },
        fieldPaths: ["annotations", "labels"],
        expected: {
          labels: { for: "bar", boo: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", digest: "", annotations: { foo: "boo" } },
        },
      },
      {
        name: "ReplaceLabel",
        input: {
          labels: { foo: "baz", baz: "bunk" },
          target: { size: 20, mediaType: "application/vnd.oci.blab+ignored", annotations: { foo: "bar" } },
        },
        fieldPaths: ["labels.foo"],
        expected: {
          labels: { foo: "baz", baz: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", digest: "", annotations: { foo: "bar", baz: "boo" } },
        },
      },
      {
        name: "ReplaceAnnotation",
        input: {
          labels: { foo: "baz", baz: "bunk" },
          target: { size: 20, mediaType: "application/vnd.oci.blab+ignored", annotations: { foo: "baz", baz: "bunk" } },
        },
        fieldPaths: ["annotations.foo"],
        expected: {
          labels: { foo: "bar", baz: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", digest: "", annotations: { foo: "baz", baz: "boo" } },
        },
      },
      {
        name: "ReplaceTarget",
        input: { target: { size: 10, mediaType: "application/vnd.oci.blab+replaced", annotations: { fox: "dog" } } },
        fieldPaths: ["target"],
        expected: {
          labels: { foo: "bar", baz: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab+replaced", digest: "", annotations: { fox: "dog" } },
        },
      },
      {
        name: "RemoveLabelWithEmptyValue",
        input: { labels: { foo: "" } },
        fieldPaths: ["labels.foo"],
        expected: {
          labels: { baz: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", digest: "", annotations: { foo: "bar", baz: "boo" } },
        },
      },
      {
        name: "EmptySize",
        input: {
          labels: { foo: "bar", baz: "boo" },
          target: { size: 0, mediaType: "application/vnd.oci.blab", annotations: { foo: "bar" } },
        },
        error: ["InvalidArgument", "Target.Size must be greater than zero: invalid argument"],
      },
      {
        name: "EmptySizeOnCreate",
        original: {
          name: "EmptySizeOnCreate",
          labels: { foo: "bar", baz: "boo" },
          target: { mediaType: "application/vnd.oci.blab", digest: digestOf("EmptySizeOnCreate"), annotations: { foo: "bar" } },
        },
        createError: ["InvalidArgument", "Target.Size must be greater than zero: invalid argument"],
      },
      {
        name: "EmptyMediaType",
        input: { labels: { foo: "bar", baz: "boo" }, target: { size: 10 } },
        error: ["InvalidArgument", "Target.MediaType must be set: invalid argument"],
      },
      {
        name: "EmptyMediaTypeOnCreate",
        original: { name: "EmptyMediaTypeOnCreate", target: { size: 10, digest: digestOf("x") } },
        createError: ["InvalidArgument", "Target.MediaType must be set: invalid argument"],
      },
      {
        name: "TryUpdateNameFail",
        input: {
          name: "test should fail",
          labels: { foo: "bar", baz: "boo" },
          target: { size: 10, mediaType: "application/vnd.oci.blab", annotations: { foo: "bar" } },
        },
        error: ["NotFound", 'image "test should fail": not found'],
      },
      {
        name: "UnknownFieldPath",
        input: {},
        fieldPaths: ["labels.a", "createdat"],
        error: ["InvalidArgument", 'cannot update "createdat" field on image "UnknownFieldPath": invalid argument'],
      },
      {
        name: "BadDigestOnCreate",
        original: { name: "BadDigestOnCreate", target: { size: 1, mediaType: "m", digest: "sha256:ABC" } },
        createError: ["InvalidArgument", 'Target.Digest "sha256:ABC" invalid: invalid checksum digest length: invalid argument'],
      },
      {
        name: "LabelTooLarge",
        original: { ...imageBase("LabelTooLarge"), labels: { k: "v".repeat(4096) } },
        createError: [
          "InvalidArgument",
          "image.Labels: label key and value length (4097 bytes) greater than maximum size (4096 bytes), key: k: invalid argument",
        ],
      },
    ];

    for (const c of cases) {
      test(c.name, async () => {
        const original = c.original ?? imageBase(c.name);
        if (c.createError) {
          await rejects(p.client.images.create(ns, original), c.createError[0], c.createError[1]);
          await rejects(p.client.images.get(ns, c.name), "NotFound", `image "${c.name}": not found`);
          return;
        }
        const created = await p.client.images.create(ns, original);
        assert.equal(created.result.createdAt, created.result.updatedAt);
        assert.deepEqual(created.result.labels, original.labels ?? {});

        const digest = original.target!.digest!;
        const inputTarget = c.input?.target ? { ...c.input.target, digest } : { digest };
        const input: ImageSpec = { ...c.input, name: c.input?.name ?? c.name, target: inputTarget };
        if (c.error) {
          await rejects(p.client.images.update(ns, input, c.fieldPaths), c.error[0], c.error[1]);
          // A refused update changes nothing.
          const got = await p.client.images.get(ns, c.name, { minRv: created.rv });
          assert.deepEqual(got.result, created.result);
          return;
        }
        const updated = await p.client.images.update(ns, input, c.fieldPaths);
        const expected: ImageRecord = {
          name: c.name,
          ...c.expected!,
          target: { ...c.expected!.target, digest },
          createdAt: created.result.createdAt,
          updatedAt: updated.result.updatedAt,
        };
        assert.deepEqual(updated.result, expected);
        assert.ok(updated.result.updatedAt > updated.result.createdAt, "updatedAt after createdAt");

        const got = await p.client.images.get(ns, c.name, { minRv: updated.rv });
        assert.deepEqual(got.result, expected);
      });
    }
  });

  describe("the service in front of the store", () => {
    const ns = "imgsvc";
    test("create without a name: the service's text", async () => {
      await rejects(p.client.images.create(ns, { name: "", target: imageBase("x").target }), "InvalidArgument", "Image.Name required: invalid argument");
    });
    test("update without a name: the service's text", async () => {
      await rejects(p.client.images.update(ns, { name: "" }, ["labels"]), "InvalidArgument", "Image.Name required: invalid argument");
    });
    test("get of a missing image", async () => {
      await rejects(p.client.images.get(ns, "nope"), "NotFound", 'image "nope": not found');
    });
    test("create twice: AlreadyExists", async () => {
      await p.client.images.create(ns, imageBase("dup"));
      await rejects(p.client.images.create(ns, imageBase("dup")), "AlreadyExists", 'image "dup": already exists');
    });
    test("delete accepts sync", async () => {
      await p.client.images.create(ns, imageBase("synced"));
      const reply = await p.client.images.delete(ns, "synced", { sync: true });
      assert.equal(reply.result, null);
      await rejects(p.client.images.get(ns, "synced", { minRv: reply.rv }), "NotFound", 'image "synced": not found');
    });
    test("create again after delete (only-if-absent holds on a subject with history)", async () => {
      const first = await p.client.images.create(ns, imageBase("again"));
      await p.client.images.delete(ns, "again");
      const second = await p.client.images.create(ns, { ...imageBase("again"), labels: { life: "2" } });
      assert.deepEqual(second.result.labels, { life: "2" });
      assert.ok(second.result.createdAt > first.result.createdAt);
    });
    test("long names get bounded subjects", async () => {
      const name = `registry.example.com/${"deep/".repeat(60)}image:tag`;
      const created = await p.client.images.create(ns, imageBase(name));
      const got = await p.client.images.get(ns, name, { minRv: created.rv });
      assert.equal(got.result.name, name);
      const { result } = await p.client.images.list(ns, [`name=="${name}"`], { minRv: created.rv });
      assert.equal(result.length, 1);
    });
    test("name over the key limit", async () => {
      const name = "n".repeat(1801);
      await rejects(p.client.images.create(ns, imageBase(name)), "InvalidArgument", 'request field "name" greater than maximum length (1800 bytes): invalid argument');
      // A get of such a name is refused as well: no longer a lookup of a key LMDB cannot hold.
      await rejects(p.client.images.get(ns, name), "InvalidArgument", 'request field "name" greater than maximum length (1800 bytes): invalid argument');
    });

    const shapes: Array<{ name: string; payload: Record<string, unknown>; message: string }> = [
      { name: "target not a map", payload: { name: "x", target: "sha256:..." }, message: 'request field "target" must be a map: invalid argument' },
      {
        name: "size not an integer",
        payload: { name: "x", target: { size: "10" } },
        message: 'request field "target.size" must be an integer: invalid argument',
      },
      {
        name: "annotations not strings",
        payload: { name: "x", target: { annotations: { a: 1 } } },
        message: 'request field "target.annotations" must be a map of strings (key "a"): invalid argument',
      },
      { name: "labels not a map", payload: { name: "x", labels: ["a"] }, message: 'request field "labels" must be a map of strings: invalid argument' },
      { name: "name not a string", payload: { name: 7 }, message: 'request field "name" must be a string: invalid argument' },
    ];
    for (const c of shapes) {
      test(`payload shape: ${c.name}`, async () => {
        await rejects(
          p.client.requestRaw(commandSubject(ns, "images", "create"), encode(c.payload)),
          "InvalidArgument",
          c.message,
        );
      });
    }
    test("payload shape: fieldPaths not strings", async () => {
      await rejects(
        p.client.requestRaw(commandSubject(ns, "images", "update"), encode({ name: "dup", fieldPaths: [1] })),
        "InvalidArgument",
        'request field "fieldPaths" must be a list of strings: invalid argument',
      );
    });
    test("payload shape: filters not strings", async () => {
      await rejects(
        p.client.requestRaw(commandSubject(ns, "images", "list"), encode({ filters: "name==x" })),
        "InvalidArgument",
        'request field "filters" must be a list of strings: invalid argument',
      );
    });
  });

  describe("namespaces", () => {
    test("an image creates its namespace implicitly, and holds it", async () => {
      const created = await p.client.images.create("imgimplicit", imageBase("held"));
      const log = await events(p, "imgimplicit");
      assert.deepEqual(
        log.map((e) => e.event.type),
        ["NamespaceCreated", "ImageCreated"],
      );
      assert.equal((log[0]!.event as { data: { implicit: boolean } }).data.implicit, true);
      const listed = await p.client.namespaces.list({ imgimplicit: created.rv });
      assert.ok(listed.result.some((n) => n.name === "imgimplicit"));
      await rejects(
        p.client.namespaces.delete("imgimplicit"),
        "FailedPrecondition",
        'namespace "imgimplicit" must be empty, but it still has images: failed precondition',
      );
      await p.client.images.delete("imgimplicit", "held");
      await p.client.namespaces.delete("imgimplicit");
    });
    test("an invalid namespace", async () => {
      await rejects(
        p.client.images.create("bad ns", imageBase("x")),
        "InvalidArgument",
        'namespace validation: identifier "bad ns" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument',
      );
    });
  });

  describe("events", () => {
    test("full records, field paths, containerd topics and payloads", async () => {
      const ns = "imgevents";
      await p.client.images.create(ns, imageBase("ev"));
      await p.client.images.update(ns, { name: "ev", labels: { x: "y" } }, ["labels.x"]);
      await p.client.images.update(ns, { ...imageBase("ev"), labels: {} });
      await p.client.images.delete(ns, "ev");
      const log = (await events(p, ns)).filter((e) => e.event.type.startsWith("Image"));
      assert.deepEqual(
        log.map((e) => [e.event.type, e.topic]),
        [
          ["ImageCreated", "/images/create"],
          ["ImageUpdated", "/images/update"],
          ["ImageUpdated", "/images/update"],
          ["ImageDeleted", "/images/delete"],
        ],
      );
      const [created, labelled, replaced, deleted] = log.map((e) => e.event);
      assert.equal(created!.type, "ImageCreated");
      if (created!.type === "ImageCreated") assert.equal(created.data.image.target.digest, digestOf("ev"));
      if (labelled!.type === "ImageUpdated") {
        assert.deepEqual(labelled.data.fieldPaths, ["labels.x"]);
        assert.deepEqual(labelled.data.image.labels, { baz: "boo", foo: "bar", x: "y" });
        assert.equal(labelled.data.image.target.size, 10);
      }
      if (replaced!.type === "ImageUpdated") assert.deepEqual(replaced.data.fieldPaths, ["labels", "target"]);
      assert.deepEqual(containerdPayload(created!), { name: "ev", labels: { baz: "boo", foo: "bar" } });
      assert.deepEqual(containerdPayload(replaced!), { name: "ev", labels: {} });
      assert.deepEqual(containerdPayload(deleted!), { name: "ev" });
      // Every event of an image lives on the image's own subject.
      assert.equal(new Set(log.map((e) => e.subject)).size, 1);
    });

    test("concurrent writes to one image: OCC loses none, creates only if absent", async () => {
      const ns = "imgocc";
      const creates = await Promise.allSettled(Array.from({ length: 8 }, () => p.client.images.create(ns, imageBase("hot"))));
      assert.equal(creates.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of creates) {
        if (r.status === "rejected") assert.equal((r.reason as PurserError).message, 'image "hot": already exists');
      }
      const updates = await Promise.all(
        Array.from({ length: 16 }, (_, i) => p.client.images.update(ns, { name: "hot", labels: { [`k${i}`]: String(i) } }, [`labels.k${i}`])),
      );
      const rv = Math.max(...updates.map((u) => u.rv));
      const { result } = await p.client.images.get(ns, "hot", { minRv: rv });
      for (let i = 0; i < 16; i++) assert.equal(result.labels[`k${i}`], String(i));
      const log = (await events(p, ns)).filter((e) => e.event.type.startsWith("Image"));
      assert.deepEqual(
        log.map((e) => e.event.type),
        ["ImageCreated", ...Array<string>(16).fill("ImageUpdated")],
      );
    });

    test("a retried command (same command id) appends once", async () => {
      const ns = "imgidem";
      const first = await p.client.images.create(ns, imageBase("once"), { commandId: "cmd-once" });
      // At once (the views may not have the first one yet: JetStream's msg id dedupes) …
      const second = await p.client.images.create(ns, imageBase("once"), { commandId: "cmd-once" });
      assert.equal(second.rv, first.rv);
      // … and once the views have it (the runner replays the reply).
      await p.client.images.get(ns, "once", { minRv: first.rv });
      const third = await p.client.images.create(ns, imageBase("once"), { commandId: "cmd-once" });
      assert.equal(third.rv, first.rv);
      assert.deepEqual(third.result, first.result);
      const up1 = await p.client.images.update(ns, { name: "once", labels: { a: "1" } }, ["labels.a"], { commandId: "cmd-up" });
      const up2 = await p.client.images.update(ns, { name: "once", labels: { a: "1" } }, ["labels.a"], { commandId: "cmd-up" });
      assert.equal(up2.rv, up1.rv);
      const log = (await events(p, ns)).filter((e) => e.event.type.startsWith("Image"));
      assert.equal(log.length, 2);
    });
  });
});
