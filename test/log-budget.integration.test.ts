/**
 * The event log's own budget (JetStream's `max_file_store`) used up: every
 * command is refused as ResourceExhausted with the store's words, reads go
 * on, and nothing is half-written.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PurserClient } from "../src/client/purser-client.js";
import { silentLogger } from "../src/observability/logger.js";
import { PurserServer } from "../src/server/purser-server.js";
import { freePort, startNatsServer, type RunningNatsServer } from "../src/server/nats-server.js";
import { rejects } from "./support/assertions.js";

describe("the event log's budget used up", () => {
  const dir = mkdtempSync(join(tmpdir(), "purser-budget-"));
  let nats: RunningNatsServer;
  let server: PurserServer;
  let client: PurserClient;
  before(async () => {
    const config = join(dir, "nats.conf");
    writeFileSync(config, `max_payload: 1MB\njetstream {\n  store_dir: "${join(dir, "store")}"\n  max_memory_store: 16MB\n  max_file_store: 256KB\n}\n`);
    nats = await startNatsServer({ storeDir: join(dir, "store"), port: await freePort(), configFile: config, storeDirInConfig: true, dieWithParent: true });
    server = await PurserServer.start({ natsUrl: nats.url, dataDir: join(dir, "data"), log: silentLogger, gc: { automatic: false } });
    client = await PurserClient.connect(nats.url, "test");
  });
  after(async () => {
    await client?.close();
    await server?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("commands are ResourceExhausted naming the log; queries still answer", async () => {
    let written = 0;
    let refusal: unknown;
    const label = "x".repeat(1024);
    for (let i = 0; i < 2000 && refusal === undefined; i++) {
      try {
        await client.leases.create("budget", { id: `l${i}`, labels: { pad: label } });
        written++;
      } catch (err) {
        refusal = err;
      }
    }
    assert.ok(written > 0, "some events fit");
    await rejects(Promise.reject(refusal), "ResourceExhausted", /^the event log of namespace "budget" has no room: .*(insufficient|resources).*: resource exhausted$/);
    // Reads are not refused, and every acknowledged write is there.
    const { result } = await client.leases.list("budget");
    assert.equal(result.length, written);
  });
});
