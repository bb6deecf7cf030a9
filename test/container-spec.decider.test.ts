/**
 * The spec and labels of a container made from an image (src/domain/container-spec.ts),
 * given/when/then with no I/O: containerd 1.6's `WithImageConfigArgs`,
 * `WithUser`, `WithAdditionalGIDs`, `replaceOrAppendEnvValues` and ctr's
 * label order. Plus the rootfs file reader's scope (a real temporary tree).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { containerLabels, containerSpec, replaceOrAppendEnvValues, resolveUser, type ContainerSpecRequest } from "../src/domain/container-spec.js";
import { PurserError } from "../src/errors/errdefs.js";
import { readRootFile } from "../src/snapshots/root-files.js";

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function request(over: Partial<ContainerSpecRequest> = {}): ContainerSpecRequest {
  return { namespace: "default", id: "c1", config: {}, args: [], env: [], cwd: "", tty: false, readOnly: false, allowNewPrivileges: false, annotations: {}, ...over };
}

type Spec = { process: { args: string[]; env: string[]; cwd: string; user: object; terminal?: boolean; noNewPrivileges?: boolean }; root: object; annotations?: object; linux: { cgroupsPath: string } };
const spec = (r: ContainerSpecRequest) => containerSpec(r) as unknown as Spec;

const passwd = "root:x:0:0:root:/root:/bin/sh\n\napp:x:1000:1001::/home/app:/bin/sh\n";
const group = "root:x:0:\nwheel:x:10:root,app\napp:x:1001:\ndocker:x:999:app\n";

describe("container spec from the image config", () => {
  test("given the fixture's config, then ctr's process: Cmd as args, WorkingDir as cwd, the default PATH", () => {
    const s = spec(request({ config: { Env: [defaultPath], Cmd: ["/bin/anchor"], WorkingDir: "/app" } }));
    assert.deepEqual(s.process.args, ["/bin/anchor"]);
    assert.equal(s.process.cwd, "/app");
    assert.deepEqual(s.process.env, [defaultPath]);
    assert.deepEqual(s.process.user, { uid: 0, gid: 0, additionalGids: [0] });
    assert.equal(s.linux.cgroupsPath, "/default/c1");
    assert.equal(s.annotations, undefined);
  });

  test("Entrypoint then Cmd; trailing arguments replace both; no WorkingDir is /", () => {
    assert.deepEqual(spec(request({ config: { Entrypoint: ["/init", "--"], Cmd: ["serve"] } })).process.args, ["/init", "--", "serve"]);
    const replaced = spec(request({ config: { Entrypoint: ["/init"], Cmd: ["serve"] }, args: ["sh"] }));
    assert.deepEqual([replaced.process.args, replaced.process.cwd], [["sh"], "/"]);
  });

  test("env: the image's as defaults under the given ones (whose default PATH wins, as in containerd 1.6); a bare key unsets only the default spec's", () => {
    const s = spec(request({ config: { Env: ["PATH=/opt/bin", "A=1", "B=2"] }, env: ["A=9", "B", "C=3"] }));
    assert.deepEqual(s.process.env, [defaultPath, "A=9", "B=2", "C=3"]);
    assert.deepEqual(replaceOrAppendEnvValues(["X=1", "Y=2"], ["Y", "Z=3", "X=4"]), ["X=4", "Z=3"]);
  });

  test("--tty, --read-only, --allow-new-privs, --cwd and annotations", () => {
    const s = spec(request({ tty: true, readOnly: true, allowNewPrivileges: true, cwd: "/w", annotations: { b: "2", a: "1" } }));
    assert.equal(s.process.terminal, true);
    assert.deepEqual(s.process.env, [defaultPath, "TERM=xterm"]);
    assert.deepEqual(s.root, { path: "rootfs", readonly: true });
    assert.equal(s.process.noNewPrivileges, undefined);
    assert.equal(s.process.cwd, "/w");
    assert.deepEqual(Object.keys(s.annotations!), ["a", "b"]);
  });

  test("labels: the config's, the image's, the given ones, then the stop signal (SIGTERM by default)", () => {
    assert.deepEqual(containerLabels({ Labels: { a: "config", b: "config" } }, { b: "image", c: "image" }, { c: "given" }), {
      a: "config",
      b: "image",
      c: "given",
      "io.containerd.image.config.stop-signal": "SIGTERM",
    });
    assert.equal(containerLabels({ StopSignal: "SIGQUIT" }, {}, {})["io.containerd.image.config.stop-signal"], "SIGQUIT");
  });
});

describe("the user and its groups, from the rootfs's passwd and group", () => {
  test("no user: root, with the groups that list root", () => {
    assert.deepEqual(resolveUser("", passwd, group), { uid: 0, gid: 0, additionalGids: [0, 10] });
    assert.deepEqual(resolveUser("", undefined, undefined), { uid: 0, gid: 0, additionalGids: [0] });
  });

  test("a name: its uid and gid from passwd, its supplementary groups from group", () => {
    assert.deepEqual(resolveUser("app", passwd, group), { uid: 1000, gid: 1001, additionalGids: [1001, 10, 999] });
  });

  test("a uid: its passwd entry's gid, or 0 when it has none", () => {
    assert.deepEqual(resolveUser("1000", passwd, group), { uid: 1000, gid: 1001, additionalGids: [1001, 10, 999] });
    assert.deepEqual(resolveUser("4242", passwd, group), { uid: 4242, gid: 0, additionalGids: [0] });
  });

  test("uid:gid, name:group and mixes", () => {
    assert.deepEqual(resolveUser("5:6", undefined, undefined), { uid: 5, gid: 6, additionalGids: [6] });
    assert.deepEqual(resolveUser("app:docker", passwd, group), { uid: 1000, gid: 999, additionalGids: [10, 999] });
    assert.deepEqual(resolveUser("0:wheel", passwd, group), { uid: 0, gid: 10, additionalGids: [10] });
  });

  test("refusals in containerd's words, never Unknown", () => {
    const refuses = (user: string, kind: string, message: string, pw: string | undefined) =>
      assert.throws(() => resolveUser(user, pw, group), (e: unknown) => e instanceof PurserError && e.kind === kind && e.message === message);
    refuses("nobody", "NotFound", "no users found: not found", passwd);
    refuses("app", "NotFound", "open /etc/passwd: no such file or directory: not found", undefined);
    refuses("app:nogroup", "NotFound", "no groups found: not found", passwd);
    refuses("a:b:c", "InvalidArgument", "invalid USER value a:b:c: invalid argument", passwd);
  });
});

describe("reading a file of the container's root file system", () => {
  const dir = mkdtempSync(join(tmpdir(), "purser-rootfs-"));
  const root = join(dir, "root");
  const outside = join(dir, "outside");
  mkdirSync(join(root, "etc"), { recursive: true });
  mkdirSync(join(root, "real"), { recursive: true });
  writeFileSync(outside, "host secret\n");
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a plain file, a link inside the tree, a missing one", async () => {
    writeFileSync(join(root, "real/passwd"), passwd);
    symlinkSync("../real/passwd", join(root, "etc/passwd"));
    assert.equal(await readRootFile(root, "/etc/passwd", 1 << 20), passwd);
    assert.equal(await readRootFile(root, "/etc/group", 1 << 20), undefined);
  });

  test("links never leave the tree: absolute targets and .. start again at its root", async () => {
    symlinkSync(outside, join(root, "etc/group"));
    symlinkSync("../../../../outside", join(root, "etc/shadow"));
    mkdirSync(join(root, "etc/sub"));
    symlinkSync("/", join(root, "etc/sub/up"));
    assert.equal(await readRootFile(root, "/etc/group", 1 << 20), undefined);
    assert.equal(await readRootFile(root, "/etc/shadow", 1 << 20), undefined);
    assert.equal(await readRootFile(root, "/etc/sub/up/real/passwd", 1 << 20), passwd);
  });

  test("a loop, a directory and a file too large are refused", async () => {
    symlinkSync("loop2", join(root, "etc/loop1"));
    symlinkSync("loop1", join(root, "etc/loop2"));
    await assert.rejects(readRootFile(root, "/etc/loop1", 1 << 20), /too many levels of symbolic links/);
    await assert.rejects(readRootFile(root, "/etc", 1 << 20), /is not a regular file/);
    await assert.rejects(readRootFile(root, "/real/passwd", 10), /is larger than 10 bytes/);
  });
});
