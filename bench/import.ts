import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { TarWriter } from "../src/archive/tar-writer.js";
import { exportImages } from "../src/client/image-export.js";
import { importImageArchive } from "../src/client/image-import.js";
import type { BenchContext, Suite } from "./context.js";
import type { Measurement } from "./measure.js";

/**
 * `purser images import` of an OCI archive with 20 MiB of layers (5 × 4 MiB,
 * incompressible), through the client API as the CLI does it, in MiB/s and
 * seconds: into a namespace when the bytes are new to the host (every byte
 * ingested and verified), and again into another namespace (the blobs are
 * shared: nothing moves but the commits). Then the export of the same image.
 * Each figure is the median of 3 runs, each first-time import with its own
 * archive (fresh random layers).
 */
const MiB = 1024 * 1024;
const sha256 = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function writeArchive(path: string, name: string, layerCount: number, layerBytes: number): Promise<number> {
  const layers = Array.from({ length: layerCount }, () => randomBytes(layerBytes));
  const layerDescs = layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(l), size: l.length }));
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layerDescs.map((d) => d.digest) } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: layerDescs,
    }),
  );
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length, annotations: { "io.containerd.image.name": name } }],
    }),
  );
  const out = createWriteStream(path);
  const closed = new Promise<void>((resolve, reject) => {
    out.on("close", resolve);
    out.on("error", reject);
  });
  const tar = new TarWriter(out);
  await tar.file("oci-layout", 30, Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  await tar.file("index.json", index.length, index);
  for (const blob of [config, manifest, ...layers]) await tar.file(`blobs/sha256/${sha256(blob).slice(7)}`, blob.length, blob);
  await tar.finish();
  out.end();
  await closed;
  return layers.reduce((n, l) => n + l.length, 0) + config.length + manifest.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

function row(id: string, name: string, mib: number, seconds: number[], note: string): Measurement {
  const sec = median(seconds);
  return {
    id,
    name,
    section: "purser",
    concurrency: 1,
    ops: Math.round(mib),
    errors: 0,
    seconds: sec,
    opsPerSec: mib / sec,
    p50Ms: null,
    p99Ms: null,
    meanMs: null,
    maxMs: null,
    repeatRates: seconds.map((s) => mib / s),
    baseline: { id: "raw.file-write-sha256" },
    note,
  };
}

export const importSuite: Suite = {
  name: "import",
  async run(ctx: BenchContext): Promise<void> {
    const run = Date.now().toString(36);
    const layerBytes = Math.max(64 * 1024, Math.round(4 * MiB * ctx.scale));
    const fresh: number[] = [];
    const shared: number[] = [];
    const exported: number[] = [];
    let bytes = 0;
    for (let r = 0; r < 3; r++) {
      const archive = join(ctx.scratchDir, `import-${run}-${r}.tar`);
      const name = `bench.example.com/import:${r}`;
      bytes = await writeArchive(archive, name, 5, layerBytes);
      const ns = `bench-import-${run}-${r}`;
      let t = performance.now();
      await importImageArchive(ctx.client, ns, archive);
      fresh.push((performance.now() - t) / 1000);
      t = performance.now();
      await importImageArchive(ctx.client, `${ns}-again`, archive);
      shared.push((performance.now() - t) / 1000);
      const out = join(ctx.scratchDir, `export-${run}-${r}.tar`);
      t = performance.now();
      const stream = createWriteStream(out);
      const closed = new Promise<void>((resolve, reject) => {
        stream.on("close", resolve);
        stream.on("error", reject);
      });
      await exportImages(ctx.client, ns, [name], stream);
      stream.end();
      await closed;
      exported.push((performance.now() - t) / 1000);
      if ((await stat(out)).size < bytes) throw new Error(`export of ${name} is smaller than its blobs`);
      await rm(archive, { force: true });
      await rm(out, { force: true });
    }
    const mib = bytes / MiB;
    const secs = (xs: number[]) => `${median(xs).toFixed(2)} s per archive (runs: ${xs.map((s) => s.toFixed(2)).join(", ")})`;
    ctx.record(row("import.archive", `images import, ${mib.toFixed(0)} MiB OCI archive (5 layers), new to the host, MiB/s`, mib, fresh, secs(fresh)));
    ctx.record(row("import.archive-shared", `images import of the same archive into another namespace (blobs shared), MiB/s`, mib, shared, secs(shared)));
    ctx.record(row("export.archive", `images export of that image to an OCI archive, MiB/s`, mib, exported, secs(exported)));
  },
};
