import type { CommandDefinition, QueryDefinition } from "../commands/command.js";
import {
  createContainer,
  deleteContainer,
  getContainerQuery,
  listContainersQuery,
  updateContainer,
} from "../commands/container-handlers.js";
import { deleteContent, getContentQuery, listContentQuery, updateContent } from "../commands/content-handlers.js";
import { createImage, deleteImage, getImageQuery, listImagesQuery, updateImage } from "../commands/image-handlers.js";
import { leaseCommands, leaseQueries } from "../commands/lease-handlers.js";
import {
  createNamespace,
  deleteNamespace,
  getNamespaceQuery,
  listNamespacesQuery,
  updateNamespace,
} from "../commands/namespace-handlers.js";
import { containersProjection } from "../projections/containers.js";
import { contentProjection } from "../projections/content.js";
import { blobPathIn, blobsRootOf } from "../content/blob-store.js";
import { gcReferencesProjection } from "../projections/gc-references.js";
import { imageUsageProjection } from "../projections/image-usage.js";
import { imagesProjection } from "../projections/images.js";
import { leasesProjection } from "../projections/leases.js";
import type { Projection } from "../projections/projection.js";
import { namespacesProjection } from "../projections/namespaces.js";
import { snapshotsProjection } from "../projections/snapshots.js";

/**
 * The resources' command and query definitions and the projections (the composition root
 * turns definitions into endpoints; other services expose endpoints of their own).
 */
export const commands: readonly CommandDefinition<any, any>[] = [
  createNamespace,
  updateNamespace,
  deleteNamespace,
  createImage,
  updateImage,
  deleteImage,
  createContainer,
  updateContainer,
  deleteContainer,
  ...leaseCommands,
  updateContent,
  deleteContent,
];

export const queries: readonly QueryDefinition<any, any>[] = [
  getNamespaceQuery,
  listNamespacesQuery,
  getImageQuery,
  listImagesQuery,
  getContainerQuery,
  listContainersQuery,
  ...leaseQueries,
  getContentQuery,
  listContentQuery,
];

/**
 * The projections, in the order each event visits them: image-usage reads
 * the images and content rows the same event has just written, and
 * gc-references every row the event has just written.
 */
export function resourceProjections(dataDir: string): readonly Projection[] {
  const blobsRoot = blobsRootOf(dataDir);
  return [
    namespacesProjection,
    imagesProjection,
    containersProjection,
    contentProjection,
    leasesProjection,
    snapshotsProjection,
    imageUsageProjection((digest) => blobPathIn(blobsRoot, digest)),
    gcReferencesProjection,
  ];
}
