import { ErrorKind, PurserError } from "../errors/errdefs.js";
import { identifierError } from "./identifiers.js";

/** containerd `namespaces.NamespaceRequired`: every operation but the namespaces service's needs a valid one. */
export function requireNamespace(namespace: string): void {
  if (namespace === "") throw new PurserError(ErrorKind.FailedPrecondition, "namespace is required");
  const err = identifierError(namespace);
  if (err) throw err.wrap("namespace validation");
}
