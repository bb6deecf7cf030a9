import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/nats-core";
import { unavailable } from "../errors/errdefs.js";
import { watchConnection } from "../protocol/connection-status.js";
import { serviceUpSubject } from "../protocol/service.js";
import { isNoResponders, isTimeout } from "../protocol/transport-errors.js";

/** Attempts of one request that may be in flight at once (the first reply wins). */
const maxLiveAttempts = 8;
/** How often a request answered "no responders" asks again when no service announces itself. */
const noServicePollMs = 500;

/**
 * Requests that survive what a client cannot see: its own connection lost
 * (nats-server restarted, its cluster node gone), and a purser service that
 * took the request and never answered because its process died or its own
 * connection moved to another node (docs/decisions.md, "A lost request is
 * sent again").
 *
 * The same bytes are sent again — so a command keeps its id and is applied
 * once (the server's idempotency) and a query is only read again — when:
 * - this client's connection comes back (one sent while disconnected waits for it);
 * - a serving process announces on {@link serviceUpSubject} that it started
 *   or reconnected: what it had been sent before may be gone with it;
 * - NATS answers "no responders" (no process in the queue group right now,
 *   a restart under way): again on such an announcement, else every 500 ms.
 * Every attempt stays in flight until the deadline; the first reply wins.
 */
export class RequestResender {
  private connected = true;
  private readonly waiting = new Set<() => void>();
  private readonly announcements: Subscription;

  /** Called once per request that finds no service answering and keeps waiting (the CLI says so on a terminal). */
  onNoService?: (subject: string, waitMs: number) => void;

  constructor(private readonly nc: NatsConnection) {
    // A tenant whose operator's NATS does not grant the announcements yet
    // gets a permission error on this subscription only: polling still works.
    this.announcements = nc.subscribe(serviceUpSubject, {
      callback: (err) => {
        if (!err) this.wake();
      },
    });
    this.unwatch = watchConnection(nc, (s) => {
      if (s.type === "disconnect") this.connected = false;
      else if (s.type === "reconnect") {
        this.connected = true;
        this.wake();
      }
    });
  }

  private readonly unwatch: () => void;

  private wake(): void {
    for (const resend of [...this.waiting]) resend();
  }

  close(): void {
    this.unwatch();
    this.announcements.unsubscribe();
  }

  /** `data` to `subject`, sent again as the class says, answered within `timeoutMs` in all. */
  request(subject: string, data: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      let settled = false;
      let live = 0;
      /** How the latest attempt that ended did: a service never answered it, or there was none. */
      let lastEnded: "timeout" | "no service" | undefined;
      let told = false;
      let poll: NodeJS.Timeout | undefined;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(expiry);
        clearTimeout(poll);
        this.waiting.delete(send);
        settle();
      };
      const send = () => {
        clearTimeout(poll);
        if (settled || live >= maxLiveAttempts) return;
        if (!this.connected) return; // sent when the connection is back
        const remaining = deadline - Date.now();
        if (remaining <= 0) return;
        live++;
        this.nc.request(subject, data, { headers, timeout: remaining }).then(
          (msg) => finish(() => resolve(msg)),
          (err: unknown) => {
            live--;
            if (isTimeout(err)) {
              lastEnded = "timeout"; // the deadline answers, after every attempt had its chance
              return;
            }
            if (!isNoResponders(err)) return finish(() => reject(err));
            lastEnded = "no service";
            if (!told) {
              told = true;
              this.onNoService?.(subject, Math.max(0, deadline - Date.now()));
            }
            if (live === 0) poll = setTimeout(send, noServicePollMs);
          },
        );
      };
      const expiry = setTimeout(
        () =>
          finish(() =>
            reject(
              !this.connected
                ? unavailable(`request ${subject} timed out after ${timeoutMs}ms: no connection to NATS`)
                : live === 0 && lastEnded === "no service"
                  ? unavailable(`no purser service is answering on ${subject} (waited ${timeoutMs}ms)`)
                  : unavailable(`request ${subject} timed out after ${timeoutMs}ms`),
            ),
          ),
        timeoutMs,
      );
      this.waiting.add(send);
      send();
    });
  }
}
