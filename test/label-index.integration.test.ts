/**
 * The label indexes of images, containers and content against a real
 * nats-server and LMDB: every filter an index narrows gives exactly what a
 * scan of the namespace gives (the same records, in the same order, across
 * pages), as labels are added, changed and removed, with keys and values too
 * long to be their own index key; and the index rows are what the records say.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseFilters } from "../src/filters/index.js";
import { adaptContainer } from "../src/projections/containers.js";
import { adaptImage } from "../src/projections/images.js";
import { contentAdaptor } from "../src/projections/content.js";
import type { ImageRecord } from "../src/events/image-events.js";
import { prng } from "./support/prng.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

const long = (c: string) => c.repeat(300);
const keys = ["tier", "team", "a.b", long("k")];
const values = ["web", "db", "", long("v"), long("v") + "x"];
const spec = { ociVersion: "1.0.2-dev", process: { args: ["sh"] }, root: { path: "rootfs" } };

/** Filters the index narrows, and some it must not change. */
const filters: string[][] = [
  ["labels.tier==web"],
  ["labels.tier"],
  ["labels.a.b==db"],
  ['labels."a.b"'],
  [`labels.${long("k")}==${long("v")}`],
  [`labels.${long("k")}`],
  ["labels.tier==web", "labels.team==db"],
  ["labels.tier==web,labels.team"],
  ["labels.tier==web,name~=7"],
  ["labels.tier==web,id~=7"],
  ['labels.tier==""', "labels.nothing"],
  ["labels.tier==web", "name~=^img/1"],
  ["labels.tier!=web"],
];

describe("label indexes", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p.stop();
  });

  test("indexed filters list exactly what a scan lists, through changes and across pages", async () => {
    const ns = "labels";
    const random = prng(Number(process.env.PURSER_FUZZ_SEED ?? 42));
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const someLabels = () => {
      const out: Record<string, string> = {};
      for (const k of keys) if (random() < 0.5) out[k] = pick(values);
      return out;
    };
    const target = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + "a".repeat(64), size: 1 };
    let rv = 0;
    for (let i = 0; i < 120; i++) {
      rv = (await p.client.images.create(ns, { name: `img/${i}`, labels: someLabels(), target })).rv;
      rv = (await p.client.containers.create(ns, { id: `c-${i}`, runtime: { name: "r" }, spec, labels: someLabels() })).rv;
      if (i % 3 === 0) rv = (await p.client.content.put(ns, `blob-${i}`, Buffer.from(`blob ${i}`), { labels: someLabels() })).rv;
    }
    // Changes: labels replaced, one label set or removed, records deleted.
    for (let i = 0; i < 120; i += 2) {
      const op = i % 8;
      if (op === 0) rv = (await p.client.images.update(ns, { name: `img/${i}`, labels: someLabels() }, ["labels"])).rv;
      else if (op === 2) rv = (await p.client.images.update(ns, { name: `img/${i}`, labels: {} }, ["labels.tier"])).rv;
      else if (op === 4) rv = (await p.client.images.delete(ns, `img/${i}`)).rv;
      else rv = (await p.client.containers.update(ns, { id: `c-${i}`, labels: someLabels() }, ["labels"])).rv;
      if (i % 10 === 0) rv = (await p.client.containers.delete(ns, `c-${i + 1}`)).rv;
    }

    const allImages = (await p.client.images.list(ns, [], { minRv: rv })).result;
    const allContainers = (await p.client.containers.list(ns, [], { minRv: rv })).result;
    const allContent = (await p.client.content.list(ns, [], { minRv: rv })).result;
    let narrowedSome = 0;
    for (const f of filters) {
      const filter = parseFilters(f);
      const images = (await p.client.images.list(ns, f, { minRv: rv })).result;
      assert.deepEqual(images.map((i) => i.name), allImages.filter((i) => filter.match(adaptImage(i))).map((i) => i.name), `images ${f}`);
      const containers = (await p.client.containers.list(ns, f, { minRv: rv })).result;
      assert.deepEqual(containers.map((c) => c.id), allContainers.filter((c) => filter.match(adaptContainer(c))).map((c) => c.id), `containers ${f}`);
      const content = (await p.client.content.list(ns, f, { minRv: rv })).result;
      assert.deepEqual(content.map((c) => c.digest), allContent.filter((c) => filter.match(contentAdaptor(c))).map((c) => c.digest), `content ${f}`);
      if (images.length > 0 && images.length < allImages.length) narrowedSome++;
    }
    assert.ok(narrowedSome >= 5, "the filters select proper subsets (the test would not see a wrong index otherwise)");

    // Pages of a label-narrowed list: small pages, every record once, in order.
    const expected = allImages.filter((i) => "tier" in i.labels).map((i) => i.name);
    const paged: string[] = [];
    let after: string | undefined;
    do {
      const reply = await p.client.query<{ items: Uint8Array; next?: string }>(ns, "images", "list", { filters: ["labels.tier"], maxBytes: 1024, ...(after === undefined ? {} : { after }) }, { minRv: rv });
      const { decode } = await import("@msgpack/msgpack");
      paged.push(...(decode(reply.result.items) as ImageRecord[]).map((i) => i.name));
      after = reply.result.next;
    } while (after !== undefined);
    assert.deepEqual(paged, expected);

    // The index rows are exactly the records' labels: one per (record, label), none left by changes or deletes.
    const views = p.server.holder.current;
    const rows = [...views.db<string>("images-labels").getRange()].filter(({ key }) => (key as string[])[0] === ns);
    assert.equal(rows.length, allImages.reduce((n, i) => n + Object.keys(i.labels).length, 0));
    assert.deepEqual(new Set(rows.map((r) => r.value)), new Set(allImages.filter((i) => Object.keys(i.labels).length > 0).map((i) => i.name)));
  });
});
