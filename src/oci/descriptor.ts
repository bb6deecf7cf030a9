import type { ImageRuntimeConfig } from "../domain/container-spec.js";
import { invalidArgument } from "../errors/errdefs.js";
import { digestError } from "../validation/digest.js";
import { isIndexType, isManifestType } from "./media-types.js";

/**
 * The OCI image-spec documents purser reads and writes (descriptors, manifests,
 * indexes, the config's platform and rootfs), parsed from JSON with the checks
 * an importer needs before it trusts a field: a digest that go-digest accepts,
 * a non-negative integer size.
 */

/** OCI `Platform` as it appears in an index descriptor (JSON field names). */
export interface Platform {
  architecture: string;
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
}

/** OCI `Descriptor`. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** What purser reads from an image config: its platform, its layers' diff ids and what a container is made from. */
export interface ImageConfig {
  os?: string;
  architecture?: string;
  variant?: string;
  rootfs?: { type?: string; diff_ids?: string[] };
  /** What a container is made from (`ocispec.ImageConfig`). */
  config?: ImageRuntimeConfig;
}

/** The annotation containerd names images with (`images.AnnotationImageName`). */
export const AnnotationImageName = "io.containerd.image.name";
/** OCI's reference-name annotation (`ocispec.AnnotationRefName`): by convention a tag only. */
export const AnnotationRefName = "org.opencontainers.image.ref.name";

/** Blobs an importer or a walk reads into memory (manifests, indexes, configs) may be at most this large (containerd's importer reads JSON up to 20 MiB). */
export const maxJsonBlob = 20 * 1024 * 1024;

/** Parses JSON bytes, naming the blob in the error. */
export function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8"));
  } catch (err) {
    throw invalidArgument(`${what}: invalid JSON: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== "string")) throw invalidArgument(`${what}: annotations must map strings to strings`);
  return v as Record<string, string>;
}

/** A descriptor from parsed JSON, validated: media type, digest, size. */
export function toDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw invalidArgument(`${what}: descriptor must be an object`);
  const { mediaType, digest, size } = v;
  if (typeof digest !== "string") throw invalidArgument(`${what}: descriptor has no digest`);
  const bad = digestError(digest);
  if (bad) throw invalidArgument(`${what}: descriptor digest ${JSON.stringify(digest)}: ${bad}`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalidArgument(`${what}: descriptor ${digest} has invalid size ${JSON.stringify(size)}`);
  }
  const d: Descriptor = { mediaType: typeof mediaType === "string" ? mediaType : "", digest, size };
  if (Array.isArray(v.urls)) d.urls = v.urls.filter((u): u is string => typeof u === "string");
  const annotations = stringMap(v.annotations, `${what}: descriptor ${digest}`);
  if (annotations) d.annotations = annotations;
  if (isObject(v.platform)) {
    const p = v.platform;
    d.platform = { architecture: String(p.architecture ?? ""), os: String(p.os ?? "") };
    if (typeof p["os.version"] === "string") d.platform["os.version"] = p["os.version"];
    if (Array.isArray(p["os.features"])) d.platform["os.features"] = p["os.features"].map(String);
    if (typeof p.variant === "string" && p.variant !== "") d.platform.variant = p.variant;
  }
  return d;
}

/**
 * containerd's `validateMediaType`: a manifest or index blob that declares a
 * `mediaType` must declare the one its descriptor names; a manifest has no
 * `manifests`, an index no `config`/`layers`.
 */
function checkMediaType(doc: Record<string, unknown>, expected: string, what: string): void {
  if (typeof doc.mediaType === "string" && doc.mediaType !== "" && doc.mediaType !== expected) {
    throw invalidArgument(`${what}: media type mismatch: ${doc.mediaType} (expected ${expected})`);
  }
  if (isManifestType(expected) && doc.manifests !== undefined) throw invalidArgument(`${what}: expected manifest but found index (${expected})`);
  if (isIndexType(expected) && (doc.config !== undefined || doc.layers !== undefined)) {
    throw invalidArgument(`${what}: expected index but found manifest (${expected})`);
  }
}

export function parseManifest(bytes: Uint8Array, mediaType: string, what: string): Manifest {
  const doc = parseJson(bytes, what);
  if (!isObject(doc)) throw invalidArgument(`${what}: manifest must be a JSON object`);
  checkMediaType(doc, mediaType, what);
  if (!Array.isArray(doc.layers) && doc.layers !== undefined && doc.layers !== null) throw invalidArgument(`${what}: layers must be a list`);
  const layers = ((doc.layers as unknown[] | undefined) ?? []).map((l, i) => toDescriptor(l, `${what} layer ${i}`));
  const m: Manifest = {
    schemaVersion: Number(doc.schemaVersion ?? 0),
    config: toDescriptor(doc.config, `${what} config`),
    layers,
  };
  if (typeof doc.mediaType === "string") m.mediaType = doc.mediaType;
  const annotations = stringMap(doc.annotations, what);
  if (annotations) m.annotations = annotations;
  return m;
}

export function parseIndex(bytes: Uint8Array, mediaType: string, what: string): Index {
  const doc = parseJson(bytes, what);
  if (!isObject(doc)) throw invalidArgument(`${what}: index must be a JSON object`);
  checkMediaType(doc, mediaType, what);
  if (!Array.isArray(doc.manifests) && doc.manifests !== undefined && doc.manifests !== null) throw invalidArgument(`${what}: manifests must be a list`);
  const manifests = ((doc.manifests as unknown[] | undefined) ?? []).map((d, i) => toDescriptor(d, `${what} manifest ${i}`));
  const idx: Index = { schemaVersion: Number(doc.schemaVersion ?? 0), manifests };
  if (typeof doc.mediaType === "string") idx.mediaType = doc.mediaType;
  const annotations = stringMap(doc.annotations, what);
  if (annotations) idx.annotations = annotations;
  return idx;
}

export function parseConfig(bytes: Uint8Array, what: string): ImageConfig {
  const doc = parseJson(bytes, what);
  if (!isObject(doc)) throw invalidArgument(`${what}: image config must be a JSON object`);
  const c: ImageConfig = {};
  if (typeof doc.os === "string") c.os = doc.os;
  if (typeof doc.architecture === "string") c.architecture = doc.architecture;
  if (typeof doc.variant === "string") c.variant = doc.variant;
  if (isObject(doc.rootfs)) {
    const ids = doc.rootfs.diff_ids;
    c.rootfs = {
      type: typeof doc.rootfs.type === "string" ? doc.rootfs.type : undefined,
      diff_ids: Array.isArray(ids) ? ids.map(String) : undefined,
    };
  }
  if (isObject(doc.config)) c.config = runtimeConfig(doc.config, what);
  return c;
}

/**
 * `ocispec.ImageConfig` as Go's json.Unmarshal reads it: a field of the wrong
 * type is an error (as Go's), null is absent.
 */
function runtimeConfig(doc: Record<string, unknown>, what: string): ImageRuntimeConfig {
  const out: ImageRuntimeConfig = {};
  const str = (k: "User" | "WorkingDir" | "StopSignal") => {
    const v = doc[k];
    if (v === undefined || v === null) return;
    if (typeof v !== "string") throw invalidArgument(`${what}: config.${k} must be a string`);
    out[k] = v;
  };
  const list = (k: "Env" | "Entrypoint" | "Cmd") => {
    const v = doc[k];
    if (v === undefined || v === null) return;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw invalidArgument(`${what}: config.${k} must be an array of strings`);
    out[k] = v as string[];
  };
  str("User");
  str("WorkingDir");
  str("StopSignal");
  list("Env");
  list("Entrypoint");
  list("Cmd");
  if (doc.Labels !== undefined && doc.Labels !== null) {
    if (!isObject(doc.Labels) || Object.values(doc.Labels).some((x) => typeof x !== "string")) throw invalidArgument(`${what}: config.Labels must map strings to strings`);
    out.Labels = { ...(doc.Labels as Record<string, string>) };
  }
  return out;
}

/**
 * A descriptor as Go's `json.Marshal` writes an `ocispec.Descriptor`: fields
 * in struct order (mediaType, digest, size, urls, annotations, platform),
 * empty ones omitted, map keys sorted. Documents purser writes (the Docker
 * manifests it synthesizes, exported index.json) are then byte-identical to
 * containerd's.
 */
export function goDescriptor(d: Descriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.mediaType === "") delete out.mediaType;
  if (d.urls && d.urls.length > 0) out.urls = d.urls;
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = sortedMap(d.annotations);
  if (d.platform) {
    const p: Record<string, unknown> = { architecture: d.platform.architecture, os: d.platform.os };
    if (d.platform["os.version"]) p["os.version"] = d.platform["os.version"];
    if (d.platform["os.features"]?.length) p["os.features"] = d.platform["os.features"];
    if (d.platform.variant) p.variant = d.platform.variant;
    out.platform = p;
  }
  return out;
}

/** Go's `encoding/json` escapes <, > and & in strings; JSON.stringify does not. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function sortedMap(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k]!;
  return out;
}
