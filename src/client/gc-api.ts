import type { CollectResult, Why } from "../protocol/results.js";
import type { PurserClient } from "./purser-client.js";

export type { CollectResult, Why };

/** The garbage collector over purser's protocol (docs/gc.md, docs/protocol.md). */
export class GcApi {
  constructor(private readonly client: PurserClient) {}

  /**
   * Runs the collection that follows now (every stream's events applied
   * first) and answers what it removed; `dryRun` only lists what would go.
   */
  collect(options: { dryRun?: boolean; timeoutMs?: number } = {}) {
    return this.client.globalQuery<CollectResult>("gc", "collect", { dryRun: options.dryRun ?? false }, { timeoutMs: options.timeoutMs ?? 120_000 });
  }

  /** Why a blob is kept: the path from a root to it, or `kept: false` (garbage). */
  whyContent(namespace: string, digest: string) {
    return this.client.globalQuery<Why>("gc", "why", { namespace, digest });
  }

  /** Why a snapshot is kept (snapshotter default `native`). */
  whySnapshot(namespace: string, key: string, snapshotter = "native") {
    return this.client.globalQuery<Why>("gc", "why", { namespace, snapshot: { snapshotter, key } });
  }
}
