import { decode } from "@msgpack/msgpack";
import { createInbox, headers as natsHeaders } from "@nats-io/nats-core";
import { RequestHeader } from "../protocol/request-headers.js";
import type { QuarantinedEvent, RebuildProgress, Reply } from "../protocol/results.js";
import type { PurserClient } from "./purser-client.js";

/** purser's own operations over its protocol (`purser.v1._global.system.*`, docs/protocol.md). */
export class SystemApi {
  constructor(private readonly client: PurserClient) {}

  /**
   * Asks a serving process to replay every stream into fresh views and swap
   * them in; `onProgress` sees the replay's progress, published on an inbox
   * of this connection named in `Purser-Progress-Subject`.
   */
  async rebuild(onProgress: (p: RebuildProgress) => void = () => {}, timeoutMs = 60 * 60_000): Promise<Reply<{ generation: string; events: number }>> {
    const inbox = createInbox(this.client.inboxPrefix);
    const sub = this.client.nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err) return;
        try {
          onProgress(decode(msg.data) as RebuildProgress);
        } catch {
          // A progress message that does not decode is not worth failing the rebuild for.
        }
      },
    });
    const h = natsHeaders();
    h.set(RequestHeader.ProgressSubject, inbox);
    try {
      return await this.client.globalQuery<{ generation: string; events: number }>("system", "rebuild", {}, { headers: h, timeoutMs });
    } finally {
      sub.unsubscribe();
    }
  }

  /** The events the views skipped and why (`purser events --quarantined`). */
  quarantined(): Promise<Reply<QuarantinedEvent[]>> {
    return this.client.globalQuery<QuarantinedEvent[]>("system", "quarantine");
  }
}
