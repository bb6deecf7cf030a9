/**
 * Archives built and read by tools no one here wrote: `umoci` (an OCI image
 * layout made from scratch) and `skopeo` (oci-archive and docker-archive
 * transports). Each test skips, saying why, when its tool is not installed
 * (Debian: `apt-get install -y umoci skopeo`); the suite never requires them.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ContentRecord } from "../src/events/content-events.js";
import { runCli } from "./support/cli.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

function available(tool: string): boolean {
  return spawnSync(tool, ["--version"], { stdio: "ignore" }).status === 0;
}
const hasUmoci = available("umoci");
const hasSkopeo = available("skopeo");
const skipUmoci = hasUmoci ? false : "umoci is not installed (apt-get install -y umoci)";
const skipSkopeo = hasSkopeo ? false : "skopeo is not installed (apt-get install -y skopeo)";
const skipBoth = hasUmoci && hasSkopeo ? false : "needs both umoci and skopeo (apt-get install -y umoci skopeo)";

const sh = (cmd: string, args: string[], cwd?: string) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const skopeo = (...args: string[]) => sh("skopeo", ["--insecure-policy", ...args]);

describe("archives made and read by umoci and skopeo", { skip: !hasUmoci && !hasSkopeo ? "neither umoci nor skopeo is installed (apt-get install -y umoci skopeo)" : false }, () => {
  let p: TestPurser;
  let state: { path: string; remove(): void };
  let work: { path: string; remove(): void };
  /** The OCI layout umoci built (when it is installed). */
  let layout: string;
  const ok = async (ns: string, ...args: string[]) => {
    const r = await runCli(p.nats.url, ["-n", ns, ...args], { PURSER_STATE_DIR: state.path });
    assert.equal(r.code, 0, `purser ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  const layoutBlob = (digest: string) => readFileSync(join(layout, "blobs", "sha256", digest.slice(7)));

  before(async () => {
    p = await startTestPurser();
    state = tempDir("purser-tools-state-");
    work = tempDir("purser-tools-");
    layout = join(work.path, "layout");
    if (hasUmoci) {
      // An image umoci makes from nothing: one layer with a file, a config with a command.
      const bundle = join(work.path, "bundle");
      sh("umoci", ["init", "--layout", layout]);
      sh("umoci", ["new", "--image", `${layout}:latest`]);
      sh("umoci", ["unpack", "--image", `${layout}:latest`, bundle]);
      mkdirSync(join(bundle, "rootfs", "etc"), { recursive: true });
      writeFileSync(join(bundle, "rootfs", "etc", "greeting"), "hello from umoci\n");
      sh("umoci", ["repack", "--image", `${layout}:latest`, bundle]);
      sh("umoci", ["config", "--image", `${layout}:latest`, "--config.cmd", "/bin/sh", "--os", "linux", "--architecture", "amd64"]);
      sh("umoci", ["gc", "--layout", layout]);
    }
  });
  after(async () => {
    await p.stop();
    state.remove();
    work.remove();
  });

  test("umoci's OCI layout (tarred by GNU tar, ./ names) imports: names under --base-name, labels, size, check", { skip: skipUmoci }, async () => {
    const archive = join(work.path, "umoci.tar");
    sh("tar", ["-C", layout, "-cf", archive, "."]);
    await ok("umoci", "images", "import", "--no-unpack", "--base-name", "example.com/umoci", archive);

    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: Array<{ digest: string; size: number }> };
    const target = index.manifests[0]!;
    const manifest = JSON.parse(layoutBlob(target.digest).toString()) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
    const config = JSON.parse(layoutBlob(manifest.config.digest).toString()) as { rootfs: { diff_ids: string[] } };
    assert.equal(manifest.layers.length, 1);

    const { result: images } = await p.client.images.list("umoci");
    assert.deepEqual(images.map((i) => [i.name, i.target.digest]), [["example.com/umoci:latest", target.digest]]);
    const content = Object.fromEntries((await p.client.content.list("umoci")).result.map((c: ContentRecord) => [c.digest, c.labels]));
    assert.deepEqual(content[target.digest], {
      "containerd.io/gc.ref.content.config": manifest.config.digest,
      "containerd.io/gc.ref.content.l.0": manifest.layers[0]!.digest,
    });
    assert.deepEqual(content[manifest.layers[0]!.digest], { "containerd.io/uncompressed": config.rootfs.diff_ids[0] });
    assert.equal(Object.keys(content).length, 3);

    const size = target.size + manifest.config.size + manifest.layers[0]!.size;
    const cell = size < 1024 ? `${size.toFixed(1)} B` : `${(size / 1024).toFixed(1)} KiB`;
    assert.match((await ok("umoci", "images", "ls")).stdout, new RegExp(`^example\\.com/umoci:latest +\\S+ +${target.digest} +${cell.replace(".", "\\.")} +linux/amd64 +-$`, "m"));
    assert.match((await ok("umoci", "images", "check")).stdout, /complete \(2\/2\)/);
  });

  test("purser's export of umoci's image reads back in umoci (stat) and skopeo (inspect, copy with digest checks)", { skip: skipBoth }, async () => {
    const out = join(work.path, "umoci-export.tar");
    await ok("umoci", "images", "export", "-o", out, "example.com/umoci:latest");
    const extracted = join(work.path, "umoci-export");
    mkdirSync(extracted);
    sh("tar", ["-C", extracted, "-xf", out]);
    // umoci finds the image by its ref name (the tag: `latest`) and reads its history from the config.
    const stat = JSON.parse(sh("umoci", ["stat", "--image", `${extracted}:latest`, "--json"])) as { history: unknown[] };
    assert.ok(Array.isArray(stat.history));

    const inspect = JSON.parse(skopeo("inspect", `oci-archive:${out}`)) as { Digest: string; Architecture: string; Os: string; Layers: string[] };
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: Array<{ digest: string }> };
    assert.equal(inspect.Digest, index.manifests[0]!.digest);
    assert.deepEqual([inspect.Os, inspect.Architecture], ["linux", "amd64"]);
    // skopeo verifies every blob against its digest while it copies.
    const copy = join(work.path, "skopeo-copy");
    skopeo("copy", `oci-archive:${out}`, `oci:${copy}:copied`);
    assert.ok(readdirSync(join(copy, "blobs", "sha256")).length >= 3);
  });

  test("skopeo's docker-archive (docker save format, symlinked layer) and oci-archive import", { skip: skipBoth }, async () => {
    const docker = join(work.path, "skopeo-docker.tar");
    skopeo("copy", `oci:${layout}:latest`, `docker-archive:${docker}:example.com/sk:1`);
    await ok("skopeo", "images", "import", "--no-unpack", docker);
    const oci = join(work.path, "skopeo-oci.tar");
    skopeo("copy", `oci:${layout}:latest`, `oci-archive:${oci}:example.com/sk:2`);
    await ok("skopeo", "images", "import", "--no-unpack", oci);

    const { result: images } = await p.client.images.list("skopeo");
    assert.deepEqual(images.map((i) => [i.name, i.target.mediaType]), [
      ["example.com/sk:1", "application/vnd.docker.distribution.manifest.v2+json"],
      ["example.com/sk:2", "application/vnd.oci.image.manifest.v1+json"],
    ]);
    const ls = (await ok("skopeo", "images", "ls")).stdout;
    assert.match(ls, /^example\.com\/sk:1 .* linux\/amd64 +- +$/m);
    assert.match(ls, /^example\.com\/sk:2 .* linux\/amd64 +- +$/m);
    const check = (await ok("skopeo", "images", "check")).stdout;
    assert.equal(check.match(/complete \(2\/2\)/g)?.length, 2, check);

    // The docker image's export is a valid oci-archive for skopeo too.
    const out = join(work.path, "sk1-export.tar");
    await ok("skopeo", "images", "export", "-o", out, "example.com/sk:1");
    const inspect = JSON.parse(skopeo("inspect", `oci-archive:${out}`)) as { Digest: string; Layers: string[] };
    assert.equal(inspect.Digest, images[0]!.target.digest);
    assert.equal(inspect.Layers.length, 1);
    assert.ok(statSync(out).size > 0);
  });
});
