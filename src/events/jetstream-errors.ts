import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { jserrors } from "@nats-io/jetstream/internal";

/**
 * JetStream API error codes purser acts on: the client package's
 * `JetStreamApiCodes`, plus the two it does not name (nats-server's
 * `JSStreamNameExistErr` and `JSStreamWrongLastMsgIDErr`).
 */
export const JetStreamApiCode = {
  ...JetStreamApiCodes,
  /** A stream of that name exists with another configuration. */
  StreamNameExists: 10058,
  /** `Nats-Expected-Last-Msg-Id` did not match: the actual sequence is not reported. */
  StreamWrongLastMsgId: 10070,
  /** nats-server `JSClusterNotAvailErr`, "JetStream system temporarily unavailable": a leader is being elected. */
  ClusterNotAvailable: 10008,
  /** nats-server `JSClusterNotLeaderErr`, "JetStream cluster can not handle request": the same, seen from a follower. */
  ClusterNotLeader: 10009,
  /** nats-server `JSInsufficientResourcesErr`: the server's JetStream limits are reached. */
  InsufficientResources: 10023,
  /** nats-server `JSStorageResourcesExceededErr`: the store's budget (`max_file_store`) is used up. */
  StorageResourcesExceeded: 10047,
  /** nats-server `JSStreamStoreFailedF`: the store's own write failed (a full disk). */
  StreamStoreFailed: 10077,
} as const;

/** A JetStream API refusal that passes on its own (leaders being elected on a cluster that lost a node). */
export function isJetStreamPassing(err: unknown): boolean {
  return isJetStreamApiError(err, JetStreamApiCode.ClusterNotAvailable) || isJetStreamApiError(err, JetStreamApiCode.ClusterNotLeader);
}

/** JetStream refused an append for want of room: its limits, its budget, or the disk under it. */
export function isJetStreamOutOfSpace(err: unknown): err is JetStreamApiError {
  return (
    isJetStreamApiError(err, JetStreamApiCode.InsufficientResources) ||
    isJetStreamApiError(err, JetStreamApiCode.StorageResourcesExceeded) ||
    (isJetStreamApiError(err, JetStreamApiCode.StreamStoreFailed) && /no space|quota/i.test(err.message))
  );
}

/** A JetStream API refusal with this `err_code`. */
export function isJetStreamApiError(err: unknown, code: number): err is JetStreamApiError {
  return err instanceof JetStreamApiError && err.code === code;
}

/**
 * A publish no stream leader answered: nats-server 2.9 gives no responders,
 * which the client reports as `JetStreamNotEnabled` (a fresh R3 stream without
 * a leader yet, a subject no stream captures). Passing, not a bug.
 */
export function isJetStreamNotEnabled(err: unknown): boolean {
  return err instanceof jserrors.JetStreamNotEnabled;
}
