/**
 * purser's identity on the NATS services framework (`$SRV.PING|INFO|STATS`):
 * what discovery shows, and the queue group every serving process joins so
 * that each request is served once.
 */
export const serviceName = "purser";
export const serviceVersion = "0.1.0";
/** Every purser process answers in this queue group, so each request is served once. */
export const serviceQueue = "purser";

/**
 * Where a serving process says it joined the queue group — at start and after
 * its connection to NATS came back — so that clients send again what it may
 * have been sent and lost (docs/protocol.md). The body is {@link ServiceUp}.
 */
export const serviceUpSubject = "purser.v1._global.service.up";

export interface ServiceUp {
  /** This process's id, new at each start. */
  instance: string;
  reason: "start" | "reconnect";
}
