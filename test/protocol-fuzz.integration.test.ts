import assert from "node:assert/strict";
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { encode } from "@msgpack/msgpack";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { PurserError } from "../src/errors/errdefs.js";
import { RequestHeader } from "../src/protocol/request-headers.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { tempDir } from "./support/nats.js";
import { prng } from "./support/prng.js";

/**
 * A seeded, bounded protocol fuzzer (issue 11): requests of random shape to
 * every endpoint the service lists in `$SRV.INFO`, with hostile namespace
 * tokens, payloads and headers. Asserts: every request is answered (no
 * hang), no answer is Unknown (bad input gets a containerd class, never an
 * internal error), no refused request appended an event, nothing outside
 * the data directory changed, and the service still serves afterwards.
 * `PURSER_FUZZ_SEED` and `PURSER_FUZZ_REQUESTS` replay or lengthen a run.
 */
const seed = Number(process.env.PURSER_FUZZ_SEED ?? 20261202);
const requests = Number(process.env.PURSER_FUZZ_REQUESTS ?? 1500);

const fieldNames = [
  "name", "id", "key", "parent", "ref", "digest", "labels", "target", "filters", "after", "offset", "size", "expected",
  "data", "snapshotter", "platform", "fieldPaths", "sync", "dryRun", "expiresInMs", "type", "image", "runtime", "spec",
  "snapshotKey", "session", "total", "maxBytes", "namespace", "snapshot", "publicKey", "namespaces", "mediaType", "annotations",
];

describe("protocol fuzz", () => {
  let p: TestPurser;
  const canary = tempDir("purser-canary-");
  let canaryBefore: string;
  const listCanary = () =>
    readdirSync(canary.path, { recursive: true })
      .map(String)
      .sort()
      .map((f) => {
        const st = statSync(join(canary.path, f));
        return `${f} ${st.mode} ${st.size} ${st.mtimeMs}`;
      })
      .join("\n");

  before(async () => {
    p = await startTestPurser();
    mkdirSync(join(canary.path, "etc"));
    writeFileSync(join(canary.path, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\n", { mode: 0o644 });
    canaryBefore = listCanary();
    await p.client.namespaces.create("fuzz");
    await p.client.images.create("fuzz", { name: "img", target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${"a".repeat(64)}`, size: 1 } });
  });
  after(async () => {
    await p.stop();
    canary.remove();
  });

  test(`${requests} requests (seed ${seed}): all answered, none Unknown, no refused one appended, nothing outside the data dir changed`, { timeout: 120_000 }, async () => {
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const info = JSON.parse(new TextDecoder().decode((await p.client.nc.request("$SRV.INFO.purser", new Uint8Array(0), { timeout: 5000 })).data)) as {
      endpoints: Array<{ name: string; subject: string }>;
    };
    // A rebuild replays everything: correct for any payload, and only slow.
    const endpoints = info.endpoints.filter((e) => e.name !== "system-rebuild");
    assert.ok(endpoints.length > 40, `only ${endpoints.length} endpoints listed`);

    const canaryPath = join(canary.path, "etc", "passwd");
    const strings = () =>
      pick([
        "", "x", "img", "fuzz", "a".repeat(3000), "é牛😀", "a\u0000b", "../../etc/passwd", canaryPath, "/", ".", "..",
        `sha256:${"a".repeat(64)}`, "sha256:xyz", "labels.x", 'name~="^(a|a)+$"', "name==", "\\", "*", ">", "_global",
        String(Math.floor(rnd() * 1e6)), "-1", "1e309",
      ]);
    const value = (depth: number): unknown => {
      const r = rnd();
      if (r < 0.3) return strings();
      if (r < 0.4) return pick([0, -1, 1, 2 ** 53, -(2 ** 31), 1.5, Number.MAX_SAFE_INTEGER, 1e300, Number.NaN]);
      if (r < 0.45) return pick([true, false, null]);
      if (r < 0.5) return new Uint8Array(Math.floor(rnd() * 300));
      if (r < 0.55) return BigInt(2) ** BigInt(70);
      if (depth > 2) return strings();
      if (r < 0.75) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      return payload(depth + 1);
    };
    const payload = (depth = 0): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(rnd() * 5); i > 0; i--) out[rnd() < 0.9 ? pick(fieldNames) : strings()] = value(depth);
      return out;
    };
    const body = (): Uint8Array => {
      const r = rnd();
      if (r < 0.05) return new Uint8Array([0xc1, 0xff, 0x13]); // not msgpack
      if (r < 0.1) return encode(value(1), { useBigInt64: true });
      return encode(payload(), { useBigInt64: true });
    };
    const token = () => pick(["fuzz", "fuzz", "fuzz", "other", "_66uzz", "_zz", "a_2Eb", "_global", "x".repeat(200)]);
    const jsm = await jetstreamManager(p.client.nc);
    const lastSeqs = async () => {
      const out: Record<string, number> = {};
      for await (const s of jsm.streams.list()) out[s.config.name] = s.state.last_seq;
      return out;
    };

    const kinds = new Map<string, number>();
    let answered = 0;
    let seqs = await lastSeqs();
    const start = Date.now();
    for (let i = 0; i < requests; i++) {
      const endpoint = pick(endpoints);
      const subject = endpoint.subject.replace("*", token());
      const h = natsHeaders();
      if (rnd() < 0.2) h.set(RequestHeader.MinRv, pick(["0", "1", "-1", "x", "99999999999", "fuzz=1", "=", "1e3"]));
      if (rnd() < 0.1) h.set(RequestHeader.AsOf, pick(["rv=1", "rv=x", "2020-01-01T00:00:00Z", "yesterday", ""]));
      if (rnd() < 0.1) h.set(RequestHeader.Lease, strings());
      if (rnd() < 0.1) h.set(RequestHeader.CommandId, strings());
      const what = `#${i} ${subject}`;
      let kind = "ok";
      try {
        await p.client.requestMsg(subject, body(), h, 10_000);
      } catch (err) {
        assert.ok(err instanceof PurserError, `${what}: not a purser error: ${String(err)}`);
        kind = err.kind;
        assert.notEqual(err.kind, "Unknown", `${what}: ${err.message}`);
        assert.ok(!/timed out|no purser service/.test(err.message), `${what}: ${err.message}`);
      }
      answered++;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      const now = await lastSeqs();
      if (kind !== "ok") assert.deepEqual(now, seqs, `${what} was refused (${kind}) but appended`);
      seqs = now;
    }
    assert.equal(answered, requests);
    assert.equal(listCanary(), canaryBefore);
    // Still serving.
    const alive = await p.client.images.create("fuzz", { name: "after-fuzz", target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${"b".repeat(64)}`, size: 1 } });
    assert.equal((await p.client.images.get("fuzz", "after-fuzz", { minRv: alive.rv })).result.name, "after-fuzz");
    const summary = [...kinds].sort().map(([k, n]) => `${k} ${n}`).join(", ");
    process.stdout.write(`fuzz: ${requests} requests over ${endpoints.length} endpoints in ${((Date.now() - start) / 1000).toFixed(1)} s (seed ${seed}): ${summary}\n`);
  });
});
