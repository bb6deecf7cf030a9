import type { CommandDefinition, QueryDefinition } from "../commands/command.js";
import {
  createNamespace,
  deleteNamespace,
  getNamespaceQuery,
  listNamespacesQuery,
  updateNamespace,
} from "../commands/namespace-handlers.js";
import type { Projection } from "../projections/projection.js";
import { namespacesProjection } from "../projections/namespaces.js";

/**
 * Every resource purser serves: its commands, queries and projections. Adding a
 * resource means adding its lines here and nowhere else in the server.
 */
export const commands: readonly CommandDefinition<any, any>[] = [createNamespace, updateNamespace, deleteNamespace];

export const queries: readonly QueryDefinition<any, any>[] = [getNamespaceQuery, listNamespacesQuery];

export const projections: readonly Projection[] = [namespacesProjection];
