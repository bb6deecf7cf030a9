/**
 * The pure rules under import/export, table-driven: Docker reference
 * normalization and ctr's prefix rules, platforms, gc labels, ctr's byte
 * sizes, chain ids, tar entry names and headers.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cleanEntryName, indexTar, readEntry } from "../src/archive/tar-index.js";
import { progressBytes } from "../src/cli/units.js";
import { PurserError } from "../src/errors/errdefs.js";
import { childrenLabels } from "../src/oci/gc-labels.js";
import { chainId } from "../src/oci/image-walk.js";
import { format, normalize, only, onlyStrict, parse } from "../src/oci/platforms.js";
import { familiarizeRef, normalizeDockerRef, ociReferenceName, translateRefName } from "../src/oci/reference.js";
import { anchor, fixturePath } from "./support/image-archives.js";
import { tempDir } from "./support/nats.js";

describe("references", () => {
  test("normalizeDockerRef (ParseDockerRef)", () => {
    const cases: Array<[string, string]> = [
      ["alpine", "docker.io/library/alpine:latest"],
      ["alpine:3.19", "docker.io/library/alpine:3.19"],
      ["library/alpine", "docker.io/library/alpine:latest"],
      ["user/app:v1", "docker.io/user/app:v1"],
      ["index.docker.io/user/app", "docker.io/user/app:latest"],
      ["localhost/app", "localhost/app:latest"],
      ["localhost:5000/app:1", "localhost:5000/app:1"],
      ["registry.example.com:5000/team/anchor", "registry.example.com:5000/team/anchor:latest"],
      [`app:1@sha256:${"a".repeat(64)}`, `docker.io/library/app@sha256:${"a".repeat(64)}`],
    ];
    for (const [input, want] of cases) assert.equal(normalizeDockerRef(input), want, input);
  });

  test("normalizeDockerRef refuses what Docker refuses", () => {
    const cases: Array<[string, RegExp]> = [
      ["Alpine", /repository name must be lowercase/],
      ["a".repeat(64), /64-byte hexadecimal/],
      ["app:bad tag", /invalid reference format/],
      ["app@sha256:zz", /invalid reference format/],
      ["", /invalid reference format/],
    ];
    for (const [input, want] of cases) {
      assert.throws(() => normalizeDockerRef(input), (err: unknown) => err instanceof PurserError && err.kind === "InvalidArgument" && want.test(err.message), input);
    }
  });

  test("familiarizeRef, ociReferenceName, translateRefName", () => {
    assert.equal(familiarizeRef("docker.io/library/anchor:1.0"), "anchor:1.0");
    assert.equal(familiarizeRef("docker.io/user/app"), "user/app:latest");
    assert.equal(familiarizeRef("example.com/a/b:2"), "example.com/a/b:2");
    assert.equal(ociReferenceName("docker.io/library/anchor:1.0"), "1.0");
    assert.equal(ociReferenceName("localhost:5000/app"), "localhost:5000/app");
    assert.equal(ociReferenceName(`example.com/app@sha256:${"b".repeat(64)}`), `@sha256:${"b".repeat(64)}`);
    const cases: Array<[string, string, boolean, string]> = [
      ["latest", "import-2024-01-02", false, "import-2024-01-02:latest"],
      ["example.com/x:1", "import-2024-01-02", false, "example.com/x:1"],
      ["1.0", "foo/bar", true, "foo/bar:1.0"],
      ["foo/bar:2", "foo/bar", true, "foo/bar:2"],
      ["foo/bar@sha256:x", "foo/bar", true, "foo/bar@sha256:x"],
      ["foo/barbaz:2", "foo/bar", true, ""],
      ["other/x:1", "foo/bar", true, ""],
    ];
    for (const [ref, prefix, filter, want] of cases) assert.equal(translateRefName(ref, prefix, filter), want, `${ref} under ${prefix}`);
  });
});

describe("platforms", () => {
  test("normalize and format", () => {
    const cases: Array<[Parameters<typeof normalize>[0], string]> = [
      [{ os: "linux", architecture: "x86_64" }, "linux/amd64"],
      [{ os: "Linux", architecture: "aarch64", variant: "v8" }, "linux/arm64"],
      [{ os: "linux", architecture: "armhf" }, "linux/arm/v7"],
      [{ os: "linux", architecture: "arm", variant: "6" }, "linux/arm/v6"],
      [{ os: "linux", architecture: "i386" }, "linux/386"],
      [{ os: "macos", architecture: "arm64" }, "darwin/arm64"],
    ];
    for (const [p, want] of cases) assert.equal(format(normalize(p)), want);
    assert.equal(format({ os: "", architecture: "amd64" }), "unknown");
  });

  test("parse", () => {
    assert.equal(format(parse("linux/amd64")), "linux/amd64");
    assert.equal(format(parse("linux/arm64/v8")), "linux/arm64");
    assert.equal(format(parse("linux/arm")), "linux/arm/v7");
    assert.throws(() => parse("linux/amd 64"), /invalid component/);
    assert.throws(() => parse("a/b/c/d"), /cannot parse platform specifier/);
  });

  test("Only: what a platform runs, best first; OnlyStrict: exactly it", () => {
    const amd64 = only({ os: "linux", architecture: "amd64" });
    assert.ok(amd64.match({ os: "linux", architecture: "386" }));
    assert.ok(!amd64.match({ os: "linux", architecture: "arm64" }));
    assert.ok(amd64.less({ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "386" }));
    const arm64 = only({ os: "linux", architecture: "arm64" });
    assert.ok(arm64.match({ os: "linux", architecture: "arm", variant: "v7" }));
    assert.ok(arm64.less({ os: "linux", architecture: "arm", variant: "v8" }, { os: "linux", architecture: "arm", variant: "v5" }));
    assert.ok(!onlyStrict({ os: "linux", architecture: "amd64" }).match({ os: "linux", architecture: "386" }));
  });
});

test("childrenLabels: containerd's ChildGCLabels keys and numbering", () => {
  const d = (mediaType: string, n: number) => ({ mediaType, digest: `sha256:${String(n).repeat(64)}`, size: 1 });
  assert.deepEqual(
    childrenLabels([d("application/vnd.oci.image.config.v1+json", 1), d("application/vnd.oci.image.layer.v1.tar+gzip", 2), d("application/vnd.docker.image.rootfs.diff.tar", 3)]),
    {
      "containerd.io/gc.ref.content.config": d("", 1).digest,
      "containerd.io/gc.ref.content.l.0": d("", 2).digest,
      "containerd.io/gc.ref.content.l.1": d("", 3).digest,
    },
  );
  assert.deepEqual(
    childrenLabels([d("application/vnd.oci.image.manifest.v1+json", 4), d("application/vnd.oci.image.index.v1+json", 5), d("application/vnd.docker.distribution.manifest.v2+json", 6)]),
    {
      "containerd.io/gc.ref.content.m.0": d("", 4).digest,
      "containerd.io/gc.ref.content.0": d("", 5).digest,
      "containerd.io/gc.ref.content.m.1": d("", 6).digest,
    },
  );
  // A second config is numbered (containerd's counter per key).
  assert.deepEqual(Object.keys(childrenLabels([d("application/vnd.oci.image.config.v1+json", 7), d("application/vnd.oci.image.config.v1+json", 8)])), [
    "containerd.io/gc.ref.content.config",
    "containerd.io/gc.ref.content.config1",
  ]);
});

test("progressBytes: ctr's SIZE (go-units CustomSize %02.1f, powers of 1024)", () => {
  const cases: Array<[number, string]> = [
    [0, "0.0 B"],
    [585, "585.0 B"],
    [1023, "1023.0 B"],
    [1024, "1.0 KiB"],
    [1822, "1.8 KiB"],
    [20 * 1024 * 1024, "20.0 MiB"],
    [1536 * 1024 * 1024, "1.5 GiB"],
  ];
  for (const [n, want] of cases) assert.equal(progressBytes(n), want, String(n));
});

test("chainId: the fixture's snapshot keys (fixtures/README.md)", () => {
  assert.equal(chainId([]), "");
  assert.equal(chainId(anchor.diffIds.slice(0, 1)), anchor.diffIds[0]);
  assert.equal(chainId(anchor.diffIds), "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada");
});

describe("tar", () => {
  test("cleanEntryName: Go's path.Clean, refusing names outside the archive", () => {
    const cases: Array<[string, string]> = [
      ["./index.json", "index.json"],
      ["blobs//sha256/./abc", "blobs/sha256/abc"],
      ["blobs/", "blobs"],
      ["./", "."],
    ];
    for (const [raw, want] of cases) assert.equal(cleanEntryName(raw), want, raw);
    for (const bad of ["/etc/passwd", "../x", "a/../../x", "blobs/../../x", "a\0b"]) assert.throws(() => cleanEntryName(bad), PurserError, bad);
  });

  test("the fixture (GNU tar) indexes to its files and their offsets", async () => {
    const index = await indexTar(fixturePath);
    assert.deepEqual([...index.entries.keys()].sort(), ["blobs/sha256/" + anchor.config.slice(7), ...anchor.layers.map((l) => "blobs/sha256/" + l.slice(7)), "blobs/sha256/" + anchor.manifest.slice(7), "index.json", "oci-layout"].sort());
    const layout = await readEntry(fixturePath, index.entries.get("oci-layout")!, 100);
    assert.equal(layout.toString(), '{"imageLayoutVersion":"1.0.0"}');
  });

  test("GNU long names and PAX paths (GNU tar's own formats)", async () => {
    const dir = tempDir("purser-tar-");
    try {
      const long = "d".repeat(60) + "/" + "f".repeat(120);
      mkdirSync(join(dir.path, "src", "d".repeat(60)), { recursive: true });
      writeFileSync(join(dir.path, "src", long), "long name");
      for (const fmt of ["gnu", "pax"]) {
        const archive = join(dir.path, `${fmt}.tar`);
        execFileSync("tar", [`--format=${fmt}`, "-C", join(dir.path, "src"), "-cf", archive, "."]);
        const index = await indexTar(archive);
        const entry = index.entries.get(long);
        assert.ok(entry, `${fmt}: ${[...index.entries.keys()].join(", ")}`);
        assert.equal((await readEntry(archive, entry!, 100)).toString(), "long name");
      }
    } finally {
      dir.remove();
    }
  });
});
