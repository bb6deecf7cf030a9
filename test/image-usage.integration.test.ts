/**
 * The image-usage view (SIZE and PLATFORMS of `images ls`, kept by the
 * server) against a real nats-server and LMDB: a row follows its image and
 * the namespace's content as they change, in any order; a crafted graph costs
 * a bounded walk; a rebuild gives the same rows; `--as-of` shows the columns
 * as they were.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { DomainEvent } from "../src/events/catalog.js";
import { newEventContext } from "../src/events/event-store.js";
import { eventSubject, ObjectKind } from "../src/events/subjects.js";
import { PurserError } from "../src/errors/errdefs.js";
import { imageUsageDb, imageUsageDepsDb, imageUsageOfDb, imageUsageSourcesDb, imageUsageUsersDb } from "../src/projections/image-usage.js";
import { imagesDb } from "../src/projections/images.js";
import { replayIntoFreshViews } from "../src/projections/rebuild.js";
import type { ViewStore } from "../src/projections/view-store.js";
import { silentLogger } from "../src/observability/logger.js";
import { format, hostPlatform } from "../src/oci/platforms.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

const enc = (v: unknown) => Buffer.from(JSON.stringify(v));
const digestOf = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");
const indexType = "application/vnd.oci.image.index.v1+json";
const manifestType = "application/vnd.oci.image.manifest.v1+json";

/** An index with one manifest for this host and one for another platform; the config and layer are never stored. */
function multiPlatformImage() {
  const host = hostPlatform();
  const other = host.architecture === "arm64" ? { os: "linux", architecture: "amd64" } : { os: "linux", architecture: "arm64" };
  const config = { mediaType: "application/vnd.oci.image.config.v1+json", digest: "sha256:" + "c".repeat(64), size: 1500 };
  const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: "sha256:" + "d".repeat(64), size: 100_000 };
  const manifest = enc({ schemaVersion: 2, mediaType: manifestType, config, layers: [layer] });
  const index = enc({
    schemaVersion: 2,
    mediaType: indexType,
    manifests: [
      { mediaType: manifestType, digest: digestOf(manifest), size: manifest.length, platform: host },
      { mediaType: manifestType, digest: "sha256:" + "e".repeat(64), size: 400, platform: other },
    ],
  });
  return {
    manifest,
    index,
    target: { mediaType: indexType, digest: digestOf(index), size: index.length },
    fullSize: index.length + manifest.length + config.size + layer.size,
    platforms: [format(host), format(other)].sort(),
  };
}

describe("image-usage view", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p.stop();
  });

  const usageOf = async (ns: string, name: string, minRv: number) => {
    const { result } = await p.client.images.listWithUsage(ns, [`name==${name}`], { minRv });
    assert.deepEqual(result.images.map((i) => i.name), [name]);
    return result.usage[0];
  };

  test("the columns follow the image and the namespace's content, whichever comes first", async () => {
    const ns = "usage";
    const img = multiPlatformImage();
    const name = "example.com/multi:1";

    // The image before any of its content: nothing can be read.
    let rv = (await p.client.images.create(ns, { name, target: img.target })).rv;
    assert.deepEqual(await usageOf(ns, name, rv), { platforms: [] });

    // The index arrives: its descriptors name the platforms; the size needs the host's manifest.
    rv = (await p.client.content.put(ns, "index", img.index)).rv;
    assert.deepEqual(await usageOf(ns, name, rv), { platforms: img.platforms });

    // The manifest arrives: the size is the walk's sum of declared sizes (config and layer need not be held).
    rv = (await p.client.content.put(ns, "manifest", img.manifest)).rv;
    assert.deepEqual(await usageOf(ns, name, rv), { size: img.fullSize, platforms: img.platforms });

    // Another namespace holding the same blobs does not lend them: its own image has none.
    const rvOther = (await p.client.images.create("usage-other", { name, target: img.target })).rv;
    assert.deepEqual(await usageOf("usage-other", name, rvOther), { platforms: [] });

    // A label changes nothing; the manifest leaving the namespace takes the size with it.
    rv = (await p.client.images.update(ns, { name, labels: { a: "b" } }, ["labels.a"])).rv;
    assert.deepEqual(await usageOf(ns, name, rv), { size: img.fullSize, platforms: img.platforms });
    rv = (await p.client.content.delete(ns, digestOf(img.manifest))).rv;
    assert.deepEqual(await usageOf(ns, name, rv), { platforms: img.platforms });

    // A new target is walked again; a deleted image leaves no row and no deps.
    rv = (await p.client.images.update(ns, { name, target: { mediaType: manifestType, digest: digestOf(img.manifest), size: img.manifest.length } }, ["target"])).rv;
    assert.deepEqual(await usageOf(ns, name, rv), { platforms: [] });
    rv = (await p.client.content.put(ns, "manifest-again", img.manifest)).rv;
    assert.deepEqual(await usageOf(ns, name, rv), { size: img.manifest.length + 1500 + 100_000, platforms: [] });
    rv = (await p.client.images.delete(ns, name)).rv;
    await p.server.runtime.waitFor(ns, rv, 10_000);
    const views = p.server.holder.current;
    for (const db of [imageUsageDb, imageUsageSourcesDb, imageUsageDepsDb, imageUsageUsersDb, imageUsageOfDb]) {
      assert.deepEqual([...views.db(db).getKeys()].filter((k) => (k as string[])[0] === ns), [], `${db} keeps nothing of ${ns}`);
    }
  });

  test("tags of one manifest share one row: walked once, changed together, gone with the last tag", async () => {
    const ns = "usage-tags";
    const img = multiPlatformImage();
    let rv = 0;
    for (const tag of ["a", "b", "c"]) rv = (await p.client.images.create(ns, { name: `example.com/app:${tag}`, target: img.target })).rv;
    await p.server.runtime.waitFor(ns, rv, 10_000);
    const rows = () => [...p.server.holder.current.db(imageUsageSourcesDb).getKeys()].filter((k) => (k as string[])[0] === ns).length;
    assert.equal(rows(), 1);
    rv = (await p.client.content.put(ns, "index", img.index)).rv;
    rv = (await p.client.content.put(ns, "manifest", img.manifest)).rv;
    for (const tag of ["a", "b", "c"]) assert.deepEqual(await usageOf(ns, `example.com/app:${tag}`, rv), { size: img.fullSize, platforms: img.platforms });
    rv = (await p.client.images.delete(ns, "example.com/app:a")).rv;
    rv = (await p.client.images.delete(ns, "example.com/app:b")).rv;
    assert.deepEqual(await usageOf(ns, "example.com/app:c", rv), { size: img.fullSize, platforms: img.platforms });
    assert.equal(rows(), 1);
    rv = (await p.client.images.delete(ns, "example.com/app:c")).rv;
    await p.server.runtime.waitFor(ns, rv, 10_000);
    assert.equal(rows(), 0);
  });

  test("an index graph that doubles at each level is walked within the bound, and the service goes on", async () => {
    const ns = "usage-crafted";
    // 24 levels of indexes without platforms, each listing the next twice: 2^24 visits unbounded.
    let child = enc({ schemaVersion: 2, mediaType: manifestType, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: "sha256:" + "c".repeat(64), size: 2 }, layers: [] });
    let childType = manifestType;
    for (let level = 0; level < 24; level++) {
      await p.client.content.put(ns, `level-${level}`, child);
      const d = { mediaType: childType, digest: digestOf(child), size: child.length };
      child = enc({ schemaVersion: 2, mediaType: indexType, manifests: [d, d] });
      childType = indexType;
    }
    await p.client.content.put(ns, "top", child);
    const rv = (await p.client.images.create(ns, { name: "crafted", target: { mediaType: indexType, digest: digestOf(child), size: child.length } })).rv;
    const usage = await usageOf(ns, "crafted", rv);
    assert.deepEqual(usage.platforms, [], "the platforms walk gave up at the bound");
    assert.equal(typeof usage.size, "number", "the size walk takes one manifest per index: it is linear and completes");
    assert.equal((await p.client.images.get(ns, "crafted", { minRv: rv })).result.name, "crafted");
  });

  test("hostile input: a wrongly typed usage flag, oversized filter keys, a crafted image event in the log", async () => {
    const ns = "usage-hostile";
    await p.client.images.create(ns, { name: "plain", target: { mediaType: manifestType, digest: "sha256:" + "f".repeat(64), size: 1 } });
    await assert.rejects(
      p.client.query(ns, "images", "list", { usage: "yes" }),
      (err: unknown) => err instanceof PurserError && err.kind === "InvalidArgument" && err.message === 'request field "usage" must be a boolean: invalid argument',
    );
    // Label keys and values far past an LMDB key, and a made-up digest as long: answered, empty.
    const huge = "k".repeat(5000);
    assert.deepEqual((await p.client.images.list(ns, [`labels.${huge}==${huge}`, `labels.${huge}`])).result, []);
    assert.deepEqual((await p.client.content.list(ns, [`digest==sha256:${"0".repeat(3000)}`])).result, []);

    // An image event no decider would write (a 3,000-byte media type, a digest that is no digest),
    // appended to the log directly as an admin could: the row is "-", nothing is quarantined.
    const crafted = async (name: string, target: { mediaType: string; digest: string; size: number }) => {
      const image = { name, labels: {}, target, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" };
      const event: DomainEvent = { type: "ImageCreated", data: { image } };
      return (await p.server.store.append(ns, { event, subject: eventSubject(ns, ObjectKind.Image, name), expect: { none: true }, msgId: name }, newEventContext("c", "c", "test"))).seq;
    };
    // A type with no children is a leaf, as in ctr: its size is its own.
    assert.deepEqual(await usageOf(ns, "crafted-type", await crafted("crafted-type", { mediaType: "x".repeat(3000), digest: "../../etc/passwd", size: 5 })), { size: 5, platforms: [] });
    // A manifest whose "digest" is a path: never read (no digest, no file), the column is "-".
    assert.deepEqual(await usageOf(ns, "crafted-path", await crafted("crafted-path", { mediaType: manifestType, digest: "../../../../etc/passwd", size: 5 })), { platforms: [] });
    assert.deepEqual((await p.client.system.quarantined()).result.filter((q) => q.namespace === ns), []);
  });

  test("--as-of shows the columns as they were; a rebuild gives the same rows", async () => {
    const ns = "usage-history";
    const img = multiPlatformImage();
    await p.client.content.put(ns, "index", img.index);
    await p.client.content.put(ns, "manifest", img.manifest);
    const created = await p.client.images.create(ns, { name: "h", target: img.target });
    const removed = await p.client.content.delete(ns, digestOf(img.manifest));
    assert.deepEqual(await usageOf(ns, "h", removed.rv), { platforms: img.platforms });
    p.client.asOf = `rv=${created.rv}`;
    try {
      assert.deepEqual(await usageOf(ns, "h", 0), { size: img.fullSize, platforms: img.platforms });
    } finally {
      p.client.asOf = undefined;
    }

    await p.server.runtime.catchUp(30_000);
    const names = [imagesDb, imageUsageDb, imageUsageSourcesDb, imageUsageDepsDb, imageUsageUsersDb, imageUsageOfDb];
    const dir = tempDir("purser-usage-rebuild-");
    let fresh: ViewStore | undefined;
    try {
      fresh = await replayIntoFreshViews(p.server.store, p.server.projections, dir.path, silentLogger);
      const live = p.server.holder.current.dump(names);
      assert.ok(live[imageUsageDb]!.length >= 3);
      assert.deepEqual(fresh.dump(names), live);
    } finally {
      await fresh?.close();
      dir.remove();
    }
  });
});
