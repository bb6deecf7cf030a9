import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { posix } from "node:path";
import { invalidArgument, notFound } from "../errors/errdefs.js";
import {
  AnnotationImageName,
  AnnotationRefName,
  goDescriptor,
  goJson,
  maxJsonBlob,
  parseConfig,
  parseIndex,
  parseJson,
  parseManifest,
  type Descriptor,
} from "../oci/descriptor.js";
import { childrenLabels, LabelUncompressed } from "../oci/gc-labels.js";
import { filterPlatforms } from "../oci/image-walk.js";
import { isIndexType, isLayerType, isManifestType, MediaType } from "../oci/media-types.js";
import { normalize, type PlatformMatcher } from "../oci/platforms.js";
import { normalizeDockerRef, ociReferenceName, translateRefName } from "../oci/reference.js";
import { cleanEntryName, EntryType, readEntry, type TarEntry, type TarIndex } from "./tar-index.js";

/**
 * From an indexed archive to what an import must do, before anything is
 * written: which blobs to ingest (each with its expected digest, its bytes'
 * place in the file and the gc labels containerd would give it), in which
 * order (children before parents), and which images to create. Everything an
 * importer reads into memory here is small JSON (index, manifests, configs,
 * each verified against its digest at once); layers are only located (OCI) or
 * hashed as a stream (Docker). A malformed archive fails here, so an import
 * that starts writing has a complete, consistent plan.
 *
 * Two formats, as containerd's `archive.ImportIndex`: an OCI image layout
 * (`oci-layout` + `index.json` + `blobs/<alg>/<hex>`), preferred when present;
 * else a `docker save` archive (`manifest.json` listing config and layer
 * files), for which Docker v2 manifests are synthesized exactly as containerd
 * writes them.
 */

export interface ImportPlanOptions {
  /**
   * ctr's `--base-name`: tag-only ref names become `<base>:<tag>`, and full
   * names not under the base are skipped. Without it the prefix is
   * `import-<yyyy-mm-dd>` and full names are kept.
   */
  baseName?: string;
  /** ctr's `--digests`: also name each top-level manifest `<prefix>@<digest>`. */
  digests?: boolean;
  /** With `digests`: not for manifests that already have a name. */
  skipDigestForNamed?: boolean;
  /** ctr's `--index-name`: keep the archive's index as an image of this name. */
  indexName?: string;
  /** Which platforms' manifests of an index to import (undefined: all). */
  platforms?: PlatformMatcher;
  /** For the default prefix's date. */
  now?: Date;
}

export interface PlannedBlob {
  desc: Descriptor;
  /** Where the bytes are: an archive entry, or bytes made here (index.json, synthesized manifests). */
  source: { entry: TarEntry } | { data: Uint8Array };
  /** The gc labels containerd sets on it. */
  labels: Record<string, string>;
  /** 0 for leaves; a parent is one more than its deepest child. Ingest in ascending depth. */
  depth: number;
  /** For messages: the archive entry or what made the bytes. */
  origin: string;
}

export interface PlannedImage {
  name: string;
  target: Descriptor;
}

export interface ImportPlan {
  format: "oci" | "docker";
  /** Children before parents. */
  blobs: PlannedBlob[];
  images: PlannedImage[];
  totalBytes: number;
  warnings: string[];
}

const sha256 = (data: Uint8Array) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

function localDate(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

async function hashEntry(index: TarIndex, entry: TarEntry): Promise<string> {
  const hash = createHash("sha256");
  if (entry.size > 0) {
    for await (const chunk of createReadStream(index.path, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
    }
  }
  return `sha256:${hash.digest("hex")}`;
}

/** The first bytes of an entry (compression detection). */
async function headOf(index: TarIndex, entry: TarEntry, n: number): Promise<Buffer> {
  if (entry.size === 0) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for await (const chunk of createReadStream(index.path, { start: entry.offset, end: entry.offset + Math.min(n, entry.size) - 1 })) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Builds the plan for the archive `index` describes. */
export async function planImport(index: TarIndex, opts: ImportPlanOptions = {}): Promise<ImportPlan> {
  const layoutEntry = fileEntry(index, "oci-layout");
  if (layoutEntry) {
    const layout = parseJson(await readEntry(index.path, layoutEntry, maxJsonBlob), "oci-layout") as { imageLayoutVersion?: unknown };
    const version = typeof layout === "object" && layout !== null ? layout.imageLayoutVersion : undefined;
    if (typeof version === "string" && version !== "") {
      if (version !== "1.0.0") throw invalidArgument(`unsupported OCI version ${version}`);
      return new Planner(index, opts, "oci").planOci();
    }
  }
  if (fileEntry(index, "manifest.json")) return new Planner(index, opts, "docker").planDocker();
  throw invalidArgument("unrecognized image format: the archive has neither an oci-layout file (OCI image layout) nor a manifest.json (docker save)");
}

function fileEntry(index: TarIndex, name: string): TarEntry | undefined {
  const e = index.entries.get(name);
  return e && e.type === EntryType.File ? e : undefined;
}

class Planner {
  private readonly blobs = new Map<string, PlannedBlob>();
  private readonly order: PlannedBlob[] = [];
  private readonly images = new Map<string, PlannedImage>();
  private readonly warnings: string[] = [];
  private readonly prefix: string;

  constructor(
    private readonly index: TarIndex,
    private readonly opts: ImportPlanOptions,
    private readonly format: "oci" | "docker",
  ) {
    this.prefix = opts.baseName || `import-${localDate(opts.now ?? new Date())}`;
  }

  // --- OCI image layout ---------------------------------------------------------

  async planOci(): Promise<ImportPlan> {
    const entry = fileEntry(this.index, "index.json");
    if (!entry) throw invalidArgument("missing index.json in OCI layout 1.0.0");
    const bytes = await readEntry(this.index.path, entry, maxJsonBlob);
    const idx = parseIndex(bytes, MediaType.OciIndex, "index.json");
    const indexDesc: Descriptor = { mediaType: MediaType.OciIndex, digest: sha256(bytes), size: bytes.length };
    await this.nameAndVisit(idx.manifests, indexDesc, bytes);
    return this.result();
  }

  /** The blob entry of a descriptor (`blobs/<alg>/<hex>`), checked against the descriptor's size. */
  private blobEntry(desc: Descriptor, referrer: string): TarEntry {
    const [alg, hex] = desc.digest.split(":") as [string, string];
    const name = `blobs/${alg}/${hex}`;
    const entry = this.resolve(name);
    if (!entry) throw notFound(`blob ${desc.digest} (${desc.mediaType || "no media type"}) referenced by ${referrer} is missing from the archive`);
    if (entry.size !== desc.size) {
      throw invalidArgument(`blob ${desc.digest}: ${referrer} declares ${desc.size} bytes, the archive holds ${entry.size}`);
    }
    return entry;
  }

  /** Small JSON blob bytes, verified against the digest now (before anything is written). */
  private async readVerified(desc: Descriptor, entry: TarEntry): Promise<Buffer> {
    const data = await readEntry(this.index.path, entry, maxJsonBlob);
    const actual = sha256(data);
    if (actual !== desc.digest) throw invalidArgument(`blob ${entry.name} does not match its digest: expected ${desc.digest}, the bytes hash to ${actual}`);
    return data;
  }

  /**
   * Visits a descriptor and what it references (depth first, children before
   * parents); returns its depth. Each blob is planned once.
   */
  private async visit(desc: Descriptor, referrer: string): Promise<number> {
    const seen = this.blobs.get(desc.digest);
    if (seen) return seen.depth;
    const entry = this.blobEntry(desc, referrer);
    const planned: PlannedBlob = { desc: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, source: { entry }, labels: {}, depth: 0, origin: entry.name };
    this.blobs.set(desc.digest, planned);
    const what = `${isIndexType(desc.mediaType) ? "index" : "manifest"} ${desc.digest}`;
    if (isManifestType(desc.mediaType)) {
      const manifest = parseManifest(await this.readVerified(desc, entry), desc.mediaType, what);
      const children = [manifest.config, ...manifest.layers];
      planned.depth = 1 + Math.max(0, ...(await this.visitAll(children, what)));
      planned.labels = childrenLabels(children);
      await this.labelLayers(manifest.config, manifest.layers, what);
    } else if (isIndexType(desc.mediaType)) {
      const idx = parseIndex(await this.readVerified(desc, entry), desc.mediaType, what);
      const children = filterPlatforms(idx.manifests, this.opts.platforms);
      planned.depth = 1 + Math.max(0, ...(await this.visitAll(children, what)));
      planned.labels = childrenLabels(children);
    }
    this.order.push(planned);
    return planned.depth;
  }

  private async visitAll(children: Descriptor[], referrer: string): Promise<number[]> {
    const depths: number[] = [];
    for (const child of children) depths.push(await this.visit(child, referrer));
    return depths;
  }

  /**
   * `containerd.io/uncompressed=<diff id>` on each layer, from the config's
   * `rootfs.diff_ids` (containerd sets it when unpacking verifies the diff
   * id; purser sets it at import, and the unpacker verifies it).
   */
  private async labelLayers(config: Descriptor, layers: Descriptor[], referrer: string): Promise<void> {
    if (config.mediaType !== MediaType.OciConfig && config.mediaType !== MediaType.DockerConfig) return;
    const planned = this.blobs.get(config.digest)!;
    const data = "entry" in planned.source ? await this.readVerified(config, planned.source.entry) : planned.source.data;
    const diffIds = parseConfig(data, `config ${config.digest}`).rootfs?.diff_ids ?? [];
    if (diffIds.length !== layers.length) {
      this.warnings.push(`${referrer}: ${layers.length} layers but ${diffIds.length} diff ids in its config: layers left without ${LabelUncompressed}`);
      return;
    }
    layers.forEach((layer, i) => {
      if (isLayerType(layer.mediaType)) this.blobs.get(layer.digest)!.labels[LabelUncompressed] = diffIds[i]!;
    });
  }

  /**
   * Names the top-level descriptors (ctr import's rules, `imageName`), then
   * visits what the named ones reference. A top-level manifest is imported
   * whatever its platform (it was asked for by name); inside indexes only the
   * selected platforms are. `indexBytes` is the archive's index, kept as an
   * image when `indexName` is set.
   */
  private async nameAndVisit(manifests: Descriptor[], indexDesc: Descriptor, indexBytes: Uint8Array): Promise<void> {
    const named: Descriptor[] = [];
    for (const m of manifests) {
      const name = this.imageName(m);
      if (name) this.addImage(name, m);
      if (this.opts.digests && !(this.opts.skipDigestForNamed && name)) this.addImage(`${this.prefix}@${m.digest}`, m);
      if (name || this.opts.digests) named.push(m);
      else if (!this.opts.indexName) {
        this.warnings.push(`${m.mediaType} ${m.digest} has no name in the archive: skipped (use --digests, or --index-name to keep the index)`);
      }
    }
    for (const m of named) await this.visit(m, "index.json");
    if (this.opts.indexName) {
      const children = filterPlatforms(manifests, this.opts.platforms);
      const depths = await this.visitAll(children, "index.json");
      const planned: PlannedBlob = {
        desc: indexDesc,
        source: { data: indexBytes },
        labels: childrenLabels(children),
        depth: 1 + Math.max(0, ...depths),
        origin: "index.json",
      };
      if (!this.blobs.has(indexDesc.digest)) {
        this.blobs.set(indexDesc.digest, planned);
        this.order.push(planned);
      }
      this.addImage(this.opts.indexName, indexDesc);
    }
  }

  /** `io.containerd.image.name`, else the OCI ref name through ctr's prefix rules. */
  private imageName(m: Descriptor): string {
    const full = m.annotations?.[AnnotationImageName];
    if (full) return full;
    const ref = m.annotations?.[AnnotationRefName];
    return ref ? translateRefName(ref, this.prefix, this.opts.baseName !== undefined && this.opts.baseName !== "") : "";
  }

  private addImage(name: string, target: Descriptor): void {
    const t: Descriptor = { mediaType: target.mediaType, digest: target.digest, size: target.size };
    if (target.annotations && Object.keys(target.annotations).length > 0) t.annotations = { ...target.annotations };
    this.images.delete(name); // the last of a name wins, as successive updates would
    this.images.set(name, { name, target: t });
  }

  // --- docker save ----------------------------------------------------------------

  /** Follows symlinks (`docker save` links repeated layers) to a regular file. */
  private resolve(name: string): TarEntry | undefined {
    let entry = this.index.entries.get(name);
    for (let hops = 0; entry && entry.type === EntryType.Symlink && hops < 16; hops++) {
      entry = this.index.entries.get(cleanEntryName(posix.join(posix.dirname(entry.name), entry.linkname)));
    }
    return entry && entry.type === EntryType.File ? entry : undefined;
  }

  async planDocker(): Promise<ImportPlan> {
    const raw = parseJson(await readEntry(this.index.path, fileEntry(this.index, "manifest.json")!, maxJsonBlob), "manifest.json");
    if (!Array.isArray(raw)) throw invalidArgument("manifest.json: expected a list of images");
    const descs: Descriptor[] = [];
    for (const [i, item] of raw.entries()) {
      const m = item as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
      if (typeof m !== "object" || m === null || typeof m.Config !== "string" || (m.Layers !== undefined && m.Layers !== null && !Array.isArray(m.Layers))) {
        throw invalidArgument(`manifest.json: image ${i} needs a Config file name and a list of Layers`);
      }
      const desc = await this.dockerManifest(m.Config, ((m.Layers as unknown[] | null) ?? []).map(String));
      const tags = Array.isArray(m.RepoTags) ? m.RepoTags.map(String) : [];
      if (tags.length === 0) descs.push(desc);
      for (const tag of tags) {
        const normalized = normalizeDockerRef(tag);
        descs.push({ ...desc, annotations: { [AnnotationImageName]: normalized, [AnnotationRefName]: ociReferenceName(normalized) } });
      }
    }
    // containerd writes these into an index; it is kept only under --index-name.
    const indexBytes = Buffer.from(goJson({ schemaVersion: 2, manifests: descs.map(goDescriptor) }));
    await this.nameAndVisitDocker(descs, indexBytes);
    return this.result();
  }

  private async nameAndVisitDocker(descs: Descriptor[], indexBytes: Buffer): Promise<void> {
    const indexDesc: Descriptor = { mediaType: MediaType.OciIndex, digest: sha256(indexBytes), size: indexBytes.length };
    for (const m of descs) {
      const name = this.imageName(m);
      if (name) this.addImage(name, m);
      if (this.opts.digests && !(this.opts.skipDigestForNamed && name)) this.addImage(`${this.prefix}@${m.digest}`, m);
      if (!name && !this.opts.digests && !this.opts.indexName) this.warnings.push(`image ${m.digest} has no RepoTags: no image created for it (use --digests)`);
    }
    if (this.opts.indexName) {
      const children = filterPlatforms(descs, this.opts.platforms);
      const planned: PlannedBlob = { desc: indexDesc, source: { data: indexBytes }, labels: childrenLabels(children), depth: 2, origin: "index (synthesized)" };
      if (!this.blobs.has(indexDesc.digest)) {
        this.blobs.set(indexDesc.digest, planned);
        this.order.push(planned);
      }
      this.addImage(this.opts.indexName, indexDesc);
    }
  }

  /** One `docker save` image: its config and layers planned, and the Docker v2 manifest containerd would write for it. */
  private async dockerManifest(configName: string, layerNames: string[]): Promise<Descriptor> {
    const configEntry = this.resolve(cleanEntryName(configName));
    if (!configEntry) throw notFound(`image config ${JSON.stringify(configName)} not found in the archive`);
    const configBytes = await readEntry(this.index.path, configEntry, maxJsonBlob);
    const configDesc: Descriptor = { mediaType: MediaType.DockerConfig, digest: sha256(configBytes), size: configBytes.length };
    const config = parseConfig(configBytes, `config ${configName}`);
    this.addLeaf(configDesc, { data: configBytes }, configEntry.name);

    const layers: Descriptor[] = [];
    for (const layerName of layerNames) {
      const entry = this.resolve(cleanEntryName(layerName));
      if (!entry) throw notFound(`layer ${JSON.stringify(layerName)} not found in the archive`);
      layers.push({ mediaType: layerMediaType(await headOf(this.index, entry, 10)), digest: await hashEntry(this.index, entry), size: entry.size });
      this.addLeaf(layers.at(-1)!, { entry }, entry.name);
    }
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length === layers.length) layers.forEach((l, i) => (this.blobs.get(l.digest)!.labels[LabelUncompressed] = diffIds[i]!));
    else this.warnings.push(`${configName}: ${layers.length} layers but ${diffIds.length} diff ids: layers left without ${LabelUncompressed}`);

    const bytes = Buffer.from(
      goJson({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: goDescriptor(configDesc), layers: layers.map(goDescriptor) }),
    );
    const desc: Descriptor = { mediaType: MediaType.DockerManifest, digest: sha256(bytes), size: bytes.length };
    if (!this.blobs.has(desc.digest)) {
      const planned: PlannedBlob = { desc, source: { data: bytes }, labels: childrenLabels([configDesc, ...layers]), depth: 1, origin: `manifest for ${configName}` };
      this.blobs.set(desc.digest, planned);
      this.order.push(planned);
    }
    // containerd reads the platform back from the config (`images.Platforms`).
    return { ...desc, platform: normalize({ os: config.os ?? "", architecture: config.architecture ?? "" }) };
  }

  private addLeaf(desc: Descriptor, source: PlannedBlob["source"], origin: string): void {
    if (this.blobs.has(desc.digest)) return;
    const planned: PlannedBlob = { desc, source, labels: {}, depth: 0, origin };
    this.blobs.set(desc.digest, planned);
    this.order.push(planned);
  }

  private result(): ImportPlan {
    // Stable by depth: every child is written before any parent that refers to it.
    const blobs = this.order.map((b, i) => ({ b, i })).sort((x, y) => x.b.depth - y.b.depth || x.i - y.i).map((x) => x.b);
    return {
      format: this.format,
      blobs,
      images: [...this.images.values()],
      totalBytes: blobs.reduce((n, b) => n + b.desc.size, 0),
      warnings: this.warnings,
    };
  }
}

/**
 * containerd's `detectLayerMediaType` for `docker save` layers: gzip (and
 * other compressed streams) get the gzip type, plain tar the uncompressed
 * one. purser names zstd as zstd rather than gzip.
 */
function layerMediaType(head: Buffer): string {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return MediaType.DockerLayerGzip;
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return MediaType.DockerLayerZstd;
  if (head.length >= 3 && head.toString("ascii", 0, 3) === "BZh") return MediaType.DockerLayerGzip;
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return MediaType.DockerLayerGzip;
  return MediaType.DockerLayer;
}

