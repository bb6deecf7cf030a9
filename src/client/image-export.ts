import { createHash } from "node:crypto";
import type { Writable } from "node:stream";
import { TarWriter } from "../archive/tar-writer.js";
import { invalidArgument, notFound } from "../errors/errdefs.js";
import { AnnotationImageName, AnnotationRefName, goDescriptor, goJson, parseIndex, parseManifest, type Descriptor } from "../oci/descriptor.js";
import { childrenOf } from "../oci/image-walk.js";
import { isIndexType, isManifestType } from "../oci/media-types.js";
import { hostPlatform, onlyStrict, type PlatformMatcher } from "../oci/platforms.js";
import { familiarizeRef, ociReferenceName } from "../oci/reference.js";
import { ContentBlobSource } from "./image-inspect.js";
import type { PurserClient } from "./purser-client.js";

/**
 * `purser images export`: images of a namespace as an OCI image layout in a
 * tar (containerd's `archive.Export`, as `ctr images export` drives it):
 * `oci-layout`, `index.json` listing each image's target annotated with its
 * name (`io.containerd.image.name`, and the tag as
 * `org.opencontainers.image.ref.name`), every blob the targets reference
 * under `blobs/<alg>/<hex>`, and a Docker-compatible `manifest.json`. Entries
 * are sorted by name with fixed owner and time, so an export is
 * reproducible. Blobs stream from the content store into the tar, each
 * verified against its digest on the way.
 */

export interface ExportOptions {
  /**
   * Which platforms of an index to include (default: this host's platform
   * only, ctr's `DefaultStrict`); a target that is a single manifest is
   * always included whole.
   */
  platforms?: PlatformMatcher;
  /** Every platform of an index (ctr's `--all-platforms`; a missing blob then fails the export). */
  allPlatforms?: boolean;
  /** Leave out `manifest.json` (ctr's `--skip-manifest-json`). */
  skipManifestJson?: boolean;
  minRv?: number;
  onProgress?: (p: { bytes: number; totalBytes: number; blobs: number; totalBlobs: number }) => void;
}

export interface ExportResult {
  blobs: number;
  bytes: number;
}

interface ExportManifest {
  manifest: Descriptor;
  names: string[];
}

function nameAnnotations(name: string, base: Record<string, string> | undefined): Record<string, string> {
  return { ...(base ?? {}), [AnnotationImageName]: name, [AnnotationRefName]: ociReferenceName(name) };
}

function blobPath(digest: string): string {
  const [alg, hex] = digest.split(":") as [string, string];
  return `blobs/${alg}/${hex}`;
}

export async function exportImages(client: PurserClient, namespace: string, names: readonly string[], out: Writable, opts: ExportOptions = {}): Promise<ExportResult> {
  const source = new ContentBlobSource(client, namespace, opts.minRv);
  const matcher = opts.platforms ?? onlyStrict(hostPlatform());
  const targets: Descriptor[] = [];
  for (const name of names) {
    const { result } = await client.images.get(namespace, name, { minRv: opts.minRv });
    targets.push({ ...result.target, annotations: nameAnnotations(name, result.target.annotations) });
  }

  const blobs = new Map<string, Descriptor>();
  const algorithms = new Set<string>();
  const addBlob = (d: Descriptor) => {
    if (!blobs.has(d.digest)) blobs.set(d.digest, d);
    algorithms.add(d.digest.split(":")[0]!);
  };
  /** The whole graph under a descriptor (`getRecords`). */
  const addTree = async (d: Descriptor): Promise<void> => {
    addBlob(d);
    for (const child of await childrenOf(source, d)) await addTree(child);
  };

  const dockerManifests = new Map<string, ExportManifest>();
  const resolvedIndex = new Map<string, string | undefined>();
  for (const target of targets) {
    const name = target.annotations?.[AnnotationImageName] ?? "";
    if (isManifestType(target.mediaType)) {
      if (!dockerManifests.has(target.digest)) {
        await addTree(target);
        dockerManifests.set(target.digest, { manifest: target, names: [] });
      }
      if (name) dockerManifests.get(target.digest)!.names.push(name);
    } else if (isIndexType(target.mediaType)) {
      if (!resolvedIndex.has(target.digest)) {
        addBlob(target);
        const idx = parseIndex(await source.read(target), target.mediaType, `index ${target.digest}`);
        const matching: Descriptor[] = [];
        for (const m of idx.manifests) {
          const matches = !m.platform || matcher.match(m.platform);
          if (matches) matching.push(m);
          if (matches || opts.allPlatforms) await addTree(m);
        }
        if (matching.length === 0 && !opts.allPlatforms) throw notFound("no manifest found for platform");
        const best = matching
          .map((m, i) => ({ m, i }))
          .sort((a, b) => {
            if (!a.m.platform) return b.m.platform ? 1 : a.i - b.i;
            if (!b.m.platform) return -1;
            return matcher.less(a.m.platform, b.m.platform) ? -1 : matcher.less(b.m.platform, a.m.platform) ? 1 : a.i - b.i;
          })[0]?.m;
        const chosen = best && isManifestType(best.mediaType) ? best.digest : undefined;
        if (best && chosen && !dockerManifests.has(chosen)) dockerManifests.set(chosen, { manifest: best, names: [] });
        resolvedIndex.set(target.digest, chosen);
      }
      const chosen = resolvedIndex.get(target.digest);
      if (chosen && name) dockerManifests.get(chosen)!.names.push(name);
    } else {
      throw invalidArgument(`only manifests may be exported: ${name} has target type ${target.mediaType}`);
    }
  }

  const json = (v: unknown) => Buffer.from(goJson(v));
  const files: Array<{ name: string; mode: number; size: number; data: () => Uint8Array | AsyncIterable<Uint8Array> }> = [];
  const layout = json({ imageLayoutVersion: "1.0.0" });
  files.push({ name: "oci-layout", mode: 0o444, size: layout.length, data: () => layout });
  const index = json({ schemaVersion: 2, manifests: targets.map(goDescriptor) });
  files.push({ name: "index.json", mode: 0o644, size: index.length, data: () => index });
  if (!opts.skipManifestJson && dockerManifests.size > 0) {
    const entries = [];
    for (const m of dockerManifests.values()) {
      const manifest = parseManifest(await source.read(m.manifest), m.manifest.mediaType, `manifest ${m.manifest.digest}`);
      entries.push({
        Config: blobPath(manifest.config.digest),
        RepoTags: m.names.length > 0 ? m.names.map(familiarizeRef) : null,
        Layers: manifest.layers.length > 0 ? manifest.layers.map((l) => blobPath(l.digest)) : null,
      });
    }
    const manifestJson = json(entries);
    files.push({ name: "manifest.json", mode: 0o644, size: manifestJson.length, data: () => manifestJson });
  }

  // Every blob must be held before the first byte is written (containerd's ReaderAt text otherwise).
  const held = await Promise.all([...blobs.values()].map((d) => source.has(d)));
  const missing = [...blobs.values()].find((_d, i) => !held[i]);
  if (missing) throw notFound(`content digest ${missing.digest}`);

  const progress = { bytes: 0, totalBytes: 0, blobs: 0, totalBlobs: blobs.size };
  for (const d of blobs.values()) {
    progress.totalBytes += d.size;
    files.push({
      name: blobPath(d.digest),
      mode: 0o444,
      size: d.size,
      data: () => verified(client, namespace, d, opts.minRv, (n) => {
        progress.bytes += n;
        opts.onProgress?.({ ...progress });
      }),
    });
  }
  const dirs = ["blobs/", ...[...algorithms].map((a) => `blobs/${a}/`)];
  const all = [...files.map((f) => ({ ...f, dir: false })), ...dirs.map((name) => ({ name, mode: 0o755, size: 0, data: () => new Uint8Array(), dir: true }))];
  all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const tar = new TarWriter(out);
  for (const f of all) {
    if (f.dir) {
      await tar.directory(f.name, f.mode);
      continue;
    }
    await tar.file(f.name, f.size, f.data(), f.mode);
    if (f.name.startsWith("blobs/")) {
      progress.blobs++;
      opts.onProgress?.({ ...progress });
    }
  }
  await tar.finish();
  return { blobs: blobs.size, bytes: progress.totalBytes };
}

/** The blob's bytes from the content store, hashed on the way; a mismatch fails the export. */
async function* verified(client: PurserClient, namespace: string, d: Descriptor, minRv: number | undefined, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  const hash = createHash(d.digest.split(":")[0]!);
  for await (const chunk of client.content.reader(namespace, d.digest, { minRv })) {
    hash.update(chunk as Buffer);
    onBytes((chunk as Buffer).length);
    yield chunk as Buffer;
  }
  const actual = `${d.digest.split(":")[0]}:${hash.digest("hex")}`;
  if (actual !== d.digest) throw new Error(`unexpected digest ${actual} copied for ${d.digest}`);
}
