import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { encode } from "@msgpack/msgpack";
import { jetstream } from "@nats-io/jetstream";
import { eventSubject, ObjectKind } from "../src/events/subjects.js";
import type { Projection } from "../src/projections/projection.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { runCli } from "./support/cli.js";

const target = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${"e".repeat(64)}`, size: 10 };

/**
 * Poison events (issue 11): messages on a namespace's subjects that are not
 * purser events, or that a projection throws on. Published straight into the
 * log, as a NATS admin could. Each is quarantined; nothing else stops.
 */
describe("poison events are quarantined, and nothing else stops", () => {
  let p: TestPurser;
  let poisonRv = 0;
  before(async () => {
    // A projection with a bug: it throws on one image (the others apply).
    const buggy: Projection = {
      name: "test-buggy",
      databases: [],
      apply(_views, stored) {
        if (stored.event.type === "ImageCreated" && stored.event.data.image.name === "trips-a-bug") throw new TypeError("a bug in a projection");
      },
    };
    p = await startTestPurser({ extraProjections: [buggy] }, { allowQuarantine: true });
    await p.client.namespaces.create("poison");
    const js = jetstream(p.client.nc);
    const publish = async (id: string, body: Uint8Array, type?: string) => {
      const headers = (await import("@nats-io/nats-core")).headers();
      if (type) headers.set("Purser-Event-Type", type);
      poisonRv = (await js.publish(eventSubject("poison", ObjectKind.Image, id), body, { headers })).seq;
    };
    await publish("shape", encode({ type: "ImageCreated", version: 1, data: {} }), "ImageCreated"); // decodes; does not fit the schema
    await publish("bytes", new Uint8Array([0xc1, 0xff, 0x00])); // not msgpack
    await publish("scalar", encode({ type: "ImageCreated", version: 1, data: "x" }), "ImageCreated");
    await publish("future", encode({ type: "ImageCreated", version: 99, data: {} }), "ImageCreated");
    const typed = { name: "typed", labels: { a: 1 }, target: { mediaType: "m", digest: "d", size: 1 }, createdAt: "t", updatedAt: "t" };
    await publish("typed", encode({ type: "ImageCreated", version: 1, data: { image: typed } }), "ImageCreated");
    poisonRv = (await p.client.images.create("poison", { name: "trips-a-bug", target })).rv;
  });
  after(async () => {
    await p.stop();
  });

  const reasons = async () => (await p.client.system.quarantined()).result.map((q) => [q.namespace, q.seq, q.type, q.reason]);
  const expected = () => [
    ["poison", poisonRv - 5, "ImageCreated", "ImageCreated does not fit its schema: data.image must be a map"],
    ["poison", poisonRv - 4, "", "event body is not msgpack"],
    ["poison", poisonRv - 3, "ImageCreated", "the data of ImageCreated is not a map"],
    ["poison", poisonRv - 2, "ImageCreated", "unsupported version 99 of ImageCreated"],
    ["poison", poisonRv - 1, "ImageCreated", "ImageCreated does not fit its schema: data.image.labels.a must be a string"],
    ["poison", poisonRv, "ImageCreated", "ImageCreated could not be applied: a bug in a projection"],
  ];

  test("the namespace's views move past them, and each is listed with its reason", async () => {
    const created = await p.client.images.create("poison", { name: "after-poison", target });
    assert.ok(created.rv > poisonRv);
    assert.deepEqual((await p.client.images.list("poison", [], { minRv: created.rv })).result.map((i) => i.name), ["after-poison"]);
    assert.deepEqual(await reasons(), expected());
  });

  test("a command on a quarantined event's subject still works (its head moved on)", async () => {
    const r = await p.client.images.create("poison", { name: "shape", target });
    assert.equal((await p.client.images.get("poison", "shape", { minRv: r.rv })).result.name, "shape");
  });

  test("other namespaces, gc, images rm --sync and rebuild keep working", async () => {
    const other = await p.client.images.create("healthy", { name: "img", target });
    assert.equal((await p.client.images.get("healthy", "img", { minRv: other.rv })).result.name, "img");
    const gc = await p.client.gc.collect();
    assert.ok(gc.result, "gc answered");
    await p.client.images.delete("poison", "after-poison", { sync: true });
    const rebuilt = await p.client.system.rebuild();
    assert.ok(rebuilt.result.events >= poisonRv);
    // The same log through the same code: the same quarantine.
    assert.deepEqual(await reasons(), expected());
  });

  test("purser events --quarantined lists them", async () => {
    const r = await runCli(p.nats.url, ["events", "--quarantined"]);
    assert.equal(r.stderr, "");
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^NAMESPACE +RV +SUBJECT +TYPE +REASON$/);
    assert.equal(lines.length, 7);
    assert.match(lines[2]!, new RegExp(`^poison +${poisonRv - 4} +purser\\.ev\\.poison\\.image\\.bytes +- +event body is not msgpack$`));
  });
  test("a crafted path where a digest or a snapshot directory goes is quarantined: nothing outside the data directory is touched", async () => {
    const { existsSync, mkdirSync } = await import("node:fs");
    const { join, dirname } = await import("node:path");
    // A directory beside the data directory that `snapshots/native/snapshots/../../../../victim` would reach.
    const victim = join(dirname(p.dataDir), `victim-${process.pid}`);
    mkdirSync(victim, { recursive: true });
    const headers = (await import("@nats-io/nats-core")).headers;
    const js = jetstream(p.client.nc);
    const publish = async (kind: (typeof ObjectKind)[keyof typeof ObjectKind], id: string, type: string, data: unknown) => {
      const h = headers();
      h.set("Purser-Event-Type", type);
      return (await js.publish(eventSubject("poison", kind, id), encode({ type, version: 1, data }), { headers: h })).seq;
    };
    const snapshot = { snapshotter: "native", key: "evil", kind: "active", parent: "", labels: {}, createdAt: "t", updatedAt: "t", backendKey: "poison/1/evil", dir: `../../../../victim-${process.pid}` };
    const prepared = await publish(ObjectKind.Snapshot, "native/evil", "SnapshotPrepared", { snapshot });
    const deleted = await publish(ObjectKind.Content, "evil", "ContentDeleted", { digest: "sha256:../../../../etc/passwd" });
    const removed = await publish(ObjectKind.Snapshot, "native/evil", "SnapshotRemoved", { snapshotter: "native", key: "evil" });
    const created = await p.client.images.create("poison", { name: "after-paths", target });
    await p.client.images.get("poison", "after-paths", { minRv: created.rv });
    const mine = (await reasons()).filter(([, seq]) => seq === prepared || seq === deleted);
    assert.deepEqual(mine, [
      ["poison", prepared, "SnapshotPrepared", "SnapshotPrepared does not fit its schema: data.snapshot.dir must be a snapshot directory name (hex)"],
      ["poison", deleted, "ContentDeleted", "ContentDeleted does not fit its schema: data.digest must be a digest"],
    ]);
    assert.ok(removed > deleted);
    const gc = await p.client.gc.collect();
    assert.ok(!gc.result.directories.some((d) => d.dir.includes("..")));
    assert.ok(existsSync(victim), "the directory outside the data directory is still there");
    const { rmSync } = await import("node:fs");
    rmSync(victim, { recursive: true, force: true });
  });
});
