/**
 * The garbage collector against a real nats-server and real LMDB and disk:
 * the seed scenario (issue 6) end to end, expiry of leases and ingests, flat
 * leases, dry runs, `gc why`, crash safety between the events and the file
 * removal, and replay reproducing what the GC did.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readHostEvents } from "../src/client/host-events.js";
import type { StoredEvent } from "../src/events/envelope.js";
import { silentLogger } from "../src/observability/logger.js";
import { replayIntoFreshViews } from "../src/projections/rebuild.js";
import { anchor, fixturePath, sha256 } from "./support/image-archives.js";
import { runCli } from "./support/cli.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { rejects, eventsOf } from "./support/assertions.js";

const chain = [anchor.diffIds[0]!, "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada"];
const blobsOfImage = [anchor.manifest, anchor.config, ...anchor.layers];
const hex = (d: string) => d.slice("sha256:".length);

/**
 * The fixture into a namespace as `ctr images import` leaves it, the way a
 * user does it: `purser -n NS images import FILE` (blobs with containerd's gc
 * labels, the image, the layers unpacked into the chain of committed
 * snapshots, the config labelled with the top of the chain).
 */
async function importFixture(p: TestPurser, ns: string): Promise<void> {
  const r = await runCli(p.nats.url, ["-n", ns, "images", "import", fixturePath]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /unpacking docker\.io\/library\/anchor:1\.0 \(sha256:f2da[0-9a-f]+\)\.\.\.done/);
  const { result: snapshots } = await p.client.snapshots.list(ns);
  assert.deepEqual(snapshots.map((s) => s.key).sort(), [...chain].sort());
}

function blobFiles(p: TestPurser): string[] {
  return readdirSync(join(p.dataDir, "blobs", "sha256")).sort();
}

function snapshotDirs(p: TestPurser): string[] {
  const dir = join(p.dataDir, "snapshots", "native", "snapshots");
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

describe("gc: the seed scenario", () => {
  let p: TestPurser;
  before(async () => {
    // containerd's scheduler with its defaults, as `purser serve` runs it.
    p = await startTestPurser({ gc: { automatic: true } });
  });
  after(async () => {
    await p.stop();
  });

  test("an image removed from one namespace: its content and snapshots go there, the blobs stay for the other", async () => {
    await importFixture(p, "default");
    await importFixture(p, "foo");
    assert.deepEqual(blobFiles(p), blobsOfImage.map(hex).sort());
    assert.equal(snapshotDirs(p).length, 4);

    await p.client.images.delete("foo", anchor.name);
    // The scheduler is on (as in `purser serve`): the collection the delete
    // makes due may run before this one. Either way one run removed foo's
    // objects; when it was this one, its reply lists them.
    const { result } = await p.client.gc.collect();
    const expected = [...blobsOfImage.map((d) => `content ${d}`), ...chain.map((k) => `snapshot ${k}`)].sort();
    if (result.removed.length > 0) {
      assert.deepEqual(result.removed.filter((r) => r.namespace === "foo").map((r) => `${r.type} ${r.key}`).sort(), expected);
      // Children first.
      assert.deepEqual(result.removed.filter((r) => r.type === "snapshot").map((r) => r.key), [chain[1], chain[0]]);
    }

    assert.deepEqual((await p.client.content.list("foo")).result, []);
    assert.deepEqual((await p.client.snapshots.list("foo")).result, []);
    // Held by default: every blob file is still on disk; foo's two snapshot directories are gone.
    assert.deepEqual(blobFiles(p), blobsOfImage.map(hex).sort());
    assert.equal(snapshotDirs(p).length, 2);
    assert.deepEqual(result.blobs, []);

    // The deletions are events from one GC run, children first.
    const gcEvents = (await eventsOf(p.client, "foo")).filter((e) => e.context.actor === "gc");
    assert.equal(gcEvents.length, 6);
    const runId = gcEvents[0]!.context.causationId;
    assert.ok(gcEvents.every((e) => e.context.causationId === runId));
    if (result.removed.length > 0) assert.equal(runId, result.runId);
    assert.deepEqual(gcEvents.map((e) => e.event.type).sort(), [...Array(4).fill("ContentDeleted"), "SnapshotRemoved", "SnapshotRemoved"]);
    const keyOf = (e: (typeof gcEvents)[number]) => (e.event.type === "ContentDeleted" ? `content ${e.event.data.digest}` : e.event.type === "SnapshotRemoved" ? `snapshot ${e.event.data.key}` : "");
    assert.deepEqual(gcEvents.map(keyOf).sort(), expected);
    assert.deepEqual(gcEvents.filter((e) => e.event.type === "SnapshotRemoved").map(keyOf), [`snapshot ${chain[1]}`, `snapshot ${chain[0]}`]);

    await p.client.namespaces.delete("foo");
    await rejects(
      p.client.namespaces.delete("default"),
      "FailedPrecondition",
      'namespace "default" must be empty, but it still has images, blobs, snapshots on "native" snapshotter: failed precondition',
    );
  });

  test("images rm --sync returns only after every blob file and snapshot directory of the image is gone", async () => {
    const r = await runCli(p.nats.url, ["-n", "default", "images", "rm", "--sync", anchor.name]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${anchor.name}\n`);
    assert.deepEqual(blobFiles(p), []);
    assert.deepEqual(snapshotDirs(p), []);
    assert.deepEqual((await p.client.content.list("default")).result, []);
    assert.deepEqual((await p.client.snapshots.list("default")).result, []);
    await p.client.namespaces.delete("default");

    // Each removed blob is a fact on the host stream.
    const host: StoredEvent[] = [];
    await readHostEvents(p.client.nc, { follow: false }, (e) => host.push(e));
    assert.deepEqual(
      host.map((e) => e.event.data as { digest: string; size: number }).sort((a, b) => (a.digest < b.digest ? -1 : 1)),
      blobsOfImage.map((d) => ({ digest: d, size: { [anchor.manifest]: 602, [anchor.config]: 585, [anchor.layers[0]!]: 408, [anchor.layers[1]!]: 227 }[d]! })).sort((a, b) => (a.digest < b.digest ? -1 : 1)),
    );
    assert.ok(host.every((e) => e.event.type === "BlobRemoved" && e.context.actor === "gc" && e.topic === "/content/blob/remove"));
    const cli = await runCli(p.nats.url, ["events", "--host"]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim().split("\n").length, 4);
    assert.match(cli.stdout, new RegExp(`/content/blob/remove \\{"digest":"${anchor.manifest}","size":602\\}`));
  });
});

describe("gc: expiry, flat leases, dry runs, why, crashes, replay", () => {
  let p: TestPurser;
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  const put = async (ns: string, text: string, labels: Record<string, string> = {}, lease?: string) => {
    const data = Buffer.from(text);
    await p.client.content.writeBlob(ns, `ref-${text}`, data, { labels, lease });
    return sha256(data);
  };
  const digestsOf = async (ns: string) => (await p.client.content.list(ns)).result.map((c) => c.digest).sort();

  before(async () => {
    // Only explicit collections: each test decides when the sweep runs.
    p = await startTestPurser({ clock, gc: { automatic: false } });
  });
  after(async () => {
    await p.stop();
  });

  test("a lease past its gc.expire is expired with what only it held; an invalid gc.expire keeps it", async () => {
    const { result: past } = await p.client.leases.create("exp", { id: "past", labels: { "containerd.io/gc.expire": "2000-01-01T00:00:00Z" } });
    const { result: bad } = await p.client.leases.create("exp", { id: "bad", labels: { "containerd.io/gc.expire": "tomorrow" } });
    const { result: future } = await p.client.leases.create("exp", { id: "future", expiresInMs: 3600_000 });
    const a = await put("exp", "held by past", {}, past.id);
    const b = await put("exp", "held by bad", {}, bad.id);
    const c = await put("exp", "held by future", {}, future.id);
    const { result } = await p.client.gc.collect();
    assert.deepEqual(
      result.removed.map((r) => `${r.type} ${r.key}`),
      ["lease past", `content ${a}`],
    );
    assert.deepEqual((await p.client.leases.list("exp")).result.map((l) => l.id), ["bad", "future"]);
    assert.deepEqual(await digestsOf("exp"), [b, c].sort());
    const expired = (await eventsOf(p.client, "exp")).find((e) => e.event.type === "LeaseExpired")!;
    assert.deepEqual(expired.event.data, { id: "past" });
    assert.equal(expired.topic, "/leases/expire");
    assert.equal(expired.context.actor, "gc");

    // The future lease expires when the clock passes it.
    offsetMs = 2 * 3600_000;
    try {
      const { result: later } = await p.client.gc.collect();
      assert.deepEqual(later.removed.map((r) => `${r.type} ${r.key}`), ["lease future", `content ${c}`]);
    } finally {
      offsetMs = 0;
    }
  });

  test("an ingest whose expireAt passed is expired, its bytes removed; a leased one stays", async () => {
    const w = await p.client.content.openWriter("ing", "old-upload", { chunkSize: 8 });
    await w.write(Buffer.from("half of something"));
    await w.close();
    const { result: lease } = await p.client.leases.create("ing", { id: "keeper" });
    const kept = await p.client.content.openWriter("ing", "leased-upload", { lease: lease.id, chunkSize: 8 });
    await kept.write(Buffer.from("the other half"));
    await kept.close();
    const ingestDirs = () => readdirSync(join(p.dataDir, "ingest")).filter((n) => !n.startsWith("spare-") && !n.startsWith("put-"));
    assert.equal(ingestDirs().length, 2);

    assert.deepEqual((await p.client.gc.collect()).result.removed, []);
    offsetMs = 25 * 3600_000;
    try {
      const { result } = await p.client.gc.collect();
      assert.deepEqual(result.removed.map((r) => `${r.type} ${r.key}`), ["ingest old-upload"]);
    } finally {
      offsetMs = 0;
    }
    const statuses = (await p.client.content.statuses("ing")).result.map((s: { ref: string }) => s.ref);
    assert.deepEqual(statuses, ["leased-upload"]);
    assert.equal(ingestDirs().length, 1);
    const ev = (await eventsOf(p.client, "ing")).find((e) => e.event.type === "IngestExpired")!;
    assert.deepEqual(ev.event.data, { ref: "old-upload" });
  });

  test("a flat lease keeps what it holds but not what that references", async () => {
    const child = await put("flat", "child blob");
    const parentBlob = await put("flat", "parent blob", { "containerd.io/gc.ref.content.x": child });
    const { result: lease } = await p.client.leases.create("flat", { id: "flat", labels: { "containerd.io/gc.flat": "" + "true" } });
    await p.client.leases.addResource("flat", lease.id, { type: "content", id: parentBlob });
    const why = (await p.client.gc.whyContent("flat", child)).result;
    assert.equal(why.kept, false);
    const { result } = await p.client.gc.collect();
    assert.deepEqual(result.removed.map((r) => `${r.type} ${r.key}`), [`content ${child}`]);
    assert.deepEqual(await digestsOf("flat"), [parentBlob]);
  });

  test("leases rm --sync returns after what only the lease held is gone from the disk", async () => {
    const { result: lease } = await p.client.leases.create("lsync", { id: "build" });
    const d = await put("lsync", "built under a lease", {}, lease.id);
    assert.ok(blobFiles(p).includes(hex(d)));
    const r = await runCli(p.nats.url, ["-n", "lsync", "leases", "rm", "--sync", "build"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "build\n");
    assert.ok(!blobFiles(p).includes(hex(d)));
    assert.deepEqual(await digestsOf("lsync"), []);
  });

  test("a collection removing more than a reply can list: the first 1000 and the totals", async () => {
    const { runConcurrent } = await import("../bench/measure.js");
    await runConcurrent(1200, 16, (i) => put("many", `many ${i}`));
    const dry = (await p.client.gc.collect({ dryRun: true })).result;
    assert.equal(dry.removed.length, 1000);
    assert.deepEqual(dry.totals, { removed: 1200, blobs: 0, directories: 0 });
    const { result } = await p.client.gc.collect();
    assert.equal(result.removed.length, 1000);
    assert.deepEqual(result.totals, { removed: 1200, blobs: 1200, directories: 0 });
    assert.deepEqual(await digestsOf("many"), []);
  });

  test("a dry run lists what would go and appends nothing", async () => {
    const loose = await put("dry", "nobody holds this");
    const before = await p.server.store.lastSequences();
    const { result } = await p.client.gc.collect({ dryRun: true });
    assert.equal(result.dryRun, true);
    assert.deepEqual(result.removed.map((r) => `${r.namespace} ${r.type} ${r.key}`), [`dry content ${loose}`]);
    assert.deepEqual(await p.server.store.lastSequences(), before);
    assert.deepEqual(await digestsOf("dry"), [loose]);
    const cli = await runCli(p.nats.url, ["gc", "--dry-run"]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, `NAMESPACE TYPE    KEY\ndry       content ${loose}\nwould remove 1 object\n`);
    await p.client.gc.collect();
    assert.deepEqual(await digestsOf("dry"), []);
  });

  test("a collection when nothing changed since one that found nothing reads nothing and says so; any change, or an expiry passing, ends that", async () => {
    await p.client.gc.collect();
    const first = (await p.client.gc.collect()).result;
    // Whatever the earlier collection found, this one found nothing: the next one is skipped.
    assert.deepEqual(first.removed, []);
    const skipped = (await p.client.gc.collect()).result;
    assert.equal(skipped.unchanged, true);
    assert.deepEqual([skipped.removed, skipped.blobs, skipped.directories, skipped.attempts], [[], [], [], 0]);

    // A new unreferenced blob is an event: the next collection reads again and removes it.
    const loose = await put("quiet", "unreferenced after a quiet spell");
    const after = (await p.client.gc.collect()).result;
    assert.equal(after.unchanged, undefined);
    assert.deepEqual(after.removed, [{ namespace: "quiet", type: "content", key: loose }]);
    assert.deepEqual(after.blobs.map((b) => b.digest), [loose]);

    // A lease expiring by time alone, with no event: the skip ends when its gc.expire passes.
    const { result: lease } = await p.client.leases.create("quiet", { id: "soon", expiresInMs: 3600_000 });
    const held = await put("quiet", "held until the lease expires", {}, lease.id);
    assert.deepEqual((await p.client.gc.collect()).result.removed, []);
    assert.equal((await p.client.gc.collect()).result.unchanged, true);
    offsetMs = 2 * 3600_000;
    try {
      const expired = (await p.client.gc.collect()).result;
      assert.equal(expired.unchanged, undefined);
      assert.deepEqual(expired.removed.map((r) => `${r.type} ${r.key}`), ["lease soon", `content ${held}`]);
    } finally {
      offsetMs = 0;
    }
  });

  test("gc why: the path from a root, or garbage", async () => {
    await importFixture(p, "why");
    const layer = await p.client.gc.whyContent("why", anchor.layers[1]!);
    assert.deepEqual(layer.result, {
      kept: true,
      path: [
        { type: "content", namespace: "why", key: anchor.manifest, reason: `target of image ${anchor.name}` },
        { type: "content", namespace: "why", key: anchor.layers[1], reason: `label containerd.io/gc.ref.content.l.1 of content ${anchor.manifest}` },
      ],
    });
    const cli = await runCli(p.nats.url, ["-n", "why", "gc", "why", "snapshot", chain[0]!]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(
      cli.stdout,
      `snapshot ${chain[0]} is kept:\n` +
        `  root content  ${anchor.manifest}        (target of image ${anchor.name})\n` +
        `  ->   content  ${anchor.config}        (label containerd.io/gc.ref.content.config of content ${anchor.manifest})\n` +
        `  ->   snapshot native/${chain[1]} (label containerd.io/gc.ref.snapshot.native of content ${anchor.config})\n` +
        `  ->   snapshot native/${chain[0]} (parent of snapshot native/${chain[1]})\n`,
    );
    const loose = await put("why", "garbage to explain");
    const g = await runCli(p.nats.url, ["-n", "why", "gc", "why", loose]);
    assert.equal(g.stdout, `${loose} is garbage: no root reaches it (the next collection removes it)\n`);
    const missing = await runCli(p.nats.url, ["-n", "why", "gc", "why", sha256(Buffer.from("never"))]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /content digest sha256:[0-9a-f]{64}: not found/);
  });

  test("a crash between the events and the file removal: nothing referenced is lost, the next collection removes the rest", async () => {
    await p.client.images.delete("why", anchor.name);
    // The sweep's events land, then the process dies before it touches the disk.
    const collector = p.server.gc.collector as unknown as { cleanHost: () => Promise<unknown> };
    const real = collector.cleanHost;
    collector.cleanHost = () => Promise.reject(new Error("killed"));
    await assert.rejects(p.client.gc.collect(), /gc failed: killed/);
    collector.cleanHost = real;
    assert.deepEqual(await digestsOf("why"), []);
    const loose = await put("why", "garbage to explain");
    assert.deepEqual(await digestsOf("why"), [loose], "the crashed sweep's events removed the image's content");
    assert.ok(blobFiles(p).length >= 4, "the files are still there");
    await p.restart({ clock, gc: { automatic: false } });
    const { result } = await p.client.gc.collect();
    assert.deepEqual(result.removed, [{ namespace: "why", type: "content", key: loose }]);
    assert.deepEqual(result.blobs.map((b) => b.digest).sort(), [...blobsOfImage, loose].sort());
    assert.equal(result.directories.length, 2);
    // What other tests' namespaces still hold stays.
    assert.deepEqual(blobFiles(p).filter((f) => [...blobsOfImage, loose].map(hex).includes(f)), []);
    assert.deepEqual(snapshotDirs(p), []);
  });

  test("a writer that let go of a blob after the views caught up keeps it: the file goes back", async () => {
    const d = await put("epoch", "a racing writer's blob");
    await p.client.content.delete("epoch", d);
    // A commit of the same bytes finishing right after the catch-up: pinned, appended, let go —
    // its event may not be in the views when the cleanup looks again.
    const runtime = p.server.runtime;
    const real = runtime.catchUp.bind(runtime);
    runtime.catchUp = async (...args: Parameters<typeof real>) => {
      await real(...args);
      p.server.content.blobs.pin(d);
      p.server.content.blobs.unpin(d);
    };
    try {
      const r = await p.server.gc.collector.cleanHost();
      assert.ok(!r.blobs.some((b) => b.digest === d));
    } finally {
      runtime.catchUp = real;
    }
    assert.ok(blobFiles(p).includes(hex(d)), "the file went back");
    // Nothing holds it: the next collection removes it.
    const { result } = await p.client.gc.collect();
    assert.ok(result.blobs.some((b) => b.digest === d));
    assert.ok(!blobFiles(p).includes(hex(d)));
  });

  test("a blob moved aside when the process died goes back at the next start", async () => {
    const kept = await put("crash", "still referenced", { "containerd.io/gc.root": "yes" });
    // As if a cleanup had moved it aside and died before checking again.
    const trash = join(p.dataDir, "gc", "trash");
    const { mkdirSync, renameSync } = await import("node:fs");
    mkdirSync(trash, { recursive: true });
    renameSync(join(p.dataDir, "blobs", "sha256", hex(kept)), join(trash, kept.replace(":", "-")));
    await p.restart({ clock, gc: { automatic: false } });
    assert.ok(blobFiles(p).includes(hex(kept)));
    assert.deepEqual((await p.client.gc.collect()).result.removed.filter((r) => r.key === kept), []);
    assert.deepEqual([...(await p.client.content.readBlob("crash", kept))], [...Buffer.from("still referenced")]);
  });

  test("the disk clean-up looks at what changed, not at every file: a stray file waits for the next start's full listing", async () => {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    await p.client.gc.collect(); // this process has listed the disk once
    // Bytes no event ever named (as a crash between a file and its event leaves them), and a directory no snapshot names.
    const strayBytes = Buffer.from("a file no event names");
    const stray = sha256(strayBytes);
    writeFileSync(join(p.dataDir, "blobs", "sha256", hex(stray)), strayBytes);
    const strayDir = "0123456789abcdef";
    mkdirSync(join(p.dataDir, "snapshots", "native", "snapshots", strayDir), { recursive: true });

    const deleted = await put("disk", "deleted by its namespace");
    await p.client.content.delete("disk", deleted);
    const { result } = await p.client.gc.collect();
    assert.deepEqual(result.removed, []);
    assert.deepEqual(result.blobs.map((b) => b.digest), [deleted], "the deleted blob's file, judged from its event alone");
    assert.deepEqual(result.directories, []);
    assert.ok(blobFiles(p).includes(hex(stray)));
    assert.ok(snapshotDirs(p).includes(strayDir));

    await p.restart({ clock, gc: { automatic: false } });
    const { result: atStart } = await p.client.gc.collect();
    assert.deepEqual(atStart.blobs, [{ digest: stray, size: strayBytes.length }]);
    assert.deepEqual(atStart.directories, [{ snapshotter: "native", dir: strayDir }]);
    assert.ok(!blobFiles(p).includes(hex(stray)));
    assert.ok(!snapshotDirs(p).includes(strayDir));
  });

  test("replay reproduces what the GC did, event for event", async () => {
    await p.server.runtime.catchUp();
    const projections = p.server.projections;
    const names = ["checkpoints", "heads", ...projections.flatMap((pr) => pr.databases)];
    const dir = tempDir("purser-gc-rebuild-");
    try {
      const fresh = await replayIntoFreshViews(p.server.store, projections, dir.path, silentLogger);
      try {
        assert.deepEqual(p.server.holder.current.dump(names), fresh.dump(names));
      } finally {
        await fresh.close();
      }
    } finally {
      dir.remove();
    }
  });
});
