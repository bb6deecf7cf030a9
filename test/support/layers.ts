import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import tar, { type Header } from "tar-stream";
import type { PurserClient } from "../../src/client/purser-client.js";

/** One entry of a hand-made layer: tar-stream's header fields, plus the file's bytes. */
export type LayerEntry = Partial<Header> & { name: string; data?: string | Buffer };

const epoch = new Date("2021-06-01T12:00:00Z");

/** An uncompressed tar of the entries, in order (names as given: traversal attempts included). */
export async function makeTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const { data, ...h } of entries) {
    const header = { mode: h.type === "directory" ? 0o755 : 0o644, mtime: epoch, uid: 0, gid: 0, ...h };
    const body = data === undefined ? undefined : typeof data === "string" ? Buffer.from(data) : data;
    await new Promise<void>((resolve, reject) => {
      if (body === undefined) pack.entry(header, (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, body, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const sha256 = (data: Uint8Array) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

export type Compress = "gzip" | "zstd" | "none";

const mediaTypes: Record<Compress, string> = {
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  none: "application/vnd.oci.image.layer.v1.tar",
};

/** Whether the `zstd` command is on this machine (to make zstd layers). */
export function hasZstd(): boolean {
  try {
    execFileSync("zstd", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function compress(tarBytes: Buffer, how: Compress): Buffer {
  if (how === "gzip") return gzipSync(tarBytes);
  if (how === "zstd") return execFileSync("zstd", ["-q", "-c", "-3"], { input: tarBytes, maxBuffer: 1 << 30 });
  return tarBytes;
}

export interface BuiltLayer {
  tar: Buffer;
  blob: Buffer;
  mediaType: string;
  digest: string;
  diffId: string;
}

export async function buildLayer(entries: readonly LayerEntry[], how: Compress = "gzip"): Promise<BuiltLayer> {
  const t = await makeTar(entries);
  const blob = compress(t, how);
  return { tar: t, blob, mediaType: mediaTypes[how], digest: sha256(blob), diffId: sha256(t) };
}

/**
 * Puts the layers, a config (with `diffIds`, the layers' own unless given)
 * and a manifest into the namespace's content store and creates the image
 * `name` on it, as an import would (without the gc labels, which unpacking
 * does not need).
 */
/** The config (linux/amd64, `diff_ids`) and OCI manifest of an image of these layers, as bytes. */
export function imageDocuments(
  layers: readonly BuiltLayer[],
  diffIds: readonly string[] = layers.map((l) => l.diffId),
  runConfig?: object,
): { config: Buffer; manifest: Buffer } {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", ...(runConfig ? { config: runConfig } : {}), rootfs: { type: "layers", diff_ids: diffIds } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
    }),
  );
  return { config, manifest };
}

export async function putImage(
  client: PurserClient,
  ns: string,
  name: string,
  layers: readonly BuiltLayer[],
  diffIds: readonly string[] = layers.map((l) => l.diffId),
  /** The image config's `config` (User, Env, Cmd, …). */
  runConfig?: object,
): Promise<{ manifest: string; config: string; rv: number }> {
  let rv = 0;
  const put = async (data: Buffer) => {
    const r = await client.content.writeBlob(ns, `test-${sha256(data)}`, data);
    rv = Math.max(rv, r.rv);
    return r.digest;
  };
  for (const l of layers) await put(l.blob);
  const { config, manifest } = imageDocuments(layers, diffIds, runConfig);
  const configDigest = await put(config);
  const manifestDigest = await put(manifest);
  const reply = await client.images.create(ns, {
    name,
    target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: manifestDigest, size: manifest.length },
  });
  return { manifest: manifestDigest, config: configDigest, rv: Math.max(rv, reply.rv) };
}

/** One line per entry of a tree, `tar -tv`-like: `<mode> <uid>/<gid> <size> <mtime> <path>[ -> target]`, sorted. */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, r));
      const link = st.isSymbolicLink() ? ` -> ${readlinkSync(join(root, r))}` : "";
      const size = st.isFile() ? st.size : 0;
      out.push(`${modeString(st.mode)} ${st.uid}/${st.gid} ${size} ${new Date(st.mtimeMs).toISOString().slice(0, 16)} ${r}${st.isDirectory() ? "/" : ""}${link}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  return out.sort();
}

/** `tar -tzvf` of layer blobs applied in order (later entries win), in {@link listTree}'s format. */
export function listLayers(blobPaths: readonly string[]): string[] {
  const byPath = new Map<string, string>();
  for (const path of blobPaths) {
    const text = execFileSync("tar", ["--numeric-owner", "--full-time", "-tvf", path], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
    for (const line of text.split("\n").filter(Boolean)) {
      // drwxr-xr-x 0/0               0 2020-01-01 00:00:00 ./app/
      const m = /^(\S+) (\d+)\/(\d+)\s+(\d+) (\d{4}-\d\d-\d\d) (\d\d:\d\d):\d\d (.*?)(?: -> (.*))?$/.exec(line);
      if (!m) throw new Error(`unexpected tar listing line: ${line}`);
      const [, mode, uid, gid, size, date, time, rawName, target] = m;
      const name = rawName!.replace(/^\.\//, "");
      if (name === "" || name === ".") continue;
      const dir = mode!.startsWith("d");
      const key = name.replace(/\/$/, "");
      byPath.set(key, `${mode} ${uid}/${gid} ${dir ? 0 : size} ${date}T${time} ${key}${dir ? "/" : ""}${target ? ` -> ${target}` : ""}`);
    }
  }
  return [...byPath.values()].sort();
}

function modeString(mode: number): string {
  const type = (mode & 0o170000) === 0o040000 ? "d" : (mode & 0o170000) === 0o120000 ? "l" : "-";
  const rwx = (bits: number, special: boolean, ch: string) =>
    `${bits & 4 ? "r" : "-"}${bits & 2 ? "w" : "-"}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? "x" : "-"}`;
  return (
    type +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, "s") +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, "s") +
    rwx(mode & 7, (mode & 0o1000) !== 0, "t")
  );
}
