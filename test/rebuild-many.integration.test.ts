/**
 * Rebuild on a host with many namespaces (issue 15, sized for CI): the log
 * spread over 300 namespace streams is replayed while the service goes on
 * answering, and an interrupted rebuild leaves no partial generation.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { viewsRoot } from "../src/projections/view-generations.js";
import { rejects } from "./support/assertions.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

const namespaces = 300;

describe("rebuild across many namespaces", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
    // 300 streams, each with a namespace, a lease and a label change: 900 events.
    for (let start = 0; start < namespaces; start += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, namespaces - start) }, async (_, k) => {
          const ns = `many-${start + k}`;
          await p.client.namespaces.create(ns, { n: String(start + k) });
          await p.client.leases.create(ns, { id: "l" });
          await p.client.namespaces.update(ns, { touched: "yes" }, ["labels.touched"]);
        }),
      );
    }
  });
  after(async () => {
    await p?.stop();
  });

  test("rebuilds all of them while commands and queries go on, none failing; the views are the same after", async () => {
    const before = (await p.client.namespaces.list()).result;
    assert.equal(before.length, namespaces);
    let stop = false;
    const failures: string[] = [];
    let answered = 0;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        const ns = `many-${i % namespaces}`;
        try {
          const w = await p.client.leases.create(ns, { id: `during-${i}` });
          const { result } = await p.client.leases.list(ns, [`id==during-${i}`], { minRv: w.rv });
          if (result.length !== 1) failures.push(`${ns}: lease during-${i} not read back`);
          answered++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();
    const rebuilt = await p.server.rebuild();
    stop = true;
    await traffic;
    assert.deepEqual(failures, []);
    assert.ok(answered > 0, "requests were answered during the rebuild");
    assert.ok(rebuilt.events >= namespaces * 3, `${rebuilt.events} events replayed`);
    const after = (await p.client.namespaces.list()).result;
    assert.deepEqual(after, before);
    // One generation on disk: the new one.
    assert.deepEqual(readdirSync(viewsRoot(p.dataDir)).filter((n) => /^gen-\d+$/.test(n)), [rebuilt.generation]);
  });

  test("one rebuild at a time: a second is refused while the first runs", async () => {
    const first = p.server.rebuild();
    await rejects(p.server.rebuild(), "FailedPrecondition", "a rebuild is already running: failed precondition");
    await first;
  });

  test("an interrupted rebuild (the process killed mid-replay) leaves nothing behind after the next start", async () => {
    // What a kill -9 during a replay leaves: the next generation half written, CURRENT still naming the old one.
    const root = viewsRoot(p.dataDir);
    const serving = readdirSync(root).filter((n) => /^gen-\d+$/.test(n));
    mkdirSync(join(root, "gen-99"));
    writeFileSync(join(root, "gen-99", "data.mdb"), "half a replay");
    writeFileSync(join(root, "gen-99.session"), "");
    await p.restart();
    assert.equal(existsSync(join(root, "gen-99")), false);
    assert.equal(existsSync(join(root, "gen-99.session")), false);
    assert.deepEqual(readdirSync(root).filter((n) => /^gen-\d+$/.test(n)), serving);
    assert.equal((await p.client.namespaces.list()).result.length, namespaces);
  });
});
