/**
 * purser's identity on the NATS services framework (`$SRV.PING|INFO|STATS`):
 * what discovery shows, and the queue group every serving process joins so
 * that each request is served once.
 */
export const serviceName = "purser";
export const serviceVersion = "0.1.0";
/** Every purser process answers in this queue group, so each request is served once. */
export const serviceQueue = "purser";
