import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { rejects } from "./support/assertions.js";

describe("namespaces against a real nats-server and LMDB", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p.stop();
  });

  test("create with labels, list, label, remove (the ctr scenario)", async () => {
    const created = await p.client.namespaces.create("foo", { mylabel: "bar" });
    assert.equal(created.result.name, "foo");
    assert.deepEqual(created.result.labels, { mylabel: "bar" });
    assert.ok(created.rv >= 1);

    const listed = await p.client.namespaces.list({ foo: created.rv });
    assert.deepEqual(
      listed.result.map((n) => [n.name, n.labels]),
      [["foo", { mylabel: "bar" }]],
    );

    const labelled = await p.client.namespaces.update("foo", { another: "x", mylabel: "" }, ["labels.another", "labels.mylabel"]);
    assert.deepEqual(labelled.result.labels, { another: "x" });
    const got = await p.client.namespaces.get("foo", { minRv: labelled.rv });
    assert.deepEqual(got.result.labels, { another: "x" });

    const removed = await p.client.namespaces.delete("foo");
    await rejects(p.client.namespaces.get("foo", { minRv: removed.rv }), "NotFound", 'namespace "foo": not found');
  });

  test("duplicate name: AlreadyExists with containerd's text", async () => {
    await p.client.namespaces.create("dup1");
    await rejects(p.client.namespaces.create("dup1"), "AlreadyExists", 'namespace "dup1": already exists');
  });

  test("a long list comes in pages and is read to the end", async () => {
    const big = "x".repeat(4000);
    const names = Array.from({ length: 160 }, (_, i) => `page-${String(i).padStart(3, "0")}`);
    let rvs: Record<string, number> = {};
    for (const name of names) rvs[name] = (await p.client.namespaces.create(name, { big })).rv;
    const first = await p.client.globalQuery<{ items: Array<{ name: string }>; next?: string }>("namespaces", "list", {}, { minRvs: rvs });
    assert.ok(first.result.next !== undefined, "the first page says where to go on");
    assert.ok(first.result.items.length < names.length);
    const all = (await p.client.namespaces.list(rvs)).result.map((n) => n.name).filter((n) => n.startsWith("page-"));
    assert.deepEqual(all, names);
    rvs = {};
    for (const name of names) await p.client.namespaces.delete(name);
  });

  test("invalid name: containerd's identifier text", async () => {
    await rejects(
      p.client.namespaces.create("bad name"),
      "InvalidArgument",
      'identifier "bad name" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument',
    );
  });
});
