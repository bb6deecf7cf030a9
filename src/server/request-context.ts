import { randomUUID } from "node:crypto";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { EndpointKind, EndpointScope, type Endpoint, type RequestContext } from "../endpoints/endpoint.js";
import { invalidArgument } from "../errors/errdefs.js";
import { maxStringFieldBytes } from "../commands/payload.js";
import { encodeWireMsgpack } from "../events/msgpack.js";
import { decodeToken } from "../events/token-encoding.js";
import { RequestHeader } from "../protocol/request-headers.js";
import { parseCommandSubject } from "../protocol/subjects.js";
import { requireNamespace } from "../validation/namespace.js";
import type { ReplyPolicy } from "./reply-guard.js";

/**
 * The one place a request's subject and headers become what endpoints read
 * (docs/protocol.md): the namespace (its token must decode; every resource
 * but namespaces requires a valid one), the command's ids and actor, its
 * lease, and — for queries — the minimum rv.
 */
export function requestContext(msg: Msg, endpoint: Endpoint, nc: NatsConnection, replies: ReplyPolicy): RequestContext {
  const h = msg.headers;
  const header = (name: string): string | undefined => {
    const v = h?.get(name);
    return v === undefined || v === "" ? undefined : v;
  };
  let namespace = "";
  if (endpoint.scope === EndpointScope.Namespace) {
    namespace = namespaceOfSubject(msg.subject);
    if (!endpoint.checksOwnNamespace) requireNamespace(namespace);
  }
  for (const name of [RequestHeader.CommandId, RequestHeader.CorrelationId, RequestHeader.Actor, RequestHeader.Lease]) {
    // They become event headers and, for a lease, LMDB keys (payload.ts: the same bound as string fields).
    const bytes = Buffer.byteLength(header(name) ?? "", "utf8");
    if (bytes > maxStringFieldBytes) throw invalidArgument(`${name} greater than maximum length (${maxStringFieldBytes} bytes)`);
  }
  const commandId = header(RequestHeader.CommandId) ?? randomUUID();
  const minRvHeader = endpoint.kind === EndpointKind.Query ? (header(RequestHeader.MinRv) ?? "") : "";
  const progressSubject = header(RequestHeader.ProgressSubject);
  // Progress is a reply too: published with the service's rights, so only to an inbox (reply-guard.ts).
  if (progressSubject !== undefined && !replies.allows(progressSubject)) {
    throw invalidArgument(`${RequestHeader.ProgressSubject} must be a subject under ${replies.describe()}`);
  }
  return {
    subject: msg.subject,
    namespace,
    meta: {
      commandId,
      correlationId: header(RequestHeader.CorrelationId) ?? commandId,
      actor: header(RequestHeader.Actor) ?? "anonymous",
      lease: header(RequestHeader.Lease),
    },
    minRv: endpoint.scope === EndpointScope.Namespace ? parseMinRv(minRvHeader) : 0,
    minRvs: endpoint.scope === EndpointScope.Global ? parseGlobalMinRv(minRvHeader) : [],
    asOf: header(RequestHeader.AsOf) ?? "",
    headers: h,
    body: msg.data,
    progress: (value) => {
      if (progressSubject) nc.publish(progressSubject, encodeWireMsgpack(value));
    },
  };
}

/** The namespace of `purser.v1.<ns>.<resource>.<verb>`; a token that does not decode is refused before anything runs. */
function namespaceOfSubject(subject: string): string {
  const parsed = parseCommandSubject(subject);
  if (parsed) return parsed.namespace;
  const token = subject.split(".")[2] ?? "";
  try {
    decodeToken(token);
  } catch (err) {
    // Another spelling of a namespace: refused before anything, so NATS rules on the canonical token hold.
    const canonical = /: not canonical \((.*)\)$/.exec((err as Error).message)?.[1];
    if (canonical) throw invalidArgument(`namespace token ${JSON.stringify(token)} is not canonical: that namespace is spelled ${canonical}`);
    throw invalidArgument(`namespace token ${JSON.stringify(token)} is not a valid encoding`);
  }
  return "";
}

function parseMinRv(value: string): number {
  const rv = value === "" ? 0 : Number(value);
  if (!Number.isSafeInteger(rv) || rv < 0) throw invalidArgument(`${RequestHeader.MinRv} must be a non-negative integer`);
  return rv;
}

function parseGlobalMinRv(value: string): Array<[string, number]> {
  if (value === "") return [];
  return value.split(",").map((pair) => {
    const at = pair.lastIndexOf("=");
    const rv = Number(pair.slice(at + 1));
    if (at <= 0 || !Number.isSafeInteger(rv) || rv < 0) {
      throw invalidArgument(`${RequestHeader.MinRv} must be <namespace>=<rv>,… for a global query`);
    }
    return [pair.slice(0, at), rv];
  });
}
