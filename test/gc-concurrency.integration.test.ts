/**
 * The sweep under concurrent writers (issue 6 "Done when"): while collections
 * run, other clients keep deleting images and creating images that
 * reference the very blobs being judged, and putting new blobs under leases.
 * Over many rounds no referenced blob is ever deleted: checked on the log
 * (at each of the GC's ContentDeleted, no image and no lease of the
 * namespace referenced the digest in the state just before it), on the views
 * and on the disk. Then two processes on one NATS: one sweep at a time.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PurserClient } from "../src/client/purser-client.js";
import type { StoredEvent } from "../src/events/envelope.js";
import { Kvm } from "@nats-io/kv";
import { GcLock, gcLockBucket, gcLockKey } from "../src/gc/gc-lock.js";
import { silentLogger } from "../src/observability/logger.js";
import { PurserServer } from "../src/server/purser-server.js";
import { sha256 } from "./support/image-archives.js";
import { startTestNats, tempDir, type TestNats } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { eventsOf, eventually } from "./support/assertions.js";

const manifestType = "application/vnd.oci.image.manifest.v1+json";

/** Replays the namespace's log and checks every GC ContentDeleted against the state just before it. */
function checkNoReferencedBlobDeleted(events: readonly StoredEvent[]): number {
  const images = new Map<string, string>();
  const leased = new Map<string, Set<string>>();
  let gcDeletes = 0;
  for (const { event: e, context, seq } of events) {
    switch (e.type) {
      case "ImageCreated":
      case "ImageUpdated":
        images.set(e.data.image.name, e.data.image.target.digest);
        break;
      case "ImageDeleted":
        images.delete(e.data.name);
        break;
      case "LeaseCreated":
        leased.set(e.data.lease.id, new Set());
        break;
      case "LeaseResourceAdded":
        if (e.data.resource.type === "content") leased.get(e.data.id)?.add(e.data.resource.id);
        break;
      case "LeaseResourceRemoved":
        leased.get(e.data.id)?.delete(e.data.resource.id);
        break;
      case "LeaseDeleted":
      case "LeaseExpired":
        leased.delete(e.data.id);
        break;
      case "ContentDeleted":
        if (context.actor !== "gc") break;
        gcDeletes++;
        for (const [name, digest] of images) assert.notEqual(digest, e.data.digest, `rv ${seq}: the GC deleted ${digest}, the target of image ${name}`);
        for (const [id, held] of leased) assert.ok(!held.has(e.data.digest), `rv ${seq}: the GC deleted ${e.data.digest}, held by lease ${id}`);
        break;
      default:
        break;
    }
  }
  return gcDeletes;
}

describe("gc under concurrent writers", () => {
  let p: TestPurser;
  before(async () => {
    // The scheduler runs too (deletions trigger it), beside explicit collections.
    p = await startTestPurser({ gc: { automatic: true } });
  });
  after(async () => {
    await p.stop();
  });

  test("over many rounds, no blob an image or a lease references is ever deleted", async (t) => {
    const ns = "race";
    const pool: string[] = [];
    for (let i = 0; i < 12; i++) {
      const data = Buffer.from(`pool blob ${i}`);
      const { result: lease } = await p.client.leases.create(ns, {});
      await p.client.content.writeBlob(ns, `pool-${i}`, data, { lease: lease.id });
      pool.push(sha256(data));
      await p.client.images.create(ns, { name: `img-${i}`, target: { digest: sha256(data), size: data.length, mediaType: manifestType } });
      await p.client.leases.delete(ns, lease.id);
    }
    const fresh: Array<{ name: string; digest: string }> = [];
    let stop = false;
    const rounds = 8;
    const writers = [0, 1, 2].map(async (w) => {
      for (let r = 0; r < rounds * 6; r++) {
        const i = (r * 5 + w * 7) % pool.length;
        const digest = pool[i]!;
        // Drop one reference, add another to the same blob (it may be judged in between).
        await p.client.images.delete(ns, `img-${i}`).catch(() => {});
        await p.client.images.create(ns, { name: `img-${i}`, target: { digest, size: 1, mediaType: manifestType } }).catch(() => {});
        // A new blob, held by a lease until an image references it.
        const data = Buffer.from(`fresh ${w}/${r}`);
        const { result: lease } = await p.client.leases.create(ns, {});
        await p.client.content.writeBlob(ns, `fresh-${w}-${r}`, data, { lease: lease.id });
        await p.client.images.create(ns, { name: `fresh-${w}-${r}`, target: { digest: sha256(data), size: data.length, mediaType: manifestType } });
        await p.client.leases.delete(ns, lease.id);
        fresh.push({ name: `fresh-${w}-${r}`, digest: sha256(data) });
      }
    });
    let collections = 0;
    let conflicts = 0;
    const collector = (async () => {
      while (!stop) {
        const { result } = await p.client.gc.collect();
        conflicts += result.attempts - 1;
        collections++;
      }
    })();
    await Promise.all(writers);
    stop = true;
    await collector;
    await p.client.gc.collect();

    const gcDeletes = checkNoReferencedBlobDeleted(await eventsOf(p.client, ns));
    t.diagnostic(`${collections} collections, ${conflicts} sweeps started again after a concurrent write, ${gcDeletes} blobs deleted by the GC`);
    assert.ok(collections >= rounds, `only ${collections} collections ran`);
    assert.ok(gcDeletes > 0, "the GC removed something at some point (the test exercised it)");
    // Views and disk: every fresh image's blob is held and on disk.
    const held = new Set((await p.client.content.list(ns)).result.map((c) => c.digest));
    for (const f of fresh) {
      assert.ok(held.has(f.digest), `${f.name}: ${f.digest} is no longer held`);
      assert.ok(existsSync(join(p.dataDir, "blobs", "sha256", f.digest.slice(7))), `${f.name}: the blob file is gone`);
    }
    // Every blob the namespace holds is on disk.
    for (const d of held) assert.ok(existsSync(join(p.dataDir, "blobs", "sha256", d.slice(7))), `${d} is held but its file is gone`);
  });
});

describe("gc with two processes on one NATS", () => {
  let nats: TestNats;
  const dirs = [tempDir("purser-gc-a-"), tempDir("purser-gc-b-")];
  let a: PurserServer;
  let b: PurserServer;
  let client: PurserClient;
  before(async () => {
    nats = await startTestNats();
    [a, b] = await Promise.all(dirs.map((d) => PurserServer.start({ natsUrl: nats.url, dataDir: d.path, log: silentLogger, gc: { automatic: false } })));
    client = await PurserClient.connect(nats.url, "test");
  });
  after(async () => {
    await client.close();
    await a.stop();
    await b.stop();
    await nats.stop();
    for (const d of dirs) d.remove();
  });

  test("the sweep lock: compare-and-set, taken over only after the holder's lease time", async () => {
    const first = new GcLock(client.nc, "first", 300);
    const second = new GcLock(client.nc, "second", 300);
    const held = await first.tryAcquire();
    assert.ok(held);
    assert.equal(await second.tryAcquire(), undefined);
    assert.equal((await first.current())?.holder, "first");
    await held.release();
    const taken = await second.tryAcquire();
    assert.ok(taken, "free once released");
    // Renewals keep it past its lease time while the holder lives.
    await new Promise((r) => setTimeout(r, 450));
    const third = new GcLock(client.nc, "third", 300);
    assert.equal(await third.tryAcquire(), undefined);
    assert.equal(taken.held, true);
    await taken.release();
    // A holder that died without releasing: its value stays until its time passes.
    const kv = await new Kvm(client.nc).open(gcLockBucket);
    await kv.put(gcLockKey, new TextEncoder().encode(JSON.stringify({ holder: "dead", until: Date.now() + 200 })));
    assert.equal(await third.tryAcquire(), undefined);
    await new Promise((r) => setTimeout(r, 250));
    const takenOver = await third.tryAcquire();
    assert.ok(takenOver, "taken over once the dead holder's lease ran out");
    await takenOver.release();
  });

  test("sweeps from both processes at once: each namespace's deletions appended exactly once", async () => {
    const garbage: string[] = [];
    for (let i = 0; i < 20; i++) {
      const data = Buffer.from(`two ${i}`);
      await client.content.writeBlob(`two-${i % 4}`, `r${i}`, data);
      garbage.push(sha256(data));
    }
    const [ra, rb] = await Promise.all([a.gc.collector.collect({ waitForLock: true }), b.gc.collector.collect({ waitForLock: true })]);
    assert.equal(ra.swept && rb.swept, true);
    // One of them removed everything; the other, sweeping after it, found nothing left.
    assert.deepEqual([ra.removed.length, rb.removed.length].sort((x, y) => x - y), [0, 20]);
    let deletes = 0;
    for (let n = 0; n < 4; n++) deletes += (await eventsOf(client, `two-${n}`)).filter((e) => e.event.type === "ContentDeleted").length;
    assert.equal(deletes, 20);
  });

  test("the process that did not sweep cleans its own disk when it applies the sweeper's events", async () => {
    const garbage: string[] = [];
    for (let i = 0; i < 12; i++) {
      const data = Buffer.from(`spread ${i}`);
      await client.content.writeBlob("spread", `r${i}`, data);
      garbage.push(sha256(data));
    }
    const file = (dir: string, d: string) => join(dir, "blobs", "sha256", d.slice(7));
    const onDisk = () => garbage.filter((d) => dirs.some((dir) => existsSync(file(dir.path, d))));
    // The puts went to either process (one queue group): both disks hold some.
    assert.equal(onDisk().length, 12);
    const r = await a.gc.collector.collect({ waitForLock: true });
    assert.equal(r.removed.length, 12);
    await eventually(() => onDisk().length === 0, "rid of the garbage on both disks");
    assert.deepEqual(onDisk(), []);
  });
});
