/**
 * The layer applier without a server: entry-name cleaning (table-driven),
 * scoped resolution of parents, compression detection, diff id checks and
 * malformed input, on real temporary directories.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { applyLayer, DiffIdMismatchError } from "../src/unpack/apply-layer.js";
import { Compression, detectFromBytes } from "../src/unpack/decompress.js";
import { LayerApplier } from "../src/unpack/layer-applier.js";
import { cleanEntryName, NotADirectoryError, Rejection, ScopedRoot } from "../src/unpack/layer-paths.js";
import { buildLayer, compress, hasZstd, makeTar } from "./support/layers.js";

describe("cleanEntryName", () => {
  const cases: Array<[string, string, string[] | Rejection]> = [
    ["plain", "a/b/c", ["a", "b", "c"]],
    ["dot prefix", "./a/b", ["a", "b"]],
    ["directory slash", "a/b/", ["a", "b"]],
    ["root", "./", []],
    ["doubled slashes", "a//b", ["a", "b"]],
    ["inner dotdot", "a/../b", ["b"]],
    ["dotdot to the root", "a/..", []],
    ["leading dotdot", "../escape", Rejection.Escapes],
    ["climbing dotdot", "a/../../escape", Rejection.Escapes],
    ["absolute", "/etc/passwd", Rejection.Absolute],
    ["empty", "", Rejection.Empty],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.deepEqual(cleanEntryName(input), expected));
  }
});

describe("detectFromBytes", () => {
  const cases: Array<[string, number[], Compression]> = [
    ["gzip", [0x1f, 0x8b, 8, 0], Compression.Gzip],
    ["zstd", [0x28, 0xb5, 0x2f, 0xfd], Compression.Zstd],
    ["tar", [0x61, 0x2f, 0, 0], Compression.Uncompressed],
    ["empty", [], Compression.Uncompressed],
  ];
  for (const [name, bytes, expected] of cases) test(name, () => assert.equal(detectFromBytes(Uint8Array.from(bytes)), expected));
});

describe("layer application", () => {
  let dir: string;
  let n = 0;
  const fresh = () => {
    const d = join(dir, `t${n++}`);
    mkdirSync(d);
    return d;
  };
  const blobFile = (data: Buffer) => {
    const p = join(dir, `blob-${n++}`);
    writeFileSync(p, data);
    return p;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "purser-layer-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("ScopedRoot resolves symlinked parents inside the root and refuses a file as a parent", () => {
    const root = fresh();
    mkdirSync(join(root, "usr/lib"), { recursive: true });
    symlinkSync("usr/lib", join(root, "lib"));
    symlinkSync("/usr", join(root, "abs"));
    symlinkSync("../../..", join(root, "up"));
    writeFileSync(join(root, "file"), "x");
    const s = new ScopedRoot(root);
    assert.equal(s.resolveDir(["lib", "x86"], true), "usr/lib/x86");
    assert.equal(s.resolveDir(["abs", "lib"], false), "usr/lib");
    assert.equal(s.resolveDir(["up", "tmp"], true), "tmp");
    assert.equal(s.resolveDir(["missing", "deeper"], false), undefined);
    assert.throws(() => s.resolveDir(["file", "x"], true), NotADirectoryError);
    symlinkSync("loop", join(root, "loop"));
    assert.throws(() => s.resolveDir(["loop", "x"], true), /too many levels of symbolic links/);
  });

  /** A file outside the snapshot whose mode, owner and time an escape would change. */
  const canary = (path: string, isDir = false) => {
    if (isDir) mkdirSync(path, { mode: 0o755 });
    else writeFileSync(path, "canary", { mode: 0o644 });
    const st = statSync(path);
    return () => {
      const now = statSync(path);
      assert.deepEqual([now.mode, now.uid, now.gid, now.mtimeMs], [st.mode, st.uid, st.gid, st.mtimeMs], `${path} changed`);
    };
  };

  test("a directory entry then a symlink of the same name leaves the symlink's target untouched (file and directory)", async () => {
    for (const isDir of [false, true]) {
      const root = fresh();
      const outside = join(dir, `canary-${n++}`);
      const unchanged = canary(outside, isDir);
      const layer = await buildLayer([
        { name: "d/", type: "directory", mode: 0o4777, uid: 4321, gid: 4321, mtime: new Date(0) },
        { name: "d", type: "symlink", linkname: outside },
      ]);
      await applyLayer({ blobPath: blobFile(layer.blob), dir: root, diffId: layer.diffId });
      unchanged();
      assert.equal(readlinkSync(join(root, "d")), outside);
    }
  });

  test("a parent directory replaced by a symlink later in the layer: its children's metadata is not applied through it", async () => {
    const root = fresh();
    const outside = join(dir, `canary-dir-${n++}`);
    mkdirSync(outside);
    const unchanged = canary(join(outside, "b"), true);
    const layer = await buildLayer([
      { name: "a/", type: "directory" },
      { name: "a/b/", type: "directory", mode: 0o777, mtime: new Date(0) },
      { name: "a", type: "symlink", linkname: outside },
    ]);
    await applyLayer({ blobPath: blobFile(layer.blob), dir: root, diffId: layer.diffId });
    unchanged();
  });

  test("the trick never reaches a parent snapshot's file through an inode the snapshot shares with it", async () => {
    const parent = fresh();
    writeFileSync(join(parent, "shared"), "parent's", { mode: 0o644 });
    const root = fresh();
    linkSync(join(parent, "shared"), join(root, "shared")); // the native snapshotter's copy of an unchanged file
    const unchanged = canary(join(parent, "other"));
    const sharedBefore = statSync(join(parent, "shared"));
    const layer = await buildLayer([
      { name: "d/", type: "directory", mode: 0o4777, mtime: new Date(0) },
      { name: "d", type: "symlink", linkname: "shared" },
    ]);
    await applyLayer({ blobPath: blobFile(layer.blob), dir: root, diffId: layer.diffId });
    const sharedAfter = statSync(join(parent, "shared"));
    assert.deepEqual([sharedAfter.mode, sharedAfter.mtimeMs], [sharedBefore.mode, sharedBefore.mtimeMs]);
    unchanged();
  });

  test("gzip, zstd and plain tars give the same tree and diff id", async () => {
    const entries = [{ name: "d/", type: "directory" as const }, { name: "d/f", data: "hello" }];
    const t = await makeTar(entries);
    const kinds = hasZstd() ? (["none", "gzip", "zstd"] as const) : (["none", "gzip"] as const);
    for (const how of kinds) {
      const root = fresh();
      const layer = await buildLayer(entries, how);
      const r = await applyLayer({ blobPath: blobFile(layer.blob), dir: root, diffId: layer.diffId });
      assert.equal(r.compression, { none: "uncompressed", gzip: "gzip", zstd: "zstd" }[how]);
      assert.equal(r.size, t.length);
      assert.equal(readFileSync(join(root, "d/f"), "utf8"), "hello");
    }
  });

  test("a stream that does not hash to the diff id is refused", async () => {
    const layer = await buildLayer([{ name: "f", data: "x" }]);
    const wrong = `sha256:${"1".repeat(64)}`;
    await assert.rejects(applyLayer({ blobPath: blobFile(layer.blob), dir: fresh(), diffId: wrong }), (err: unknown) => {
      assert.ok(err instanceof DiffIdMismatchError);
      assert.equal(err.actual, layer.diffId);
      return true;
    });
  });

  test("a truncated gzip stream and a hard link to nothing fail", async () => {
    const layer = await buildLayer([{ name: "f", data: randomBytes(100_000) }]);
    const half = layer.blob.subarray(0, layer.blob.length >> 1);
    await assert.rejects(applyLayer({ blobPath: blobFile(half), dir: fresh(), diffId: layer.diffId }), /unexpected end of file/);
    const dangling = await buildLayer([{ name: "hl", type: "link", linkname: "missing" }]);
    await assert.rejects(applyLayer({ blobPath: blobFile(dangling.blob), dir: fresh(), diffId: dangling.diffId }), /target "missing" does not exist/);
  });

  test("the worker pool applies layers and reports failures with their errno", async () => {
    const applier = new LayerApplier(1);
    try {
      const layer = await buildLayer([{ name: "a/b", data: "w" }]);
      const root = fresh();
      const r = await applier.apply({ blobPath: blobFile(layer.blob), dir: root, diffId: layer.diffId });
      assert.equal(r.entries, 1);
      assert.equal(readFileSync(join(root, "a/b"), "utf8"), "w");
      await assert.rejects(applier.apply({ blobPath: join(dir, "no-such-blob"), dir: root, diffId: layer.diffId }), (err: unknown) => {
        assert.equal((err as NodeJS.ErrnoException).code, "ENOENT");
        return true;
      });
      const wrong = await applier.apply({ blobPath: blobFile(layer.blob), dir: fresh(), diffId: `sha256:${"2".repeat(64)}` }).catch((e: unknown) => e);
      assert.ok(wrong instanceof DiffIdMismatchError);
    } finally {
      await applier.close();
    }
    assert.ok(!existsSync(join(dir, "no-such-blob")));
  });

  test("trailing bytes after the tar's end are part of the diff id", async () => {
    const t = Buffer.concat([await makeTar([{ name: "f", data: "x" }]), Buffer.alloc(10240)]);
    const blob = compress(t, "gzip");
    const diffId = `sha256:${createHash("sha256").update(t).digest("hex")}`;
    const r = await applyLayer({ blobPath: blobFile(blob), dir: fresh(), diffId });
    assert.equal(r.size, t.length);
  });
});
