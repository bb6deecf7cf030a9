import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hostRoots, ObjectIndex } from "../src/gc/graph.js";
import { labelRefs, leaseExpired } from "../src/gc/labels.js";
import { explain, mark } from "../src/gc/mark.js";
import { emptyNamespaceObjects, ResourceType, type GcNode, type NamespaceObjects } from "../src/gc/model.js";
import { unreachable } from "../src/gc/sweep.js";

/**
 * Table-driven GC rule tests in the style of containerd's metadata/gc_test.go
 * (TestGCRoots, TestGCRefs, TestGCRemove): given these objects → these roots,
 * these references, these removals. One fixture builder per alterFunc.
 */
const now = new Date("2026-06-01T12:00:00Z");
const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
const timeIn = (ms: number) => rfc3339(new Date(now.getTime() + ms));
const dgst = (i: number) => `sha256:${i.toString(16).padStart(64, "0")}`;
const hour = 3600_000;
const snapRef = "containerd.io/gc.ref.snapshot.";
const contentRef = "containerd.io/gc.ref.content";
const root = "containerd.io/gc.root";
const expire = "containerd.io/gc.expire";
const flat = "containerd.io/gc.flat";

type Mutable = { -readonly [K in keyof NamespaceObjects]: Array<NamespaceObjects[K][number]> };
type Alter = (host: Map<string, Mutable>) => void;
const ns = (host: Map<string, Mutable>, name: string): Mutable => {
  let o = host.get(name);
  if (!o) {
    o = { images: [], containers: [], content: [], ingests: [], snapshots: [], leases: [] };
    host.set(name, o);
  }
  return o;
};
const lease = (host: Map<string, Mutable>, n: string, id: string) => {
  const o = ns(host, n);
  let l = o.leases.find((x) => x.id === id);
  if (!l) {
    l = { id, labels: {}, resources: [] };
    o.leases.push(l);
  }
  return l as { id: string; labels: Record<string, string>; resources: Array<{ type: string; id: string }> };
};
const addImage = (n: string, name: string, d: string, labels: Record<string, string> = {}): Alter => (h) => void ns(h, n).images.push({ name, targetDigest: d, labels });
const addContainer = (n: string, id: string, snapshotter: string, snapshotKey: string, labels: Record<string, string> = {}): Alter => (h) =>
  void ns(h, n).containers.push({ id, snapshotter: snapshotter || undefined, snapshotKey: snapshotKey || undefined, labels });
const addContent = (n: string, d: string, labels: Record<string, string> = {}): Alter => (h) => void ns(h, n).content.push({ digest: d, labels });
const addIngest = (n: string, ref: string, expected: string, expireAt?: string): Alter => (h) =>
  void ns(h, n).ingests.push({ ref, expected: expected || undefined, expireAt });
const addSnapshot = (n: string, snapshotter: string, key: string, parent: string, labels: Record<string, string> = {}): Alter => (h) =>
  void ns(h, n).snapshots.push({ snapshotter, key, parent: parent || undefined, labels });
const addLease = (n: string, id: string, labels: Record<string, string>): Alter => (h) => void Object.assign(lease(h, n, id).labels, labels);
const addLeaseContent = (n: string, id: string, d: string): Alter => (h) => void lease(h, n, id).resources.push({ type: "content", id: d });
const addLeaseSnapshot = (n: string, id: string, sn: string, key: string): Alter => (h) => void lease(h, n, id).resources.push({ type: `snapshots/${sn}`, id: key });
const addLeaseIngest = (n: string, id: string, ref: string): Alter => (h) => void lease(h, n, id).resources.push({ type: "ingests", id: ref });

function build(alters: Alter[]): Map<string, NamespaceObjects> {
  const host = new Map<string, Mutable>();
  for (const a of alters) a(host);
  return host as Map<string, NamespaceObjects>;
}

const node = (type: number, namespace: string, key: string, isFlat = false): GcNode => ({
  type: type as GcNode["type"],
  namespace,
  key,
  ...(isFlat ? { flat: true } : {}),
});
const sorted = (nodes: GcNode[]) =>
  nodes
    .map((n) => `${n.type}${n.flat ? "f" : ""} ${n.namespace} ${n.key}`)
    .sort()
    .filter((x, i, a) => a.indexOf(x) === i);

describe("GC roots (containerd TestGCRoots)", () => {
  test("roots of images, containers, content, ingests, snapshots and leases", () => {
    const host = build([
      addImage("ns1", "image1", dgst(1)),
      addImage("ns1", "image2", dgst(2), { [snapRef + "overlay"]: "sn2" }),
      addImage("ns2", "image3", dgst(10), { [contentRef]: dgst(11) }),
      addContainer("ns1", "container1", "overlay", "sn4"),
      addContainer("ns1", "container2", "overlay", "sn5", { [snapRef + "overlay"]: "sn6" }),
      addContainer("ns1", "container3", "overlay", "sn7", {
        [snapRef + "overlay/anything-1"]: "sn8",
        [snapRef + "overlay/anything-2"]: "sn9",
        [contentRef]: dgst(7),
      }),
      addContainer("ns1", "container4", "", "", { [contentRef + ".0"]: dgst(8), [contentRef + ".1"]: dgst(9) }),
      addContent("ns1", dgst(1)),
      addContent("ns1", dgst(2)),
      addContent("ns1", dgst(3)),
      addContent("ns2", dgst(1)),
      addContent("ns2", dgst(2), { [root]: "always" }),
      addContent("ns2", dgst(8)),
      addContent("ns2", dgst(9)),
      addIngest("ns1", "ingest-1", ""), // no expiry: seen as expired
      addIngest("ns1", "ingest-2", "", timeIn(0)), // expired
      addIngest("ns1", "ingest-3", "", timeIn(hour)),
      addIngest("ns2", "ingest-4", ""),
      addIngest("ns2", "ingest-5", dgst(8)),
      addIngest("ns2", "ingest-6", ""), // added to an expired lease
      addIngest("ns2", "ingest-7", dgst(9)), // added to an expired lease
      addSnapshot("ns1", "overlay", "sn1", ""),
      addSnapshot("ns1", "overlay", "sn2", ""),
      addSnapshot("ns1", "overlay", "sn3", "", { [root]: "always" }),
      ...["sn4", "sn5", "sn6", "sn7", "sn8", "sn9"].map((k) => addSnapshot("ns1", "overlay", k, "")),
      addLeaseSnapshot("ns2", "l1", "overlay", "sn5"),
      addLeaseSnapshot("ns2", "l2", "overlay", "sn6"),
      addLeaseContent("ns2", "l1", dgst(4)),
      addLeaseContent("ns2", "l2", dgst(5)),
      addLease("ns2", "l3", { [expire]: timeIn(hour) }),
      addLeaseContent("ns2", "l3", dgst(6)),
      addLeaseSnapshot("ns2", "l3", "overlay", "sn7"),
      addLeaseIngest("ns2", "l3", "ingest-4"),
      addLeaseIngest("ns2", "l3", "ingest-5"),
      addLease("ns2", "l4", { [expire]: rfc3339(new Date(now.getTime() - 1000)) }),
      addLeaseContent("ns2", "l4", dgst(7)),
      addLeaseSnapshot("ns2", "l4", "overlay", "sn8"),
      addLeaseIngest("ns2", "l4", "ingest-6"),
      addLeaseIngest("ns2", "l4", "ingest-7"),
      // 1.6: a flat lease emits flat-typed content and snapshots.
      addLease("ns3", "l1", { [flat]: "" }),
      addLeaseContent("ns3", "l1", dgst(1)),
      addLeaseSnapshot("ns3", "l1", "overlay", "sn1"),
      addLeaseIngest("ns3", "l1", "ingest-1"),
    ]);
    const expected: GcNode[] = [
      ...[1, 2, 7, 8, 9].map((i) => node(ResourceType.Content, "ns1", dgst(i))),
      ...[2, 4, 5, 6, 10, 11].map((i) => node(ResourceType.Content, "ns2", dgst(i))),
      ...["sn2", "sn3", "sn4", "sn5", "sn6", "sn7", "sn8", "sn9"].map((k) => node(ResourceType.Snapshot, "ns1", `overlay/${k}`)),
      ...["sn5", "sn6", "sn7"].map((k) => node(ResourceType.Snapshot, "ns2", `overlay/${k}`)),
      ...["l1", "l2", "l3"].map((k) => node(ResourceType.Lease, "ns2", k)),
      node(ResourceType.Ingest, "ns1", "ingest-3"),
      node(ResourceType.Ingest, "ns2", "ingest-4"),
      node(ResourceType.Ingest, "ns2", "ingest-5"),
      node(ResourceType.Lease, "ns3", "l1"),
      node(ResourceType.Ingest, "ns3", "ingest-1"),
      node(ResourceType.Content, "ns3", dgst(1), true),
      node(ResourceType.Snapshot, "ns3", "overlay/sn1", true),
    ];
    assert.deepEqual(sorted(hostRoots(host, now).map((e) => e.node)), sorted(expected));
  });

  const expiry: Array<[string, string | undefined, boolean]> = [
    ["no gc.expire: kept", undefined, false],
    ["expiry in the future: kept", timeIn(hour), false],
    ["expiry in the past: collected", timeIn(-hour), true],
    ["expiry with a zone offset", "2026-06-01T13:30:00+02:00", true],
    ["invalid expiry: logged and kept", "tomorrow", false],
    ["date only is not RFC 3339: kept", "2020-01-01", false],
  ];
  for (const [name, value, expired] of expiry) {
    test(`lease ${name}`, () => {
      const invalid: string[] = [];
      assert.equal(leaseExpired(value === undefined ? {} : { [expire]: value }, now, (v) => invalid.push(v)), expired);
      assert.deepEqual(invalid, name.startsWith("invalid") || name.startsWith("date only") ? [value] : []);
    });
  }
});

describe("GC references (containerd TestGCRefs)", () => {
  const host = build([
    addContent("ns1", dgst(1)),
    addContent("ns1", dgst(2)),
    addContent("ns1", dgst(3)),
    addContent("ns1", dgst(4), { [contentRef]: dgst(1) }),
    addContent("ns1", dgst(5), { [contentRef + ".anything-1"]: dgst(2), [contentRef + ".anything-2"]: dgst(3) }),
    addContent("ns1", dgst(6), { [contentRef + "bad"]: dgst(1) }),
    addContent("ns1", dgst(7), { [contentRef + "/anything-1"]: dgst(2), [contentRef + "/anything-2"]: dgst(3) }),
    addContent("ns2", dgst(1)),
    addContent("ns2", dgst(2)),
    addIngest("ns1", "ingest-1", ""),
    addIngest("ns2", "ingest-2", dgst(8)),
    addSnapshot("ns1", "overlay", "sn1", ""),
    addSnapshot("ns1", "overlay", "sn2", "sn1"),
    addSnapshot("ns1", "overlay", "sn3", "sn2"),
    addSnapshot("ns1", "overlay", "sn4", "", { [snapRef + "btrfs"]: "sn1", [snapRef + "overlay"]: "sn1" }),
    addSnapshot("ns1", "overlay", "sn5", "", { [snapRef + "overlay/anything-1"]: "sn1", [snapRef + "overlay/anything-2"]: "sn2" }),
    addSnapshot("ns1", "btrfs", "sn1", ""),
    addSnapshot("ns2", "overlay", "sn1", ""),
    addSnapshot("ns2", "overlay", "sn2", "sn1"),
    addSnapshot("ns2", "overlay", "sn3", "", { [contentRef]: dgst(1), [contentRef + ".keep-me"]: dgst(6) }),
  ]);
  const index = new ObjectIndex(host);
  const C = ResourceType.Content;
  const S = ResourceType.Snapshot;
  const cases: Array<[GcNode, GcNode[]]> = [
    [node(C, "ns1", dgst(1)), []],
    [node(C, "ns1", dgst(4)), [node(C, "ns1", dgst(1))]],
    [node(C, "ns1", dgst(5)), [node(C, "ns1", dgst(2)), node(C, "ns1", dgst(3))]],
    [node(C, "ns1", dgst(6)), []],
    [node(C, "ns1", dgst(7)), [node(C, "ns1", dgst(2)), node(C, "ns1", dgst(3))]],
    [node(C, "ns2", dgst(1)), []],
    [node(S, "ns1", "overlay/sn1"), []],
    [node(S, "ns1", "overlay/sn2"), [node(S, "ns1", "overlay/sn1")]],
    [node(S, "ns1", "overlay/sn3"), [node(S, "ns1", "overlay/sn2")]],
    [node(S, "ns1", "overlay/sn4"), [node(S, "ns1", "btrfs/sn1"), node(S, "ns1", "overlay/sn1")]],
    [node(S, "ns1", "overlay/sn5"), [node(S, "ns1", "overlay/sn1"), node(S, "ns1", "overlay/sn2")]],
    [node(S, "ns1", "btrfs/sn1"), []],
    [node(S, "ns2", "overlay/sn2"), [node(S, "ns2", "overlay/sn1")]],
    [node(S, "ns2", "overlay/sn3"), [node(C, "ns2", dgst(1)), node(C, "ns2", dgst(6))]],
    [node(ResourceType.Ingest, "ns1", "ingest-1"), []],
    [node(ResourceType.Ingest, "ns2", "ingest-2"), [node(C, "ns2", dgst(8))]],
    // Flat: content follows nothing; a snapshot only its parent, flat too.
    [node(C, "ns1", dgst(4), true), []],
    [node(S, "ns1", "overlay/sn2", true), [node(S, "ns1", "overlay/sn1", true)]],
    [node(S, "ns1", "overlay/sn4", true), []],
    // A dead edge (no record) references nothing.
    [node(C, "ns9", dgst(1)), []],
  ];
  for (const [n, refs] of cases) {
    test(`${n.flat ? "flat " : ""}${n.type === C ? "content" : n.type === S ? "snapshot" : "ingest"} ${n.namespace}/${n.key.slice(-12)}`, () => {
      assert.deepEqual(sorted(index.references(n).map((e) => e.node)), sorted(refs));
    });
  }

  test("label keys: exact, `.` or `/` after gc.ref.content; snapshotter up to `/`", () => {
    assert.deepEqual(
      labelRefs({
        [contentRef]: "a",
        [contentRef + ".x"]: "b",
        [contentRef + "/y"]: "c",
        [contentRef + "z"]: "ignored",
        [snapRef + "native"]: "k1",
        [snapRef + "overlay/foo/bar"]: "k2",
        other: "x",
      }),
      { content: ["a", "b", "c"], snapshots: [{ snapshotter: "native", key: "k1" }, { snapshotter: "overlay", key: "k2" }] },
    );
  });
});

describe("GC mark and sweep (containerd TestGCRemove, end to end)", () => {
  test("what is unreachable goes; containers and images never do", () => {
    const host = build([
      addImage("ns1", "image1", dgst(1)),
      addImage("ns1", "image2", dgst(2), { [snapRef + "overlay"]: "sn2" }),
      addContainer("ns1", "container1", "overlay", "sn4"),
      addContent("ns1", dgst(1)),
      addContent("ns1", dgst(2)),
      addContent("ns1", dgst(3)),
      addContent("ns2", dgst(1)),
      addContent("ns2", dgst(2), { [root]: "always" }),
      addIngest("ns1", "ingest-1", ""),
      addIngest("ns2", "ingest-2", "", timeIn(0)),
      addSnapshot("ns1", "overlay", "sn1", ""),
      addSnapshot("ns1", "overlay", "sn2", ""),
      addSnapshot("ns1", "overlay", "sn3", "", { [root]: "always" }),
      addSnapshot("ns1", "overlay", "sn4", ""),
      addSnapshot("ns2", "overlay", "sn1", ""),
      addLease("ns1", "l1", { [expire]: timeIn(hour) }),
      addLease("ns2", "l2", { [expire]: timeIn(-1000) }),
    ]);
    const index = new ObjectIndex(host);
    const black = mark(hostRoots(host, now), (n) => index.references(n));
    const removed = unreachable(host, black).map((r) => `${r.type} ${r.namespace} ${r.key}`);
    assert.deepEqual(removed.sort(), [
      `${ResourceType.Content} ns1 ${dgst(3)}`,
      `${ResourceType.Content} ns2 ${dgst(1)}`,
      `${ResourceType.Ingest} ns1 ingest-1`,
      `${ResourceType.Ingest} ns2 ingest-2`,
      `${ResourceType.Lease} ns2 l2`,
      `${ResourceType.Snapshot} ns1 overlay/sn1`,
      `${ResourceType.Snapshot} ns2 overlay/sn1`,
    ].sort());
  });

  test("an image keeps its whole chain: manifest → config → snapshot chain; children are removed before parents", () => {
    const host = build([
      addImage("default", "anchor:1.0", dgst(1)),
      addContent("default", dgst(1), { [contentRef + ".config"]: dgst(2), [contentRef + ".l.0"]: dgst(3) }),
      addContent("default", dgst(2), { [snapRef + "native"]: "chain2" }),
      addContent("default", dgst(3)),
      addSnapshot("default", "native", "chain1", ""),
      addSnapshot("default", "native", "chain2", "chain1"),
      // The same objects in foo, whose image was removed.
      addContent("foo", dgst(1), { [contentRef + ".config"]: dgst(2), [contentRef + ".l.0"]: dgst(3) }),
      addContent("foo", dgst(2), { [snapRef + "native"]: "chain2" }),
      addContent("foo", dgst(3)),
      addSnapshot("foo", "native", "chain1", ""),
      addSnapshot("foo", "native", "chain2", "chain1"),
      addSnapshot("foo", "native", "chain3", "chain2"),
    ]);
    const index = new ObjectIndex(host);
    const black = mark(hostRoots(host, now), (n) => index.references(n));
    assert.deepEqual(
      unreachable(host, black).map((r) => `${r.namespace} ${r.key}`),
      ["foo " + dgst(1), "foo " + dgst(2), "foo " + dgst(3), "foo native/chain3", "foo native/chain2", "foo native/chain1"],
    );
    // Why is default's bottom snapshot kept? The path from the root.
    const why = explain(black, node(ResourceType.Snapshot, "default", "native/chain1"));
    assert.deepEqual(
      why?.map((r) => r.reason),
      [
        "target of image anchor:1.0",
        `label ${contentRef}.config of content ${dgst(1)}`,
        `label ${snapRef}native of content ${dgst(2)}`,
        "parent of snapshot native/chain2",
      ],
    );
    assert.equal(explain(black, node(ResourceType.Snapshot, "foo", "native/chain1")), undefined);
  });

  test("an empty host collects nothing", () => {
    const host = new Map([["x", emptyNamespaceObjects]]);
    assert.deepEqual(unreachable(host, mark(hostRoots(host, now), () => [])), []);
  });
});
