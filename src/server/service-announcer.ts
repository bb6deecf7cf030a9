import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/nats-core";
import { encodeWireMsgpack } from "../events/msgpack.js";
import type { Logger } from "../observability/logger.js";
import { watchConnection } from "../protocol/connection-status.js";
import { serviceUpSubject, type ServiceUp } from "../protocol/service.js";

/**
 * Says on {@link serviceUpSubject} that this process serves: once its
 * endpoints are subscribed, and again each time its connection to NATS comes
 * back. A request routed to this process while it died or while its
 * connection moved to another cluster node is gone without an answer;
 * clients hearing this send their unanswered requests again
 * (client/request-resender.ts) instead of waiting out their timeout.
 */
export class ServiceAnnouncer {
  private readonly instance = randomUUID();
  private unwatch?: () => void;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {}

  /** Announces the start, then every reconnect until {@link stop}. */
  start(): void {
    void this.announce("start");
    this.unwatch = watchConnection(this.nc, (s) => {
      if (s.type === "reconnect") void this.announce("reconnect");
    });
  }

  stop(): void {
    this.unwatch?.();
  }

  private async announce(reason: ServiceUp["reason"]): Promise<void> {
    try {
      // After the round trip the server holds this connection's subscriptions
      // (nats.js sends them first on a reconnect): a request sent again on
      // hearing this reaches this process, on any node (routes keep order).
      await this.nc.flush();
      const up: ServiceUp = { instance: this.instance, reason };
      this.nc.publish(serviceUpSubject, encodeWireMsgpack(up));
    } catch (err) {
      this.log.debug("service announcement not sent", { reason, err });
    }
  }
}
