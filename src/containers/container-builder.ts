import type { CommandRunner } from "../commands/command-runner.js";
import { createContainer } from "../commands/container-handlers.js";
import { optionalBoolean, optionalString, stringList, stringMap, nestedMap, type Payload } from "../commands/payload.js";
import type { BlobStore } from "../content/blob-store.js";
import { namespaceBlobSource } from "../content/namespace-blob-source.js";
import { inject, injectable } from "../di.js";
import { containerLabels, containerSpec } from "../domain/container-spec.js";
import { EndpointKind, EndpointScope, type Endpoint, type RequestContext } from "../endpoints/endpoint.js";
import { failedPrecondition, invalidArgument, notFound } from "../errors/errdefs.js";
import type { ContainerRecord } from "../events/container-events.js";
import { goJson } from "../oci/descriptor.js";
import { imageConfig } from "../oci/image-walk.js";
import { MediaType } from "../oci/media-types.js";
import { defaultPlatforms, onlyStrict, parse as parsePlatform } from "../oci/platforms.js";
import { getImage } from "../projections/images.js";
import type { ProjectionRuntime } from "../projections/runtime.js";
import { defaultRuntime, defaultSnapshotter, runcDefaultOptions, runtimeSpecTypeUrl } from "../protocol/defaults.js";
import { readRootFile } from "../snapshots/root-files.js";
import type { SnapshotService } from "../snapshots/snapshot-service.js";
import type { EventStore } from "../events/event-store.js";
import { Tokens } from "../tokens.js";
import { quote } from "../validation/identifiers.js";


/** `/etc/passwd` and `/etc/group` larger than this are not a container's (the largest distributions' are a few KiB). */
const maxAccountFileBytes = 1024 * 1024;

/**
 * Containers made from an image on the server (`purser.v1.<ns>.containers.
 * create-from-image`), so that every client gets the record `ctr containers
 * create IMAGE ID` makes: the spec built from the image config (read from
 * the content store) and the user's groups from the container's snapshot
 * (src/domain/container-spec.ts), the image config's and the image's labels
 * and the stop signal, runc's options type. The record is then created by
 * the ordinary `containers.create` command, so it is one `ContainerCreated`
 * event with every rule and text of containerd's store.
 *
 * Payload: {id, image, runtime?: {name, options?}, labels?, snapshotter?,
 * snapshotKey?, args?, env?, cwd?, tty?, readOnly?, allowNewPrivileges?,
 * annotations?, platform?} (docs/protocol.md).
 */
@injectable()
export class ContainerBuilder {
  constructor(
    @inject(Tokens.CommandRunner) private readonly runner: CommandRunner,
    @inject(Tokens.ProjectionRuntime) private readonly runtime: ProjectionRuntime,
    @inject(Tokens.EventStore) private readonly store: EventStore,
    @inject(Tokens.BlobStore) private readonly blobs: BlobStore,
    @inject(Tokens.SnapshotService) private readonly snapshots: SnapshotService,
  ) {}

  endpoints(): Endpoint[] {
    return [{ resource: "containers", verb: "create-from-image", scope: EndpointScope.Namespace, kind: EndpointKind.Command, run: (ctx, p) => this.create(ctx, p) }];
  }

  async create(ctx: RequestContext, p: Payload): Promise<{ rv: number; result: ContainerRecord }> {
    const ns = ctx.namespace;
    const id = optionalString(p, "id") ?? "";
    const name = optionalString(p, "image") ?? "";
    const runtime = nestedMap(p, "runtime");
    const runtimeName = optionalString(runtime, "runtime.name") || defaultRuntime;
    const runtimeOptions = runtime["runtime.options"];
    const snapshotKey = optionalString(p, "snapshotKey") ?? "";
    const snapshotter = optionalString(p, "snapshotter") || (snapshotKey !== "" ? defaultSnapshotter : "");
    const platform = optionalString(p, "platform");
    const request = {
      args: stringList(p, "args"),
      env: stringList(p, "env"),
      cwd: optionalString(p, "cwd") ?? "",
      tty: optionalBoolean(p, "tty") ?? false,
      readOnly: optionalBoolean(p, "readOnly") ?? false,
      allowNewPrivileges: optionalBoolean(p, "allowNewPrivileges") ?? false,
      annotations: stringMap(p, "annotations"),
    };
    const given = stringMap(p, "labels");
    const matcher = platform ? onlyStrict(parsePlatform(platform)) : defaultPlatforms();
    if (name === "") throw invalidArgument("image ref must be provided");

    // The caller may have created the image (and the snapshot) a moment ago.
    await this.runtime.waitFor(ns, await this.store.lastSequence(ns));
    const image = getImage(this.runtime.views, ns, name);
    if (!image) throw notFound(`image ${quote(name)}`);
    const { desc, config } = await imageConfig(namespaceBlobSource(() => this.runtime.views, ns, this.blobs), image.target, matcher);
    // containerd's WithImageConfigArgs reads only these two kinds.
    if (desc.mediaType !== MediaType.OciConfig && desc.mediaType !== MediaType.DockerConfig) throw failedPrecondition(`unknown image config media type ${desc.mediaType}`);
    const runConfig = config.config ?? {};
    const accounts = snapshotKey !== "" ? await this.accountFiles(ns, snapshotKey, snapshotter) : {};

    const spec = containerSpec({ namespace: ns, id, config: runConfig, ...request, ...accounts });
    const payload: Payload = {
      id,
      image: image.name,
      labels: containerLabels(runConfig, image.labels, given),
      runtime: {
        name: runtimeName,
        options: runtimeOptions ?? (runtimeName === defaultRuntime ? runcDefaultOptions() : undefined),
      },
      spec: { type_url: runtimeSpecTypeUrl, value: new TextEncoder().encode(goJson(spec)) },
      snapshotter,
      snapshotKey,
    };
    return this.runner.run(createContainer, ns, payload, ctx.meta);
  }

  /**
   * `/etc/passwd` and `/etc/group` of the container's root file system, read
   * where its bind mount points (containerd mounts the snapshot read-only and
   * reads them there: `WithAdditionalGIDs`).
   */
  private async accountFiles(ns: string, key: string, snapshotter: string): Promise<{ passwd?: string; group?: string }> {
    const mounts = await this.snapshots.mounts(ns, key, { snapshotter });
    const root = mounts.length === 1 && mounts[0]!.type === "bind" ? mounts[0]!.source : undefined;
    if (!root) return {};
    return {
      passwd: await readRootFile(root, "/etc/passwd", maxAccountFileBytes),
      group: await readRootFile(root, "/etc/group", maxAccountFileBytes),
    };
  }
}
