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
} as const;

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
