import { ClosedConnectionError, NoRespondersError, PermissionViolationError, RequestError, TimeoutError } from "@nats-io/nats-core";

/**
 * NATS conditions that mean "the service or the log is not reachable right
 * now": passing, so they become Unavailable, never Unknown. Classified by
 * nats-core's own error classes (a request error carries the real one as its
 * `cause`), not by class names or texts.
 */
export function isNoResponders(err: unknown): boolean {
  if (err instanceof NoRespondersError) return true;
  if (err instanceof RequestError && err.isNoResponders()) return true;
  return err instanceof Error && err.cause instanceof NoRespondersError;
}

export function isTimeout(err: unknown): boolean {
  return err instanceof TimeoutError || (err instanceof Error && err.cause instanceof TimeoutError);
}

export function isClosedConnection(err: unknown): boolean {
  return err instanceof ClosedConnectionError || (err instanceof Error && err.cause instanceof ClosedConnectionError);
}

/** NATS refused this identity a publish or a subscription (its permissions, docs/security.md). */
export function isPermissionViolation(err: unknown): err is Error {
  return err instanceof PermissionViolationError || (err instanceof Error && err.cause instanceof PermissionViolationError);
}
