import type { Msg, NatsConnection, Subscription, SubscriptionOptions } from "@nats-io/nats-core";
import type { Logger } from "../observability/logger.js";
import { RequestHeader } from "../protocol/request-headers.js";

/**
 * Where the service may answer. NATS checks a requester's right to publish
 * the request, never the reply subject it names, and the service answers
 * with its own rights: answering anywhere would let any client publish as
 * the service (a confused deputy: docs/security.md). Replies go only to
 * subjects under an inbox prefix (`_INBOX.` unless configured).
 */
export class ReplyPolicy {
  private readonly prefixes: readonly string[];

  constructor(prefixes: readonly string[]) {
    if (prefixes.length === 0) throw new Error("at least one reply prefix is needed");
    for (const p of prefixes) {
      if (!/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(p)) throw new Error(`invalid reply prefix ${JSON.stringify(p)}`);
    }
    this.prefixes = prefixes.map((p) => `${p}.`);
  }

  /** True when `reply` is a plain subject (no wildcards, no empty tokens) under one of the prefixes. */
  allows(reply: string | undefined): reply is string {
    if (!reply || reply.length > 1024 || !/^[^\s*>.]+(\.[^\s*>.]+)*$/.test(reply)) return false;
    return this.prefixes.some((p) => reply.startsWith(p) && reply.length > p.length);
  }

  describe(): string {
    return this.prefixes.map((p) => `${p}>`).join(", ");
  }
}

/**
 * The connection the service framework subscribes through: a request whose
 * reply subject the policy refuses (none, a JetStream ack subject, another
 * namespace's command, `$JS.API…`, `$KV…`) is dropped and logged before any
 * handler — purser's endpoints and the framework's own `$SRV` discovery — sees
 * it. Everything else is the connection itself.
 */
export function guardReplies(nc: NatsConnection, policy: ReplyPolicy, log: Logger): NatsConnection {
  const guarded = (subject: string, opts: SubscriptionOptions = {}): Subscription => {
    const callback = opts.callback;
    if (!callback) throw new Error("the reply guard only serves callback subscriptions");
    return nc.subscribe(subject, {
      ...opts,
      callback: (err: Error | null, msg: Msg) => {
        if (!err && !policy.allows(msg.reply)) {
          log.warn("request dropped: its reply subject is not under an inbox prefix", {
            subject: msg.subject,
            reply: msg.reply ?? "",
            actor: msg.headers?.get(RequestHeader.Actor) ?? "",
            allowed: policy.describe(),
          });
          return;
        }
        callback(err, msg);
      },
    });
  };
  return new Proxy(nc, {
    get(target, prop) {
      if (prop === "subscribe") return guarded;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
