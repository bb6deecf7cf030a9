import { invalidArgument } from "../errors/errdefs.js";

/**
 * containerd's `content_sharing_policy` (bolt metadata plugin): with `shared`
 * (the default) an ingest whose expected digest is already on the host — from
 * any namespace — is satisfied without its bytes; with `isolated` every
 * namespace uploads the whole blob (the host still stores it once).
 */
export const SharingPolicy = { Shared: "shared", Isolated: "isolated" } as const;
export type SharingPolicy = (typeof SharingPolicy)[keyof typeof SharingPolicy];

/** containerd: `unknown policy: %s: invalid argument`. */
export function parseSharingPolicy(value: string): SharingPolicy {
  if (value === SharingPolicy.Shared || value === SharingPolicy.Isolated) return value;
  throw invalidArgument(`unknown policy: ${value}`);
}
