import { PurserClient } from "../../src/client/purser-client.js";
import { silentLogger } from "../../src/observability/logger.js";
import { PurserServer, type PurserConfig } from "../../src/server/purser-server.js";
import { quarantinedEvents } from "../../src/projections/quarantine.js";
import { startTestNats, tempDir, type TestNats } from "./nats.js";

/** A whole purser: real nats-server, real LMDB directory, the server and a client. */
export interface TestPurser {
  nats: TestNats;
  server: PurserServer;
  client: PurserClient;
  dataDir: string;
  /** Restarts the purser server (same NATS, same data directory). */
  restart(config?: Partial<PurserConfig>): Promise<PurserServer>;
  stop(): Promise<void>;
}

/**
 * Options of the test harness itself. Unless a test publishes poison on
 * purpose (`allowQuarantine`), stopping fails when the views quarantined an
 * event: a schema or a projection refusing what purser itself wrote is a bug.
 */
export interface TestPurserOptions {
  allowQuarantine?: boolean;
}

export async function startTestPurser(config: Partial<PurserConfig> = {}, harness: TestPurserOptions = {}): Promise<TestPurser> {
  const nats = await startTestNats();
  const data = tempDir("purser-data-");
  // Tests collect garbage only when they ask (gc.collect, --sync) unless they turn the scheduler on:
  // most create objects nothing references, which containerd's scheduler would rightly collect.
  // Every incremental GC plan is checked against a full one (gc/collector.ts).
  const base: PurserConfig = { natsUrl: nats.url, dataDir: data.path, log: silentLogger, ...config, gc: { verifyIncremental: true, ...(config.gc ?? { automatic: false }) } };
  const t: TestPurser = {
    nats,
    server: await PurserServer.start(base),
    client: await PurserClient.connect(nats.url, "test"),
    dataDir: data.path,
    async restart(more = {}) {
      await t.server.stop();
      t.server = await PurserServer.start({ ...base, ...more });
      return t.server;
    },
    async stop() {
      const quarantined = quarantinedEvents(t.server.runtime.views);
      await t.client.close();
      await t.server.stop();
      await nats.stop();
      data.remove();
      if (quarantined.length > 0 && !harness.allowQuarantine) {
        throw new Error(`the views quarantined events purser wrote: ${JSON.stringify(quarantined)}`);
      }
    },
  };
  return t;
}
