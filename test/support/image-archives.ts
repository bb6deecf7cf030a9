import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { indexTar, readEntry } from "../../src/archive/tar-index.js";
import { TarWriter } from "../../src/archive/tar-writer.js";

/** The shared fixture (../shared/fixtures/README.md, or `PURSER_FIXTURES`: infra/test.sh finds it for a clone made elsewhere) and its blobs. */
export const fixturePath = process.env.PURSER_FIXTURES
  ? join(process.env.PURSER_FIXTURES, "anchor-1.0.oci.tar")
  : fileURLToPath(new URL("../../../../shared/fixtures/anchor-1.0.oci.tar", import.meta.url));

export const anchor = {
  name: "docker.io/library/anchor:1.0",
  manifest: "sha256:f2dae7e00fc6804f7f242f98af89bb87c8ec9da0786f682de347937a53c8d677",
  config: "sha256:3535610003cd243067605971c652690d72cf18f2dc47854193e3cbb3d7472b61",
  layers: [
    "sha256:be90d1471c4cfafafa59ba16c4e9050a065134f6e0ef5664d1d74e2091a6fbfd",
    "sha256:35ab5f665f023e046adec8a4892627634653c90eea453723e57ebaa9a74de70d",
  ],
  diffIds: [
    "sha256:ed3c263a66346928a1d4bdcd8c06edf49b16cf84dfa4789bfa4d97c422df7eed",
    "sha256:78fdc6a3a5ef885339e0e62d743523ba3ada4ab57cce16926e625233ebf1124b",
  ],
};

export const sha256 = (data: Uint8Array) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** Every file of the fixture by name (`blobs/sha256/<hex>`, `index.json`, `oci-layout`). */
export async function fixtureFiles(): Promise<Map<string, Buffer>> {
  const index = await indexTar(fixturePath);
  const out = new Map<string, Buffer>();
  for (const [name, entry] of index.entries) out.set(name, await readEntry(fixturePath, entry, 1 << 20));
  return out;
}

export function blobName(digest: string): string {
  return `blobs/${digest.replace(":", "/")}`;
}

export async function fixtureBlob(digest: string): Promise<Buffer> {
  return (await fixtureFiles()).get(blobName(digest))!;
}

export type TarSpec = Array<{ name: string; data?: Uint8Array | string; dir?: boolean; symlink?: string }>;

/** Writes a tar with purser's own writer (names as given, traversal included). */
export async function writeTar(path: string, entries: TarSpec): Promise<void> {
  const out = createWriteStream(path);
  const done = new Promise<void>((resolve, reject) => {
    out.on("close", resolve);
    out.on("error", reject);
  });
  const tar = new TarWriter(out);
  for (const e of entries) {
    if (e.dir) await tar.directory(e.name);
    else if (e.symlink !== undefined) await tar.symlink(e.name, e.symlink);
    else {
      const data = typeof e.data === "string" ? Buffer.from(e.data) : (e.data ?? new Uint8Array());
      await tar.file(e.name, data.length, data);
    }
  }
  await tar.finish();
  out.end();
  await done;
}

/** A `docker save`-style archive of the fixture: config `<hex>.json`, `<id>/layer.tar` (layer 0 gzip as is, layer 1 plain tar). */
export async function dockerSaveOfFixture(path: string, repoTags: string[] | null): Promise<{ layerDigests: string[]; layerSizes: number[]; config: Buffer }> {
  const files = await fixtureFiles();
  const config = files.get(blobName(anchor.config))!;
  const layer0 = files.get(blobName(anchor.layers[0]!))!;
  const layer1 = gunzipSync(files.get(blobName(anchor.layers[1]!))!);
  const configName = `${anchor.config.slice(7)}.json`;
  await writeTar(path, [
    { name: "l0/", dir: true },
    { name: "l0/layer.tar", data: layer0 },
    { name: "l0/VERSION", data: "1.0" },
    { name: "l1/", dir: true },
    { name: "l1/layer.tar", data: layer1 },
    { name: "again/", dir: true },
    { name: "again/layer.tar", symlink: "../l1/layer.tar" },
    { name: configName, data: config },
    { name: "manifest.json", data: JSON.stringify([{ Config: configName, RepoTags: repoTags, Layers: ["l0/layer.tar", "again/layer.tar"] }]) },
    { name: "repositories", data: "{}" },
  ]);
  return { layerDigests: [sha256(layer0), sha256(layer1)], layerSizes: [layer0.length, layer1.length], config };
}
