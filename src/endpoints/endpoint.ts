import type { MsgHdrs } from "@nats-io/nats-core";
import type { CommandMeta } from "../commands/command-runner.js";
import type { Payload } from "../commands/payload.js";

/**
 * The one shape of everything purser answers over request/reply. Services
 * (the resources' commands and queries, content, snapshots, unpack, GC,
 * rebuild) each expose their endpoints; only the server mounts them
 * (src/server/command-service.ts), on the subject their scope gives:
 *
 *   namespace  purser.v1.<ns>.<resource>.<verb>
 *   global     purser.v1._global.<resource>.<verb>
 *
 * The server parses the request once into a {@link RequestContext} (the
 * namespace checked, the headers read) and decodes the msgpack body into a
 * payload; an endpoint never reads the NATS message itself.
 */
export const EndpointScope = {
  Namespace: "namespace",
  Global: "global",
} as const;
export type EndpointScope = (typeof EndpointScope)[keyof typeof EndpointScope];

/** What an endpoint does, as `$SRV.INFO` metadata shows it. Queries honour `Purser-Min-Rv`. */
export const EndpointKind = {
  Command: "command",
  Query: "query",
  System: "system",
} as const;
export type EndpointKind = (typeof EndpointKind)[keyof typeof EndpointKind];

/** A request as the server parsed it, once, before the endpoint runs. */
export interface RequestContext {
  readonly subject: string;
  /** The namespace of a namespaced endpoint, decoded and checked; "" for a global one. */
  readonly namespace: string;
  /** Who sent it, under which ids (`Purser-Command-Id`, `-Correlation-Id`, `-Actor`, `-Lease`). */
  readonly meta: CommandMeta;
  /** Queries: `Purser-Min-Rv` of a namespaced request (0 when absent). */
  readonly minRv: number;
  /** Global queries: `Purser-Min-Rv` as `<ns>=<rv>,…`. */
  readonly minRvs: ReadonlyArray<readonly [string, number]>;
  /** `Purser-As-Of` as sent ("" when absent). */
  readonly asOf: string;
  /** The request's headers, for an endpoint with headers of its own (the content data plane). */
  readonly headers: MsgHdrs | undefined;
  /** The raw body: what a {@link Endpoint.rawBody} endpoint reads (a chunk of a blob). */
  readonly body: Uint8Array;
  /** Publishes to the requester's `Purser-Progress-Subject`; a no-op when it gave none. */
  progress(value: object): void;
}

/** What an endpoint answers: `{rv, result}` as msgpack, or raw bytes with headers. */
export type EndpointReply = { rv: number; result: unknown } | RawReply;

export interface Endpoint {
  readonly resource: string;
  readonly verb: string;
  readonly scope: EndpointScope;
  readonly kind: EndpointKind;
  /** The body is the endpoint's own bytes, not a msgpack map (the payload is then empty). */
  readonly rawBody?: boolean;
  /**
   * The namespaces resource checks the name itself, with containerd's texts
   * for each verb: the server then only requires a token that decodes.
   */
  readonly checksOwnNamespace?: boolean;
  run(ctx: RequestContext, payload: Payload): Promise<EndpointReply>;
}

/** A reply of raw bytes (and headers) instead of a msgpack `{rv, result}` map: blob chunks. */
export class RawReply {
  constructor(
    readonly data: Uint8Array,
    readonly headers?: MsgHdrs,
  ) {}
}
