/**
 * The media types containerd 1.6 knows (`images/mediatypes.go`) and its
 * classification helpers (`IsManifestType`, `IsIndexType`, `IsLayerType`,
 * `IsKnownConfig`), which decide how an image's content graph is walked.
 */
export const MediaType = {
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerLayerForeign: "application/vnd.docker.image.rootfs.foreign.diff.tar",
  DockerLayerForeignGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  DockerLayerZstd: "application/vnd.docker.image.rootfs.diff.tar.zstd",
  ContainerdCheckpoint: "application/vnd.containerd.container.criu.checkpoint.criu.tar",
  ContainerdCheckpointConfig: "application/vnd.containerd.container.checkpoint.config.v1+proto",
} as const;

/** Docker layer types may carry `+suffix` parameters (encryption): containerd compares what precedes them. */
function base(mediaType: string): string {
  const plus = mediaType.indexOf("+");
  return plus < 0 ? mediaType : mediaType.slice(0, plus);
}

export function isManifestType(mediaType: string): boolean {
  return mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest;
}

export function isIndexType(mediaType: string): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

export function isLayerType(mediaType: string): boolean {
  if (mediaType.startsWith("application/vnd.oci.image.layer.")) return true;
  switch (base(mediaType)) {
    case MediaType.DockerLayer:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerLayerForeign:
    case MediaType.DockerLayerForeignGzip:
    case MediaType.DockerLayerZstd:
      return true;
    default:
      return false;
  }
}

export function isConfigType(mediaType: string): boolean {
  switch (mediaType) {
    case MediaType.DockerConfig:
    case MediaType.OciConfig:
    case MediaType.ContainerdCheckpoint:
    case MediaType.ContainerdCheckpointConfig:
      return true;
    default:
      return false;
  }
}

/** Manifests and indexes: the blobs an image walk reads (everything else is a leaf). */
export function hasChildren(mediaType: string): boolean {
  return isManifestType(mediaType) || isIndexType(mediaType);
}
