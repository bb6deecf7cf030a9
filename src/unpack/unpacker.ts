import { randomBytes, randomUUID } from "node:crypto";
import type { CommandMeta, CommandRunner } from "../commands/command-runner.js";
import type { CommandDefinition } from "../commands/command.js";
import { updateContent } from "../commands/content-handlers.js";
import { addLeaseResource, createLease, deleteLease } from "../commands/lease-handlers.js";
import { randomLeaseId } from "../protocol/lease-id.js";
import { snapshotResource } from "../domain/lease-recording.js";
import { optionalString, type Payload } from "../commands/payload.js";
import type { BlobStore } from "../content/blob-store.js";
import { namespaceBlobSource } from "../content/namespace-blob-source.js";
import { diskFullError } from "../errors/disk-space.js";
import { failedPrecondition, invalidArgument, isPurserError, notFound, notImplemented, PurserError, unknownError } from "../errors/errdefs.js";
import type { EventStore } from "../events/event-store.js";
import { parseConfig, type Descriptor } from "../oci/descriptor.js";
import { LabelUncompressed } from "../oci/gc-labels.js";
import { chainId, resolveManifest, type BlobSource } from "../oci/image-walk.js";
import { MediaType } from "../oci/media-types.js";
import { defaultPlatforms, onlyStrict, parse as parsePlatform } from "../oci/platforms.js";
import type { Logger } from "../observability/logger.js";
import { getContent } from "../projections/content.js";
import { getImage } from "../projections/images.js";
import type { ProjectionRuntime } from "../projections/runtime.js";
import { getSnapshot } from "../projections/snapshots.js";
import { EndpointKind, EndpointScope, type Endpoint, type RequestContext } from "../endpoints/endpoint.js";
import { requireNamespace } from "../validation/namespace.js";
import type { SnapshotCallOptions, SnapshotService } from "../snapshots/snapshot-service.js";
import { defaultSnapshotter } from "../protocol/defaults.js";
import { digestError } from "../validation/digest.js";
import { quote } from "../validation/identifiers.js";
import { DiffIdMismatchError, type LayerResult } from "./apply-layer.js";
import { LayerApplier } from "./layer-applier.js";
import { applyDiffToMounts, type AppliedDiff } from "./diff-apply.js";
import { extractError } from "./extract-error.js";
import type { Mount, UnpackResult } from "../protocol/results.js";
import { inject, injectable } from "../di.js";
import { Tokens } from "../tokens.js";

/** containerd's label on an image config naming the top snapshot of its unpacked layers, per snapshotter. */
export function snapshotGcLabel(snapshotter: string): string {
  return `containerd.io/gc.ref.snapshot.${snapshotter}`;
}

/** How long the temporary lease of an unpack lives if the process dies before deleting it (containerd's `WithLease` default). */
const leaseExpiryMs = 24 * 60 * 60 * 1000;

export interface UnpackOptions {
  snapshotter?: string;
  /** Platform specifier of the manifest to unpack from an index (default: this host's, as containerd). */
  platform?: string;
  /** Run under this lease (kept); by default a temporary lease is taken and deleted at the end. */
  lease?: string;
  /** Who asks (the events' causation/correlation/actor). */
  meta?: Partial<CommandMeta>;
}

/**
 * Unpacks images into snapshot chains on this host (containerd 1.6's
 * `image.Unpack` with `rootfs.ApplyLayerWithOpts`, run by the server because
 * the blobs and the snapshot trees are both on its disk): resolve the
 * platform's manifest and config from the content store, and for each layer
 * whose chain id the namespace does not hold yet, prepare an active snapshot
 * `extract-<unique> <chainId>` on the previous chain id, apply the layer
 * into its tree (diff id verified while streaming), and commit it as the
 * chain id. Then label the config `containerd.io/gc.ref.snapshot.<sn>=<top>`
 * so the image holds the chain.
 *
 * Everything runs under a lease (the caller's, or a temporary one that
 * expires in 24 h and is deleted at the end, failure or not), so a crash
 * half-way leaves nothing the collector would keep for ever. A failed layer's
 * active snapshot is removed at once.
 *
 * Served on `purser.v1.<ns>.images.unpack` `{name, snapshotter?, platform?}`
 * → `{rv, result: UnpackResult}` (docs/unpack.md).
 */
/** Bounds on what one layer may expand to (docs/unpack.md): `serve --unpack-max-layer-bytes|entries`. */
export interface UnpackLimits {
  maxLayerBytes: number;
  maxLayerEntries: number;
}

/** Far above any real layer (the largest public ones are a few GiB and a few hundred thousand files). */
export const defaultUnpackLimits: UnpackLimits = { maxLayerBytes: 64 * 1024 ** 3, maxLayerEntries: 4_000_000 };

@injectable()
export class ImageUnpacker {
  private readonly applier = new LayerApplier();
  /** Chains being built in this process, so two unpacks of one image apply each layer once. */
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    @inject(Tokens.CommandRunner) private readonly runner: CommandRunner,
    @inject(Tokens.ProjectionRuntime) private readonly runtime: ProjectionRuntime,
    @inject(Tokens.EventStore) private readonly store: EventStore,
    @inject(Tokens.BlobStore) private readonly blobs: BlobStore,
    @inject(Tokens.SnapshotService) private readonly snapshots: SnapshotService,
    @inject(Tokens.Logger) private readonly log: Logger,
    @inject(Tokens.UnpackLimits) private readonly limits: UnpackLimits,
  ) {}

  /** `purser.v1.<ns>.images.unpack` (docs/protocol.md). */
  endpoints(): Endpoint[] {
    return [{ resource: "images", verb: "unpack", scope: EndpointScope.Namespace, kind: EndpointKind.Command, run: (ctx, p) => this.serve(ctx, p) }];
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
    await this.applier.close();
  }

  private serve(ctx: RequestContext, p: Payload): Promise<{ rv: number; result: UnpackResult }> {
    const { lease, ...meta } = ctx.meta;
    return this.unpack(ctx.namespace, optionalString(p, "name") ?? "", {
      snapshotter: optionalString(p, "snapshotter") ?? defaultSnapshotter,
      platform: optionalString(p, "platform") || undefined,
      lease,
      meta,
    });
  }

  /** Unpacks the image `name` of `namespace`; see the class comment. */
  async unpack(namespace: string, name: string, opts: UnpackOptions = {}): Promise<{ rv: number; result: UnpackResult }> {
    requireNamespace(namespace);
    if (name === "") throw invalidArgument("Image.Name required");
    const sn = opts.snapshotter ?? defaultSnapshotter;
    this.snapshots.snapshotters.get(sn); // `snapshotter not loaded: x: invalid argument`
    const platform = opts.platform ? onlyStrict(parsePlatform(opts.platform)) : defaultPlatforms();
    const run = new UnpackRun(this, namespace, sn, opts);
    // Read what the log holds now: the caller may have created the image a moment ago.
    await this.runtime.waitFor(namespace, await this.store.lastSequence(namespace));
    return run.execute(name, platform);
  }

  /**
   * containerd's `Diff.Apply`: one layer blob of the namespace applied into
   * an active snapshot's tree, named by the mounts `Prepare` gave (see
   * diff-apply.ts); the digest and size of its uncompressed stream returned.
   */
  async applyDiff(namespace: string, layer: { digest: string; size: number; mediaType?: string }, mounts: readonly Mount[], minRv = 0): Promise<AppliedDiff> {
    requireNamespace(namespace);
    await this.runtime.reachMinRv(namespace, minRv);
    return applyDiffToMounts(this.deps, namespace, layer, mounts);
  }

  /** @internal (UnpackRun) */
  get deps() {
    return { runner: this.runner, runtime: this.runtime, blobs: this.blobs, snapshots: this.snapshots, applier: this.applier, log: this.log, limits: this.limits };
  }

  /** @internal Runs `work` once per key at a time in this process. */
  async exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    for (;;) {
      const running = this.inflight.get(key);
      if (!running) break;
      await running.catch(() => {});
    }
    const p = work();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    }
  }
}

/** One unpack: its lease, the rv it reached, what it did. */
class UnpackRun {
  private rv = 0;
  private lease?: string;
  private temporaryLease = false;
  private readonly d: ImageUnpacker["deps"];
  private readonly meta: CommandMeta;

  constructor(
    private readonly owner: ImageUnpacker,
    private readonly ns: string,
    private readonly sn: string,
    private readonly opts: UnpackOptions,
  ) {
    this.d = owner.deps;
    const commandId = opts.meta?.commandId ?? randomUUID();
    this.meta = { commandId, correlationId: opts.meta?.correlationId ?? commandId, actor: opts.meta?.actor ?? "purser" };
    this.lease = opts.lease;
  }

  async execute(name: string, platform: ReturnType<typeof defaultPlatforms>): Promise<{ rv: number; result: UnpackResult }> {
    const views = () => this.d.runtime.views;
    const image = getImage(views(), this.ns, name);
    if (!image) throw notFound(`image ${quote(name)}`);
    const target: Descriptor = { mediaType: image.target.mediaType, digest: image.target.digest, size: image.target.size };
    const source = this.blobSource();
    // containerd `images.Manifest` then `Config` and `RootFS`.
    const { desc: manifestDesc, manifest } = await resolveManifest(source, target, platform);
    const configDesc = manifest.config;
    const config = parseConfig(await source.read(configDesc), `config ${configDesc.digest}`);
    const diffIds = config.rootfs?.diff_ids ?? [];
    // containerd `image.getLayers`.
    if (diffIds.length !== manifest.layers.length) throw invalidArgument("mismatched image rootfs and manifest layers");
    // Diff ids name snapshots (chain ids): a config must not smuggle anything else in.
    for (const d of diffIds) {
      const bad = digestError(d);
      if (bad) throw invalidArgument(`config ${configDesc.digest}: diff id ${JSON.stringify(d)}: ${bad}`);
    }
    const chains = diffIds.map((_, i) => chainId(diffIds.slice(0, i + 1)));
    const top = chains[chains.length - 1] ?? "";
    const label = snapshotGcLabel(this.sn);
    const result: UnpackResult = {
      image: name,
      snapshotter: this.sn,
      manifest: manifestDesc.digest,
      config: configDesc.digest,
      chainId: top,
      layers: manifest.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, diffId: diffIds[i]!, chainId: chains[i]!, applied: false })),
      changed: false,
      rejected: [],
      skipped: [],
      ignoredXattrs: 0,
    };
    for (const l of manifest.layers) checkLayerType(l.mediaType);

    // Already unpacked (every chain committed, the config labelled): nothing to do, nothing appended.
    const committed = (key: string) => getSnapshot(views(), this.ns, this.sn, key)?.kind === "committed";
    if (top === "" || (chains.every(committed) && getContent(views(), this.ns, configDesc.digest)?.labels[label] === top)) {
      return { rv: this.d.runtime.applied(this.ns), result };
    }

    if (!this.lease) {
      const reply = await this.command(createLease, {
        id: randomLeaseId(),
        labels: { "purser.io/unpack": name.slice(0, 4000) },
        expiresInMs: leaseExpiryMs,
      });
      this.lease = (reply.result as { id: string }).id;
      this.temporaryLease = true;
    }
    try {
      for (let i = 0; i < manifest.layers.length; i++) {
        const layer = manifest.layers[i]!;
        const chain = chains[i]!;
        const parent = i > 0 ? chains[i - 1]! : "";
        const applied = await this.owner.exclusive(`${this.ns}\u0000${this.sn}\u0000${chain}`, () => this.layer(layer, diffIds[i]!, chain, parent));
        if (!applied) continue;
        const entry = result.layers[i]!;
        entry.applied = true;
        entry.size = applied.size;
        entry.entries = applied.entries;
        result.changed = true;
        for (const r of applied.rejected) result.rejected.push({ layer: diffIds[i]!, ...r });
        for (const r of applied.skipped) result.skipped.push({ layer: diffIds[i]!, ...r });
        result.ignoredXattrs += applied.ignoredXattrs;
        // containerd sets the uncompressed label once apply has verified the diff id.
        if (getContent(views(), this.ns, layer.digest)?.labels[LabelUncompressed] !== diffIds[i]) {
          await this.command(updateContent, { digest: layer.digest, labels: { [LabelUncompressed]: diffIds[i]! }, fieldPaths: [`labels.${LabelUncompressed}`] });
        }
      }
      if (getContent(views(), this.ns, configDesc.digest)?.labels[label] !== top) {
        await this.command(updateContent, { digest: configDesc.digest, labels: { [label]: top }, fieldPaths: [`labels.${label}`] });
        result.changed = true;
      }
      if (result.rejected.length > 0) {
        this.d.log.warn("unpack refused layer entries that reach outside the snapshot", { namespace: this.ns, image: name, rejected: result.rejected.slice(0, 20) });
      }
    } finally {
      await this.dropLease();
    }
    return { rv: this.rv, result };
  }

  /**
   * One layer (`rootfs.applyLayers`): undefined when its chain id is
   * committed already (then the lease holds it until the config's label
   * does), else what applying it wrote.
   */
  private async layer(layer: Descriptor, diffId: string, chain: string, parent: string): Promise<LayerResult | undefined> {
    const existing = getSnapshot(this.d.runtime.views, this.ns, this.sn, chain);
    if (existing) {
      await this.command(addLeaseResource, { id: this.lease!, resource: snapshotResource(this.sn, chain) });
      return undefined;
    }
    if (!getContent(this.d.runtime.views, this.ns, layer.digest)) throw notFound(`content digest ${layer.digest}`).wrap(`failed to extract layer ${diffId}`);
    let key = "";
    let dir = "";
    for (let attempt = 0; ; attempt++) {
      key = `extract-${uniquePart()} ${chain}`;
      try {
        // The parent's files are hard-linked, not copied: the applier never writes into an existing file (docs/unpack.md).
        const prepared = await this.d.snapshots.prepare(this.ns, key, { ...this.snapshotCall(), parent, linkParentFiles: true });
        this.saw(prepared.rv);
        dir = prepared.dir;
        break;
      } catch (err) {
        // A key taken: try another (containerd's loop).
        if (isPurserError(err, "AlreadyExists") && attempt < 3) continue;
        throw err instanceof PurserError ? err.wrap(`failed to prepare extraction snapshot ${quote(key)}`) : err;
      }
    }
    let applied: LayerResult;
    try {
      // At least the compressed size will land in the tree: refuse before the log's reserve is touched.
      this.d.blobs.ensureRoom(layer.size, dir);
      this.d.blobs.pin(layer.digest);
      try {
        applied = await this.d.applier.apply({
          blobPath: this.d.blobs.blobPath(layer.digest),
          dir,
          diffId,
          options: { maxBytes: this.d.limits.maxLayerBytes, maxEntries: this.d.limits.maxLayerEntries },
        });
      } finally {
        this.d.blobs.unpin(layer.digest);
      }
    } catch (err) {
      await this.removeQuietly(key);
      throw extractError(err, diffId);
    }
    try {
      const { rv } = await this.d.snapshots.commit(this.ns, chain, key, this.snapshotCall());
      this.saw(rv);
      // Another unpack of the same chain waits for this one (ImageUnpacker.exclusive), then reads the views: let them show the commit.
      await this.d.runtime.waitFor(this.ns, rv);
    } catch (err) {
      await this.removeQuietly(key);
      // Another unpacker committed the same chain first: the layer is there, which is all we wanted.
      if (isPurserError(err, "AlreadyExists")) {
        await this.command(addLeaseResource, { id: this.lease!, resource: snapshotResource(this.sn, chain) });
        return undefined;
      }
      throw err instanceof PurserError ? err.wrap(`failed to commit snapshot ${key}`) : err;
    }
    return applied;
  }

  /** Reads the image's JSON blobs from this host's store, as the namespace may. */
  private blobSource(): BlobSource {
    return namespaceBlobSource(() => this.d.runtime.views, this.ns, this.d.blobs);
  }

  private snapshotCall(): SnapshotCallOptions {
    return { snapshotter: this.sn, lease: this.lease, correlationId: this.meta.correlationId, actor: this.meta.actor };
  }

  private async command(def: CommandDefinition<any, any>, payload: Payload) {
    const reply = await this.d.runner.run(def, this.ns, payload, { commandId: randomUUID(), correlationId: this.meta.correlationId, actor: this.meta.actor });
    this.saw(reply.rv);
    return reply;
  }

  private async removeQuietly(key: string): Promise<void> {
    try {
      this.saw((await this.d.snapshots.remove(this.ns, key, this.snapshotCall())).rv);
    } catch (err) {
      this.d.log.warn("extraction snapshot removal failed", { namespace: this.ns, key, err });
    }
  }

  private async dropLease(): Promise<void> {
    if (!this.temporaryLease || !this.lease) return;
    try {
      await this.command(deleteLease, { id: this.lease });
    } catch (err) {
      // It expires by itself; the collector then frees what it held.
      this.d.log.warn("cannot delete the unpack lease", { namespace: this.ns, lease: this.lease, err });
    }
    this.temporaryLease = false;
  }

  private saw(rv: number): void {
    if (rv > this.rv) this.rv = rv;
  }
}

/** `<nanoseconds of the second>-<3 random bytes, base64url>`: containerd's `uniquePart` of an extraction key. */
function uniquePart(): string {
  const nanos = (Date.now() % 1000) * 1_000_000 + Number(process.hrtime.bigint() % 1_000_000n);
  return `${nanos}-${randomBytes(3).toString("base64url")}`;
}

/** The layer media types the applier takes (containerd's diff applier: plain, gzip and zstd tars, OCI and Docker). */
const layerTypes = new Set<string>([
  MediaType.OciLayer,
  MediaType.OciLayerGzip,
  MediaType.OciLayerZstd,
  MediaType.DockerLayer,
  MediaType.DockerLayerGzip,
  MediaType.DockerLayerForeign,
  MediaType.DockerLayerForeignGzip,
  MediaType.DockerLayerZstd,
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
]);

export function checkLayerType(mediaType: string): void {
  // containerd `images.DiffCompression`: anything else (encrypted layers among them) is not unpackable here.
  if (!layerTypes.has(mediaType)) throw notImplemented(`unsupported diff media type: ${mediaType}`);
}

