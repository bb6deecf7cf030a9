import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { decodeMsgpack as decode, encodeWireMsgpack } from "../events/msgpack.js";
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { ErrorKind, invalidArgument, permissionDenied, PurserError, unavailable } from "../errors/errdefs.js";
import { errorFromReply } from "../protocol/wire-errors.js";
import { commandSubject, globalSubject } from "../protocol/subjects.js";
import type { NamespaceRecord } from "../events/namespace-events.js";
import { RequestHeader } from "../protocol/request-headers.js";
import { ContainersApi } from "./containers-api.js";
import { ContentApi } from "./content-api.js";
import { GcApi } from "./gc-api.js";
import { ImagesApi } from "./images-api.js";
import { LeasesApi } from "./leases-api.js";
import { SnapshotsApi } from "./snapshots-api.js";
import { SystemApi } from "./system-api.js";
import { TenantsApi } from "./tenants-api.js";
import type { Reply } from "../protocol/results.js";
import { connectNats, defaultInboxPrefix, type ConnectionSettings } from "../protocol/connection.js";
import { defaultNatsUrl } from "../protocol/defaults.js";
import { isNoResponders, isPermissionViolation, isTimeout } from "../protocol/transport-errors.js";
import { RequestResender } from "./request-resender.js";



export interface CommandOptions {
  /** Idempotency key: sending the same command id again appends nothing new. */
  commandId?: string;
  correlationId?: string;
  /** Run under this lease: what the command creates is recorded in it. */
  lease?: string;
  timeoutMs?: number;
}

export interface QueryOptions {
  /** Read only from views that have applied at least this rv (read-your-writes). */
  minRv?: number;
  timeoutMs?: number;
}

/**
 * A client of purser's request/reply protocol (docs/protocol.md): msgpack
 * payloads, `{rv, result}` replies, errors rebuilt as {@link PurserError}.
 */
export class PurserClient {
  readonly namespaces = new NamespacesApi(this);
  readonly images = new ImagesApi(this);
  readonly containers = new ContainersApi(this);
  readonly snapshots = new SnapshotsApi(this);
  readonly leases = new LeasesApi(this);
  readonly content = new ContentApi(this);
  readonly gc = new GcApi(this);
  readonly system = new SystemApi(this);
  readonly tenants = new TenantsApi(this);

  /** Commands and queries are sent again when they may have been lost (request-resender.ts). */
  private readonly resender: RequestResender;

  constructor(
    readonly nc: NatsConnection,
    readonly actor: string = defaultActor(),
  ) {
    this.resender = new RequestResender(nc);
  }

  /** Told once per request that finds no purser service answering and waits for one (the CLI prints it on a terminal). */
  set onNoService(notice: ((subject: string, waitMs: number) => void) | undefined) {
    this.resender.onNoService = notice;
  }

  /** Connects to NATS as `target` says: a URL (user info allowed) or full settings with credentials (docs/security.md). */
  static async connect(target: string | ConnectionSettings = defaultNatsUrl, actor?: string): Promise<PurserClient> {
    const settings = typeof target === "string" ? { servers: target } : target;
    // A client outlives NATS restarts and node losses: it reconnects without a
    // limit, every 250 ms (nats.js's default is 10 tries 2 s apart: a client
    // stalled up to 2 s after NATS was back, and gave up after 20 s).
    const nc = await connectNats(settings, { name: "purser-client", noAsyncTraces: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const client = new PurserClient(nc, actor);
    if (settings.inboxPrefix) client.inboxPrefix = settings.inboxPrefix;
    return client;
  }

  /** Where replies to this client go (a tenant's own prefix: docs/security.md). */
  inboxPrefix = defaultInboxPrefix;

  async close(): Promise<void> {
    this.resender.close();
    await this.nc.drain().catch(() => {});
  }

  /**
   * Time travel: when set (`rv=N` or an RFC 3339 time), every query answers
   * from the views as they were then, and commands are refused.
   */
  asOf?: string;

  async command<R>(namespace: string, resource: string, verb: string, payload: object = {}, opts: CommandOptions = {}): Promise<Reply<R>> {
    if (this.asOf) throw invalidArgument("--as-of reads history: it cannot be used with a command that changes state");
    const h = natsHeaders();
    const commandId = opts.commandId ?? randomUUID();
    h.set(RequestHeader.CommandId, commandId);
    h.set(RequestHeader.CorrelationId, opts.correlationId ?? commandId);
    h.set(RequestHeader.Actor, this.actor);
    if (opts.lease) h.set(RequestHeader.Lease, opts.lease);
    return this.request<R>(commandSubject(namespace, resource, verb), payload, h, opts.timeoutMs);
  }

  /**
   * When true, a minimum rv is a hint (the CLI's remembered rv of its last
   * write): if the server says the log never reached it — the server's data
   * was wiped since — the query is asked again without it.
   */
  minRvIsHint = false;

  async query<R>(namespace: string, resource: string, verb: string, payload: object = {}, opts: QueryOptions = {}): Promise<Reply<R>> {
    const h = natsHeaders();
    if (opts.minRv) h.set(RequestHeader.MinRv, String(opts.minRv));
    if (this.asOf) h.set(RequestHeader.AsOf, this.asOf);
    return this.withRvHint(h, () => this.request<R>(commandSubject(namespace, resource, verb), payload, h, opts.timeoutMs));
  }

  private async withRvHint<T>(h: MsgHdrs, ask: () => Promise<T>): Promise<T> {
    try {
      return await ask();
    } catch (err) {
      if (!this.minRvIsHint || !h.has(RequestHeader.MinRv) || !isBeyondTheLog(err)) throw err;
      h.delete(RequestHeader.MinRv);
      return ask();
    }
  }

  async globalQuery<R>(
    resource: string,
    verb: string,
    payload: object = {},
    opts: { minRvs?: Record<string, number>; timeoutMs?: number; headers?: MsgHdrs } = {},
  ): Promise<Reply<R>> {
    const h = opts.headers ?? natsHeaders();
    const pairs = Object.entries(opts.minRvs ?? {}).filter(([, rv]) => rv > 0);
    if (pairs.length > 0) h.set(RequestHeader.MinRv, pairs.map(([ns, rv]) => `${ns}=${rv}`).join(","));
    if (this.asOf && !h.has(RequestHeader.AsOf)) h.set(RequestHeader.AsOf, this.asOf);
    return this.withRvHint(h, () => this.request<R>(globalSubject(resource, verb), payload, h, opts.timeoutMs));
  }

  /** Sends raw bytes to a subject (tests use it to send malformed payloads). */
  async requestRaw<R>(subject: string, data: Uint8Array, h: MsgHdrs = natsHeaders(), timeoutMs = 10_000, resendOnLoss = false): Promise<Reply<R>> {
    const msg = await this.requestMsg(subject, data, h, timeoutMs, resendOnLoss);
    return decode(msg.data) as Reply<R>;
  }

  /**
   * Sends raw bytes and returns the reply message itself, errors already
   * turned into {@link PurserError} (the content data plane reads raw bytes).
   */
  async requestMsg(subject: string, data: Uint8Array, h: MsgHdrs = natsHeaders(), timeoutMs = 10_000, resendOnLoss = false): Promise<Msg> {
    let msg;
    try {
      msg = resendOnLoss ? await this.resender.request(subject, data, h, timeoutMs) : await this.nc.request(subject, data, { headers: h, timeout: timeoutMs });
    } catch (err) {
      if (isNoResponders(err)) throw unavailable(`no purser service is answering on ${subject}`);
      if (isTimeout(err)) throw unavailable(`request ${subject} timed out after ${timeoutMs}ms`);
      if (isPermissionViolation(err)) throw permissionDenied(`this identity may not send ${subject}`);
      throw err;
    }
    const error = errorFromReply(msg);
    if (error) throw error;
    return msg;
  }

  private request<R>(subject: string, payload: object, h: MsgHdrs, timeoutMs = 10_000): Promise<Reply<R>> {
    return this.requestRaw<R>(subject, encodeWireMsgpack(payload), h, timeoutMs, true);
  }
}

export class NamespacesApi {
  constructor(private readonly client: PurserClient) {}

  create(name: string, labels: Record<string, string> = {}, opts?: CommandOptions) {
    return this.client.command<NamespaceRecord>(name, "namespaces", "create", { labels }, opts);
  }
  /** Sets labels; with field paths (`labels.k`) only those keys change, an empty value removes. */
  update(name: string, labels: Record<string, string>, fieldPaths: string[] = [], opts?: CommandOptions) {
    return this.client.command<NamespaceRecord>(name, "namespaces", "update", { labels, fieldPaths }, opts);
  }
  delete(name: string, opts?: CommandOptions) {
    return this.client.command<null>(name, "namespaces", "delete", {}, opts);
  }
  get(name: string, opts?: QueryOptions) {
    return this.client.query<NamespaceRecord>(name, "namespaces", "get", {}, opts);
  }
  /** Every namespace, in name order (the pages of the reply, read to the end). */
  async list(minRvs?: Record<string, number>): Promise<Reply<NamespaceRecord[]>> {
    const items: NamespaceRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.client.globalQuery<{ items: NamespaceRecord[]; next?: string }>(
        "namespaces",
        "list",
        after === undefined ? {} : { after },
        { minRvs },
      );
      items.push(...page.result.items);
      if (page.result.next === undefined) return { rv: page.rv, result: items };
      after = page.result.next;
    }
  }
}

function isBeyondTheLog(err: unknown): boolean {
  return err instanceof PurserError && err.kind === ErrorKind.FailedPrecondition && / is beyond the log of namespace /.test(err.message);
}

function defaultActor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `uid-${process.getuid?.() ?? "?"}@${hostname()}`;
  }
}

export type { Reply } from "../protocol/results.js";
