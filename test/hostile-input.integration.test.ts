import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { PurserClient } from "../src/client/purser-client.js";
import { encodeWireMsgpack } from "../src/events/msgpack.js";
import { commandSubject } from "../src/protocol/subjects.js";
import { RequestHeader } from "../src/protocol/request-headers.js";
import { eventsOf, eventually, rejects } from "./support/assertions.js";
import { PurserError } from "../src/errors/errdefs.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { buildLayer, putImage, sha256 } from "./support/layers.js";
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";

const target = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${"d".repeat(64)}`, size: 10 };

/** Crafted requests (issue 11): each is refused with a clear class, or answered, never wedging the service. */
describe("hostile input: filters and identifiers", () => {
  let p: TestPurser;
  let other: PurserClient;
  before(async () => {
    p = await startTestPurser();
    other = await PurserClient.connect(p.nats.url, "bystander");
  });
  after(async () => {
    await other.close();
    await p.stop();
  });

  test("a ~= pattern that backtracks exponentially in JavaScript answers while another client is served (RE2)", { timeout: 60_000 }, async () => {
    const ns = "redos";
    const created = await p.client.images.create(ns, { name: "a".repeat(1800), target });
    const bystanderNs = await other.namespaces.create("bystander");
    // A backtracking engine explores 2^1800 ways to split the name; RE2 reads it once.
    const [listed, bystander] = await Promise.all([
      p.client.images.list(ns, ['name~="^(a|a)+b$"'], { minRv: created.rv }),
      other.namespaces.get("bystander", { minRv: bystanderNs.rv }),
    ]);
    assert.deepEqual(listed.result, []);
    assert.equal(bystander.result.name, "bystander");
    assert.deepEqual((await p.client.images.list(ns, ['name~="^(a+)+$"'])).result.map((i) => i.name), ["a".repeat(1800)]);
  });

  test("Go's syntax and error text for a bad pattern", async () => {
    await rejects(
      p.client.images.list("redos", ['name~="a(?=b)"']),
      "InvalidArgument",
      'filters: parse error: [name~="a(?=b)"]: error compiling regexp "a(?=b)": invalid or unsupported Perl syntax: `(?=`: invalid argument: invalid argument',
    );
    // Go accepts flags mid-pattern; the JavaScript translation did not.
    assert.deepEqual((await p.client.images.list("redos", ['name~="x(?i)Y"'])).result, []);
  });

  const long = "k".repeat(2000);
  const refused = (field: string) => `request field "${field}" greater than maximum length (1800 bytes): invalid argument`;
  const cases: Array<[string, (c: PurserClient) => Promise<unknown>, string]> = [
    ["an image name", (c) => c.images.create("long", { name: long, target }), refused("name")],
    ["an image get", (c) => c.images.get("long", long), refused("name")],
    ["a list cursor", (c) => c.query("long", "images", "list", { after: long }), refused("after")],
    ["a container id", (c) => c.containers.create("long", { id: long, image: "x", runtime: { name: "r" } } as never), refused("id")],
    ["a snapshot key", (c) => c.snapshots.prepare("long", long), refused("key")],
    ["a snapshot key over its own bound", (c) => c.snapshots.prepare("long", "k".repeat(1000)), "snapshot key greater than maximum length (900 bytes): invalid argument"],
    ["a lease id", (c) => c.leases.create("long", { id: long }), refused("id")],
    ["a lease header", (c) => c.leases.create("long", { id: "l" }, { lease: long }), "Purser-Lease greater than maximum length (1800 bytes): invalid argument"],
  ];
  for (const [what, when, text] of cases) {
    test(`an over-long identifier is InvalidArgument before it reaches LMDB: ${what}`, async () => {
      await rejects(when(p.client), "InvalidArgument", text);
    });
  }

  test("a snapshot key and its parent share one LMDB key: each is bounded at 900 bytes, and two at the bound are stored", async () => {
    const parent = "p".repeat(900);
    await p.client.snapshots.prepare("twokeys", "p-active");
    await p.client.snapshots.commit("twokeys", parent, "p-active");
    const child = await p.client.snapshots.prepare("twokeys", "k".repeat(900), parent);
    assert.equal((await p.client.snapshots.stat("twokeys", "k".repeat(900), { minRv: child.rv })).result.parent, parent);
    await rejects(p.client.snapshots.prepare("twokeys", "k".repeat(901), parent), "InvalidArgument", "snapshot key greater than maximum length (900 bytes): invalid argument");
    assert.deepEqual((await p.client.system.quarantined()).result, []);
  });

  test("min-rv queries on a namespace with no log leave nothing running once they are answered", async () => {
    const digest = `sha256:${"f".repeat(64)}`;
    const beyond = 'rv 5 is beyond the log of namespace "nowhere" (its last rv is 0): failed precondition';
    for (const [verb, payload] of [["status", { ref: "r" }], ["statuses", {}], ["read", { digest }]] as const) {
      const h = natsHeaders();
      h.set(RequestHeader.MinRv, "5");
      await rejects(p.client.requestMsg(commandSubject("nowhere", "content", verb), encodeWireMsgpack(payload), h), "FailedPrecondition", beyond);
    }
    // The wait of a query that was answered leaves no consumer retrying a stream that does not exist.
    await Promise.allSettled(Array.from({ length: 20 }, () => p.server.runtime.waitFor("nowhere", 5, 50)));
    await eventually(() => !p.server.runtime.tracking("nowhere"), "the views to stop trying a stream that does not exist");
  });

  test("no over-long request appended anything", async () => {
    assert.deepEqual((await eventsOf(p.client, "long")).map((e) => e.event.type), []);
  });

  test("an over-long actor header is refused too (it would be carried into every event)", async () => {
    const h = natsHeaders();
    h.set(RequestHeader.Actor, "a".repeat(1801));
    await rejects(p.client.requestMsg(commandSubject("long", "leases", "create"), encodeWireMsgpack({ id: "x" }), h), "InvalidArgument", "Purser-Actor greater than maximum length (1800 bytes): invalid argument");
  });
});

describe("hostile input: layers that expand without bound", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser({ unpack: { maxLayerBytes: 1024 * 1024, maxLayerEntries: 3 } });
  });
  after(async () => {
    await p.stop();
  });

  test("a gzip bomb (16 MiB of zeros in a few KiB) is refused past --unpack-max-layer-bytes, and nothing is left", async () => {
    const bomb = await buildLayer([{ name: "zeros", data: Buffer.alloc(16 * 1024 * 1024) }]);
    assert.ok(bomb.blob.length < 64 * 1024, `the bomb is ${bomb.blob.length} bytes`);
    await putImage(p.client, "bomb", "bomb:1", [bomb]);
    await rejects(
      p.client.images.unpack("bomb", "bomb:1"),
      "InvalidArgument",
      `failed to extract layer ${bomb.diffId}: the layer expands beyond 1048576 bytes (serve --unpack-max-layer-bytes): invalid argument`,
    );
    assert.deepEqual((await p.client.snapshots.list("bomb")).result, []);
  });

  test("a layer with more entries than --unpack-max-layer-entries is refused", async () => {
    const many = await buildLayer([1, 2, 3, 4].map((i) => ({ name: `f${i}`, data: "x" })));
    await putImage(p.client, "many", "many:1", [many]);
    await rejects(
      p.client.images.unpack("many", "many:1"),
      "InvalidArgument",
      `failed to extract layer ${many.diffId}: the layer has more than 3 entries (serve --unpack-max-layer-entries): invalid argument`,
    );
    const few = await buildLayer([1, 2, 3].map((i) => ({ name: `f${i}`, data: "x" })));
    await putImage(p.client, "many", "few:1", [few]);
    assert.equal((await p.client.images.unpack("many", "few:1")).result.layers.length, 1);
  });
});

describe("hostile input: a flood of abandoned ingests", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser({ content: { maxIngestsPerNamespace: 20, idleFileMs: 200 } });
  });
  after(async () => {
    await p.stop();
  });

  /** Descriptors this process holds on ingests' data files (the server runs in the test's process; the put pool's spares are not ingests). */
  const ingestFds = () =>
    readdirSync("/proc/self/fd").filter((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith(join(p.dataDir, "ingest")) && target.endsWith("/data");
      } catch {
        return false;
      }
    }).length;

  test("abandoned ingests hold no descriptor once idle, the namespace's bound refuses more, others are served", async () => {
    const writers = [];
    for (let i = 0; i < 20; i++) {
      const w = await p.client.content.openWriter("flood", `abandoned-${i}`);
      await w.write(Buffer.from(`part one of ${i} `));
      await w.flush();
      writers.push(w);
    }
    assert.ok(ingestFds() > 0, "the writes opened their files");
    await eventually(() => ingestFds() === 0, "the idle ingests' files closed");
    await rejects(
      p.client.content.openWriter("flood", "one-too-many"),
      "Unavailable",
      'namespace "flood" has 20 open ingests, the most serve --content-max-ingests allows: commit or abort some, or wait for them to expire: unavailable',
    );
    // Another namespace imports as usual.
    const other = await p.client.content.writeBlob("bystander", "blob", Buffer.from("another client's blob"));
    assert.equal(other.digest, sha256(Buffer.from("another client's blob")));
    // An abandoned one resumes after its file was closed: the running hash survived.
    const w = writers[7]!;
    await w.write(Buffer.from("and part two"));
    const committed = await w.commit();
    assert.equal(committed.result.digest, sha256(Buffer.from("part one of 7 and part two")));
    // A slot is free again.
    await (await p.client.content.openWriter("flood", "now-fits")).abort();
  });
});

describe("hostile input: more namespaces than the host allows", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser({ eventStore: { maxNamespaces: 3 } });
  });
  after(async () => {
    await p.stop();
  });

  test("past --max-namespaces a new namespace is refused, explicitly or implicitly; existing ones keep working", async () => {
    for (const ns of ["one", "two", "three"]) await p.client.namespaces.create(ns);
    const refused = (ns: string) => `cannot create namespace "${ns}": the host has 3 namespaces with a log, the most serve --max-namespaces allows: failed precondition`;
    await rejects(p.client.namespaces.create("four"), "FailedPrecondition", refused("four"));
    await rejects(p.client.leases.create("five", { id: "l" }), "FailedPrecondition", refused("five"));
    const ok = await p.client.leases.create("two", { id: "l" });
    assert.ok(ok.rv > 1);
    assert.deepEqual((await p.client.namespaces.list()).result.map((n) => n.name), ["one", "three", "two"]);
  });
});
