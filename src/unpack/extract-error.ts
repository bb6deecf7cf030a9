import { diskFullError } from "../errors/disk-space.js";
import { failedPrecondition, invalidArgument, unknownError, type PurserError } from "../errors/errdefs.js";
import { quote } from "../validation/identifiers.js";
import { DiffIdMismatchError } from "./apply-layer.js";

/** A failure while applying a layer: the class tells whose fault it is (the host's disk, or a malformed layer). */
export function extractError(err: unknown, diffId: string): PurserError {
  const context = `failed to extract layer ${diffId}`;
  if (err instanceof DiffIdMismatchError) return failedPrecondition(`wrong diff id calculated on extraction ${quote(err.actual)}`).wrap(context);
  const e = err as Error & { code?: string };
  const full = diskFullError(err, context);
  if (full) return full;
  // File-system trouble (I/O) is the host's; anything else is a malformed layer.
  if (typeof e.code === "string" && e.code.startsWith("E")) return unknownError(`${context}: ${e.message}`);
  return invalidArgument(`${context}: ${e.message ?? String(err)}`);
}
