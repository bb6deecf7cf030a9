import { decodeToken, encodeToken } from "../events/token-encoding.js";

/**
 * The request/reply subjects (drawn in docs/protocol.md):
 *
 *   commands purser.v1.<ns>.<resource>.<verb>    namespaced request/reply
 *   global   purser.v1._global.<resource>.<verb> e.g. listing namespaces
 *
 * `<ns>` is the log's token encoding of the namespace name
 * (events/token-encoding.ts), so NATS permissions on `purser.v1.<ns>.>`
 * confine a client to its namespaces.
 */
export const commandSubjectRoot = "purser.v1";
/** A token that {@link encodeToken} can never produce: `_` is always followed by two hex digits there. */
export const globalToken = "_global";

export function commandSubject(namespace: string, resource: string, verb: string): string {
  return `${commandSubjectRoot}.${encodeToken(namespace)}.${resource}.${verb}`;
}

export function globalSubject(resource: string, verb: string): string {
  return `${commandSubjectRoot}.${globalToken}.${resource}.${verb}`;
}

/** The endpoint subject a service subscribes to for a namespaced operation. */
export function commandEndpointSubject(resource: string, verb: string): string {
  return `${commandSubjectRoot}.*.${resource}.${verb}`;
}

/** Parses `purser.v1.<ns>.<resource>.<verb>`; undefined when it is not one. */
export function parseCommandSubject(subject: string): { namespace: string; resource: string; verb: string } | undefined {
  const parts = subject.split(".");
  if (parts.length !== 5 || `${parts[0]}.${parts[1]}` !== commandSubjectRoot) return undefined;
  if (parts[2] === globalToken) return undefined;
  try {
    return { namespace: decodeToken(parts[2]!), resource: parts[3]!, verb: parts[4]! };
  } catch {
    return undefined;
  }
}
