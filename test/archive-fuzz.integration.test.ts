import assert from "node:assert/strict";
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { importImageArchive, unpackImportedImage } from "../src/client/image-import.js";
import { PurserError } from "../src/errors/errdefs.js";
import { buildLayer, imageDocuments, sha256 as sha, type BuiltLayer } from "./support/layers.js";
import { blobName, writeTar, type TarSpec } from "./support/image-archives.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { tempDir } from "./support/nats.js";
import { prng } from "./support/prng.js";

/**
 * A seeded generator of hostile image archives (issue 11): valid OCI archives
 * of crafted layers (escapes through symlinks, a gzip bomb over the bound,
 * traversal names) mutated at random (garbage or missing index.json,
 * manifests pointing nowhere, blobs that lie about their digest, traversal
 * and symlink entries, truncation). Each is imported and unpacked as `purser
 * images import` does. Asserts: every failure is a purser error with a
 * containerd class other than Unknown, nothing outside the data directory
 * changed, and the service still serves. `PURSER_FUZZ_SEED`/`PURSER_FUZZ_ARCHIVES`
 * replay or lengthen a run.
 */
const seed = Number(process.env.PURSER_FUZZ_SEED ?? 20261202);
const archives = Number(process.env.PURSER_FUZZ_ARCHIVES ?? 40);


/** A valid OCI archive (as entries) of the given layers, tagged `name`. */
function ociArchive(name: string, layers: readonly BuiltLayer[]): TarSpec {
  const { config, manifest } = imageDocuments(layers);
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha(manifest), size: manifest.length, annotations: { "io.containerd.image.name": name } }],
  };
  return [
    { name: "oci-layout", data: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
    { name: "index.json", data: JSON.stringify(index) },
    { name: blobName(sha(manifest)), data: manifest },
    { name: blobName(sha(config)), data: config },
    ...layers.map((l) => ({ name: blobName(l.digest), data: l.blob })),
  ];
}

describe("archive fuzz", () => {
  let p: TestPurser;
  const work = tempDir("purser-archive-fuzz-");
  const canary = join(work.path, "canary");
  let canaryBefore: string;
  const listCanary = () =>
    readdirSync(canary, { recursive: true })
      .map(String)
      .sort()
      .map((f) => {
        const st = statSync(join(canary, f));
        return `${f} ${st.mode} ${st.uid} ${st.size} ${st.mtimeMs}`;
      })
      .join("\n");

  before(async () => {
    p = await startTestPurser({ unpack: { maxLayerBytes: 4 * 1024 * 1024, maxLayerEntries: 1000 } });
    mkdirSync(join(canary, "dir"), { recursive: true });
    writeFileSync(join(canary, "file"), "canary", { mode: 0o644 });
    canaryBefore = listCanary();
  });
  after(async () => {
    await p.stop();
    work.remove();
  });

  test(`${archives} archives (seed ${seed}): every failure has a containerd class, nothing outside the data dir changes`, { timeout: 300_000 }, async () => {
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const hostileLayers = [
      () => buildLayer([{ name: "d/", type: "directory", mode: 0o4777, mtime: new Date(0) }, { name: "d", type: "symlink", linkname: join(canary, "file") }]),
      () => buildLayer([{ name: "a/", type: "directory" }, { name: "a/dir/", type: "directory", mode: 0o777 }, { name: "a", type: "symlink", linkname: canary }]),
      () => buildLayer([{ name: "l", type: "symlink", linkname: canary }, { name: "l/file", data: "overwritten?" }]),
      () => buildLayer([{ name: "../../escape", data: "x" }, { name: "/abs", data: "x" }, { name: "ok", data: "fine" }]),
      () => buildLayer([{ name: "hl", type: "link", linkname: join(canary, "file") }]),
      () => buildLayer([{ name: "zeros", data: Buffer.alloc(8 * 1024 * 1024) }]), // over the 4 MiB bound
      () => buildLayer(Array.from({ length: 1100 }, (_, i) => ({ name: `f${i}`, data: "" }))), // over 1000 entries
      () => buildLayer([{ name: "etc/", type: "directory" }, { name: "etc/hostname", data: "a normal layer" }]),
    ];
    const mutations: Array<(entries: TarSpec) => TarSpec | Buffer> = [
      (e) => e,
      (e) => e.map((x) => (x.name === "index.json" ? { ...x, data: pick(["{", "[]", "{}", '{"manifests":[{}]}', '{"manifests":"x"}', "null"]) } : x)),
      (e) => e.filter((x) => x.name !== "index.json"),
      (e) => e.filter((x, i) => !(x.name.startsWith("blobs/") && i === e.length - 1)),
      (e) => e.map((x, i) => (x.name.startsWith("blobs/") && i === 2 ? { ...x, data: Buffer.from("not what the digest says") } : x)),
      (e) => [...e, { name: pick(["../evil", "/etc/evil", "blobs/../../evil", "blobs/sha256/../../../evil"]), data: "evil" }],
      (e) => [...e, { name: `blobs/sha256/${"e".repeat(64)}`, symlink: join(canary, "file") }],
      (e) => e.map((x) => (x.name.startsWith("blobs/") && rnd() < 0.3 ? { ...x, name: x.name + "-renamed" } : x)),
    ];
    const kinds = new Map<string, number>();
    for (let i = 0; i < archives; i++) {
      const layers: BuiltLayer[] = [];
      for (let n = 1 + Math.floor(rnd() * 2); n > 0; n--) layers.push(await pick(hostileLayers)());
      let entries: TarSpec = ociArchive(`fuzz/img:${i}`, layers);
      for (let m = 1 + Math.floor(rnd() * 2); m > 0; m--) entries = pick(mutations)(entries) as TarSpec;
      const file = join(work.path, `a${i}.tar`);
      await writeTar(file, entries);
      if (rnd() < 0.15) {
        // Truncated somewhere.
        const { readFileSync, writeFileSync: write } = await import("node:fs");
        const bytes = readFileSync(file);
        write(file, bytes.subarray(0, Math.floor(bytes.length * rnd())));
      }
      const ns = `af${i % 5}`;
      let kind = "ok";
      try {
        const r = await importImageArchive(p.client, ns, file);
        for (const img of r.images) await unpackImportedImage(p.client, ns, img.name, "native");
      } catch (err) {
        assert.ok(err instanceof PurserError, `archive ${i}: not a purser error: ${(err as Error)?.stack ?? String(err)}`);
        assert.notEqual(err.kind, "Unknown", `archive ${i}: ${err.message}`);
        kind = err.kind;
      }
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      assert.equal(listCanary(), canaryBefore, `archive ${i} changed something outside the data directory`);
    }
    const created = await p.client.namespaces.create("after-archive-fuzz");
    assert.equal((await p.client.namespaces.get("after-archive-fuzz", { minRv: created.rv })).result.name, "after-archive-fuzz");
    process.stdout.write(`archive fuzz: ${archives} archives (seed ${seed}): ${[...kinds].sort().map(([k, n]) => `${k} ${n}`).join(", ")}\n`);
  });
});
