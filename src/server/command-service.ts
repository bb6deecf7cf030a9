import { randomUUID } from "node:crypto";
import { decodeMsgpack as decode, encodeWireMsgpack } from "../events/msgpack.js";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import { inject, injectable } from "../di.js";
import { Tokens } from "../tokens.js";
import type { CommandDefinition, QueryDefinition } from "../commands/command.js";
import { CommandRunner } from "../commands/command-runner.js";
import { asPayload, type Payload } from "../commands/payload.js";
import { ErrorKind, invalidArgument, PurserError } from "../errors/errdefs.js";
import { errorHeaders } from "../protocol/wire-errors.js";
import { decodeToken } from "../events/token-encoding.js";
import { commandEndpointSubject, globalSubject, parseCommandSubject } from "../protocol/subjects.js";
import type { Logger } from "../observability/logger.js";
import { ProjectionRuntime } from "../projections/runtime.js";
import { AsOfViews, parseAsOf } from "../projections/time-travel.js";
import { identifierError } from "../validation/identifiers.js";
import { RequestHeader } from "../protocol/request-headers.js";
import { serviceName, serviceQueue, serviceVersion } from "../protocol/service.js";
import { isClosedConnection, isNoResponders, isTimeout } from "../protocol/transport-errors.js";
import { isJetStreamNotEnabled } from "../events/jetstream-errors.js";


export interface ServiceOptions {
  /** How long a query waits for the views to reach its minimum rv. */
  minRvTimeoutMs: number;
}

/**
 * The request/reply front of purser on the NATS services framework (`$SRV`
 * discovery and stats). Each endpoint decodes the msgpack payload, runs a
 * command or query, and answers `{rv, result}` or an error (errors/wire.ts).
 * Nothing a client sends can crash it: every failure becomes an error reply.
 */
@injectable()
export class CommandService {
  private service?: Service;

  constructor(
    @inject(Tokens.NatsConnection) private readonly nc: NatsConnection,
    @inject(Tokens.CommandRunner) private readonly runner: CommandRunner,
    @inject(Tokens.ProjectionRuntime) private readonly runtime: ProjectionRuntime,
    @inject(Tokens.Logger) private readonly log: Logger,
    @inject(Tokens.ServiceOptions) private readonly options: ServiceOptions,
    @inject(Tokens.AsOfViews) private readonly asOfViews: AsOfViews,
  ) {}

  async start(commands: readonly CommandDefinition<any, any>[], queries: readonly QueryDefinition<any, any>[]): Promise<void> {
    const svcm = new Svcm(this.nc);
    this.service = await svcm.add({
      name: serviceName,
      version: serviceVersion,
      description: "purser: containerd's metadata plane, event-sourced on JetStream",
      queue: serviceQueue,
    });
    for (const def of commands) {
      this.service.addEndpoint(`${def.resource}-${def.verb}`, {
        subject: commandEndpointSubject(def.resource, def.verb),
        handler: (err, msg) => void this.handle(err, msg, (payload, ns) => this.runCommand(def, ns, payload, msg)),
        metadata: { kind: "command" },
      });
    }
    for (const def of queries) {
      this.service.addEndpoint(`${def.resource}-${def.verb}`, {
        subject: def.global ? globalSubject(def.resource, def.verb) : commandEndpointSubject(def.resource, def.verb),
        handler: (err, msg) => void this.handle(err, msg, (payload, ns) => this.runQuery(def, ns, payload, msg)),
        metadata: { kind: "query" },
      });
    }
  }

  /**
   * Adds one more endpoint with its own handling (system operations such as
   * rebuild; the content data plane). With `rawRequest` the body is not decoded
   * (the handler reads `msg.data` itself, e.g. a chunk of a blob); a handler
   * may answer a {@link RawReply} to send bytes instead of a msgpack map.
   */
  addRawEndpoint(
    name: string,
    subject: string,
    run: (payload: Payload, msg: Msg) => Promise<unknown>,
    options: { rawRequest?: boolean } = {},
  ): void {
    if (!this.service) throw new Error("service not started");
    this.service.addEndpoint(name, {
      subject,
      handler: (err, msg) => void this.handle(err, msg, (payload) => run(payload, msg), options.rawRequest ?? false),
      metadata: { kind: "system" },
    });
  }

  async stop(): Promise<void> {
    await this.service?.stop();
  }

  private async handle(
    err: Error | null,
    msg: ServiceMsg,
    run: (payload: Payload, namespace: string) => Promise<unknown>,
    rawRequest = false,
  ): Promise<void> {
    try {
      if (err) throw err;
      let raw: unknown;
      try {
        raw = rawRequest || msg.data.length === 0 ? {} : decode(msg.data);
      } catch {
        throw invalidArgument("request payload is not valid msgpack");
      }
      const payload = asPayload(raw);
      const parsed = parseCommandSubject(msg.subject);
      const reply = await run(payload, parsed?.namespace ?? "");
      if (reply instanceof RawReply) msg.respond(reply.data, reply.headers ? { headers: reply.headers } : undefined);
      else msg.respond(encodeWireMsgpack(reply));
    } catch (e) {
      const error = toPurserError(e);
      if (error.kind === ErrorKind.Unknown) this.log.error("request failed", { subject: msg.subject, err: e });
      msg.respond(new Uint8Array(0), { headers: errorHeaders(error) });
    }
  }

  private runCommand(def: CommandDefinition<unknown, unknown>, namespace: string, payload: Payload, msg: Msg) {
    checkNamespaceToken(msg.subject);
    if (def.resource !== "namespaces") requireNamespace(namespace);
    const h = msg.headers;
    const commandId = nonEmpty(h?.get(RequestHeader.CommandId)) ?? randomUUID();
    return this.runner.run(def, namespace, payload, {
      commandId,
      correlationId: nonEmpty(h?.get(RequestHeader.CorrelationId)) ?? commandId,
      actor: nonEmpty(h?.get(RequestHeader.Actor)) ?? "anonymous",
      lease: nonEmpty(h?.get(RequestHeader.Lease)),
    });
  }

  /**
   * Waits until the views have applied `rv`. An rv the log itself has not
   * reached can never be applied: say so at once rather than after the
   * timeout (a client remembering an rv of a log that was since wiped).
   */
  private async reachMinRv(namespace: string, rv: number): Promise<void> {
    if (rv <= this.runtime.applied(namespace)) return;
    const last = await this.runner.lastRv(namespace);
    if (rv > last) {
      throw new PurserError(
        ErrorKind.FailedPrecondition,
        `rv ${rv} is beyond the log of namespace ${JSON.stringify(namespace)} (its last rv is ${last})`,
      );
    }
    await this.runtime.waitFor(namespace, rv, this.options.minRvTimeoutMs);
  }

  private async runQuery(def: QueryDefinition<unknown, unknown>, namespace: string, payload: Payload, msg: Msg) {
    const minRv = msg.headers?.get(RequestHeader.MinRv) ?? "";
    if (def.global) {
      for (const [ns, rv] of parseGlobalMinRv(minRv)) await this.reachMinRv(ns, rv);
    } else {
      checkNamespaceToken(msg.subject);
      if (def.resource !== "namespaces") requireNamespace(namespace);
      const rv = minRv === "" ? 0 : Number(minRv);
      if (!Number.isSafeInteger(rv) || rv < 0) throw invalidArgument(`${RequestHeader.MinRv} must be a non-negative integer`);
      await this.reachMinRv(namespace, rv);
    }
    const params = def.parse(payload, namespace);
    const asOfHeader = msg.headers?.get(RequestHeader.AsOf) ?? "";
    if (asOfHeader !== "") {
      const asOf = parseAsOf(asOfHeader);
      if (def.global && asOf.rv !== undefined) {
        throw invalidArgument("an rv is a position in one namespace's log: give a global query a time to travel to");
      }
      const namespaces = def.global ? await this.runner.namespacesWithLog() : [namespace];
      const { views, rvs } = await this.asOfViews.get(namespaces, asOf);
      return { rv: def.global ? 0 : (rvs[namespace] ?? 0), result: await def.run(views, namespace, params) };
    }
    return { rv: def.global ? 0 : this.runtime.applied(namespace), result: await def.run(this.runtime.views, namespace, params) };
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** A namespace token that does not decode is refused before anything runs. */
export function checkNamespaceToken(subject: string): void {
  if (!parseCommandSubject(subject)) {
    const token = subject.split(".")[2] ?? "";
    try {
      decodeToken(token);
    } catch {
      throw invalidArgument(`namespace token ${JSON.stringify(token)} is not a valid encoding`);
    }
  }
}

/** containerd `namespaces.NamespaceRequired`. */
export function requireNamespace(namespace: string): void {
  if (namespace === "") throw new PurserError(ErrorKind.FailedPrecondition, "namespace is required");
  const err = identifierError(namespace);
  if (err) throw err.wrap("namespace validation");
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

/** A reply of raw bytes (and headers) instead of a msgpack `{rv, result}` map: blob chunks. */
export class RawReply {
  constructor(
    readonly data: Uint8Array,
    readonly headers?: MsgHdrs,
  ) {}
}

export function toPurserError(err: unknown): PurserError {
  if (err instanceof PurserError) return err;
  const text = err instanceof Error ? err.message : String(err);
  // NATS or JetStream not answering in time is a passing condition, not a bug.
  if (isTimeout(err) || isNoResponders(err) || isClosedConnection(err) || isJetStreamNotEnabled(err)) {
    return new PurserError(ErrorKind.Unavailable, `log unavailable: ${text}`, { cause: err });
  }
  return new PurserError(ErrorKind.Unknown, `internal error: ${text}`, { cause: err });
}
