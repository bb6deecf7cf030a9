/**
 * `purser images` and `purser containers` as a user runs them: the compiled
 * CLI in a child process against a real purser (nats-server + LMDB).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { anchor, fixturePath } from "./support/image-archives.js";

const cli = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const digest = "sha256:" + "ab".repeat(32);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe("purser images / containers CLI", () => {
  let p: TestPurser;
  let state: { path: string; remove(): void };
  const run = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [cli, "--server", p.nats.url, "-n", "clins", ...args],
        { env: { ...process.env, PURSER_STATE_DIR: state.path } },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  before(async () => {
    p = await startTestPurser();
    state = tempDir("purser-cli-state-");
  });
  after(async () => {
    await p.stop();
    state.remove();
  });

  test("images create, ls (ctr's columns), ls -q with a filter", async () => {
    const a = await run("images", "create", "docker.io/library/alpine:3.19", "--digest", digest, "--size", "1024", "--media-type", "application/vnd.oci.image.index.v1+json", "--label", "a=b");
    assert.deepEqual([a.code, a.stdout, a.stderr], [0, "docker.io/library/alpine:3.19\n", ""]);
    await run("images", "create", "x/busybox:1", "--digest", digest, "--size", "2", "--media-type", "m");
    const ls = await run("images", "ls");
    assert.equal(ls.code, 0);
    assert.equal(
      ls.stdout,
      [
        "REF                           TYPE                                    DIGEST                                                                  SIZE  PLATFORMS LABELS ",
        // No content here: the index cannot be walked (`-`); a target of an unknown type is a leaf, its size its own (ctr).
        `docker.io/library/alpine:3.19 application/vnd.oci.image.index.v1+json ${digest} -     -         a=b    `,
        `x/busybox:1                   m                                       ${digest} 2.0 B -         -      `,
        "",
      ].join("\n"),
    );
    const q = await run("i", "ls", "-q", "labels.a==b");
    assert.equal(q.stdout, "docker.io/library/alpine:3.19\n");
  });

  test("errors read as containerd's, exit status 1", async () => {
    const bad = await run("images", "create", "bad", "--digest", "sha256:abc", "--size", "1", "--media-type", "m");
    assert.deepEqual([bad.code, bad.stderr], [1, 'purser: Target.Digest "sha256:abc" invalid: invalid checksum digest length: invalid argument\n']);
    const filter = await run("images", "ls", "name==.x");
    assert.equal(
      filter.stderr,
      "purser: failed to list images: filters: parse error: [name== >|.|< x]: expected value or quoted: invalid argument: invalid argument\n",
    );
  });

  test("tag, tag --force, label, label -r", async () => {
    const tag = await run("images", "tag", "docker.io/library/alpine:3.19", "mine:1", "mine:2");
    assert.deepEqual([tag.code, tag.stdout], [0, "mine:1\nmine:2\n"]);
    const again = await run("images", "tag", "docker.io/library/alpine:3.19", "mine:1");
    assert.deepEqual([again.code, again.stderr], [1, 'purser: image "mine:1": already exists\n']);
    const forced = await run("images", "tag", "--force", "docker.io/library/alpine:3.19", "mine:1");
    assert.deepEqual([forced.code, forced.stdout], [0, "mine:1\n"]);
    assert.equal((await run("images", "label", "mine:1", "x=1", "a=")).stdout, "x=1\n");
    assert.equal((await run("images", "label", "mine:1", "flag")).stdout, "flag=true,x=1\n");
    assert.equal((await run("images", "label", "mine:1", "flag=")).stdout, "x=1\n");
    assert.equal((await run("images", "label", "-r", "mine:2", "z=9")).stdout, "z=9\n");
    const json = JSON.parse((await run("--json", "images", "ls", "name==mine:2")).stdout) as Array<{ labels: object }>;
    assert.deepEqual(json[0]!.labels, { z: "9" });
  });

  test("containers create (image config, labels, default runtime), --config, ls, info, label, rm", async () => {
    assert.equal((await run("images", "import", "--no-unpack", fixturePath)).code, 0);
    const c = await run("containers", "create", "--no-snapshot", anchor.name, "web", "--label", "role=web", "--label", "flag", "--", "sh", "-c", "echo hi");
    assert.deepEqual([c.code, c.stderr], [0, ""]);
    const info = JSON.parse((await run("c", "info", "web")).stdout) as {
      Labels: object;
      Runtime: { Name: string; Options: object };
      Spec: { process: { args: string[]; cwd: string }; annotations: Record<string, string> };
    };
    // The image config's labels, the stop signal, then the command line's (a bare key is `true`, as ctr's LabelArgs).
    assert.deepEqual(info.Labels, { flag: "true", "io.containerd.image.config.stop-signal": "SIGTERM", "org.example.anchor": "1.0", role: "web" });
    assert.deepEqual(info.Runtime, { Name: "io.containerd.runc.v2", Options: { type_url: "containerd.runc.v1.Options" } });
    // The trailing arguments replace the image's command; the working directory is the image's.
    assert.deepEqual([info.Spec.process.args, info.Spec.process.cwd], [["sh", "-c", "echo hi"], "/app"]);
    assert.deepEqual(info.Spec.annotations, { flag: "true", role: "web" });

    const specFile = join(state.path, "spec.json");
    writeFileSync(specFile, JSON.stringify({ ociVersion: "1.0.2", process: { args: ["true"] } }));
    // ctr's --config: the first argument is the id, no image, the file's spec with the labels as annotations.
    assert.equal((await run("c", "create", "--runtime", "io.containerd.runsc.v1", "--config", specFile, "--label", "k=v", "job")).code, 0);
    assert.deepEqual(JSON.parse((await run("c", "info", "--spec", "job")).stdout), { ociVersion: "1.0.2", process: { args: ["true"] }, annotations: { k: "v" } });

    const ls = await run("containers", "ls");
    assert.equal(
      ls.stdout,
      [
        "CONTAINER    IMAGE                           RUNTIME                   ",
        "job          -                               io.containerd.runsc.v1    ",
        "web          docker.io/library/anchor:1.0    io.containerd.runc.v2     ",
        "",
      ].join("\n"),
    );
    assert.equal((await run("c", "ls", "-q", "runtime.name==io.containerd.runc.v2")).stdout, "web\n");
    assert.equal((await run("c", "label", "web", "tier=front", "role=", "io.containerd.image.config.stop-signal=")).stdout, "flag=true,org.example.anchor=1.0,tier=front\n");

    const missing = await run("c", "create", "nope:1", "x");
    assert.deepEqual([missing.code, missing.stderr], [1, 'purser: image "nope:1": not found\n']);
    const noId = await run("c", "create", "x/busybox:1");
    assert.equal(noId.stderr, "purser: container id must be provided: invalid argument\n");

    const rm = await run("c", "rm", "job", "nope", "web");
    assert.equal(rm.code, 1);
    // ctr loads the container first: the get's text, logged as logrus does, then as the exit error.
    assert.match(rm.stderr, /^time="[^"]+" level=error msg="failed to delete container \\"nope\\"" error="container \\"nope\\" in namespace \\"clins\\": not found"\n/);
    assert.ok(rm.stderr.endsWith('purser: container "nope" in namespace "clins": not found\n'), rm.stderr);
    assert.equal((await run("c", "ls", "-q")).stdout, "");
  });

  test("images rm: missing is a warning, --sync accepted", async () => {
    const rm = await run("images", "rm", "--sync", "mine:1", "nope", "mine:2");
    assert.deepEqual([rm.code, rm.stdout], [0, "mine:1\nmine:2\n"]);
    assert.match(rm.stderr, /^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)" level=warning msg="nope: image not found"\n$/);
  });
});
