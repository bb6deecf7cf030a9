/**
 * Image and container views against a real nats-server and LMDB:
 * - read-your-writes: every get/list sent with a command's rv shows that
 *   command's effect, with no other waiting;
 * - rebuild: replaying the log into a fresh LMDB environment gives views
 *   identical to those live processing built, value for value and byte for byte.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { decode } from "@msgpack/msgpack";
import { after, before, describe, test } from "node:test";
import type { ImageSpec } from "../src/client/images-api.js";
import { PurserError } from "../src/errors/errdefs.js";
import { silentLogger } from "../src/observability/logger.js";
import { containerBucketsDb, containersDb } from "../src/projections/containers.js";
import { imagesDb } from "../src/projections/images.js";
import { namespacesDb } from "../src/projections/namespaces.js";
import { replayIntoFreshViews } from "../src/projections/rebuild.js";
import type { ViewStore } from "../src/projections/view-store.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

const digestOf = (s: string) => "sha256:" + createHash("sha256").update(s).digest("hex");
const image = (name: string, labels: Record<string, string> = {}): ImageSpec => ({
  name,
  labels,
  target: { mediaType: "application/vnd.oci.image.index.v1+json", digest: digestOf(name), size: 1234, annotations: { a: name } },
});
const spec = { ociVersion: "1.0.2-dev", process: { args: ["sh"] }, root: { path: "rootfs" } };

async function notFound(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof PurserError && err.kind === "NotFound");
}

describe("image and container views", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p.stop();
  });

  test("every get and list with a command's rv shows that command's effect", async () => {
    const ns = "ryw";
    const img = p.client.images;
    const ctr = p.client.containers;
    for (let i = 0; i < 30; i++) {
      const name = `docker.io/library/app-${i}:latest`;
      const created = await img.create(ns, image(name, { round: String(i) }));
      assert.equal((await img.get(ns, name, { minRv: created.rv })).result.labels.round, String(i));
      assert.ok((await img.list(ns, [`name==${JSON.stringify(name)}`], { minRv: created.rv })).result.length === 1);
      assert.ok((await img.list(ns, [], { minRv: created.rv })).result.some((x) => x.name === name));

      const labelled = await img.update(ns, { name, labels: { seen: "yes" } }, ["labels.seen"]);
      assert.equal((await img.get(ns, name, { minRv: labelled.rv })).result.labels.seen, "yes");
      assert.deepEqual(
        (await img.list(ns, [`labels.seen==yes,name==${JSON.stringify(name)}`], { minRv: labelled.rv })).result.map((x) => x.name),
        [name],
      );

      const id = `app-${i}`;
      const c = await ctr.create(ns, { id, image: name, runtime: { name: "io.containerd.runc.v2" }, spec, labels: { round: String(i) } });
      assert.equal((await ctr.get(ns, id, { minRv: c.rv })).result.image, name);
      assert.ok((await ctr.list(ns, [`id==${id}`], { minRv: c.rv })).result.length === 1);

      const cu = await ctr.update(ns, { id, image: "other" }, ["image"]);
      assert.equal((await ctr.get(ns, id, { minRv: cu.rv })).result.image, "other");
      assert.deepEqual(
        (await ctr.list(ns, [`image==other,id==${id}`], { minRv: cu.rv })).result.map((x) => x.id),
        [id],
      );

      if (i % 3 === 0) {
        const cd = await ctr.delete(ns, id);
        await notFound(ctr.get(ns, id, { minRv: cd.rv }));
        assert.deepEqual((await ctr.list(ns, [`id==${id}`], { minRv: cd.rv })).result, []);
        const d = await img.delete(ns, name);
        await notFound(img.get(ns, name, { minRv: d.rv }));
        assert.deepEqual((await img.list(ns, [`name==${JSON.stringify(name)}`], { minRv: d.rv })).result, []);
      }
    }
  });

  test("read-your-writes with 16 writers in flight, across namespaces", async () => {
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        const ns = `ryw-${w % 4}`;
        for (let i = 0; i < 10; i++) {
          const name = `w${w}/img-${i}`;
          const created = await p.client.images.create(ns, image(name));
          assert.equal((await p.client.images.get(ns, name, { minRv: created.rv })).result.name, name);
          const updated = await p.client.images.update(ns, { name, labels: { n: String(i) } }, ["labels.n"]);
          assert.deepEqual(
            (await p.client.images.list(ns, [`name==${JSON.stringify(name)}`], { minRv: updated.rv })).result.map((x) => x.labels.n),
            [String(i)],
          );
        }
      }),
    );
  });

  test("lists larger than a NATS message come in pages, in order, with every record", async () => {
    const ns = "paged";
    // ~2.4 MB of containers: more than two 1 MiB replies.
    const big = { ...spec, padding: "x".repeat(8000) };
    const ids = Array.from({ length: 300 }, (_, i) => `c-${String(i).padStart(3, "0")}`);
    let rv = 0;
    for (let i = 0; i < ids.length; i += 30) {
      const replies = await Promise.all(
        ids.slice(i, i + 30).map((id) => p.client.containers.create(ns, { id, runtime: { name: "r" }, spec: big })),
      );
      rv = Math.max(rv, ...replies.map((r) => r.rv));
    }
    const all = await p.client.containers.list(ns, [], { minRv: rv });
    assert.deepEqual(
      all.result.map((c) => c.id),
      ids,
    );
    assert.equal(all.result[299]!.spec && (all.result[299]!.spec as { padding: string }).padding.length, 8000);
    const filtered = await p.client.containers.list(ns, ["id~=5$"], { minRv: rv });
    assert.deepEqual(
      filtered.result.map((c) => c.id),
      ids.filter((id) => id.endsWith("5")),
    );

    // The protocol underneath: small pages and their cursors.
    const pages: string[][] = [];
    let after: string | undefined;
    do {
      const reply = await p.client.query<{ items: Uint8Array; next?: string }>(ns, "containers", "list", {
        filters: ["id~=^c-00"],
        maxBytes: 20_000,
        ...(after === undefined ? {} : { after }),
      });
      pages.push((decode(reply.result.items) as Array<{ id: string }>).map((c) => c.id));
      after = reply.result.next;
    } while (after !== undefined);
    assert.deepEqual(pages.flat(), ids.slice(0, 10));
    assert.ok(pages.length >= 4, `expected several pages, got ${pages.length}`);
    assert.ok(pages.every((page) => page.length > 0));

    // Images by exact names page too, in name order.
    const names = ["b", "a", "c"].map((x) => `img/${x}`);
    // Each record is over half the smallest page (1 KiB), so each page holds one.
    for (const name of names) rv = (await p.client.images.create(ns, image(name, { pad: "x".repeat(700) }))).rv;
    const reply = await p.client.query<{ items: Uint8Array; next?: string }>(ns, "images", "list", {
      filters: names.map((n) => `name==${n}`),
      maxBytes: 1024,
    }, { minRv: rv });
    assert.deepEqual((decode(reply.result.items) as Array<{ name: string }>).map((i) => i.name), ["img/a"]);
    assert.equal(reply.result.next, "img/a");
    assert.deepEqual(
      (await p.client.images.list(ns, names.map((n) => `name==${n}`))).result.map((i) => i.name),
      ["img/a", "img/b", "img/c"],
    );
  });

  test("rebuilding from the log gives identical views", async () => {
    // More history: a namespace with images and containers deleted, recreated and emptied.
    await p.client.containers.create("rebuild", { id: "c1", runtime: { name: "r" }, spec, extensions: { e: new Uint8Array([7]) } });
    await p.client.images.create("rebuild", image("gone"));
    await p.client.images.delete("rebuild", "gone");
    await p.client.containers.delete("rebuild", "c1");
    await p.client.namespaces.delete("rebuild");
    await p.client.images.create("rebuild", image("back"));
    await p.server.runtime.catchUp(30_000);

    const names = [imagesDb, containersDb, containerBucketsDb, namespacesDb, "heads"];
    const live = p.server.holder.current;
    const dir = tempDir("purser-rebuild-");
    let fresh: ViewStore | undefined;
    try {
      fresh = await replayIntoFreshViews(p.server.store, p.server.projections, dir.path, silentLogger);
      const liveDump = live.dump(names);
      assert.ok(liveDump[imagesDb]!.length > 100, "the views hold what the other tests wrote");
      assert.ok(liveDump[containersDb]!.length > 10);
      assert.deepEqual(fresh.dump(names), liveDump);
      // The image and container rows are their records' msgpack bytes.
      const [key, bytes] = liveDump[imagesDb]![0]! as [[string, string], Uint8Array];
      assert.deepEqual(decode(bytes), (await p.client.images.get(key[0], key[1])).result);
      // Byte for byte, as LMDB stores them.
      for (const name of names) {
        const a = [...live.db(name).getKeys()].map((k) => [k, live.db(name).getBinary(k)]);
        const rebuilt: ViewStore = fresh;
        const b = [...rebuilt.db(name).getKeys()].map((k) => [k, rebuilt.db(name).getBinary(k)]);
        assert.deepEqual(b, a, `${name}: bytes differ`);
      }
    } finally {
      await fresh?.close();
      dir.remove();
    }
  });
});
