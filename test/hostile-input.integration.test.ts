import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { PurserClient } from "../src/client/purser-client.js";
import { encodeWireMsgpack } from "../src/events/msgpack.js";
import { commandSubject } from "../src/protocol/subjects.js";
import { RequestHeader } from "../src/protocol/request-headers.js";
import { eventsOf, rejects } from "./support/assertions.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

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
    const created = await p.client.images.create(ns, { name: "a".repeat(500), target });
    const bystanderNs = await other.namespaces.create("bystander");
    // A backtracking engine explores 2^500 ways to split the name; RE2 reads it once.
    const [listed, bystander] = await Promise.all([
      p.client.images.list(ns, ['name~="^(a|a)+b$"'], { minRv: created.rv }),
      other.namespaces.get("bystander", { minRv: bystanderNs.rv }),
    ]);
    assert.deepEqual(listed.result, []);
    assert.equal(bystander.result.name, "bystander");
    assert.deepEqual((await p.client.images.list(ns, ['name~="^(a+)+$"'])).result.map((i) => i.name), ["a".repeat(500)]);
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
  const cases: Array<[string, (c: PurserClient) => Promise<unknown>, string]> = [
    ["an image name", (c) => c.images.create("long", { name: long, target }), 'request field "name" is 2000 bytes, longer than 512: invalid argument'],
    ["an image get", (c) => c.images.get("long", long), 'request field "name" is 2000 bytes, longer than 512: invalid argument'],
    ["a list cursor", (c) => c.query("long", "images", "list", { after: long }), 'request field "after" is 2000 bytes, longer than 512: invalid argument'],
    ["a container id", (c) => c.containers.create("long", { id: long, image: "x", runtime: { name: "r" } } as never), 'request field "id" is 2000 bytes, longer than 512: invalid argument'],
    ["a snapshot key", (c) => c.snapshots.prepare("long", long), 'request field "key" is 2000 bytes, longer than 512: invalid argument'],
    ["a lease id", (c) => c.leases.create("long", { id: long }), 'request field "id" is 2000 bytes, longer than 512: invalid argument'],
    ["a lease header", (c) => c.leases.create("long", { id: "l" }, { lease: long }), "Purser-Lease is 2000 bytes, longer than 512: invalid argument"],
  ];
  for (const [what, when, text] of cases) {
    test(`an over-long identifier is InvalidArgument before it reaches LMDB: ${what}`, async () => {
      await rejects(when(p.client), "InvalidArgument", text);
    });
  }

  test("no over-long request appended anything", async () => {
    assert.deepEqual((await eventsOf(p.client, "long")).map((e) => e.event.type), []);
  });

  test("an over-long actor header is refused too (it would be carried into every event)", async () => {
    const h = natsHeaders();
    h.set(RequestHeader.Actor, "a".repeat(600));
    await rejects(p.client.requestMsg(commandSubject("long", "leases", "create"), encodeWireMsgpack({ id: "x" }), h), "InvalidArgument", "Purser-Actor is 600 bytes, longer than 512: invalid argument");
  });
});
