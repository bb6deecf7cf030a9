/**
 * Unpacking images into snapshot chains against a real nats-server, LMDB and
 * real directories: the shared fixture as containerd shows it
 * (fixtures/README.md), the trees against `tar -tvf` of the layers, the
 * event sequence of A.13, idempotence, a second namespace; hand-made layers
 * with whiteouts, an opaque directory, links, zstd and plain tars, and path
 * traversal attempts that must never reach outside the snapshot.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { importImageArchive } from "../src/client/image-import.js";
import { readEvents } from "../src/client/event-log.js";
import { containerdPayload } from "../src/events/containerd-payload.js";
import type { StoredEvent } from "../src/events/envelope.js";
import type { SnapshotRecord } from "../src/events/snapshot-events.js";
import type { UnpackResult } from "../src/protocol/results.js";
import { anchor, dockerSaveOfFixture, fixturePath } from "./support/image-archives.js";
import { runCli } from "./support/cli.js";
import { tempDir } from "./support/nats.js";
import { buildLayer, hasZstd, listLayers, listTree, putImage, type LayerEntry } from "./support/layers.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { rejects } from "./support/assertions.js";

const topChain = "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada";

async function events(p: TestPurser, namespace: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  await readEvents(p.client.nc, { namespaces: [namespace], follow: false }, (e) => out.push(e));
  return out;
}

describe("images unpack", () => {
  let p: TestPurser;
  let blobsDir: string;
  const snapshotsOf = async (ns: string) =>
    (await p.client.snapshots.list(ns)).result.map((s: SnapshotRecord) => ({ key: s.key, parent: s.parent, kind: s.kind }));
  const treeOf = async (ns: string, key: string) => {
    const { result } = await p.client.snapshots.stat(ns, key);
    return p.server.snapshots.snapshotters.get("native").dirPath(result.dir);
  };

  before(async () => {
    p = await startTestPurser();
    blobsDir = join(p.dataDir, "blobs", "sha256");
  });
  after(async () => {
    await p?.stop();
  });

  test("the fixture unpacks into containerd's two committed snapshots, holding exactly the layers' files", async () => {
    const ns = "fx1";
    const imported = await importImageArchive(p.client, ns, fixturePath);
    const { rv, result } = await p.client.images.unpack(ns, anchor.name);
    assert.ok(rv > imported.rv);
    assert.equal(result.chainId, topChain);
    assert.equal(result.config, anchor.config);
    assert.equal(result.manifest, anchor.manifest);
    assert.deepEqual(
      result.layers.map((l) => [l.digest, l.diffId, l.chainId, l.applied]),
      [
        [anchor.layers[0], anchor.diffIds[0], anchor.diffIds[0], true],
        [anchor.layers[1], anchor.diffIds[1], topChain, true],
      ],
    );
    assert.deepEqual(result.rejected, []);

    // `ctr snapshots ls`
    assert.deepEqual(await snapshotsOf(ns), [
      { key: topChain, parent: anchor.diffIds[0], kind: "committed" },
      { key: anchor.diffIds[0], parent: "", kind: "committed" },
    ]);
    // The trees hold exactly what `tar -tvf` lists, with modes, owners, sizes and times.
    const layerPaths = anchor.layers.map((d) => join(blobsDir, d.slice(7)));
    assert.deepEqual(listTree(await treeOf(ns, anchor.diffIds[0]!)), listLayers(layerPaths.slice(0, 1)));
    assert.deepEqual(listTree(await treeOf(ns, topChain)), listLayers(layerPaths));

    // `ctr content ls`: the config is labelled with the top chain id; the layers keep their uncompressed label.
    const content = Object.fromEntries((await p.client.content.list(ns, [], { minRv: rv })).result.map((c) => [c.digest, c.labels]));
    assert.equal(content[anchor.config]!["containerd.io/gc.ref.snapshot.native"], topChain);
    assert.equal(content[anchor.layers[1]!]!["containerd.io/uncompressed"], anchor.diffIds[1]);
    // The temporary lease is gone: the image now holds the chain through the config's label.
    assert.deepEqual((await p.client.leases.list(ns, [], { minRv: rv })).result, []);
  });

  test("events follow containerd's observed import sequence, under a lease that is deleted at the end", async () => {
    const all = await events(p, "fx1");
    const snap = all
      .filter((e) => e.topic.startsWith("/snapshot/"))
      .map((e) => ({ topic: e.topic, ...(containerdPayload(e.event) as { key?: string; name?: string; parent?: string }) }));
    assert.equal(snap.length, 4);
    assert.deepEqual(
      snap.map((e) => e.topic),
      ["/snapshot/prepare", "/snapshot/commit", "/snapshot/prepare", "/snapshot/commit"],
    );
    assert.match(String(snap[0]!.key), new RegExp(`^extract-\\d+-[A-Za-z0-9_-]{4} ${anchor.diffIds[0]}$`));
    assert.equal(snap[0]!.parent ?? "", "");
    assert.deepEqual([snap[1]!.key, snap[1]!.name], [snap[0]!.key, anchor.diffIds[0]]);
    assert.match(String(snap[2]!.key), new RegExp(`^extract-\\d+-[A-Za-z0-9_-]{4} ${topChain}$`));
    assert.equal(snap[2]!.parent, anchor.diffIds[0]);
    assert.deepEqual([snap[3]!.key, snap[3]!.name], [snap[2]!.key, topChain]);

    // The whole unpack, in order: lease, chain, config label, lease gone.
    // The import's own lease comes first; the unpack's lease is the first one after the image.
    const imageCreated = all.findIndex((e) => e.event.type === "ImageCreated");
    const firstLease = all.findIndex((e, i) => i > imageCreated && e.event.type === "LeaseCreated");
    const types = all.slice(firstLease).map((e) => e.event.type);
    assert.equal(types[0], "LeaseCreated");
    assert.equal(types[types.length - 1], "LeaseDeleted");
    assert.ok(types.indexOf("ContentUpdated") > types.lastIndexOf("SnapshotCommitted"));
    // One correlation id ties the unpack's events together.
    assert.equal(new Set(all.slice(firstLease).map((e) => e.context.correlationId)).size, 1);
  });

  test("unpacking again commits nothing and appends nothing", async () => {
    const before = (await events(p, "fx1")).length;
    const { result } = await p.client.images.unpack("fx1", anchor.name);
    assert.equal(result.changed, false);
    assert.deepEqual(result.layers.map((l) => l.applied), [false, false]);
    assert.equal((await events(p, "fx1")).length, before);
  });

  test("a second namespace gets its own snapshots and trees; content is shared", async () => {
    await importImageArchive(p.client, "fx2", fixturePath);
    const { result } = await p.client.images.unpack("fx2", anchor.name);
    assert.equal(result.chainId, topChain);
    assert.deepEqual(await snapshotsOf("fx2"), await snapshotsOf("fx1"));
    assert.notEqual(await treeOf("fx2", topChain), await treeOf("fx1", topChain));
    assert.deepEqual(listTree(await treeOf("fx2", topChain)), listTree(await treeOf("fx1", topChain)));
  });

  test("a docker save archive (docker media types, one plain tar layer) unpacks to the same chain", async () => {
    const work = tempDir("purser-docker-");
    try {
      const archive = join(work.path, "docker.tar");
      await dockerSaveOfFixture(archive, ["anchor:1.0"]);
      const { images } = await importImageArchive(p.client, "dock", archive);
      const { result } = await p.client.images.unpack("dock", images[0]!.name);
      assert.equal(result.chainId, topChain);
      assert.deepEqual(
        result.layers.map((l) => l.mediaType),
        ["application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.diff.tar"],
      );
      assert.deepEqual(listTree(await treeOf("dock", topChain)), listTree(await treeOf("fx1", topChain)));
    } finally {
      work.remove();
    }
  });

  test("purser images unpack (CLI)", async () => {
    const state = tempDir("purser-cli-state-");
    try {
      await importImageArchive(p.client, "cli", fixturePath);
      const r = await runCli(p.nats.url, ["-n", "cli", "images", "unpack", anchor.name], { PURSER_STATE_DIR: state.path });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^unpacking ${anchor.name}\\.\\.\\.done: \\d+\\.\\d\\ds, 2 of 2 layers applied, top ${topChain}\n$`));
      const again = await runCli(p.nats.url, ["-n", "cli", "--json", "images", "unpack", anchor.name], { PURSER_STATE_DIR: state.path });
      assert.equal(again.code, 0, again.stderr);
      assert.equal((JSON.parse(again.stdout) as UnpackResult).changed, false);
      const bad = await runCli(p.nats.url, ["-n", "cli", "images", "unpack", "nope:1"], { PURSER_STATE_DIR: state.path });
      assert.deepEqual([bad.code, bad.stderr], [1, 'purser: image "nope:1": not found\n']);
    } finally {
      state.remove();
    }
  });

  test("a missing image, an unknown snapshotter, a diff id that lies", async () => {
    await rejects(p.client.images.unpack("fx1", "nope:1"), "NotFound", 'image "nope:1": not found');
    await rejects(p.client.images.unpack("fx1", anchor.name, { snapshotter: "zfs" }), "InvalidArgument", "snapshotter not loaded: zfs: invalid argument");

    const layer = await buildLayer([{ name: "a.txt", data: "a" }]);
    const wrong = `sha256:${"0".repeat(64)}`;
    await putImage(p.client, "lies", "lies:1", [layer], [wrong]);
    await rejects(
      p.client.images.unpack("lies", "lies:1"),
      "FailedPrecondition",
      `failed to extract layer ${wrong}: wrong diff id calculated on extraction "${layer.diffId}": failed precondition`,
    );
    // The extraction snapshot was removed and the lease deleted: nothing is left to keep.
    assert.deepEqual(await snapshotsOf("lies"), []);
    assert.deepEqual((await p.client.leases.list("lies")).result, []);

    await putImage(p.client, "lies", "junk:1", [layer], ["../../etc"]);
    await rejects(p.client.images.unpack("lies", "junk:1"), "InvalidArgument", /diff id "\.\.\/\.\.\/etc": .*: invalid argument$/);
    assert.deepEqual(await snapshotsOf("lies"), []);
  });

  test("whiteouts, an opaque directory, links, modes, owners; zstd and plain layers", async () => {
    const ns = "handmade";
    const l0 = await buildLayer([
      { name: "etc/", type: "directory" },
      { name: "etc/keep", data: "keep" },
      { name: "gone.txt", data: "gone" },
      { name: "gone-dir/", type: "directory" },
      { name: "gone-dir/inner", data: "x" },
      { name: "opq/", type: "directory" },
      { name: "opq/lower1", data: "lower" },
      { name: "opq/lowerdir/", type: "directory" },
      { name: "opq/lowerdir/f", data: "lower" },
      { name: "hard-src", data: "linked" },
      { name: "replaced", data: "a file at first" },
    ]);
    const l1 = await buildLayer(
      [
        { name: ".wh.gone.txt", data: "" },
        { name: ".wh.gone-dir", data: "" },
        { name: "opq/", type: "directory", mode: 0o750 },
        { name: "opq/.wh..wh..opq", data: "" },
        { name: "opq/new", data: "upper" },
        { name: "sym", type: "symlink", linkname: "hard-src" },
        { name: "abs-sym", type: "symlink", linkname: "/etc/keep" },
        { name: "hl", type: "link", linkname: "hard-src" },
        { name: "setuid", data: "#!/bin/sh\n", mode: 0o4755 },
        { name: "owned", data: "mine", uid: 1234, gid: 5678 },
        { name: "replaced/", type: "directory" },
        { name: "replaced/now-a-dir", data: "d" },
        { name: "deep/er/file", data: "parents made on the way" },
        { name: "etc/keep", data: "changed above", mode: 0o600 },
      ],
      hasZstd() ? "zstd" : "gzip",
    );
    const l2 = await buildLayer([{ name: "plain.txt", data: "no compression" }], "none");
    await putImage(p.client, ns, "hand:1", [l0, l1, l2]);
    const { result } = await p.client.images.unpack(ns, "hand:1");
    assert.deepEqual(result.rejected, []);
    const tree = await treeOf(ns, result.chainId);

    assert.ok(!existsSync(join(tree, "gone.txt")), "whiteout removes the lower file");
    assert.ok(!existsSync(join(tree, "gone-dir")), "whiteout removes the lower directory");
    assert.ok(!readdirSync(tree).some((n) => n.startsWith(".wh.")), "whiteouts are not written");
    assert.deepEqual(readdirSync(join(tree, "opq")).sort(), ["new"], "the opaque directory keeps only this layer's entries");
    assert.equal(statSync(join(tree, "opq")).mode & 0o7777, 0o750);
    assert.equal(readlinkSync(join(tree, "sym")), "hard-src");
    assert.equal(readlinkSync(join(tree, "abs-sym")), "/etc/keep", "symlinks are data: stored verbatim");
    assert.equal(statSync(join(tree, "hl")).ino, statSync(join(tree, "hard-src")).ino);
    assert.equal(statSync(join(tree, "setuid")).mode & 0o7777, 0o4755);
    assert.ok(statSync(join(tree, "replaced")).isDirectory());
    assert.equal(readFileSync(join(tree, "deep/er/file"), "utf8"), "parents made on the way");
    assert.equal(readFileSync(join(tree, "plain.txt"), "utf8"), "no compression");
    assert.equal(statSync(join(tree, "etc/keep")).mtime.toISOString(), "2021-06-01T12:00:00.000Z");
    if (process.getuid?.() === 0) {
      assert.deepEqual([statSync(join(tree, "owned")).uid, statSync(join(tree, "owned")).gid], [1234, 5678]);
    }
    // The lower snapshot is untouched by the upper layers.
    const lower = await treeOf(ns, l0.diffId);
    assert.ok(existsSync(join(lower, "gone.txt")));
    // Upper trees share the lower's files as hard links (docs/unpack.md): an entry that replaces one never changes it.
    assert.equal(readFileSync(join(tree, "etc/keep"), "utf8"), "changed above");
    assert.equal(statSync(join(tree, "etc/keep")).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(lower, "etc/keep"), "utf8"), "keep");
    assert.equal(statSync(join(lower, "etc/keep")).mode & 0o777, 0o644);
    assert.ok(statSync(join(lower, "replaced")).isFile());
    assert.equal(statSync(join(tree, "hard-src")).ino, statSync(join(lower, "hard-src")).ino);
    assert.deepEqual(readdirSync(join(lower, "opq")).sort(), ["lower1", "lowerdir"]);
  });

  test("path traversal is refused and nothing is written outside the snapshot", async () => {
    const ns = "traversal";
    const marker = `purser-unpack-${randomBytes(6).toString("hex")}`;
    const outside = mkdtempSync(join(tmpdir(), "purser-outside-"));
    const victim = join(outside, "victim");
    writeFileSync(victim, "precious");
    const victimLinks = statSync(victim).nlink;
    const passwdLinks = statSync("/etc/passwd").nlink;
    try {
      const base = await buildLayer([{ name: "etc/", type: "directory" }, { name: "etc/passwd", data: "root:x:0:0::/root:/bin/sh\n" }]);
      const evil = await buildLayer([
        { name: "ok-before", data: "fine" },
        { name: `../${marker}-dotdot`, data: "escaped" },
        { name: `a/../../${marker}-dotdot2`, data: "escaped" },
        { name: `/${marker}-abs`, data: "escaped" },
        { name: "tmplink", type: "symlink", linkname: "/tmp" },
        { name: `tmplink/${marker}-via-symlink`, data: "confined" },
        { name: "uplink", type: "symlink", linkname: "../../../../../../../../.." },
        { name: `uplink${outside}/${marker}-via-uplink`, data: "confined" },
        { name: "evil-hl", type: "link", linkname: "/etc/passwd" },
        { name: "evil-hl2", type: "link", linkname: `../../../../../../../..${victim}` },
        { name: "fine-hl", type: "link", linkname: "etc/passwd" },
        { name: ".wh..", data: "" },
        { name: "ok-after", data: "fine" },
      ]);
      await putImage(p.client, ns, "evil:1", [base, evil]);
      const { result } = await p.client.images.unpack(ns, "evil:1");
      const tree = await treeOf(ns, result.chainId);

      assert.deepEqual(
        result.rejected.map((r) => [r.name, r.reason]),
        [
          [`../${marker}-dotdot`, "path escapes the snapshot"],
          [`a/../../${marker}-dotdot2`, "path escapes the snapshot"],
          [`/${marker}-abs`, "absolute path"],
          ["evil-hl", "hard link to an absolute path"],
          ["evil-hl2", "hard link target escapes the snapshot"],
          [".wh..", "whiteout names no entry"],
        ],
      );
      assert.ok(result.rejected.every((r) => r.layer === evil.diffId));
      // The rest of the layer is applied.
      assert.equal(readFileSync(join(tree, "ok-before"), "utf8"), "fine");
      assert.equal(readFileSync(join(tree, "ok-after"), "utf8"), "fine");
      assert.equal(statSync(join(tree, "fine-hl")).ino, statSync(join(tree, "etc/passwd")).ino);
      // Symlinks met as parents resolve inside the snapshot, as the container will see them.
      assert.equal(readFileSync(join(tree, "tmp", `${marker}-via-symlink`), "utf8"), "confined");
      assert.equal(readFileSync(join(tree, outside.slice(1), `${marker}-via-uplink`), "utf8"), "confined");
      assert.ok(lstatSync(join(tree, "tmplink")).isSymbolicLink());

      // Nothing outside: not beside the tree, not at the root, not in the real /tmp or the victim's directory.
      const nowhere = [
        join(dirname(tree), `${marker}-dotdot`),
        join(dirname(tree), `${marker}-dotdot2`),
        join(tree, `${marker}-dotdot`),
        `/${marker}-abs`,
        join(tree, `${marker}-abs`),
        join("/tmp", `${marker}-via-symlink`),
        join(outside, `${marker}-via-uplink`),
        join(tree, "evil-hl"),
        join(tree, "evil-hl2"),
      ];
      for (const path of nowhere) assert.ok(!existsSync(path), `${path} must not exist`);
      assert.equal(statSync(victim).nlink, victimLinks);
      assert.equal(statSync("/etc/passwd").nlink, passwdLinks);
      assert.equal(readFileSync(victim, "utf8"), "precious");
      const snapshotsRoot = dirname(tree);
      assert.ok(!readdirSync(snapshotsRoot).some((n) => n.includes(marker)));
    } finally {
      rmSync(outside, { recursive: true, force: true });
      for (const stray of [`/tmp/${marker}-via-symlink`, `/${marker}-abs`]) rmSync(stray, { force: true });
    }
  });

  test("unpacking under the caller's lease keeps the lease and records the chain in it", async () => {
    const ns = "leased";
    const layer = await buildLayer([{ name: "x", data: "x" }]);
    await putImage(p.client, ns, "leased:1", [layer]);
    const lease = (await p.client.leases.create(ns, { id: "mine" })).result.id;
    const { rv, result } = await p.client.images.unpack(ns, "leased:1", {}, { lease });
    const held = (await p.client.leases.resources(ns, lease, { minRv: rv })).result;
    assert.deepEqual(held, [{ type: "snapshots/native", id: result.chainId }]);
  });

  test("concurrent unpacks of one image apply each layer once", async () => {
    const ns = "race";
    const layers = await Promise.all([0, 1, 2].map((i) => buildLayer([{ name: `f${i}`, data: `layer ${i}` }])));
    await putImage(p.client, ns, "race:1", layers);
    const replies = await Promise.all([0, 1, 2].map(() => p.client.images.unpack(ns, "race:1")));
    const applied = replies.flatMap((r: { result: UnpackResult }) => r.result.layers.filter((l) => l.applied)).length;
    assert.equal(applied, 3);
    assert.deepEqual(
      (await snapshotsOf(ns)).map((s) => s.kind),
      ["committed", "committed", "committed"],
    );
  });
});
