import { randomUUID } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import type { MsgHdrs } from "@nats-io/nats-core";
import { decode } from "@msgpack/msgpack";
import type { Payload } from "../commands/payload.js";
import { EndpointKind, EndpointScope, RawReply, type Endpoint, type RequestContext } from "../endpoints/endpoint.js";
import { invalidArgument, unavailable } from "../errors/errdefs.js";
import { maxStringFieldBytes } from "../commands/payload.js";
import { requireNamespace } from "../validation/namespace.js";

/** The mounted endpoints, by resource and verb (server/command-service.ts keeps them). */
export interface EndpointDirectory {
  endpoint(resource: string, verb: string): Endpoint | undefined;
}

/** containerd's gRPC metadata keys (`namespaces.GRPCHeader`, `leases.GRPCHeader`). */
export const namespaceHeader = "containerd-namespace";
export const leaseHeader = "containerd-lease";

/** Who a call through the socket was, as events record it. */
export const containerdApiActor = "containerd-api";

/**
 * A gRPC call becomes the same purser command or query a NATS request would
 * be: the endpoint runs in this process with a context built from the call's
 * metadata (its namespace, its lease), under the service's own identity
 * towards NATS, and the actor `containerd-api` in the events it appends.
 *
 * Read-your-writes across calls: containerd's clients expect a create to be
 * seen by the next call, often from another `ctr` process. The gateway
 * remembers the highest rv it answered per namespace, and every query waits
 * for the views to reach it, as a NATS client's `Purser-Min-Rv` does.
 */
export class PurserCalls {
  private readonly seen = new Map<string, number>();

  constructor(private readonly endpoints: EndpointDirectory) {}

  /** The highest rv this gateway answered in `namespace`: what a call after it must see. */
  seenRv(namespace: string): number {
    return this.seen.get(namespace) ?? 0;
  }

  /** The call's namespace (containerd `namespaces.NamespaceRequired`: missing → FailedPrecondition). */
  namespaceOf(metadata: Metadata): string {
    const namespace = first(metadata, namespaceHeader);
    requireNamespace(namespace);
    return namespace;
  }

  leaseOf(metadata: Metadata): string | undefined {
    const lease = first(metadata, leaseHeader);
    if (Buffer.byteLength(lease) > maxStringFieldBytes) throw invalidArgument(`${leaseHeader} greater than maximum length (${maxStringFieldBytes} bytes)`);
    return lease === "" ? undefined : lease;
  }

  /** Runs `resource.verb` as the call's metadata says; a namespaced endpoint in `namespace`. */
  async run<R>(metadata: Metadata, resource: string, verb: string, namespace: string, payload: Record<string, unknown>, raw?: RawRequest): Promise<{ rv: number; result: R }> {
    const reply = await this.reply(metadata, resource, verb, namespace, payload, raw);
    if (reply instanceof RawReply) throw new Error(`${resource}.${verb} answered raw bytes`);
    return reply as { rv: number; result: R };
  }

  /** An endpoint that answers raw bytes with headers (a chunk of a blob). */
  async runRaw(metadata: Metadata, resource: string, verb: string, namespace: string, payload: Record<string, unknown>): Promise<RawReply> {
    const reply = await this.reply(metadata, resource, verb, namespace, payload);
    if (!(reply instanceof RawReply)) throw new Error(`${resource}.${verb} did not answer raw bytes`);
    return reply;
  }

  private async reply(metadata: Metadata, resource: string, verb: string, namespace: string, payload: Record<string, unknown>, raw?: RawRequest) {
    const endpoint = this.endpoints.endpoint(resource, verb);
    if (!endpoint) throw unavailable(`purser's ${resource}.${verb} is not being served yet`);
    const lease = this.leaseOf(metadata);
    const commandId = randomUUID();
    const global = endpoint.scope === EndpointScope.Global;
    const query = endpoint.kind === EndpointKind.Query;
    const ctx: RequestContext = {
      subject: `containerd-api.${resource}.${verb}`,
      namespace: global ? "" : namespace,
      meta: { commandId, correlationId: commandId, actor: containerdApiActor, ...(lease ? { lease } : {}) },
      minRv: query && !global ? (this.seen.get(namespace) ?? 0) : 0,
      minRvs: query && global ? [...this.seen] : [],
      asOf: "",
      headers: raw?.headers,
      body: raw?.body ?? new Uint8Array(0),
      progress: () => {},
    };
    const reply = await endpoint.run(ctx, payload as Payload);
    if (!global && !(reply instanceof RawReply) && reply.rv > (this.seen.get(namespace) ?? 0)) this.seen.set(namespace, reply.rv);
    return reply;
  }

  /** Runs a namespaced `resource.verb` in the namespace the call's metadata names. */
  runInCallNamespace<R>(metadata: Metadata, resource: string, verb: string, payload: Record<string, unknown>): Promise<{ rv: number; result: R }> {
    return this.run<R>(metadata, resource, verb, this.namespaceOf(metadata), payload);
  }

  /** Every page of an images, containers or content list (the records; the endpoint pages them by bytes). */
  async listAll<R>(metadata: Metadata, resource: string, namespace: string, filters: readonly string[]): Promise<R[]> {
    const out: R[] = [];
    let after: string | undefined;
    do {
      const { result } = await this.run<{ items: Uint8Array; next?: string }>(metadata, resource, "list", namespace, {
        filters: [...filters],
        maxBytes: 8 * 1024 * 1024,
        ...(after === undefined ? {} : { after }),
      });
      for (const record of decode(result.items) as R[]) out.push(record);
      after = result.next;
    } while (after !== undefined);
    return out;
  }
}

/** What a raw-body endpoint (content.write) reads besides its payload. */
export interface RawRequest {
  headers: MsgHdrs;
  body: Uint8Array;
}

function first(metadata: Metadata, key: string): string {
  const v = metadata.get(key)[0];
  return v === undefined ? "" : typeof v === "string" ? v : v.toString("utf8");
}
