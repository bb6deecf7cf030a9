import { createHash } from "node:crypto";
import { isPurserError, notFound } from "../errors/errdefs.js";
import { parseConfig, parseIndex, parseManifest, type Descriptor, type ImageConfig, type Manifest, type Platform } from "./descriptor.js";
import { isIndexType, isManifestType, MediaType } from "./media-types.js";
import { format, normalize, type PlatformMatcher } from "./platforms.js";

/**
 * Walks of an image's content graph, as containerd's `images` package does
 * them (`Walk`, `Children`, `FilterPlatforms`, `LimitManifests`, `Image.Size`,
 * `Platforms`, `Manifest`, `Check`, `RootFS`), over any {@link BlobSource}: the
 * content store through the client API, or an archive being imported.
 */

/** Where the walk reads blobs from. */
export interface BlobSource {
  /** A (small, JSON) blob's bytes; NotFound (`content digest …: not found`) when absent. */
  read(desc: Descriptor): Promise<Uint8Array>;
  /** Whether the blob is present (for `check`). */
  has(desc: Descriptor): Promise<boolean>;
}

/** Returns a descriptor's children; undefined skips it (containerd's `ErrSkipDesc`). */
type Handler = (desc: Descriptor) => Promise<Descriptor[] | undefined>;

/** Depth-first, children in order, as `images.Walk`. */
export async function walk(handler: Handler, descs: readonly Descriptor[]): Promise<void> {
  for (const desc of descs) {
    const children = await handler(desc);
    if (children && children.length > 0) await walk(handler, children);
  }
}

/** `images.Children`: a manifest's config and layers, an index's manifests; other types are leaves. */
export function childrenOf(source: BlobSource, desc: Descriptor): Promise<Descriptor[]> {
  return runReads(childSteps(desc), source);
}

/** `FilterPlatforms`: children without a platform, or with a matching one. */
export function filterPlatforms(children: Descriptor[], matcher: PlatformMatcher | undefined): Descriptor[] {
  return matcher ? children.filter((d) => !d.platform || matcher.match(d.platform)) : children;
}

/** `LimitManifests` for an index's children: best platform first, at most `n`. */
function limitManifests(parent: Descriptor, children: Descriptor[], matcher: PlatformMatcher, n: number): Descriptor[] {
  if (!isIndexType(parent.mediaType)) return children;
  const sorted = stableSort(children, (a, b) => {
    if (!a.platform) return false;
    if (!b.platform) return true;
    return matcher.less(a.platform, b.platform);
  });
  if (n > 0 && sorted.length === 0) throw notFound("no match for platform in manifest");
  return n > 0 ? sorted.slice(0, n) : sorted;
}

function stableSort<T>(items: T[], less: (a: T, b: T) => boolean): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((x, y) => (less(x.item, y.item) ? -1 : less(y.item, x.item) ? 1 : x.i - y.i))
    .map((x) => x.item);
}

/**
 * A walk written once for both kinds of reader: it yields each descriptor
 * whose bytes it needs and is resumed with them (or has the read's error
 * thrown into it). {@link runReads} drives it over a {@link BlobSource};
 * {@link runReadsSync} over a synchronous reader (the image-usage projection,
 * which runs inside an LMDB write transaction and cannot await).
 */
export type Reads<T> = Generator<Descriptor, T, Uint8Array>;

export async function runReads<T>(steps: Reads<T>, source: BlobSource): Promise<T> {
  let step = steps.next();
  while (!step.done) {
    let bytes: Uint8Array;
    try {
      bytes = await source.read(step.value);
    } catch (err) {
      step = steps.throw(err);
      continue;
    }
    step = steps.next(bytes);
  }
  return step.value;
}

export function runReadsSync<T>(steps: Reads<T>, read: (desc: Descriptor) => Uint8Array): T {
  let step = steps.next();
  while (!step.done) {
    let bytes: Uint8Array;
    try {
      bytes = read(step.value);
    } catch (err) {
      step = steps.throw(err);
      continue;
    }
    step = steps.next(bytes);
  }
  return step.value;
}

function* childSteps(desc: Descriptor): Reads<Descriptor[]> {
  if (isManifestType(desc.mediaType)) {
    const m = parseManifest(yield desc, desc.mediaType, `manifest ${desc.digest}`);
    return [m.config, ...m.layers];
  }
  if (isIndexType(desc.mediaType)) return parseIndex(yield desc, desc.mediaType, `index ${desc.digest}`).manifests;
  return [];
}

function* walkSteps(handler: (desc: Descriptor) => Reads<Descriptor[] | undefined>, descs: readonly Descriptor[]): Reads<void> {
  for (const desc of descs) {
    const children = yield* handler(desc);
    if (children && children.length > 0) yield* walkSteps(handler, children);
  }
}

/**
 * `Image.Size`: the packed size of everything the image references for the
 * platform — each descriptor's declared size, summed over the walk that keeps
 * the best manifest of each index. Throws when a manifest or index on the way
 * is missing (ctr then prints what it had summed; purser prints `-`).
 */
export function imageSizeSteps(target: Descriptor, matcher: PlatformMatcher): Reads<number> {
  return (function* () {
    let size = 0;
    yield* walkSteps(function* (desc) {
      size += desc.size;
      return limitManifests(desc, filterPlatforms(yield* childSteps(desc), matcher), matcher, 1);
    }, [target]);
    return size;
  })();
}

export function imageSize(source: BlobSource, target: Descriptor, matcher: PlatformMatcher): Promise<number> {
  return runReads(imageSizeSteps(target, matcher), source);
}

/**
 * `images.Platforms`: every platform the image declares — from index
 * descriptors, or from a config's os/architecture (normalized) — formatted,
 * deduplicated and sorted as `ctr images ls` prints them.
 */
export function imagePlatformsSteps(target: Descriptor): Reads<string[]> {
  return (function* () {
    const found: Platform[] = [];
    yield* walkSteps(function* (desc) {
      if (desc.platform) {
        if (desc.platform.os !== "unknown" && desc.platform.architecture !== "unknown") found.push(desc.platform);
        return undefined;
      }
      if (desc.mediaType === MediaType.DockerConfig || desc.mediaType === MediaType.OciConfig) {
        const c = parseConfig(yield desc, `config ${desc.digest}`);
        found.push(normalize({ os: c.os ?? "", architecture: c.architecture ?? "" }));
        return [];
      }
      return yield* childSteps(desc);
    }, [target]);
    return [...new Set(found.map(format))].sort();
  })();
}

export function imagePlatforms(source: BlobSource, target: Descriptor): Promise<string[]> {
  return runReads(imagePlatformsSteps(target), source);
}

/**
 * `images.Manifest`: the manifest the image resolves to for the platform —
 * through indexes (best match first), checking a manifest reached without a
 * platform against its config. NotFound when nothing matches.
 */
export async function resolveManifest(source: BlobSource, target: Descriptor, matcher: PlatformMatcher): Promise<{ desc: Descriptor; manifest: Manifest }> {
  const found: Array<{ desc: Descriptor; manifest: Manifest }> = [];
  let wasIndex = false;
  await walk(async (desc) => {
    if (isManifestType(desc.mediaType)) {
      const manifest = parseManifest(await source.read(desc), desc.mediaType, `manifest ${desc.digest}`);
      if (desc.digest !== target.digest) {
        if (desc.platform && !matcher.match(desc.platform)) return undefined;
        if (!desc.platform) {
          const c = parseConfig(await source.read(manifest.config), `config ${manifest.config.digest}`);
          if (!matcher.match(normalize({ os: c.os ?? "", architecture: c.architecture ?? "" }))) return undefined;
        }
      }
      found.push({ desc, manifest });
      return undefined;
    }
    if (isIndexType(desc.mediaType)) {
      const idx = parseIndex(await source.read(desc), desc.mediaType, `index ${desc.digest}`);
      wasIndex = true;
      const matching = stableSort(filterPlatforms(idx.manifests, matcher), (a, b) => {
        if (!a.platform) return false;
        if (!b.platform) return true;
        return matcher.less(a.platform, b.platform);
      });
      return matching.slice(0, 1);
    }
    return undefined;
  }, [target]);
  if (found.length === 0) {
    throw notFound(wasIndex ? `no match for platform in manifest ${target.digest}` : `manifest ${target.digest}`);
  }
  return found[0]!;
}

/** What `images.Check` reports. */
export interface CheckResult {
  /** False when the manifest itself cannot be found (then required is only the target). */
  available: boolean;
  required: Descriptor[];
  present: Descriptor[];
  missing: Descriptor[];
}

/**
 * `images.Check`: resolve the platform's manifest; its config and layers are
 * required, each present or missing. A manifest that cannot be found makes
 * the image unavailable.
 */
export async function checkImage(source: BlobSource, target: Descriptor, matcher: PlatformMatcher): Promise<CheckResult> {
  let manifest: Manifest;
  try {
    ({ manifest } = await resolveManifest(source, target, matcher));
  } catch (err) {
    if (isPurserError(err, "NotFound")) return { available: false, required: [target], present: [], missing: [target] };
    throw err;
  }
  const required = [manifest.config, ...manifest.layers];
  const present: Descriptor[] = [];
  const missing: Descriptor[] = [];
  for (const desc of required) ((await source.has(desc)) ? present : missing).push(desc);
  return { available: true, required, present, missing };
}

/** `images.Config` then `RootFS`: the platform's config and its layers' diff ids. */
export async function imageConfig(source: BlobSource, target: Descriptor, matcher: PlatformMatcher): Promise<{ desc: Descriptor; config: ImageConfig }> {
  const { manifest } = await resolveManifest(source, target, matcher);
  return { desc: manifest.config, config: parseConfig(await source.read(manifest.config), `config ${manifest.config.digest}`) };
}

/** `identity.ChainID`: `chain(L0) = diff(L0)`, `chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln))`. */
export function chainId(diffIds: readonly string[]): string {
  let chain = "";
  for (const diff of diffIds) {
    chain = chain === "" ? diff : `sha256:${createHash("sha256").update(`${chain} ${diff}`).digest("hex")}`;
  }
  return chain;
}

