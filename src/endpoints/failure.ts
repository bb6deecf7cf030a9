import { ErrorKind, PurserError } from "../errors/errdefs.js";
import { diskFullError } from "../errors/disk-space.js";
import { isJetStreamNotEnabled, isJetStreamPassing } from "../events/jetstream-errors.js";
import { isClosedConnection, isNoResponders, isTimeout } from "../protocol/transport-errors.js";

/**
 * What an endpoint's failure is, in containerd's classes: a PurserError as
 * it is; a full disk, NATS or JetStream not answering as what they are; any
 * other error is a bug (Unknown). Both fronts answer with it: NATS
 * (server/command-service.ts) and containerd's API (containerd-api/).
 */
export function toPurserError(err: unknown): PurserError {
  if (err instanceof PurserError) return err;
  const full = diskFullError(err);
  if (full) return full;
  const text = err instanceof Error ? err.message : String(err);
  // NATS or JetStream not answering in time is a passing condition, not a bug.
  if (isJetStreamNotEnabled(err)) {
    // nats-server 2.9 says "not enabled" when no stream leader answered a publish (STACK-NOTES).
    return new PurserError(ErrorKind.Unavailable, "log unavailable: no JetStream stream leader answered (one is being elected, or JetStream is down)", { cause: err });
  }
  if (isTimeout(err) || isNoResponders(err) || isClosedConnection(err) || isJetStreamPassing(err)) {
    return new PurserError(ErrorKind.Unavailable, `log unavailable: ${text}`, { cause: err });
  }
  return new PurserError(ErrorKind.Unknown, `internal error: ${text}`, { cause: err });
}
