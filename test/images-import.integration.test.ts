/**
 * `purser images import|export|check` and the SIZE/PLATFORMS of `images ls`,
 * as a user runs them (the compiled CLI in a child process) against a real
 * purser: the shared fixture as containerd shows it, sharing across
 * namespaces on disk, round trips, docker archives, nested indexes, malformed
 * archives.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { indexTar } from "../src/archive/tar-index.js";
import { ImagesApi } from "../src/client/images-api.js";
import type { ContentRecord } from "../src/events/content-events.js";
import type { ImageRecord } from "../src/events/image-events.js";
import { anchor, blobName, dockerSaveOfFixture, fixtureFiles, fixturePath, sha256, writeTar } from "./support/image-archives.js";
import { runCli } from "./support/cli.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

const manifestType = "application/vnd.oci.image.manifest.v1+json";

/** What `ctr content ls` shows after importing the fixture (fixtures/README.md), minus the snapshot label unpacking adds. */
const fixtureLabels: Record<string, Record<string, string>> = {
  [anchor.manifest]: {
    "containerd.io/gc.ref.content.config": anchor.config,
    "containerd.io/gc.ref.content.l.0": anchor.layers[0]!,
    "containerd.io/gc.ref.content.l.1": anchor.layers[1]!,
  },
  [anchor.config]: {},
  [anchor.layers[0]!]: { "containerd.io/uncompressed": anchor.diffIds[0]! },
  [anchor.layers[1]!]: { "containerd.io/uncompressed": anchor.diffIds[1]! },
};

/** The images client API, looked at before any purser runs (skips a test when unpacking is not built yet). */
const p_unpackProbe = () => ImagesApi.prototype;

/** A literal inside a RegExp. */
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

function localDate(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

describe("purser images import / export / check", () => {
  let p: TestPurser;
  let state: { path: string; remove(): void };
  let work: { path: string; remove(): void };
  const run = (ns: string, ...args: string[]) => runCli(p.nats.url, ["-n", ns, ...args], { PURSER_STATE_DIR: state.path });
  const ok = async (ns: string, ...args: string[]) => {
    const r = await run(ns, ...args);
    assert.equal(r.code, 0, `purser ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  const contentOf = async (ns: string) => {
    const { result } = await p.client.content.list(ns);
    return Object.fromEntries(result.map((c: ContentRecord) => [c.digest, { size: c.size, labels: c.labels }]));
  };
  const imagesOf = async (ns: string) => (await p.client.images.list(ns)).result.map((i: ImageRecord) => ({ name: i.name, target: i.target, labels: i.labels }));
  const blobFiles = () => {
    const dir = join(p.dataDir, "blobs", "sha256");
    return Object.fromEntries(readdirSync(dir).map((f) => [f, (({ ino, mtimeMs }) => ({ ino, mtimeMs }))(statSync(join(dir, f)))]));
  };

  before(async () => {
    p = await startTestPurser();
    state = tempDir("purser-import-state-");
    work = tempDir("purser-import-work-");
  });
  after(async () => {
    await p.stop();
    state.remove();
    work.remove();
  });

  test("the fixture into default: containerd's digests, labels, 1.8 KiB and linux/amd64", async () => {
    const r = await ok("default", "images", "import", "--no-unpack", fixturePath);
    assert.equal(r.stdout, "");
    const ls = await ok("default", "images", "ls");
    assert.equal(
      ls.stdout,
      [
        // Byte for byte what ctr 1.6.20 printed for the same import (every line padded to its last column).
        "REF                          TYPE                                       DIGEST                                                                  SIZE    PLATFORMS   LABELS ",
        `docker.io/library/anchor:1.0 ${manifestType} ${anchor.manifest} 1.8 KiB linux/amd64 -      `,
        "",
      ].join("\n"),
    );
    const content = await contentOf("default");
    assert.deepEqual(Object.keys(content).sort(), Object.keys(fixtureLabels).sort());
    for (const [digest, labels] of Object.entries(fixtureLabels)) assert.deepEqual(content[digest]!.labels, labels, digest);
    assert.deepEqual(
      Object.fromEntries(Object.entries(content).map(([d, c]) => [d, c.size])),
      { [anchor.manifest]: 602, [anchor.config]: 585, [anchor.layers[0]!]: 408, [anchor.layers[1]!]: 227 },
    );
    assert.deepEqual(await imagesOf("default"), [
      {
        name: anchor.name,
        labels: {},
        target: {
          mediaType: manifestType,
          digest: anchor.manifest,
          size: 602,
          annotations: { "io.containerd.image.name": anchor.name, "org.opencontainers.image.ref.name": "1.0" },
        },
      },
    ]);
    // The temporary lease is gone; nothing is left ingesting.
    assert.deepEqual((await p.client.leases.list("default")).result, []);
    assert.deepEqual((await p.client.content.statuses("default")).result, []);
  });

  test("again into foo: no new blob file on disk, foo lists the image; removing it from foo leaves default intact", async () => {
    const before = blobFiles();
    assert.equal(Object.keys(before).length, 4);
    await ok("foo", "images", "import", "--no-unpack", fixturePath);
    assert.deepEqual(blobFiles(), before, "no blob file written or replaced");
    assert.match((await ok("foo", "images", "ls")).stdout, new RegExp(`^${esc(anchor.name)} +${esc(manifestType)} +${anchor.manifest} +1\\.8 KiB +linux/amd64 +- +$`, "m"));
    assert.deepEqual(await contentOf("foo"), await contentOf("default"));

    // Importing the same archive again changes nothing and appends no image event.
    const imagesBefore = await imagesOf("foo");
    await ok("foo", "images", "import", "--no-unpack", fixturePath);
    assert.deepEqual(await imagesOf("foo"), imagesBefore);

    assert.equal((await ok("foo", "images", "rm", anchor.name)).stdout, `${anchor.name}\n`);
    assert.equal((await ok("foo", "images", "ls", "-q")).stdout, "");
    assert.equal((await ok("default", "images", "ls", "-q")).stdout, `${anchor.name}\n`);
    assert.equal(Object.keys(await contentOf("default")).length, 4);
    assert.deepEqual(blobFiles(), before);
    assert.match((await ok("default", "images", "check")).stdout, /complete \(3\/3\)/);
  });

  test("images check: complete (3/3), then incomplete (2/3) when a layer is gone", async () => {
    await ok("chk", "images", "import", "--no-unpack", fixturePath);
    const complete = await ok("chk", "images", "check");
    assert.equal(
      complete.stdout,
      [
        "REF                          TYPE                                       DIGEST                                                                  STATUS         SIZE            UNPACKED ",
        `docker.io/library/anchor:1.0 ${manifestType} ${anchor.manifest} complete (3/3) 1.2 KiB/1.2 KiB false`,
        "",
      ].join("\n"),
    );
    await ok("chk", "content", "rm", anchor.layers[1]!);
    const incomplete = await ok("chk", "images", "check");
    assert.match(incomplete.stdout, new RegExp(`^${esc(anchor.name)} +${esc(manifestType)} +${anchor.manifest} +incomplete \\(2/3\\) +993\\.0 B/1\\.2 KiB +false$`, "m"));
    assert.equal((await ok("chk", "images", "check", "-q")).stdout, `${anchor.name}\n`);
    // The manifest gone: unavailable, and ctr's "unable to check unpack" makes the exit status 1.
    await ok("chk", "content", "rm", anchor.manifest);
    const gone = await run("chk", "images", "check");
    assert.equal(gone.code, 1);
    assert.match(gone.stdout, /unavailable \(0\/\?\) +0\.0 B\/\? +false/);
    assert.match((await ok("chk", "images", "ls")).stdout, /^docker.io\/library\/anchor:1.0 +\S+ +\S+ +- +- +- +$/m);
  });

  test("export then import: the same digests, labels and records; an export is reproducible", async () => {
    const out = join(work.path, "anchor-export.tar");
    await ok("default", "images", "export", "-o", out, anchor.name);
    const again = join(work.path, "anchor-export-2.tar");
    await ok("default", "images", "export", "-o", again, anchor.name);
    assert.deepEqual(readFileSync(out), readFileSync(again));
    const entries = [...(await indexTar(out)).entries.keys()].sort();
    assert.deepEqual(entries, [...Object.keys(fixtureLabels).map(blobName), "index.json", "manifest.json", "oci-layout"].sort());
    const files = new Map<string, Buffer>();
    const idx = await indexTar(out);
    for (const name of ["index.json", "manifest.json", "oci-layout"]) files.set(name, readFileSync(out).subarray(idx.entries.get(name)!.offset, idx.entries.get(name)!.offset + idx.entries.get(name)!.size));
    assert.equal(
      files.get("index.json")!.toString(),
      `{"schemaVersion":2,"manifests":[{"mediaType":"${manifestType}","digest":"${anchor.manifest}","size":602,"annotations":{"io.containerd.image.name":"${anchor.name}","org.opencontainers.image.ref.name":"1.0"}}]}`,
    );
    assert.equal(
      files.get("manifest.json")!.toString(),
      `[{"Config":"${blobName(anchor.config)}","RepoTags":["anchor:1.0"],"Layers":["${blobName(anchor.layers[0]!)}","${blobName(anchor.layers[1]!)}"]}]`,
    );
    assert.equal(files.get("oci-layout")!.toString(), `{"imageLayoutVersion":"1.0.0"}`);

    await ok("roundtrip", "images", "import", "--no-unpack", out);
    assert.deepEqual(await imagesOf("roundtrip"), await imagesOf("default"));
    assert.deepEqual(await contentOf("roundtrip"), await contentOf("default"));
    // The exported blobs are byte for byte the fixture's.
    const fixture = await fixtureFiles();
    for (const digest of Object.keys(fixtureLabels)) {
      const e = idx.entries.get(blobName(digest))!;
      assert.deepEqual(readFileSync(out).subarray(e.offset, e.offset + e.size), fixture.get(blobName(digest)));
    }
  });

  test("a docker save archive: Docker v2 manifest synthesized as containerd writes it, RepoTags normalized", async () => {
    const path = join(work.path, "docker-save.tar");
    const { layerDigests, layerSizes, config } = await dockerSaveOfFixture(path, ["anchor:docker", "registry.example.com:5000/team/anchor"]);
    await ok("dock", "images", "import", "--no-unpack", path);
    const manifest =
      `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
      `"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"${anchor.config}","size":${config.length}},` +
      `"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"${layerDigests[0]}","size":${layerSizes[0]}},` +
      `{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","digest":"${layerDigests[1]}","size":${layerSizes[1]}}]}`;
    const digest = sha256(Buffer.from(manifest));
    const images = await imagesOf("dock");
    assert.deepEqual(
      images.map((i) => [i.name, i.target.digest, i.target.mediaType, i.target.annotations]),
      [
        ["docker.io/library/anchor:docker", digest, "application/vnd.docker.distribution.manifest.v2+json", { "io.containerd.image.name": "docker.io/library/anchor:docker", "org.opencontainers.image.ref.name": "docker" }],
        ["registry.example.com:5000/team/anchor:latest", digest, "application/vnd.docker.distribution.manifest.v2+json", { "io.containerd.image.name": "registry.example.com:5000/team/anchor:latest", "org.opencontainers.image.ref.name": "latest" }],
      ].sort(),
    );
    const content = await contentOf("dock");
    assert.equal(Buffer.from((await p.client.content.readBlob("dock", digest))).toString(), manifest);
    assert.deepEqual(content[digest]!.labels, {
      "containerd.io/gc.ref.content.config": anchor.config,
      "containerd.io/gc.ref.content.l.0": layerDigests[0]!,
      "containerd.io/gc.ref.content.l.1": layerDigests[1]!,
    });
    assert.deepEqual(content[layerDigests[0]!]!.labels, { "containerd.io/uncompressed": anchor.diffIds[0]! });
    // A plain tar layer is its own diff id.
    assert.equal(layerDigests[1], anchor.diffIds[1]);
    assert.deepEqual(content[layerDigests[1]!]!.labels, { "containerd.io/uncompressed": anchor.diffIds[1]! });
    assert.equal(Object.keys(content).length, 4, "only the image's blobs: no VERSION, repositories or index");
    const total = manifest.length + config.length + layerSizes[0]! + layerSizes[1]!;
    const ls = await ok("dock", "images", "ls", "name==docker.io/library/anchor:docker");
    const size = `${(total / 1024).toFixed(1)} KiB`;
    assert.match(ls.stdout, new RegExp(`^docker.io/library/anchor:docker +\\S+ +${digest} +${size.replace(".", "\\.")} +linux/amd64 +- +$`, "m"));
  });

  test("nested indexes and several images in one archive; tag-only ref names get ctr's prefix", async () => {
    const files = await fixtureFiles();
    const arm = JSON.stringify({ schemaVersion: 2, mediaType: manifestType, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(Buffer.from("absent")), size: 6 }, layers: [] });
    const nested = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { mediaType: manifestType, digest: anchor.manifest, size: 602, platform: { architecture: "amd64", os: "linux" } },
        // Another platform whose blobs the archive does not carry (as ctr export writes one platform).
        { mediaType: manifestType, digest: sha256(Buffer.from(arm)), size: arm.length, platform: { architecture: "arm64", os: "linux" } },
      ],
    });
    const nestedDigest = sha256(Buffer.from(nested));
    const index = JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: "application/vnd.oci.image.index.v1+json", digest: nestedDigest, size: nested.length, annotations: { "io.containerd.image.name": "example.com/multi:1" } },
        { mediaType: manifestType, digest: anchor.manifest, size: 602, annotations: { "org.opencontainers.image.ref.name": "2.0" } },
        { mediaType: manifestType, digest: anchor.manifest, size: 602, annotations: { "org.opencontainers.image.ref.name": "example.com/full:3" } },
      ],
    });
    const path = join(work.path, "nested.tar");
    await writeTar(path, [
      { name: "oci-layout", data: files.get("oci-layout")! },
      { name: "index.json", data: index },
      { name: "blobs/", dir: true },
      { name: "blobs/sha256/", dir: true },
      ...Object.keys(fixtureLabels).map((d) => ({ name: blobName(d), data: files.get(blobName(d))! })),
      { name: blobName(nestedDigest), data: nested },
    ]);
    await ok("multi", "images", "import", "--no-unpack", path);
    const prefix = `import-${localDate()}`;
    assert.deepEqual((await imagesOf("multi")).map((i) => [i.name, i.target.digest]), [
      ["example.com/full:3", anchor.manifest],
      ["example.com/multi:1", nestedDigest],
      [`${prefix}:2.0`, anchor.manifest],
    ]);
    const content = await contentOf("multi");
    assert.deepEqual(content[nestedDigest]!.labels, { "containerd.io/gc.ref.content.m.0": anchor.manifest });
    assert.equal(Object.keys(content).length, 5);
    const ls = await ok("multi", "images", "ls", "name==example.com/multi:1");
    // Size: index + the amd64 manifest's tree; platforms: both, from the index.
    assert.match(ls.stdout, new RegExp(`^example.com/multi:1 +application/vnd.oci.image.index.v1\\+json +${nestedDigest} +${((nested.length + 1822) / 1024).toFixed(1).replace(".", "\\.")} KiB +linux/amd64,linux/arm64 +- +$`, "m"));
    assert.match((await ok("multi", "images", "check", "name==example.com/multi:1")).stdout, /complete \(3\/3\)/);

    // --base-name: tag-only names go under it; full names elsewhere are skipped.
    await ok("based", "images", "import", "--no-unpack", "--base-name", "example.com/full", path);
    assert.deepEqual((await imagesOf("based")).map((i) => i.name), ["example.com/full:2.0", "example.com/full:3", "example.com/multi:1"]);
    // (io.containerd.image.name is taken as it is: the base filters only OCI ref names, as in ctr.)

    // --all-platforms needs the arm64 blobs the archive lacks: refused, nothing imported.
    const all = await run("allplat", "images", "import", "--no-unpack", "--all-platforms", path);
    assert.equal(all.code, 1);
    assert.match(all.stderr, /^purser: blob sha256:[0-9a-f]{64} \(application\/vnd.oci.image.manifest.v1\+json\) referenced by index sha256:[0-9a-f]{64} is missing from the archive: not found\n$/);
    assert.deepEqual(await contentOf("allplat"), {});
  });

  test("malformed archives fail with clear errors and leave nothing imported", async () => {
    const files = await fixtureFiles();
    const ociEntries = (override: Record<string, Uint8Array | string> = {}) => [
      { name: "oci-layout", data: files.get("oci-layout")! },
      { name: "index.json", data: files.get("index.json")! },
      ...Object.keys(fixtureLabels).map((d) => ({ name: blobName(d), data: override[d] ?? files.get(blobName(d))! })),
    ];
    const cases: Array<{ name: string; build: (path: string) => Promise<void>; error: RegExp }> = [
      {
        name: "not a tar",
        build: async (path) => writeFileSync(path, Buffer.alloc(4096, 7)),
        error: /^purser: not a tar archive: invalid header: invalid argument\n$/,
      },
      {
        name: "gzip-compressed",
        build: async (path) => writeFileSync(path, Buffer.from([0x1f, 0x8b, 8, 0, ...Buffer.alloc(1020)])),
        error: /^purser: the archive is gzip-compressed: decompress it first \(image archives are plain tar\): invalid argument\n$/,
      },
      {
        name: "an OCI layout without index.json",
        build: (path) => writeTar(path, ociEntries().filter((e) => e.name !== "index.json")),
        error: /^purser: missing index.json in OCI layout 1.0.0: invalid argument\n$/,
      },
      {
        name: "neither OCI nor docker",
        build: (path) => writeTar(path, [{ name: "hello.txt", data: "hi" }]),
        error: /^purser: unrecognized image format: .*: invalid argument\n$/,
      },
      {
        name: "a layer whose bytes do not match its digest",
        build: (path) => writeTar(path, ociEntries({ [anchor.layers[1]!]: Buffer.alloc(227, 1) })),
        error: new RegExp(`^purser: failed to ingest "${blobName(anchor.layers[1]!)}": unexpected commit digest sha256:[0-9a-f]{64}, expected ${anchor.layers[1]}: failed precondition\\n$`),
      },
      {
        name: "a manifest whose bytes do not match its digest",
        build: async (path) => {
          const m = Buffer.from(files.get(blobName(anchor.manifest))!);
          m[m.length - 3] = 0x20;
          await writeTar(path, ociEntries({ [anchor.manifest]: m }));
        },
        error: new RegExp(`^purser: blob ${blobName(anchor.manifest)} does not match its digest: expected ${anchor.manifest}, the bytes hash to sha256:[0-9a-f]{64}: invalid argument\\n$`),
      },
      {
        name: "a blob missing from the archive",
        build: (path) => writeTar(path, ociEntries().filter((e) => e.name !== blobName(anchor.layers[0]!))),
        error: new RegExp(`^purser: blob ${anchor.layers[0]} \\(application/vnd.oci.image.layer.v1.tar\\+gzip\\) referenced by manifest ${anchor.manifest} is missing from the archive: not found\\n$`),
      },
      {
        name: "a path-traversal entry name",
        build: (path) => writeTar(path, [...ociEntries(), { name: "../../etc/evil", data: "x" }]),
        error: /^purser: invalid archive entry name "..\/..\/etc\/evil": path escapes the archive: invalid argument\n$/,
      },
      {
        name: "an absolute entry name",
        build: (path) => writeTar(path, [{ name: "/etc/evil", data: "x" }, ...ociEntries()]),
        error: /^purser: invalid archive entry name "\/etc\/evil": absolute path: invalid argument\n$/,
      },
      {
        name: "a truncated archive",
        build: async (path) => {
          await writeTar(path, ociEntries());
          writeFileSync(path, readFileSync(path).subarray(0, 2048 + 300));
        },
        error: /^purser: invalid tar archive: (.* )?truncated/,
      },
    ];
    for (const [i, c] of cases.entries()) {
      const path = join(work.path, `bad-${i}.tar`);
      await c.build(path);
      const ns = `bad${i}`;
      const r = await run(ns, "images", "import", "--no-unpack", path);
      assert.equal(r.code, 1, c.name);
      assert.match(r.stderr, c.error, c.name);
      assert.deepEqual(await imagesOf(ns).catch(() => []), [], c.name);
      assert.deepEqual(await contentOf(ns).catch(() => ({})), {}, c.name);
      assert.deepEqual((await p.client.content.statuses(ns).catch(() => ({ result: [] }))).result, [], c.name);
      assert.deepEqual((await p.client.leases.list(ns).catch(() => ({ result: [] }))).result, [], c.name);
    }
  });

  test("a large layer whose bytes do not match: the streamed ingest is aborted, nothing left", async () => {
    const files = await fixtureFiles();
    const big = Buffer.alloc(3 * 1024 * 1024 + 5, 9);
    const wrong = sha256(Buffer.from("not these bytes"));
    const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [wrong] } });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(Buffer.from(config)), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: wrong, size: big.length }],
    });
    const index = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: manifestType, digest: sha256(Buffer.from(manifest)), size: manifest.length, annotations: { "io.containerd.image.name": "x/big:1" } }] });
    const path = join(work.path, "big-bad.tar");
    await writeTar(path, [
      { name: "oci-layout", data: files.get("oci-layout")! },
      { name: "index.json", data: index },
      { name: blobName(wrong), data: big },
      { name: blobName(sha256(Buffer.from(config))), data: config },
      { name: blobName(sha256(Buffer.from(manifest))), data: manifest },
    ]);
    const r = await run("bigbad", "images", "import", "--no-unpack", path);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`unexpected commit digest sha256:[0-9a-f]{64}, expected ${wrong}: failed precondition`));
    assert.deepEqual(await contentOf("bigbad"), {});
    assert.deepEqual((await p.client.content.statuses("bigbad")).result, []);
    assert.deepEqual(await imagesOf("bigbad"), []);
  });

  test("--digests and --index-name: digest images and the archive's index kept as an image", async () => {
    await ok("idx", "images", "import", "--no-unpack", "--digests", "--index-name", "example.com/anchor-index:1", fixturePath);
    const indexJson = (await fixtureFiles()).get("index.json")!;
    const indexDigest = sha256(indexJson);
    assert.deepEqual((await imagesOf("idx")).map((i) => [i.name, i.target.digest, i.target.mediaType]), [
      [anchor.name, anchor.manifest, manifestType],
      ["example.com/anchor-index:1", indexDigest, "application/vnd.oci.image.index.v1+json"],
      [`import-${localDate()}@${anchor.manifest}`, anchor.manifest, manifestType],
    ]);
    assert.deepEqual((await contentOf("idx"))[indexDigest], { size: indexJson.length, labels: { "containerd.io/gc.ref.content.m.0": anchor.manifest } });
    const size = ((indexJson.length + 1822) / 1024).toFixed(1);
    assert.match((await ok("idx", "images", "ls", "name==example.com/anchor-index:1")).stdout, new RegExp(`${indexDigest} +${esc(size)} KiB +linux/amd64 +- +$`, "m"));
    const skipNamed = await ok("idx2", "images", "import", "--no-unpack", "--digests", "--skip-digest-for-named", fixturePath);
    assert.equal(skipNamed.stderr, "");
    assert.deepEqual((await imagesOf("idx2")).map((i) => i.name), [anchor.name]);
    const bad = await run("idx3", "images", "import", "--skip-digest-for-named", fixturePath);
    assert.deepEqual([bad.code, bad.stderr], [1, "purser: --skip-digest-for-named must be specified with --digests option\n"]);
  });

  test("an existing image of the same name is pointed at the new target, as ctr import does", async () => {
    await p.client.images.create("upd", { name: anchor.name, labels: { keep: "me" }, target: { mediaType: manifestType, digest: sha256(Buffer.from("old")), size: 3 } });
    await ok("upd", "images", "import", "--no-unpack", fixturePath);
    const [image] = await imagesOf("upd");
    assert.equal(image!.target.digest, anchor.manifest);
    assert.deepEqual(image!.labels, { keep: "me" });
  });

  test(
    "without --no-unpack: unpacked as ctr does (snapshot chain, the config's snapshot label, check says unpacked)",
    { skip: typeof (p_unpackProbe() as { unpack?: unknown }).unpack === "function" ? false : "this build has no images.unpack yet" },
    async () => {
      const r = await ok("unp", "images", "import", fixturePath);
      assert.equal(r.stdout, `unpacking ${anchor.name} (${anchor.manifest})...done\n`);
      const content = await contentOf("unp");
      assert.deepEqual(content[anchor.config]!.labels, { "containerd.io/gc.ref.snapshot.native": "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada" });
      for (const d of [anchor.manifest, ...anchor.layers]) assert.deepEqual(content[d]!.labels, fixtureLabels[d], d);
      assert.deepEqual(
        (await p.client.snapshots.list("unp")).result.map((s) => s.key).sort(),
        [anchor.diffIds[0]!, "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada"].sort(),
      );
      assert.match((await ok("unp", "images", "check")).stdout, /complete \(3\/3\) +1\.2 KiB\/1\.2 KiB +true$/m);
    },
  );

  test("--json reports what was imported; import from stdin", async () => {
    const r = await runCli(p.nats.url, ["-n", "stdin", "--json", "images", "import", "--no-unpack", "-"], { PURSER_STATE_DIR: state.path }, readFileSync(fixturePath));
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { images: ImageRecord[]; blobs: Array<{ digest: string; created: boolean }>; format: string };
    assert.equal(out.format, "oci");
    assert.deepEqual(out.images.map((i) => i.name), [anchor.name]);
    assert.deepEqual(out.blobs.map((b) => b.digest).sort(), Object.keys(fixtureLabels).sort());
    assert.ok(out.blobs.every((b) => b.created));
  });
});
