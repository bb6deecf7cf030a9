import { randomBytes } from "node:crypto";

/**
 * containerd `leases.WithRandomID`: the nanosecond of the current second and
 * three random bytes in URL-safe base64, e.g. `417843155-dQGg`. An id names a
 * lease; it decides nothing, so it may come from the wall clock. Clients call
 * it too, so a retried create (same command id) names the same lease.
 */
export function randomLeaseId(): string {
  const nanos = (Date.now() % 1000) * 1_000_000 + Number(process.hrtime.bigint() % 1_000_000n);
  return `${nanos}-${randomBytes(3).toString("base64url")}`;
}
