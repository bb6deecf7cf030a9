import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { PurserClient } from "../src/client/purser-client.js";
import { containerdPayload } from "../src/events/containerd-payload.js";
import { leaseResourcesDb } from "../src/projections/leases.js";
import { prefixRange } from "../src/projections/key-range.js";
import { randomUUID } from "node:crypto";
import type { DomainEvent } from "../src/events/catalog.js";
import { subjectOfEvent } from "../src/events/event-subject.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { rejects, eventsOf } from "./support/assertions.js";

const digest = `sha256:${"b".repeat(64)}`;

interface Case {
  name: string;
  setup?: (c: PurserClient, ns: string) => Promise<unknown>;
  when: (c: PurserClient, ns: string) => Promise<unknown>;
  kind: string;
  text: string;
}

const withLease = (c: PurserClient, ns: string) => c.leases.create(ns, { id: "l1" });

/** Every refusal of containerd's lease plane (conformance A.9), against a real nats-server. */
const a9: Case[] = [
  { name: "create: the id exists [observed]", setup: withLease, when: (c, ns) => c.leases.create(ns, { id: "l1" }), kind: "AlreadyExists", text: 'lease "l1": already exists' },
  { name: "delete: missing [observed]", when: (c, ns) => c.leases.delete(ns, "l1"), kind: "NotFound", text: 'lease "l1": not found' },
  { name: "delete --sync: missing", when: (c, ns) => c.leases.delete(ns, "l1", { sync: true }), kind: "NotFound", text: 'lease "l1": not found' },
  { name: "add resource: the lease is missing", when: (c, ns) => c.leases.addResource(ns, "l1", { type: "content", id: digest }), kind: "NotFound", text: 'lease "l1": not found' },
  { name: "add resource: the lease is missing (checked before the type)", when: (c, ns) => c.leases.addResource(ns, "l1", { type: "bogus", id: "x" }), kind: "NotFound", text: 'lease "l1": not found' },
  {
    name: "add resource: content id is not a digest",
    setup: withLease,
    when: (c, ns) => c.leases.addResource(ns, "l1", { type: "content", id: "not-a-digest" }),
    kind: "InvalidArgument",
    text: "invalid content resource id not-a-digest: invalid checksum digest format: invalid argument",
  },
  { name: "add resource: content/x", setup: withLease, when: (c, ns) => c.leases.addResource(ns, "l1", { type: "content/x", id: digest }), kind: "InvalidArgument", text: "invalid resource type content/x: invalid argument" },
  { name: "add resource: ingests/x", setup: withLease, when: (c, ns) => c.leases.addResource(ns, "l1", { type: "ingests/x", id: "r" }), kind: "InvalidArgument", text: "invalid resource type ingests/x: invalid argument" },
  { name: "add resource: snapshots without a snapshotter", setup: withLease, when: (c, ns) => c.leases.addResource(ns, "l1", { type: "snapshots", id: "k" }), kind: "InvalidArgument", text: "invalid snapshot resource type snapshots: invalid argument" },
  { name: "add resource: snapshots/a/b", setup: withLease, when: (c, ns) => c.leases.addResource(ns, "l1", { type: "snapshots/a/b", id: "k" }), kind: "InvalidArgument", text: "invalid snapshot resource type snapshots/a/b: invalid argument" },
  { name: "add resource: an unsupported type", setup: withLease, when: (c, ns) => c.leases.addResource(ns, "l1", { type: "images", id: "x" }), kind: "NotImplemented", text: "resource type images not supported yet: not implemented" },
  { name: "delete resource: the lease is missing", when: (c, ns) => c.leases.deleteResource(ns, "l1", { type: "ingests", id: "r" }), kind: "NotFound", text: 'lease "l1": not found' },
  { name: "delete resource: an unsupported type", setup: withLease, when: (c, ns) => c.leases.deleteResource(ns, "l1", { type: "containers", id: "x" }), kind: "NotImplemented", text: "resource type containers not supported yet: not implemented" },
  { name: "list resources: the lease is missing", when: (c, ns) => c.leases.resources(ns, "l1"), kind: "NotFound", text: 'lease "l1": not found' },
  {
    name: "list: a filter that does not parse (wrapped twice, as containerd's lease List does)",
    when: (c, ns) => c.leases.list(ns, ["id=="]),
    kind: "InvalidArgument",
    text: "filters: parse error: [id==]: expected value or quoted: invalid argument: invalid argument",
  },
  { name: "implicit leasing: the context lease is missing", when: (c, ns) => c.snapshots.prepare(ns, "k", "", { lease: "l1" }), kind: "NotFound", text: "lease does not exist: not found" },
  {
    name: "implicit leasing: the context lease was deleted",
    setup: async (c, ns) => {
      await withLease(c, ns);
      await c.leases.delete(ns, "l1");
    },
    when: (c, ns) => c.snapshots.view(ns, "k", "", { lease: "l1" }),
    kind: "NotFound",
    text: "lease does not exist: not found",
  },
];

describe("leases against a real nats-server and LMDB", () => {
  let p: TestPurser;
  let c: PurserClient;
  let clock: { at: Date };
  before(async () => {
    clock = { at: new Date("2026-03-04T05:06:07.890Z") };
    p = await startTestPurser({ clock: { now: () => clock.at } });
    c = p.client;
  });
  after(async () => {
    await p.stop();
  });

  describe("every refusal of A.9, with containerd's class and text", () => {
    a9.forEach((tc, i) => {
      test(tc.name, async () => {
        const ns = `a9-${i + 1}`;
        await tc.setup?.(c, ns);
        await p.server.runtime.catchUp(10_000);
        await rejects(tc.when(c, ns), tc.kind, tc.text);
      });
    });
  });

  test("create: a generated id like containerd's, labels unvalidated, --expires from the service clock", async () => {
    const ns = "create";
    const generated = await c.leases.create(ns);
    assert.match(generated.result.id, /^\d{1,9}-[A-Za-z0-9_-]{4}$/);
    assert.equal(generated.result.createdAt, "2026-03-04T05:06:07.890Z");
    const big = "x".repeat(5000);
    const withExpiry = await c.leases.create(ns, { id: "exp", labels: { big, empty: "" }, expiresInMs: 90 * 60_000 });
    assert.deepEqual(withExpiry.result.labels, { big, "containerd.io/gc.expire": "2026-03-04T06:36:07Z" });
    // A client that sends no id gets one from the service (leases.WithRandomID).
    const raw = await c.command<{ id: string }>(ns, "leases", "create", {});
    assert.match(raw.result.id, /^\d{1,9}-[A-Za-z0-9_-]{4}$/);
  });

  test("list with filters id and labels.<k>", async () => {
    const ns = "list";
    await c.leases.create(ns, { id: "a", labels: { team: "x", "containerd.io/gc.flat": "1" } });
    await c.leases.create(ns, { id: "b", labels: { team: "y" } });
    const last = await c.leases.create(ns, { id: "c" });
    const ids = async (...filters: string[]) => (await c.leases.list(ns, filters, { minRv: last.rv })).result.map((l) => l.id);
    const cases: Array<[string[], string[]]> = [
      [[], ["a", "b", "c"]],
      [["id==b"], ["b"]],
      [["id~=^[ab]$"], ["a", "b"]],
      [["labels.team==x"], ["a"]],
      [["labels.team"], ["a", "b"]],
      [["labels.team!=x"], ["b", "c"]],
      [["labels.\"containerd.io/gc.flat\""], ["a"]],
      [["id==a", "id==c"], ["a", "c"]],
    ];
    for (const [filters, expected] of cases) assert.deepEqual(await ids(...filters), expected, filters.join(" OR "));
  });

  test("resources: add is idempotent, list in containerd's order, delete of an absent one is no error", async () => {
    const ns = "res";
    await c.leases.create(ns, { id: "l" });
    const add = (type: string, id: string) => c.leases.addResource(ns, "l", { type, id });
    await add("snapshots/native", "k2");
    await add("snapshots/btrfs", "k1");
    await add("ingests", "ref-1");
    await add("content", digest);
    await add("content", digest);
    const lastAdd = await add("snapshots/native", "k1");
    const res = await c.leases.resources(ns, "l", { minRv: lastAdd.rv });
    assert.deepEqual(res.result, [
      { type: "content", id: digest },
      { type: "ingests", id: "ref-1" },
      { type: "snapshots/btrfs", id: "k1" },
      { type: "snapshots/native", id: "k1" },
      { type: "snapshots/native", id: "k2" },
    ]);
    await c.leases.deleteResource(ns, "l", { type: "snapshots/native", id: "k1" });
    const never = await c.leases.deleteResource(ns, "l", { type: "snapshots/native", id: "never" });
    assert.equal((await c.leases.resources(ns, "l", { minRv: never.rv })).result.length, 4);
    // Deleting the lease drops what it held.
    const del = await c.leases.delete(ns, "l", { sync: true });
    await c.leases.create(ns, { id: "l" });
    assert.deepEqual((await c.leases.resources(ns, "l", { minRv: del.rv })).result, []);
    const types = (await eventsOf(p.client, ns)).map((e) => e.event.type);
    assert.deepEqual(types, [
      "NamespaceCreated",
      "LeaseCreated",
      "LeaseResourceAdded",
      "LeaseResourceAdded",
      "LeaseResourceAdded",
      "LeaseResourceAdded",
      "LeaseResourceAdded",
      "LeaseResourceRemoved",
      "LeaseDeleted",
      "LeaseCreated",
    ]);
  });

  test("events for every lease change (containerd has none: divergence 7)", async () => {
    const ns = "lease-events";
    await c.leases.create(ns, { id: "l", labels: { a: "b" } });
    await c.leases.addResource(ns, "l", { type: "ingests", id: "r" });
    await c.leases.deleteResource(ns, "l", { type: "ingests", id: "r" });
    await c.leases.delete(ns, "l");
    const events = (await eventsOf(p.client, ns)).filter((e) => e.event.type.startsWith("Lease"));
    assert.deepEqual(
      events.map((e) => [e.event.type, e.topic, containerdPayload(e.event)]),
      [
        ["LeaseCreated", "/leases/create", { id: "l", labels: { a: "b" } }],
        ["LeaseResourceAdded", "/leases/add-resource", { id: "l", resource: { type: "ingests", id: "r" } }],
        ["LeaseResourceRemoved", "/leases/delete-resource", { id: "l", resource: { type: "ingests", id: "r" } }],
        ["LeaseDeleted", "/leases/delete", { id: "l" }],
      ],
    );
    const created = events[0]!.event;
    assert.ok(created.type === "LeaseCreated");
    assert.deepEqual(created.data.lease, { id: "l", labels: { a: "b" }, createdAt: "2026-03-04T05:06:07.890Z" });
    // The lease's own events on its subject; the hold on one resource on that resource's (no conflict between resources).
    const [lease, added, removed, deleted] = events.map((e) => e.subject);
    assert.deepEqual([deleted, removed], [lease, added]);
    assert.notEqual(added, lease);
    assert.match(added!, /^purser\.ev\.lease-events\.lease-resource\./);
  });

  test("deleting a namespace drops its leases, each with an event (divergence 4), and their resources", async () => {
    const ns = "dropped";
    await c.leases.create(ns, { id: "l1" });
    await c.leases.create(ns, { id: "l2" });
    await c.leases.addResource(ns, "l2", { type: "content", id: digest });
    const del = await c.namespaces.delete(ns);
    const tail = (await eventsOf(p.client, ns)).slice(-3).map((e) => [e.event.type, "id" in e.event.data ? e.event.data.id : e.event.data]);
    assert.deepEqual(tail, [
      ["LeaseDeleted", "l1"],
      ["LeaseDeleted", "l2"],
      ["NamespaceDeleted", { name: ns }],
    ]);
    await p.server.runtime.waitFor(ns, del.rv);
    assert.deepEqual([...p.server.holder.current.db(leaseResourcesDb).getKeys(prefixRange([ns]))], []);
    assert.deepEqual((await c.leases.list(ns, [], { minRv: del.rv })).result, []);
  });

  test("an addition decided for a lease deleted and created again under its id meanwhile is the deleted lease's: the new one does not hold it", async () => {
    const ns = "lease-reborn";
    const first = await c.leases.create(ns, { id: "l" });
    // An addition decided now, on views showing the first lease, reaches the log only later.
    const resource = { type: "ingests", id: "r" };
    const decidedForFirst: DomainEvent = { type: "LeaseResourceAdded", data: { id: "l", resource, leaseRv: first.rv } };
    await c.leases.delete(ns, "l");
    const second = await c.leases.create(ns, { id: "l" });
    const append = (event: DomainEvent) =>
      p.server.store.append(ns, { event, subject: subjectOfEvent(ns, event), expect: { none: true }, msgId: randomUUID() }, { eventId: randomUUID(), correlationId: "c", causationId: "c", actor: "test" });
    const late = await append(decidedForFirst);
    assert.deepEqual((await c.leases.resources(ns, "l", { minRv: late.seq })).result, []);
    // The same addition decided for the lease that exists lands.
    const current = await append({ type: "LeaseResourceAdded", data: { id: "l", resource, leaseRv: second.rv } });
    assert.deepEqual((await c.leases.resources(ns, "l", { minRv: current.seq })).result, [resource]);
    // And what the command itself decides names the lease's incarnation.
    await c.leases.addResource(ns, "l", { type: "content", id: `sha256:${"d".repeat(64)}` });
    const added = (await eventsOf(p.client, ns)).filter((e) => e.event.type === "LeaseResourceAdded").pop()!;
    assert.equal((added.event.data as { leaseRv?: number }).leaseRv, second.rv);
  });

  test("concurrent resource additions to one lease all land (OCC per resource of the lease)", async () => {
    const ns = "concurrent";
    await c.leases.create(ns, { id: "l" });
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.leases.addResource(ns, "l", { type: "ingests", id: `r${String(i).padStart(2, "0")}` })));
    await p.server.runtime.catchUp(10_000);
    const res = await c.leases.resources(ns, "l");
    assert.equal(res.result.length, 20);
  });
});
