import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PurserError } from "../src/errors/errdefs.js";
import type { SnapshotRecord } from "../src/events/snapshot-events.js";
import { copyTree } from "../src/snapshots/copy-tree.js";
import { diskUsage } from "../src/snapshots/disk-usage.js";
import { copySnapshotTree, NativeSnapshotter } from "../src/snapshots/native.js";
import { Snapshotters } from "../src/snapshots/snapshotters.js";
import { tempDir } from "./support/nats.js";

const isRoot = process.getuid?.() === 0;

/** Every entry of a tree with what a copy must keep: type, mode, size, link target, owner, mtime, content. */
function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const path = join(root, rel);
    const st = lstatSync(path);
    let what = `mode=${(st.mode & 0o7777).toString(8)} uid=${st.uid} gid=${st.gid}`;
    if (st.isDirectory()) what = `dir ${what}`;
    else if (st.isSymbolicLink()) what = `link->${readlinkSync(path)} uid=${st.uid}`;
    else if (st.isFIFO()) what = `fifo ${what}`;
    else if (st.isFile()) {
      const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
      if (st.nlink > 1 && !first) inodes.set(st.ino, rel);
      what = `file ${what} nlink=${st.nlink} ${first ? `same-inode-as=${first}` : `content=${readFileSync(path, "utf8")}`}`;
    }
    if (!st.isSymbolicLink() && rel !== "") what += ` mtime=${Math.floor(st.mtimeMs)}`;
    out[rel === "" ? "." : rel] = what;
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(rel === "" ? name : `${rel}/${name}`);
  };
  walk("");
  return out;
}

/** A root filesystem in miniature: modes (setuid, sticky, read-only), links of both kinds, a FIFO, owners, old times. */
function buildTree(root: string): void {
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "etc"));
  mkdirSync(join(root, "tmp"));
  mkdirSync(join(root, "ro"));
  writeFileSync(join(root, "bin", "tool"), "#!/bin/sh\necho hi\n");
  chmodSync(join(root, "bin", "tool"), 0o4755);
  writeFileSync(join(root, "etc", "passwd"), "root:x:0:0\n");
  chmodSync(join(root, "etc", "passwd"), 0o644);
  writeFileSync(join(root, "etc", "shadow"), "secret\n");
  chmodSync(join(root, "etc", "shadow"), 0o600);
  linkSync(join(root, "bin", "tool"), join(root, "bin", "tool-hardlink"));
  linkSync(join(root, "bin", "tool"), join(root, "etc", "tool-elsewhere"));
  symlinkSync("tool", join(root, "bin", "relative-link"));
  symlinkSync("/etc/passwd", join(root, "bin", "absolute-link"));
  symlinkSync("../nowhere", join(root, "bin", "dangling-link"));
  chmodSync(join(root, "tmp"), 0o1777);
  writeFileSync(join(root, "ro", "file"), "read only\n");
  chmodSync(join(root, "ro", "file"), 0o444);
  execFileSync("mkfifo", [join(root, "etc", "initctl")]);
  if (isRoot) chownSync(join(root, "etc", "shadow"), 1234, 42);
  const old = new Date("2020-05-06T07:08:09Z");
  utimesSync(join(root, "etc", "passwd"), old, old);
  chmodSync(join(root, "ro"), 0o555);
  utimesSync(join(root, "etc"), old, old);
}

describe("copyTree: a parent's tree, as the native snapshotter copies it", () => {
  const dir = tempDir("purser-copy-");
  after(() => {
    chmodSync(join(dir.path, "src", "ro"), 0o755);
    if (existsSync(join(dir.path, "dst", "ro"))) chmodSync(join(dir.path, "dst", "ro"), 0o755);
    dir.remove();
  });

  test("keeps types, modes (setuid, sticky, read-only), symlinks verbatim, hard links, FIFOs, owners and times", async () => {
    const src = join(dir.path, "src");
    const dst = join(dir.path, "dst");
    mkdirSync(src);
    buildTree(src);
    await copyTree(src, dst);
    assert.deepEqual(describeTree(dst), describeTree(src));
    // The hard links are links to one another in the copy, not to the source.
    assert.equal(lstatSync(join(dst, "bin", "tool")).ino, lstatSync(join(dst, "etc", "tool-elsewhere")).ino);
    assert.notEqual(lstatSync(join(dst, "bin", "tool")).ino, lstatSync(join(src, "bin", "tool")).ino);
    // Writing to the copy leaves the parent alone.
    writeFileSync(join(dst, "etc", "passwd"), "changed\n");
    assert.equal(readFileSync(join(src, "etc", "passwd"), "utf8"), "root:x:0:0\n");
  });

  test("the native snapshotter's copy (GNU cp -a where present) gives the same tree, extended attributes too", async () => {
    const src = join(dir.path, "src");
    const xattr = (path: string, value?: string) =>
      execFileSync("python3", ["-c", value === undefined ? "import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], 'user.purser').decode())" : "import os,sys; os.setxattr(sys.argv[1], 'user.purser', sys.argv[2].encode())", path, ...(value === undefined ? [] : [value])], { encoding: "utf8" });
    xattr(join(src, "etc", "passwd"), "kept");
    await copySnapshotTree(src, join(dir.path, "auto"));
    assert.deepEqual(describeTree(join(dir.path, "auto")), describeTree(src));
    if (execFileSync("cp", ["--version"], { encoding: "utf8" }).includes("GNU coreutils")) {
      assert.equal(xattr(join(dir.path, "auto", "etc", "passwd")), "kept");
    }
    await copySnapshotTree(src, join(dir.path, "node"), "node");
    assert.deepEqual(describeTree(join(dir.path, "node")), describeTree(src));
    chmodSync(join(dir.path, "auto", "ro"), 0o755);
    chmodSync(join(dir.path, "node", "ro"), 0o755);
  });

  test("refuses a source that is not a directory", async () => {
    await assert.rejects(copyTree(join(dir.path, "src", "etc", "passwd"), join(dir.path, "x")), /is not a directory/);
  });
});

describe("diskUsage: continuity's DiskUsage", () => {
  const dir = tempDir("purser-du-");
  after(() => dir.remove());

  test("counts each inode once (hard links share one) and its blocks", async () => {
    mkdirSync(join(dir.path, "t"));
    writeFileSync(join(dir.path, "t", "a"), Buffer.alloc(10_000, 1));
    linkSync(join(dir.path, "t", "a"), join(dir.path, "t", "b"));
    symlinkSync("a", join(dir.path, "t", "c"));
    const u = await diskUsage(join(dir.path, "t"));
    assert.equal(u.inodes, 3); // the directory, a (= b), c
    const blocks = (p: string) => lstatSync(join(dir.path, "t", p)).blocks * 512;
    assert.equal(u.size, lstatSync(join(dir.path, "t")).blocks * 512 + blocks("a") + blocks("c"));
  });
});

describe("NativeSnapshotter: directories, mounts, usage, read-only snapshots", () => {
  const dir = tempDir("purser-native-");
  let sn: NativeSnapshotter;
  before(() => {
    sn = new NativeSnapshotter(dir.path);
  });
  after(() => dir.remove());

  const record = (key: string, kind: SnapshotRecord["kind"], d: string, parent = ""): SnapshotRecord => ({
    snapshotter: "native",
    key,
    kind,
    parent,
    labels: {},
    createdAt: "",
    updatedAt: "",
    backendKey: `ns/1/${key}`,
    dir: d,
  });

  test("materialize: an empty tree, then a copy of it, each built aside and renamed into place; idempotent", async () => {
    await sn.materialize("base");
    const base = sn.dirPath("base");
    assert.equal(base, join(dir.path, "snapshots", "native", "snapshots", "base"));
    writeFileSync(join(base, "f"), "layer 1\n");
    await sn.materialize("child", "base");
    assert.equal(readFileSync(join(sn.dirPath("child"), "f"), "utf8"), "layer 1\n");
    writeFileSync(join(sn.dirPath("child"), "g"), "mine\n");
    await sn.materialize("child", "base"); // exists: complete, left alone
    assert.equal(readFileSync(join(sn.dirPath("child"), "g"), "utf8"), "mine\n");
    assert.deepEqual(readdirSync(join(dir.path, "snapshots", "native", "tmp")), []);
    assert.deepEqual(await sn.listDirs(), ["base", "child"]);
  });

  test("mounts as containerd's native snapshotter returns them: rbind, rw for active, ro for a view", () => {
    assert.deepEqual(sn.mounts(record("a", "active", "child")), [{ type: "bind", source: sn.dirPath("child"), options: ["rbind", "rw"] }]);
    assert.deepEqual(sn.mounts(record("v", "view", "base", "p")), [{ type: "bind", source: sn.dirPath("base"), options: ["rbind", "ro"] }]);
  });

  test("committed snapshots are read-only: no mounts, no writable directory", () => {
    assert.throws(
      () => sn.mounts(record("c", "committed", "base")),
      (e: unknown) =>
        e instanceof PurserError &&
        e.kind === "FailedPrecondition" &&
        e.message === "failed to get snapshot mount: requested snapshot ns/1/c not active or view: failed precondition",
    );
    assert.throws(() => sn.writableDir(record("c", "committed", "base")), (e: unknown) => e instanceof PurserError && e.kind === "FailedPrecondition");
    assert.throws(() => sn.writableDir(record("v", "view", "base")), (e: unknown) => e instanceof PurserError && e.kind === "FailedPrecondition");
    assert.equal(sn.writableDir(record("a", "active", "child")), sn.dirPath("child"));
  });

  test("usage: measured for active, remembered for committed, zero for a view", async () => {
    const active = await sn.usage(record("a", "active", "child"));
    assert.equal(active.inodes, 3);
    assert.deepEqual(await sn.usage(record("v", "view", "base")), { size: 0, inodes: 0 });
    const committed = await sn.usage(record("c", "committed", "base"));
    writeFileSync(join(sn.dirPath("base"), "late"), "x");
    assert.deepEqual(await sn.usage(record("c", "committed", "base")), committed);
  });

  test("removeDir deletes a tree (the collector's job)", async () => {
    await sn.removeDir("child");
    assert.deepEqual(await sn.listDirs(), ["base"]);
  });

  test("snapshotter names: containerd's service texts", () => {
    const all = new Snapshotters(dir.path);
    assert.equal(all.get("native").name, "native");
    for (const [name, text] of [
      ["", "snapshotter argument missing: invalid argument"],
      ["overlayfs", "snapshotter not loaded: overlayfs: invalid argument"],
    ] as const) {
      assert.throws(() => all.get(name), (e: unknown) => e instanceof PurserError && e.kind === "InvalidArgument" && e.message === text);
    }
  });
});
