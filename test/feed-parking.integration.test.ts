/**
 * Parked feeds (projections/runtime.ts, `parkIdleMs`) against a real
 * nats-server and LMDB: an idle namespace's consumer is stopped, so
 * nats-server holds none for it; a read-your-write query, a command, and an
 * event appended behind the command service's back (as another process does)
 * each bring the views up to date again.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { DomainEvent } from "../src/events/catalog.js";
import { newEventContext } from "../src/events/event-store.js";
import { eventSubject, ObjectKind, streamName } from "../src/events/subjects.js";
import { eventually } from "./support/assertions.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

describe("parked feeds", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser({ runtime: { parkIdleMs: 300, rescanIntervalMs: 200 } });
  });
  after(async () => {
    await p.stop();
  });

  const consumersOf = async (ns: string) => {
    const jsm = await jetstreamManager(p.server.nc);
    let n = 0;
    for await (const _ of jsm.consumers.list(streamName(ns))) n++;
    return n;
  };

  test("an idle namespace holds no consumer; a query, a command and a foreign append bring its views up to date", async () => {
    const ns = "parked";
    const first = await p.client.leases.create(ns, { id: "one" });
    assert.deepEqual((await p.client.leases.list(ns, [], { minRv: first.rv })).result.map((l) => l.id), ["one"]);
    await eventually(() => p.server.runtime.parkedFeeds() >= 1, "parked");
    await eventually(async () => (await consumersOf(ns)) === 0, "without a consumer on nats-server", 20_000);
    // It stays parked through several rescans (each lists the streams; none grew).
    const parked = p.server.runtime.parkedFeeds();
    await new Promise((r) => setTimeout(r, 5 * 200));
    assert.equal(p.server.runtime.parkedFeeds(), parked, "no rescan woke an idle feed");
    assert.equal(await consumersOf(ns), 0);

    // A command and a read of it, with its rv.
    const second = await p.client.leases.create(ns, { id: "two" });
    assert.deepEqual((await p.client.leases.list(ns, [], { minRv: second.rv })).result.map((l) => l.id), ["one", "two"]);
    await eventually(() => p.server.runtime.parkedFeeds() >= 1, "parked again");

    // An event appended behind the service's back, as another process would: no one here waits for it.
    const event: DomainEvent = { type: "LeaseDeleted", data: { id: "one" } };
    const appended = await p.server.store.append(
      ns,
      { event, subject: eventSubject(ns, ObjectKind.Lease, "one"), expect: { lastSubjectSequence: first.rv }, msgId: "foreign-delete" },
      newEventContext("foreign", "foreign", "test"),
    );
    await eventually(() => p.server.runtime.applied(ns) >= appended.seq, "applied by the rescan");
    assert.deepEqual((await p.client.leases.list(ns)).result.map((l) => l.id), ["two"]);
  });
});
