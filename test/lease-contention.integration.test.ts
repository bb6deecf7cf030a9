/**
 * Writes under one lease at once (issue: a parallel import or pull into one
 * lease): every command records what it creates in the lease, so they all
 * touch the lease. None may fail for it, and the lease must hold every one.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { startTestPurser, type TestPurser } from "./support/purser.js";

const writers = 16;
const perWriter = 25;

describe("one lease, many writers", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p?.stop();
  });

  test(`${writers} writers of 4 KiB blobs under one lease: no error, every blob held by the lease`, async () => {
    const lease = (await p.client.leases.create("busy", { id: "pull" })).result.id;
    const failures: string[] = [];
    const digests: string[] = [];
    let rv = 0;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          try {
            const r = await p.client.content.writeBlob("busy", `w${w}-${i}`, randomBytes(4096), { lease });
            digests.push(r.digest);
            rv = Math.max(rv, r.rv);
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }),
    );
    assert.deepEqual(failures, []);
    const held = (await p.client.leases.resources("busy", lease, { minRv: rv })).result.filter((r) => r.type === "content").map((r) => r.id);
    assert.deepEqual(held.sort(), digests.sort());
  });

  test(`${writers} streamed (ingest) writers and ${writers} snapshot prepares under one lease: no error`, async () => {
    const lease = (await p.client.leases.create("busy", { id: "unpack" })).result.id;
    const failures: string[] = [];
    await Promise.all([
      ...Array.from({ length: writers }, async (_, w) => {
        try {
          await p.client.content.writeBlob("busy", `big-${w}`, randomBytes(64 * 1024), { lease, viaIngest: true });
        } catch (err) {
          failures.push((err as Error).message);
        }
      }),
      ...Array.from({ length: writers }, async (_, w) => {
        try {
          await p.client.snapshots.prepare("busy", `sn-${w}`, "", { lease });
        } catch (err) {
          failures.push((err as Error).message);
        }
      }),
    ]);
    assert.deepEqual(failures, []);
  });
});
