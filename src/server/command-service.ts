import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import { inject, injectable } from "../di.js";
import { EndpointScope, RawReply, type Endpoint } from "../endpoints/endpoint.js";
import { asPayload, type Payload } from "../commands/payload.js";
import { ErrorKind, invalidArgument } from "../errors/errdefs.js";
import { toPurserError } from "../endpoints/failure.js";
import { decodeMsgpack as decode, encodeWireMsgpack } from "../events/msgpack.js";
import type { Logger } from "../observability/logger.js";
import { serviceName, serviceQueue, serviceVersion } from "../protocol/service.js";
import { commandEndpointSubject, globalSubject } from "../protocol/subjects.js";
import { errorHeaders } from "../protocol/wire-errors.js";
import { Tokens } from "../tokens.js";
import { requestContext } from "./request-context.js";
import { guardReplies, ReplyPolicy } from "./reply-guard.js";
import type { ServiceOptions } from "../endpoints/definition-endpoints.js";

/**
 * The request/reply front of purser on the NATS services framework (`$SRV`
 * discovery and stats): it mounts every service's endpoints
 * (src/endpoints/endpoint.ts) in one queue group. Each request's body is
 * decoded, its context parsed once (request-context.ts), the endpoint run,
 * and `{rv, result}` or an error (protocol/wire-errors.ts) answered. Nothing
 * a client sends can crash it: every failure becomes an error reply.
 */
@injectable()
export class CommandService {
  private service?: Service;
  private readonly replies: ReplyPolicy;
  /** Every mounted endpoint by `<resource>.<verb>`: the containerd API runs them in process. */
  private readonly mounted = new Map<string, Endpoint>();

  constructor(
    @inject(Tokens.NatsConnection) private readonly nc: NatsConnection,
    @inject(Tokens.Logger) private readonly log: Logger,
    @inject(Tokens.ServiceOptions) options: ServiceOptions,
  ) {
    this.replies = new ReplyPolicy(options.replyPrefixes);
  }

  async start(): Promise<void> {
    // Every subscription of the framework (endpoints and `$SRV`) goes through the reply guard.
    const svcm = new Svcm(guardReplies(this.nc, this.replies, this.log));
    this.service = await svcm.add({
      name: serviceName,
      version: serviceVersion,
      description: "purser: containerd's metadata plane, event-sourced on JetStream",
      queue: serviceQueue,
    });
  }

  /** Serves `endpoints` from now on (`<resource>-<verb>` in `$SRV.INFO`, with their kind as metadata). */
  mount(endpoints: readonly Endpoint[]): void {
    if (!this.service) throw new Error("service not started");
    for (const endpoint of endpoints) {
      this.mounted.set(`${endpoint.resource}.${endpoint.verb}`, endpoint);
      this.service.addEndpoint(`${endpoint.resource}-${endpoint.verb}`, {
        subject:
          endpoint.scope === EndpointScope.Global
            ? globalSubject(endpoint.resource, endpoint.verb)
            : commandEndpointSubject(endpoint.resource, endpoint.verb),
        handler: (err, msg) => void this.handle(err, msg, endpoint),
        metadata: { kind: endpoint.kind },
      });
    }
  }

  /** The mounted endpoint of `resource.verb`, if any. */
  endpoint(resource: string, verb: string): Endpoint | undefined {
    return this.mounted.get(`${resource}.${verb}`);
  }

  async stop(): Promise<void> {
    await this.service?.stop();
  }

  private async handle(err: Error | null, msg: ServiceMsg, endpoint: Endpoint): Promise<void> {
    try {
      if (err) throw err;
      let raw: unknown;
      try {
        raw = endpoint.rawBody || msg.data.length === 0 ? {} : decode(msg.data);
      } catch {
        throw invalidArgument("request payload is not valid msgpack");
      }
      const payload: Payload = asPayload(raw);
      const reply = await endpoint.run(requestContext(msg, endpoint, this.nc, this.replies), payload);
      if (reply instanceof RawReply) msg.respond(reply.data, reply.headers ? { headers: reply.headers } : undefined);
      else msg.respond(encodeWireMsgpack(reply));
    } catch (e) {
      const error = toPurserError(e);
      if (error.kind === ErrorKind.Unknown) this.log.error("request failed", { subject: msg.subject, err: e });
      // What the log or NATS did not do in time, with where it happened (the answer says only "timeout").
      else if (error.kind === ErrorKind.Unavailable) this.log.debug("request unavailable", { subject: msg.subject, err: e });
      msg.respond(new Uint8Array(0), { headers: errorHeaders(error) });
    }
  }
}
