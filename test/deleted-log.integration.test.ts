/**
 * An operator with JetStream rights deletes a namespace's stream (purser's
 * own identities cannot: docs/security.md). The views still hold the
 * namespace; an empty stream made again under them would start at rv 1,
 * behind them, and what landed there would never be applied. purser refuses
 * instead, and says what to do; a rebuild makes the views match the log.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { isJetStreamApiError, JetStreamApiCode } from "../src/events/jetstream-errors.js";
import { streamName } from "../src/events/subjects.js";
import { rejects } from "./support/assertions.js";
import { startTestPurser } from "./support/purser.js";

const gone = (rv: number) =>
  `the log of namespace "erased" is gone (its stream was deleted outside purser) while the views hold it up to rv ${rv}: restore the stream, or run \`purser rebuild\` to make the views match the log: failed precondition`;

describe("a namespace's stream deleted outside purser", () => {
  test("writes and the collector's sweep are refused and no empty stream is made under the views, before and after a restart; the host's collection goes on; a rebuild drops the namespace, which can then be made again", async () => {
    const p = await startTestPurser();
    try {
      await p.client.namespaces.create("erased");
      await p.client.leases.create("erased", { id: "before" });
      // Garbage the collector would remove, here and in another namespace.
      const expired = await p.client.leases.create("erased", { id: "expired", expiresInMs: 1 });
      assert.equal(expired.rv, 3);
      await p.client.leases.create("other", { id: "expired", expiresInMs: 1 });
      const jsm = await jetstreamManager(p.client.nc);
      await jsm.streams.delete(streamName("erased"));
      const noStream = async () => {
        const err = await jsm.streams.info(streamName("erased")).then(() => undefined, (e: unknown) => e);
        assert.ok(isJetStreamApiError(err, JetStreamApiCode.StreamNotFound), `the stream stays deleted (${String(err)})`);
      };

      await rejects(p.client.leases.create("erased", { id: "after" }), "FailedPrecondition", gone(3));
      await rejects(p.client.namespaces.update("erased", { k: "v" }), "FailedPrecondition", gone(3));
      await noStream();
      // A new process knows no stream yet: the views' rv is what tells.
      await p.restart();
      await rejects(p.client.leases.create("erased", { id: "after" }), "FailedPrecondition", gone(3));
      await noStream();
      // The collection goes on for the host, and leaves the namespace it cannot write to as it is.
      const collected = await p.client.gc.collect();
      assert.deepEqual(collected.result.removed, [{ namespace: "other", type: "lease", key: "expired" }]);
      await noStream();
      // Reads still answer from the views, as the log was.
      assert.deepEqual((await p.client.leases.list("erased")).result.map((l) => l.id).sort(), ["before", "expired"]);

      await p.server.rebuild();
      await rejects(p.client.namespaces.get("erased"), "NotFound", 'namespace "erased": not found');
      const again = await p.client.namespaces.create("erased");
      assert.equal(again.rv, 1);
      assert.deepEqual((await p.client.leases.list("erased", [], { minRv: again.rv })).result, []);
    } finally {
      await p.stop();
    }
  });
});
