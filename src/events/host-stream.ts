import { StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { idToken, ObjectKind } from "./subjects.js";
import { encodeToken } from "./token-encoding.js";
import { isJetStreamApiError, JetStreamApiCode } from "./jetstream-errors.js";

/**
 * The host stream: facts about one host's local state that belong to no
 * namespace (docs/events.md, docs/protocol.md).
 *
 *   stream   PURSER_HOST
 *   subjects purser.host.<host>.blob.<id>    BlobRemoved
 *
 * `<host>` is the token encoding of the host id (`gc.hostId`, the machine's
 * hostname by default: blobs live on a host's disk); `<id>` the bounded token
 * of the digest, as for namespace events.
 */
export const hostStreamName = "PURSER_HOST";
export const hostSubjectRoot = "purser.host";

export function hostBlobSubject(host: string, digest: string): string {
  return `${hostSubjectRoot}.${encodeToken(host)}.${ObjectKind.Blob}.${idToken(digest)}`;
}

/** Creates the host stream if it does not exist (idempotent across processes). */
export async function ensureHostStream(jsm: JetStreamManager, replicas: number, duplicateWindowMs: number): Promise<void> {
  try {
    await jsm.streams.add({
      name: hostStreamName,
      subjects: [`${hostSubjectRoot}.>`],
      storage: StorageType.File,
      num_replicas: replicas,
      allow_direct: true,
      duplicate_window: duplicateWindowMs * 1_000_000,
      description: "purser host facts (blobs removed from a host's disk)",
    });
  } catch (err) {
    // It exists with another configuration (an operator changed it): use it as it is.
    if (!isJetStreamApiError(err, JetStreamApiCode.StreamNameExists)) throw err;
  }
}
