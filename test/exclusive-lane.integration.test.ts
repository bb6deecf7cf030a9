import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ExclusiveLane } from "../src/commands/exclusive-lane.js";
import type { DomainEvent } from "../src/events/catalog.js";
import { newEventContext, WrongExpectedSequenceError } from "../src/events/event-store.js";
import { eventSubject, ObjectKind } from "../src/events/subjects.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

const ev = (id: string): DomainEvent => ({ type: "LeaseDeleted", data: { id } });

describe("ExclusiveLane bookkeeping", () => {
  test("pending events that continue the views are handed out with the last sequence and message id", () => {
    const lane = new ExclusiveLane();
    assert.deepEqual(lane.unapplied(10), { events: [], last: 10 });
    lane.record([
      { seq: 11, event: ev("a"), msgId: "m11" },
      { seq: 12, event: ev("b"), msgId: "m12" },
    ]);
    assert.deepEqual(lane.unapplied(10), { events: [ev("a"), ev("b")], last: 12, lastMsgId: "m12" });
    // The views applied the first: it is no longer pending.
    assert.deepEqual(lane.unapplied(11), { events: [ev("b")], last: 12, lastMsgId: "m12" });
  });

  test("another writer's event among them is a gap: catch up to the lane's last first", () => {
    const lane = new ExclusiveLane();
    lane.record([
      { seq: 11, event: ev("a"), msgId: "m11" },
      { seq: 13, event: ev("c"), msgId: "m13" },
    ]);
    assert.deepEqual(lane.unapplied(10), { gapUntil: 13 });
    assert.deepEqual(lane.unapplied(13), { events: [], last: 13 });
  });

  test("a failed send drops itself and everything sent after it", () => {
    const lane = new ExclusiveLane();
    lane.record([11, 12, 13].map((seq) => ({ seq, event: ev(String(seq)), msgId: `m${seq}` })));
    lane.fail(12);
    assert.deepEqual(lane.unapplied(10), { events: [ev("11")], last: 11, lastMsgId: "m11" });
  });

  test("turns run one at a time, in order", async () => {
    const lane = new ExclusiveLane();
    const order: string[] = [];
    await Promise.all(
      [3, 1, 2].map((delay, i) =>
        lane.turn(async () => {
          order.push(`start ${i}`);
          await new Promise((r) => setTimeout(r, delay));
          order.push(`end ${i}`);
        }),
      ),
    );
    assert.deepEqual(order, ["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]);
  });
});

describe("the chain guard on a real nats-server", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p.stop();
  });

  test("an append chained on a message id lands only behind that very message, whatever the sequence", async () => {
    const store = p.server.store;
    const ns = "chain-guard";
    const subject = (id: string) => eventSubject(ns, ObjectKind.Lease, id);
    const ctx = () => newEventContext("c", "c", "test");
    const first = await store.append(ns, { event: ev("x"), subject: subject("x"), expect: { none: true }, msgId: "first" }, ctx());
    // Ours, chained on the first: lands.
    const ours = await store.append(ns, { event: ev("y"), subject: subject("y"), expect: { lastSequence: first.seq, lastMsgId: "first" }, msgId: "ours" }, ctx());
    assert.equal(ours.seq, first.seq + 1);
    // A send chained on an append that never landed fails even where the sequence matches
    // (another writer's event took that place): the decision behind it saw a different log.
    const foreign = await store.append(ns, { event: ev("z"), subject: subject("z"), expect: { none: true }, msgId: "foreign" }, ctx());
    await assert.rejects(
      store.append(ns, { event: ev("w"), subject: subject("w"), expect: { lastSequence: foreign.seq, lastMsgId: "never-landed" }, msgId: "doomed" }, ctx()),
      (err: unknown) => err instanceof WrongExpectedSequenceError,
    );
    // Sends issued one after another without awaiting leave in order and chain.
    const a = store.append(ns, { event: ev("p"), subject: subject("p"), expect: { lastSequence: foreign.seq, lastMsgId: "foreign" }, msgId: "p" }, ctx());
    const b = store.append(ns, { event: ev("q"), subject: subject("q"), expect: { lastSequence: foreign.seq + 1, lastMsgId: "p" }, msgId: "q" }, ctx());
    const [ra, rb] = await Promise.all([a, b]);
    assert.deepEqual([ra.seq, rb.seq], [foreign.seq + 1, foreign.seq + 2]);
  });
});
