import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { LayerApplier } from "../src/unpack/layer-applier.js";
import type { BenchContext, Suite } from "./context.js";
import type { Measurement } from "./measure.js";

/**
 * Unpacking beside `tar -xzf`, on the same disk, in the same run: three gzip
 * layers of a few MiB (a few hundred small and medium files of text-like,
 * compressible bytes each, plus one larger file, as a typical image layer
 * holds) are
 *
 * - extracted by GNU `tar -xzf` one after the other into a fresh directory
 *   (the baseline: native code, gzip in a second process);
 * - applied by purser's layer applier (worker thread, streaming gunzip, diff
 *   id hashed, sync file-system calls) into a fresh directory: the same work
 *   as tar plus the sha256;
 * - unpacked by `images.unpack` into a fresh namespace: the applier plus
 *   what an unpack is (a snapshot prepared per layer, each a copy of its
 *   parent's tree, commits, a lease, the config's label, events and views).
 *
 * MiB/s of uncompressed layer bytes, median of 3 rounds (the three ways
 * interleaved in each round). The target compares the whole unpack
 * with tar.
 */
const MiB = 1024 * 1024;
const run = promisify(execFile);
const sha256 = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/**
 * Deterministic bytes that gzip packs about 3:1, like the text, scripts and
 * binaries of a typical layer: runs of words alternating with runs of hex
 * noise.
 */
function textLike(size: number, seed: number): Buffer {
  const words = ["container", "layer", "snapshot", "lease", "digest", "manifest", "config", "rootfs", "whiteout", "opaque", "chain", "purser", "/usr/lib", "=", "\n"];
  const hex = "0123456789abcdef";
  const out = Buffer.alloc(size);
  let x = (seed * 2654435761 + 1) >>> 0;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  let i = 0;
  while (i < size) {
    const noise = next() % 3 === 0;
    const end = Math.min(size, i + 64 + (next() % 192));
    if (noise) while (i < end) out[i++] = hex.charCodeAt(next() >>> 28)!;
    else while (i < end) i += out.write(words[next() % words.length]! + " ", i);
  }
  return out;
}

export async function makeLayer(index: number, files: number, bigFile: number): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  const mtime = new Date("2024-01-01T00:00:00Z");
  const entry = (header: Parameters<typeof pack.entry>[0], data?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (data) pack.entry(header, data, cb);
      else pack.entry(header, cb);
    });
  for (let d = 0; d < 16; d++) await entry({ name: `l${index}/d${d}/`, type: "directory", mode: 0o755, mtime });
  for (let f = 0; f < files; f++) {
    const size = 512 + ((f * 7919 + index * 104729) % (24 * 1024));
    await entry({ name: `l${index}/d${f % 16}/file-${f}.txt`, mode: 0o644, mtime }, textLike(size, index * 100000 + f));
  }
  await entry({ name: `l${index}/big.bin`, mode: 0o644, mtime }, textLike(bigFile, index + 7));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

function row(id: string, name: string, section: Measurement["section"], mib: number, seconds: number[], baseline?: string): Measurement {
  const sec = median(seconds);
  return {
    id,
    name,
    section,
    concurrency: 1,
    ops: Math.round(mib * 10) / 10,
    errors: 0,
    seconds: sec,
    opsPerSec: mib / sec,
    p50Ms: null,
    p99Ms: null,
    meanMs: null,
    maxMs: null,
    repeatRates: seconds.map((s) => mib / s),
    ...(baseline ? { baseline: { id: baseline } } : {}),
    note: `${sec.toFixed(3)} s (runs: ${seconds.map((s) => s.toFixed(3)).join(", ")})`,
  };
}

export const unpackSuite: Suite = {
  name: "unpack",
  async run(ctx: BenchContext): Promise<void> {
    const files = ctx.n(300, 20);
    const big = Math.max(64 * 1024, Math.round(MiB * ctx.scale));
    const tars = await Promise.all([0, 1, 2].map((i) => makeLayer(i, files, big)));
    const blobs = tars.map((t) => gzipSync(t, { level: 6 }));
    const rawBytes = tars.reduce((n, t) => n + t.length, 0);
    const gzBytes = blobs.reduce((n, b) => n + b.length, 0);
    const dir = join(ctx.scratchDir, `unpack-${Date.now().toString(36)}`);
    mkdirSync(dir, { recursive: true });
    const paths = blobs.map((b, i) => {
      const p = join(dir, `layer-${i}.tar.gz`);
      writeFileSync(p, b);
      return p;
    });

    // The image, in a namespace per round (each unpack starts from nothing).
    const diffIds = tars.map(sha256);
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: diffIds } }));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
        layers: blobs.map((b) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: sha256(b), size: b.length })),
      }),
    );
    const putImage = async (ns: string) => {
      // The manifest holds its children, as an import labels it, so the collector keeps them.
      const children: Record<string, string> = { "containerd.io/gc.ref.content.config": sha256(config) };
      blobs.forEach((b, i) => (children[`containerd.io/gc.ref.content.l.${i}`] = sha256(b)));
      for (const b of [...blobs, config]) await ctx.client.content.writeBlob(ns, `bench-${sha256(b)}`, b);
      await ctx.client.content.writeBlob(ns, `bench-${sha256(manifest)}`, manifest, { labels: children });
      await ctx.client.images.create(ns, {
        name: "bench.example.com/unpack:1",
        target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifest), size: manifest.length },
      });
    };

    const applier = new LayerApplier(1);
    const tarSec: number[] = [];
    const applySec: number[] = [];
    const unpackSec: number[] = [];
    try {
      for (let r = 0; r < 3; r++) {
        const tarDir = join(dir, `tar-${r}`);
        mkdirSync(tarDir);
        let t = performance.now();
        for (const p of paths) await run("tar", ["-xzf", p, "-C", tarDir]);
        tarSec.push((performance.now() - t) / 1000);

        const applyDir = join(dir, `apply-${r}`);
        mkdirSync(applyDir);
        t = performance.now();
        for (let i = 0; i < paths.length; i++) await applier.apply({ blobPath: paths[i]!, dir: applyDir, diffId: diffIds[i]! });
        applySec.push((performance.now() - t) / 1000);

        const ns = `bench-unpack-${Date.now().toString(36)}-${r}`;
        await putImage(ns);
        t = performance.now();
        await ctx.client.images.unpack(ns, "bench.example.com/unpack:1");
        unpackSec.push((performance.now() - t) / 1000);
        rmSync(tarDir, { recursive: true, force: true });
        rmSync(applyDir, { recursive: true, force: true });
      }
    } finally {
      await applier.close();
      rmSync(dir, { recursive: true, force: true });
    }

    const mib = rawBytes / MiB;
    const what = `3 gzip layers, ${(gzBytes / MiB).toFixed(1)} MiB packed / ${mib.toFixed(1)} MiB, ${3 * (files + 1)} files`;
    ctx.record(row("unpack.tar-xzf", `tar -xzf of ${what}, MiB/s`, "raw", mib, tarSec));
    ctx.record(row("unpack.apply", `layer applier (worker, gunzip + sha256 + files) of the same layers, MiB/s`, "purser", mib, applySec, "unpack.tar-xzf"));
    ctx.record(row("unpack.image", `images unpack of the same layers (native snapshots, parent copies, commits, lease, label), MiB/s`, "purser", mib, unpackSec, "unpack.tar-xzf"));
    ctx.target({
      kind: "ratio",
      label: "images unpack within 2x of tar -xzf of the same layers on the same disk",
      id: "unpack.image",
      concurrency: 1,
      baseline: { id: "unpack.tar-xzf" },
      minRatio: 0.5,
      display: "factor",
    });
  },
};
