import { createReadStream } from "node:fs";
import { planImport, type ImportPlan, type ImportPlanOptions, type PlannedBlob, type PlannedImage } from "../archive/import-plan.js";
import { indexTar, readEntry } from "../archive/tar-index.js";
import { isPurserError, notImplemented, PurserError } from "../errors/errdefs.js";
import type { ImageRecord } from "../events/image-events.js";
import type { Descriptor } from "../oci/descriptor.js";
import { defaultChunkSize, type BlobWriter } from "./content-api.js";
import type { PurserClient } from "./purser-client.js";

/**
 * `purser images import`: an image archive into a namespace, entirely from
 * the client (docs/import-export.md). Any client can import; the bytes go
 * through the content store's ingest protocol like any other write, so the
 * store verifies every digest, shares blobs the host already has (no byte
 * moves twice) and records every commit as an event.
 *
 * 1. Index the tar (headers only) and plan (src/archive/import-plan.ts): a
 *    malformed archive fails before anything is written.
 * 2. Under a lease (the caller's, or a temporary one as `ctr import` takes),
 *    ingest the planned blobs, children before parents, each committed with
 *    containerd's gc labels (a blob the namespace already had gets them by a
 *    content update).
 * 3. Create each image, or point an existing one at the new target.
 * 4. Drop the temporary lease: the images now hold what they reference.
 *
 * Failure at any step undoes what this import did: blob records it created are
 * deleted, an ingest it left is aborted, images it created are removed and
 * images it updated get their old target back.
 */

export interface ImportOptions extends ImportPlanOptions {
  /** Run under this lease (kept afterwards); by default a temporary lease is taken and dropped. */
  lease?: string;
  /** Blobs ingested at the same time (default 4; each large blob also pipelines its chunks). */
  concurrency?: number;
  onProgress?: (p: ImportProgress) => void;
  /** Called once the plan is made (warnings, totals), before anything is written. */
  onPlan?: (plan: ImportPlan) => void;
}

export interface ImportProgress {
  bytes: number;
  totalBytes: number;
  blobs: number;
  totalBlobs: number;
}

export interface ImportedBlob {
  digest: string;
  size: number;
  /** False when the namespace already held it. */
  created: boolean;
}

export interface ImportResult {
  images: ImageRecord[];
  blobs: ImportedBlob[];
  /** The highest rv this import's commands returned (read your writes with it). */
  rv: number;
  format: ImportPlan["format"];
  warnings: string[];
}

/** How long an import waits for another writer of the same blob (another import) to finish. */
const lockWaitMs = 60_000;
/** A temporary lease lives a day, as ctr's (`WithLease`: 24 h expiry). */
const leaseExpiryMs = 24 * 60 * 60 * 1000;

export async function importImageArchive(client: PurserClient, namespace: string, path: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const index = await indexTar(path);
  const plan = await planImport(index, opts);
  opts.onPlan?.(plan);
  return new Importer(client, namespace, index.path, plan, opts).run();
}

class Importer {
  private rv = 0;
  private lease?: string;
  private temporaryLease = false;
  private readonly created: string[] = [];
  private readonly imported: ImportedBlob[] = [];
  private readonly openWriters = new Set<BlobWriter>();
  private readonly createdImages: string[] = [];
  private readonly replacedTargets = new Map<string, ImageRecord>();
  private readonly progress: ImportProgress;

  constructor(
    private readonly client: PurserClient,
    private readonly ns: string,
    private readonly archive: string,
    private readonly plan: ImportPlan,
    private readonly opts: ImportOptions,
  ) {
    this.progress = { bytes: 0, totalBytes: plan.totalBytes, blobs: 0, totalBlobs: plan.blobs.length };
  }

  private saw(rv: number): void {
    if (rv > this.rv) this.rv = rv;
  }

  async run(): Promise<ImportResult> {
    this.lease = this.opts.lease;
    if (!this.lease) {
      const reply = await this.client.leases.create(this.ns, { expiresInMs: leaseExpiryMs });
      this.saw(reply.rv);
      this.lease = reply.result.id;
      this.temporaryLease = true;
    }
    try {
      this.opts.onProgress?.({ ...this.progress });
      await this.ingestAll();
      const images = await this.writeImages();
      await this.dropLease();
      return { images, blobs: this.imported, rv: this.rv, format: this.plan.format, warnings: this.plan.warnings };
    } catch (err) {
      await this.undo();
      throw err;
    }
  }

  /** By depth, each depth's blobs `concurrency` at a time. */
  private async ingestAll(): Promise<void> {
    const byDepth = new Map<number, PlannedBlob[]>();
    for (const b of this.plan.blobs) byDepth.set(b.depth, [...(byDepth.get(b.depth) ?? []), b]);
    const limit = Math.max(1, this.opts.concurrency ?? 4);
    for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
      const queue = [...byDepth.get(depth)!];
      let failure: unknown;
      const worker = async () => {
        while (queue.length > 0 && failure === undefined) {
          const blob = queue.shift()!;
          try {
            await this.ingest(blob);
          } catch (err) {
            failure ??= err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
      if (failure !== undefined) throw failure;
    }
  }

  private advance(bytes: number, blobDone: boolean): void {
    this.progress.bytes += bytes;
    if (blobDone) this.progress.blobs++;
    this.opts.onProgress?.({ ...this.progress });
  }

  /** One blob: put (fits in one message) or a streamed ingest; then its labels. */
  private async ingest(blob: PlannedBlob): Promise<void> {
    const { desc, labels } = blob;
    const ref = `import-${desc.digest}`;
    const deadline = Date.now() + lockWaitMs;
    for (;;) {
      try {
        const created = await this.write(blob, ref);
        this.imported.push({ digest: desc.digest, size: desc.size, created });
        if (created) this.created.push(desc.digest);
        else await this.ensureLabels(desc.digest, labels);
        return;
      } catch (err) {
        // Another import is writing the same blob into this namespace: wait for it.
        if (isPurserError(err, "Unavailable") && /\blocked\b/.test(err.detail) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw err instanceof PurserError ? err.wrap(`failed to ingest ${JSON.stringify(blob.origin)}`) : err;
      }
    }
  }

  /** Returns whether this import created the namespace's record of the blob. */
  private async write(blob: PlannedBlob, ref: string): Promise<boolean> {
    const { desc, labels } = blob;
    const content = this.client.content;
    const maxPayload = this.client.nc.info?.max_payload ?? defaultChunkSize;
    const putLimit = Math.min(defaultChunkSize, maxPayload) - 64 * 1024 - Buffer.byteLength(JSON.stringify(labels));
    if (desc.size <= putLimit) {
      const data = "data" in blob.source ? blob.source.data : await readEntry(this.archive, blob.source.entry, putLimit);
      try {
        const reply = await content.put(this.ns, ref, data, { expected: desc.digest, size: desc.size, labels, lease: this.lease });
        this.saw(reply.rv);
        this.advance(desc.size, true);
        return true;
      } catch (err) {
        if (!isPurserError(err, "AlreadyExists")) throw err;
        this.advance(desc.size, true);
        return false;
      }
    }

    let writer: BlobWriter;
    let acked = 0;
    try {
      writer = await content.openWriter(this.ns, ref, {
        expected: desc.digest,
        size: desc.size,
        lease: this.lease,
        onProgress: (p) => {
          if (p.offset > acked) {
            this.advance(p.offset - acked, false);
            acked = p.offset;
          }
        },
      });
    } catch (err) {
      if (!isPurserError(err, "AlreadyExists")) throw err;
      this.advance(desc.size, true);
      return false;
    }
    this.saw(writer.openedRv);
    this.openWriters.add(writer);
    // A shared blob (already on the host) or a resumed ingest starts above 0.
    if (writer.offset > acked) {
      this.advance(writer.offset - acked, false);
      acked = writer.offset;
    }
    try {
      if (writer.offset < desc.size) {
        if (!("entry" in blob.source)) throw new Error(`internal: large blob ${desc.digest} has no archive entry`);
        const { entry } = blob.source;
        const stream = createReadStream(this.archive, {
          start: entry.offset + writer.offset,
          end: entry.offset + desc.size - 1,
          // Reads the size of the writer's chunks (the content API's default: max_payload less
          // 16 KiB of framing, at most 1 MiB), so each read goes out as one request, uncopied.
          highWaterMark: Math.min(defaultChunkSize, (this.client.nc.info?.max_payload ?? defaultChunkSize) - 16 * 1024),
        });
        for await (const chunk of stream) await writer.write(chunk as Buffer);
      }
      const reply = await writer.commit({ size: desc.size, expected: desc.digest, labels });
      this.saw(reply.rv);
      this.openWriters.delete(writer);
      this.advance(desc.size - acked, true);
      return true;
    } catch (err) {
      if (isPurserError(err, "AlreadyExists")) {
        this.openWriters.delete(writer);
        this.advance(desc.size - acked, true);
        return false;
      }
      throw err;
    }
  }

  /** A blob the namespace already had gets the labels this import would have committed it with. */
  private async ensureLabels(digest: string, labels: Record<string, string>): Promise<void> {
    const keys = Object.keys(labels);
    if (keys.length === 0) return;
    const { result } = await this.client.content.info(this.ns, digest, { minRv: this.rv });
    const missing = keys.filter((k) => result.labels[k] !== labels[k]);
    if (missing.length === 0) return;
    const reply = await this.client.content.update(
      this.ns,
      digest,
      Object.fromEntries(missing.map((k) => [k, labels[k]!])),
      missing.map((k) => `labels.${k}`),
    );
    this.saw(reply.rv);
  }

  /** Each image created, or (name taken) its target replaced, as ctr import does. */
  private async writeImages(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const image of this.plan.images) out.push(await this.writeImage(image));
    return out;
  }

  private async writeImage({ name, target }: PlannedImage): Promise<ImageRecord> {
    const spec = { name, target: toTarget(target) };
    let existing: ImageRecord | undefined;
    try {
      existing = (await this.client.images.get(this.ns, name, { minRv: this.rv })).result;
    } catch (err) {
      if (!isPurserError(err, "NotFound")) throw err;
    }
    if (existing) {
      if (sameTarget(existing.target, spec.target)) return existing;
      const reply = await this.client.images.update(this.ns, spec, ["target"]);
      this.saw(reply.rv);
      this.replacedTargets.set(name, existing);
      return reply.result;
    }
    const reply = await this.client.images.create(this.ns, { ...spec, labels: {} });
    this.saw(reply.rv);
    this.createdImages.push(name);
    return reply.result;
  }

  private async dropLease(): Promise<void> {
    if (!this.temporaryLease || !this.lease) return;
    const reply = await this.client.leases.delete(this.ns, this.lease);
    this.saw(reply.rv);
    this.temporaryLease = false;
  }

  /** Best effort: every step is tried even when one fails. */
  private async undo(): Promise<void> {
    const attempt = async (step: () => Promise<{ rv: number } | void>) => {
      try {
        const r = await step();
        if (r) this.saw(r.rv);
      } catch {
        // the rest of the undo still runs
      }
    };
    for (const name of this.createdImages.reverse()) await attempt(() => this.client.images.delete(this.ns, name));
    for (const [name, old] of this.replacedTargets) await attempt(() => this.client.images.update(this.ns, { name, target: old.target }, ["target"]));
    for (const writer of this.openWriters) await attempt(() => writer.abort());
    for (const digest of this.created.reverse()) await attempt(() => this.client.content.delete(this.ns, digest));
    await attempt(() => this.dropLease());
  }
}

function toTarget(d: Descriptor): { mediaType: string; digest: string; size: number; annotations?: Record<string, string> } {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.annotations ? { annotations: d.annotations } : {}) };
}

function sameTarget(a: ImageRecord["target"], b: ReturnType<typeof toTarget>): boolean {
  const ann = (x?: Record<string, string>) => JSON.stringify(Object.entries(x ?? {}).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0)));
  return a.mediaType === b.mediaType && a.digest === b.digest && a.size === b.size && ann(a.annotations) === ann(b.annotations);
}

/**
 * The step where an import hands an image to the unpacker: the server's
 * `images.unpack` command (layers applied into snapshots, the snapshot gc
 * label set on the config), built separately. Until the client API has it,
 * this answers NotImplemented and the CLI reports the image as not unpacked.
 */
export async function unpackImportedImage(client: PurserClient, namespace: string, name: string, snapshotter: string): Promise<{ rv: number }> {
  const images = client.images as unknown as {
    unpack?: (namespace: string, name: string, opts: { snapshotter?: string }) => Promise<{ rv: number }>;
  };
  if (typeof images.unpack !== "function") throw notImplemented("unpacking images is not available in this build");
  return images.unpack(namespace, name, { snapshotter });
}
