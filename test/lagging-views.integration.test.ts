import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { streamName } from "../src/events/subjects.js";
import type { Projection } from "../src/projections/projection.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { eventually } from "./support/assertions.js";

const ns = "lagging";
const digest = `sha256:${"c".repeat(64)}`;

/**
 * Holds back the views of one namespace while closed: every apply fails as
 * the store would (an error with a `code`, like a full map), so the runtime
 * retries the batch instead of quarantining the event.
 */
class Gate {
  closed = false;
  refusals = 0;
  readonly projection: Projection = {
    name: "test-gate",
    databases: [],
    apply: (_views, stored) => {
      if (this.closed && stored.namespace === ns) {
        this.refusals++;
        throw Object.assign(new Error("gate closed"), { code: "EAGAIN" });
      }
    },
  };
}

describe("commands on views that lag the log", () => {
  const gate = new Gate();
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser({ extraProjections: [gate.projection] });
  });
  after(async () => {
    await p.stop();
  });

  test("a command with nothing to append waits for the views to hold the whole log, then decides (the delete is not lost)", async () => {
    const c = p.client;
    const created = await c.leases.create(ns, { id: "l" });
    await c.leases.list(ns, [], { minRv: created.rv }); // the lease is in the views before they are held back
    gate.closed = true;
    const added = await c.leases.addResource(ns, "l", { type: "content", id: digest });
    await eventually(() => gate.refusals >= 1, "the views to try the addition");

    let answered = false;
    const deleted = c.leases.deleteResource(ns, "l", { type: "content", id: digest }).finally(() => (answered = true));
    // Decided on the lagging views, this delete would see no such resource and answer at once with nothing appended.
    const seen = gate.refusals;
    await eventually(() => gate.refusals >= seen + 2, "two more retries of the held-back event");
    assert.equal(answered, false, "answered while its views lagged the log");

    gate.closed = false;
    const reply = await deleted;
    assert.ok(reply.rv > added.rv, `rv ${reply.rv} does not follow the addition at ${added.rv}`);
    assert.deepEqual((await c.leases.resources(ns, "l", { minRv: reply.rv })).result, []);
  });
});

describe("a gap in a stream's sequences", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p.stop();
  });

  test("a message removed by hand is passed over (after one retry from the checkpoint), live and on rebuild", async () => {
    const ns = "holey";
    await p.client.namespaces.create(ns, { v: "0" });
    const mid = await p.client.namespaces.update(ns, { v: "1" });
    await p.client.namespaces.get(ns, { minRv: mid.rv });
    // An operator removes an event from the middle of the log; later events (on other subjects) follow it.
    await (await jetstreamManager(p.client.nc)).streams.deleteMessage(streamName(ns), mid.rv);
    const lease = await p.client.leases.create(ns, { id: "after-the-hole" });
    assert.deepEqual((await p.client.leases.list(ns, [], { minRv: lease.rv })).result.map((l) => l.id), ["after-the-hole"]);
    // A rebuild meets the gap from the start: it reaches the end of the log, without the removed event.
    await p.client.system.rebuild();
    assert.deepEqual((await p.client.leases.list(ns, [], { minRv: lease.rv })).result.map((l) => l.id), ["after-the-hole"]);
    assert.deepEqual((await p.client.namespaces.get(ns)).result.labels, { v: "0" });
  });
  test("a consumer that skips messages still in the stream never makes the views skip them, however often it does", async () => {
    const ns = "skippy";
    // The consumers of this stream drop its third event, three times (a glitch under load).
    const js = p.server.store.js;
    const realGet = js.consumers.get.bind(js.consumers);
    const target = 3;
    let drops = 0;
    js.consumers.get = (async (stream: string, opts: never) => {
      const consumer = await realGet(stream, opts);
      if (stream !== streamName(ns)) return consumer;
      const realConsume = consumer.consume.bind(consumer);
      consumer.consume = (async (o: never) => {
        const messages = await realConsume(o);
        const iterate = messages[Symbol.asyncIterator].bind(messages);
        messages[Symbol.asyncIterator] = async function* () {
          for await (const m of { [Symbol.asyncIterator]: iterate }) {
            if (m.seq === target && drops < 3) {
              drops++;
              continue;
            }
            yield m;
          }
        } as never;
        return messages;
      }) as never;
      return consumer;
    }) as never;
    try {
      await p.client.namespaces.create(ns);
      const first = await p.client.leases.create(ns, { id: "l0" });
      await p.client.leases.list(ns, [], { minRv: first.rv });
      const a = await p.client.leases.create(ns, { id: "l1" });
      const b = await p.client.leases.create(ns, { id: "l2" });
      assert.equal(a.rv, target);
      // Read-your-writes: the views reach b's rv only through l1's event, never past it.
      assert.deepEqual((await p.client.leases.list(ns, [], { minRv: b.rv })).result.map((l) => l.id), ["l0", "l1", "l2"]);
      assert.ok(drops >= 2, `the consumer dropped the event ${drops} times`);
    } finally {
      js.consumers.get = realGet as never;
    }
  });
});
