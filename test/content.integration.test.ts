import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, linkSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { encode } from "@msgpack/msgpack";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { commandSubject } from "../src/protocol/subjects.js";
import { silentLogger } from "../src/observability/logger.js";
import { replayIntoFreshViews } from "../src/projections/rebuild.js";
import { PurserServer } from "../src/server/purser-server.js";
import { ContentHeader } from "../src/protocol/content-headers.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { eventsOf, eventually, rejects } from "./support/assertions.js";

const sha256 = (data: Uint8Array) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** A stream of `total` pseudo-random bytes made on the fly (never held whole), with its digest. */
function generated(total: number, seed = 1): { stream: () => Readable; digest: string } {
  const block = createHash("sha512").update(String(seed)).digest();
  const piece = Buffer.alloc(64 * 1024);
  for (let i = 0; i < piece.length; i += block.length) block.copy(piece, i);
  const chunk = (i: number) => {
    const b = Buffer.from(piece);
    b.writeUInt32BE(i, 0);
    return b;
  };
  const hash = createHash("sha256");
  for (let at = 0, i = 0; at < total; at += piece.length, i++) hash.update(chunk(i).subarray(0, Math.min(piece.length, total - at)));
  return {
    digest: `sha256:${hash.digest("hex")}`,
    stream: () =>
      Readable.from(
        (function* () {
          for (let at = 0, i = 0; at < total; at += piece.length, i++) yield chunk(i).subarray(0, Math.min(piece.length, total - at));
        })(),
      ),
  };
}

describe("content store against a real nats-server, LMDB and file system", () => {
  let p: TestPurser;
  const blobFile = (digest: string) => join(p.dataDir, "blobs", "sha256", digest.slice("sha256:".length));
  const blobNames = () => readdirSync(join(p.dataDir, "blobs", "sha256")).sort();
  // Spare files made ahead of time for puts are not ingests.
  const ingestNames = () => readdirSync(join(p.dataDir, "ingest")).filter((n) => !n.startsWith("spare-")).sort();

  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p.stop();
  });

  test("a small blob: one request; info, list, read back; the file is read-only under blobs/", async () => {
    const data = Buffer.from("hello, content\n");
    const written = await p.client.content.writeBlob("default", "small-1", data, { labels: { a: "1" } });
    assert.equal(written.digest, sha256(data));
    assert.equal(written.created, true);
    const info = await p.client.content.info("default", written.digest, { minRv: written.rv });
    assert.deepEqual(
      { ...info.result, createdAt: undefined, updatedAt: undefined },
      { digest: written.digest, size: data.length, labels: { a: "1" }, createdAt: undefined, updatedAt: undefined },
    );
    assert.equal(info.result.createdAt, info.result.updatedAt);
    const listed = await p.client.content.list("default", [], { minRv: written.rv });
    assert.ok(listed.result.some((r) => r.digest === written.digest));
    assert.deepEqual(await p.client.content.readBlob("default", written.digest), data);
    const st = statSync(blobFile(written.digest));
    assert.equal(st.size, data.length);
    assert.equal(st.mode & 0o777, 0o444);
    // Nothing of the put is left under ingest/.
    assert.deepEqual(ingestNames(), []);
    // Writing it again into the same namespace is containerd's AlreadyExists; writeBlob treats it as done.
    await rejects(p.client.content.put("default", "small-2", data), "AlreadyExists", `content ${written.digest}: already exists`);
    assert.deepEqual(await p.client.content.writeBlob("default", "small-2", data), { digest: written.digest, size: data.length, created: false, rv: 0 });
  });

  test("a streamed blob: pipelined chunks, verified while streaming, read back in chunks", async () => {
    const size = 5 * 1024 * 1024 + 123;
    const g = generated(size, 2);
    const progress: number[] = [];
    const written = await p.client.content.writeBlob("default", "big-1", g.stream(), {
      expected: g.digest,
      size,
      chunkSize: 256 * 1024,
      inFlight: 6,
      onProgress: (pr) => progress.push(pr.offset),
    });
    assert.equal(written.digest, g.digest);
    assert.equal(written.size, size);
    assert.equal(progress.at(-1), size);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of p.client.content.reader("default", g.digest, { chunkSize: 300 * 1024, inFlight: 3 })) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    assert.equal(bytes, size);
    assert.equal(`sha256:${hash.digest("hex")}`, g.digest);
    // A range read.
    const part = await p.client.content.readBlob("default", g.digest, { offset: 1000, length: 70_000, chunkSize: 16 * 1024 });
    const whole = readFileSync(blobFile(g.digest));
    assert.deepEqual(part, whole.subarray(1000, 71_000));
    assert.deepEqual(ingestNames(), []);
  });

  test("containerd's texts: empty ref, size and digest mismatch, write at the wrong offset", async () => {
    await rejects(p.client.content.openWriter("default", ""), "InvalidArgument", "ref must not be empty: invalid argument");
    await rejects(p.client.content.put("default", "", Buffer.from("x")), "InvalidArgument", "ref must not be empty: invalid argument");
    // A refused put lets go of its ref at once.
    await rejects(
      p.client.content.put("default", "put-refused", Buffer.from("abc"), { size: 4 }),
      "FailedPrecondition",
      '"put-refused" failed size validation: 3 != 4: failed precondition',
    );
    await rejects(
      p.client.content.put("default", "put-refused", Buffer.from("abc"), { expected: sha256(Buffer.from("abd")) }),
      "FailedPrecondition",
      `unexpected commit digest ${sha256(Buffer.from("abc"))}, expected ${sha256(Buffer.from("abd"))}: failed precondition`,
    );
    assert.equal((await p.client.content.put("default", "put-refused", Buffer.from("abc"))).result.size, 3);

    const data = randomBytes(100);
    const before = blobNames();
    const w = await p.client.content.openWriter("default", "texts-1", { chunkSize: 40 });
    await w.write(data);
    await rejects(w.commit({ size: 101 }), "FailedPrecondition", '"texts-1" failed size validation: 100 != 101: failed precondition');
    const wrong = sha256(Buffer.from("something else"));
    await rejects(
      w.commit({ expected: wrong }),
      "FailedPrecondition",
      `unexpected commit digest ${sha256(data)}, expected ${wrong}: failed precondition`,
    );
    // Nothing reached blobs/ for the refused commits; the ingest is still there, with its bytes.
    assert.deepEqual(blobNames(), before);
    assert.equal((await p.client.content.status("default", "texts-1")).result.offset, 100);

    // A write at an offset other than the current one: OutOfRange.
    const h = natsHeaders();
    h.set(ContentHeader.Ref, "texts-1");
    h.set(ContentHeader.Session, "another-session-later");
    h.set(ContentHeader.Offset, "50");
    await w.close();
    await rejects(
      p.client.requestRaw(commandSubject("default", "content", "write"), Buffer.from("zz"), h),
      "OutOfRange",
      "write @50 must occur at current offset 100: out of range",
    );
    await p.client.content.abort("default", "texts-1");
    await rejects(p.client.content.status("default", "texts-1"), "NotFound", "reference texts-1: not found");
    await rejects(p.client.content.abort("default", "texts-1"), "NotFound", "reference texts-1: not found");
    assert.deepEqual(ingestNames(), []);
  });

  test("one writer per ref: a second gets Unavailable with containerd's text", async () => {
    const first = await p.client.content.openWriter("default", "locked-1");
    await first.write(Buffer.from("abc"));
    await first.flush();
    await rejects(
      p.client.content.openWriter("default", "locked-1"),
      "Unavailable",
      /^ref locked-1 locked for \d+(\.\d+)?(ms|s) \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC\): unavailable$/,
    );
    // A put of the same ref waits for no one either.
    await rejects(p.client.content.put("default", "locked-1", Buffer.from("x")), "Unavailable", /^ref locked-1 locked for /);
    // Once the first lets go, the ref can be opened again and resumes where it was.
    await first.close();
    const second = await p.client.content.openWriter("default", "locked-1");
    assert.equal(second.offset, 3);
    await second.abort();
  });

  test("an interrupted ingest resumes from its offset", async () => {
    const size = 3 * 1024 * 1024;
    const g = generated(size, 3);
    const w = await p.client.content.openWriter("default", "resume-1", { expected: g.digest, size, chunkSize: 256 * 1024 });
    let fed = 0;
    for await (const chunk of g.stream()) {
      if (fed >= 1024 * 1024) break;
      await w.write(chunk as Buffer);
      fed += (chunk as Buffer).length;
    }
    await w.flush();
    // The client goes away without a word (no close): its lock expires, or the same ref is opened by the next run.
    const status = await p.client.content.status("default", "resume-1");
    assert.equal(status.result.offset, 1024 * 1024);
    assert.equal(status.result.total, size);
    await w.close();
    const offsets: number[] = [];
    const done = await p.client.content.writeBlob("default", "resume-1", g.stream(), {
      expected: g.digest,
      size,
      chunkSize: 256 * 1024,
      onProgress: (pr) => offsets.push(pr.offset),
    });
    assert.equal(done.digest, g.digest);
    // Only the missing bytes travelled: the first acknowledgement is one chunk past the resume point.
    assert.equal(offsets[0], 1024 * 1024 + 256 * 1024);
  });

  test("an ingest resumes across a server restart (its offset and hash come back from disk)", async () => {
    const size = 2 * 1024 * 1024 + 7;
    const g = generated(size, 4);
    const w = await p.client.content.openWriter("default", "restart-1", { size, chunkSize: 128 * 1024 });
    let fed = 0;
    for await (const chunk of g.stream()) {
      if (fed >= 512 * 1024) break;
      await w.write(chunk as Buffer);
      fed += (chunk as Buffer).length;
    }
    await w.flush();
    await p.restart();
    const status = await p.client.content.status("default", "restart-1");
    assert.equal(status.result.offset, 512 * 1024);
    const done = await p.client.content.writeBlob("default", "restart-1", g.stream(), { size });
    assert.equal(done.digest, g.digest);
    assert.deepEqual(await p.client.content.readBlob("default", g.digest, { offset: size - 7 }), readFileSync(blobFile(g.digest)).subarray(size - 7));
  });

  test("a crash between the link and the event: the blob's inode is never written again, the commit completes", async () => {
    const data = randomBytes(2 * 1024 * 1024 + 1);
    const digest = sha256(data);
    const w = await p.client.content.openWriter("default", "crash-1", { chunkSize: 512 * 1024 });
    await w.write(data);
    await w.flush();
    // What the commit does before its event: the bytes become the blob (same inode), read-only.
    const [dir] = ingestNames();
    const dataFile = join(p.dataDir, "ingest", dir!, "data");
    chmodSync(dataFile, 0o444);
    linkSync(dataFile, blobFile(digest));
    await p.restart();
    const again = await p.client.content.openWriter("default", "crash-1", { chunkSize: 512 * 1024 });
    assert.equal(again.offset, data.length);
    await again.close();
    // A writer that starts over at 0 gets a new file: the blob keeps its bytes.
    const h = natsHeaders();
    h.set(ContentHeader.Ref, "crash-1");
    h.set(ContentHeader.Session, "a-new-writer");
    h.set(ContentHeader.Offset, "0");
    await p.client.requestRaw(commandSubject("default", "content", "write"), Buffer.from("other bytes"), h);
    assert.equal(sha256(readFileSync(blobFile(digest))), digest);
    assert.equal((await p.client.content.status("default", "crash-1")).result.offset, 11);
    await p.client.content.abort("default", "crash-1");
    assert.equal(sha256(readFileSync(blobFile(digest))), digest);
    // And the blob can be committed into the namespace (shared: no bytes move).
    const done = await p.client.content.writeBlob("default", "crash-1", Readable.from([data]), { expected: digest });
    assert.equal(done.digest, digest);
    assert.equal(sha256(readFileSync(blobFile(digest))), digest);
    assert.deepEqual(ingestNames(), []);
  });

  test("sharing: a namespace that ingests a blob the host has writes no bytes and only commits", async () => {
    const size = 1024 * 1024 + 5;
    const g = generated(size, 5);
    const first = await p.client.content.writeBlob("default", "share-1", g.stream(), { expected: g.digest });
    const file = blobFile(first.digest);
    const before = statSync(file);
    const w = await p.client.content.openWriter("shareme", "share-1", { expected: g.digest });
    // The ingest counts as fully written.
    assert.equal(w.offset, size);
    assert.equal(w.opened.shared, true);
    assert.equal((await p.client.content.status("shareme", "share-1")).result.offset, size);
    assert.deepEqual(ingestNames(), []);
    const committed = await w.commit();
    assert.equal(committed.result.digest, g.digest);
    const after = statSync(file);
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
    // writeBlob does the same with a source: it skips everything.
    const ns2 = await p.client.content.writeBlob("shareme2", "share-2", g.stream(), { expected: g.digest, chunkSize: 64 * 1024 });
    assert.equal(ns2.created, true);
    assert.equal(statSync(file).ino, before.ino);
    // A small blob put into another namespace writes no new file either.
    const small = Buffer.from("shared small blob");
    const s1 = await p.client.content.put("default", "small-share", small);
    const sbefore = statSync(blobFile(s1.result.digest));
    await p.client.content.put("shareme", "small-share", small);
    assert.equal(statSync(blobFile(s1.result.digest)).ino, sbefore.ino);
    // The shared path's texts.
    const w2 = await p.client.content.openWriter("shareme3", "share-3", { expected: g.digest });
    await rejects(w2.commit({ size: size + 1 }), "FailedPrecondition", `"share-3" failed size validation: ${size} != ${size + 1}: failed precondition`);
    await rejects(w2.commit({ expected: sha256(Buffer.from("no")) }), "FailedPrecondition", '"share-3" unexpected digest: failed precondition');
    await w2.abort();
    // Reads are per namespace even though the bytes are shared.
    await rejects(p.client.content.info("shareme3", g.digest), "NotFound", `content digest ${g.digest}: not found`);
    await rejects(p.client.content.readBlob("shareme3", g.digest), "NotFound", `content digest ${g.digest}: not found`);
  });

  test("already in this namespace: open answers AlreadyExists; a commit removes the ingest and answers it too", async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const digest = sha256(data);
    await p.client.content.writeBlob("default", "exists-1", data, { chunkSize: 512 * 1024 });
    await rejects(p.client.content.openWriter("default", "exists-2", { expected: digest }), "AlreadyExists", `content ${digest}: already exists`);
    // Without an expected digest the bytes are written, and the commit finds the blob there.
    const w = await p.client.content.openWriter("default", "exists-3");
    await w.write(data);
    await rejects(w.commit(), "AlreadyExists", `content ${digest}: already exists`);
    await rejects(p.client.content.status("default", "exists-3"), "NotFound", "reference exists-3: not found");
    assert.deepEqual(ingestNames(), []);
  });

  test("nothing half-written under blobs/: an active ingest and an aborted one leave it alone", async () => {
    const before = blobNames();
    const data = randomBytes(1024 * 1024);
    const w = await p.client.content.openWriter("default", "half-1", { chunkSize: 100 * 1024 });
    await w.write(data.subarray(0, 700 * 1024));
    await w.flush();
    assert.deepEqual(blobNames(), before);
    assert.equal(ingestNames().length, 1);
    await w.abort();
    assert.deepEqual(blobNames(), before);
    assert.deepEqual(ingestNames(), []);
  });

  test("metadata: info, list with filters, label with field paths, delete (the bytes stay)", async () => {
    const a = await p.client.content.put("meta", "m-a", Buffer.from("blob a"), { labels: { kind: "a", "containerd.io/gc.root": "x" } });
    const b = await p.client.content.put("meta", "m-b", Buffer.from("blob b"), { labels: { kind: "b" } });
    const rv = b.rv;
    const digests = async (...filters: string[]) => (await p.client.content.list("meta", filters, { minRv: rv })).result.map((r) => r.digest);
    assert.deepEqual(await digests(), [a.result.digest, b.result.digest].sort());
    assert.deepEqual(await digests("labels.kind==a"), [a.result.digest]);
    assert.deepEqual(await digests(`digest==${b.result.digest}`), [b.result.digest]);
    assert.deepEqual(await digests("labels.kind==a", "labels.kind==b"), [a.result.digest, b.result.digest].sort());
    assert.deepEqual(await digests('labels."containerd.io/gc.root"'), [a.result.digest]);
    assert.deepEqual(await digests("size==6"), []);
    await rejects(p.client.content.list("meta", ["labels.kind=="]), "InvalidArgument", /^filters: parse error: /);

    const updated = await p.client.content.update("meta", a.result.digest, { kind: "", extra: "1" }, ["labels.kind", "labels.extra"]);
    assert.deepEqual(updated.result.labels, { "containerd.io/gc.root": "x", extra: "1" });
    assert.equal(updated.result.createdAt, a.result.createdAt);
    assert.notEqual(updated.result.updatedAt, a.result.createdAt);
    await rejects(
      p.client.content.update("meta", a.result.digest, {}, ["size"]),
      "InvalidArgument",
      `cannot update "size" field on content info "${a.result.digest}": invalid argument`,
    );
    await rejects(
      p.client.content.update("meta", a.result.digest, { k: "v".repeat(4999) }, ["labels.k"]),
      "InvalidArgument",
      "info.Labels: label key and value length (5000 bytes) greater than maximum size (4096 bytes), key: k: invalid argument",
    );
    await rejects(p.client.content.info("meta", "sha256:zz"), "InvalidArgument", '"sha256:zz" failed validation: invalid argument');
    await rejects(p.client.content.delete("meta", "nope"), "InvalidArgument", "invalid checksum digest format: invalid argument");
    const missing = sha256(Buffer.from("never"));
    await rejects(p.client.content.info("meta", missing), "NotFound", `content digest ${missing}: not found`);
    await rejects(p.client.content.delete("meta", missing), "NotFound", `content digest ${missing}: not found`);

    const deleted = await p.client.content.delete("meta", b.result.digest);
    await rejects(p.client.content.info("meta", b.result.digest, { minRv: deleted.rv }), "NotFound", `content digest ${b.result.digest}: not found`);
    // Metadata only: the bytes go when the GC finds no namespace holding them.
    assert.ok(existsSync(blobFile(b.result.digest)));
    // The namespace still holds a blob: it cannot be deleted.
    await rejects(p.client.namespaces.delete("meta"), "FailedPrecondition", 'namespace "meta" must be empty, but it still has blobs: failed precondition');
  });

  test("ingests: status, list with the ref filter, 24 h expiry without a lease, none with one", async () => {
    const w1 = await p.client.content.openWriter("ingests", "layer-1", { size: 10 });
    const w2 = await p.client.content.openWriter("ingests", "config-1");
    await w1.write(Buffer.from("12345"));
    await w1.flush();
    const all = await p.client.content.statuses("ingests");
    assert.deepEqual(all.result.map((s) => [s.ref, s.offset, s.total]), [["config-1", 0, 0], ["layer-1", 5, 10]]);
    const only = await p.client.content.statuses("ingests", ["ref~=^layer"]);
    assert.deepEqual(only.result.map((s) => s.ref), ["layer-1"]);
    const st = (await p.client.content.status("ingests", "layer-1")).result;
    const expiry = Date.parse(st.expireAt!) - Date.parse(st.startedAt);
    assert.equal(expiry, 24 * 60 * 60 * 1000);
    await w1.abort();
    await w2.abort();
  });

  test("implicit leasing: what an ingest and a commit create is held by the context lease (A.9)", async () => {
    const lease = (await p.client.leases.create("leased", { id: "l1" })).result.id;
    const resources = async (rv: number) => (await p.client.leases.resources("leased", lease, { minRv: rv })).result;
    const w = await p.client.content.openWriter("leased", "lay-1", { lease });
    // Leased: no expiry, the lease holds the ingest.
    assert.equal(w.opened.expireAt, undefined);
    assert.equal(w.opened.lease, lease);
    assert.deepEqual(await resources(w.openedRv), [{ type: "ingests", id: "lay-1" }]);
    await w.write(Buffer.from("leased bytes"));
    const committed = await w.commit();
    // The hold moves from the ingest to the blob.
    assert.deepEqual(await resources(committed.rv), [{ type: "content", id: committed.result.digest }]);
    // A put under the lease, and an open of a blob the namespace holds: the lease takes hold, then AlreadyExists.
    const put = await p.client.content.put("leased", "small", Buffer.from("leased small"), { lease });
    const other = (await p.client.leases.create("leased", { id: "l2" })).result.id;
    await rejects(
      p.client.content.openWriter("leased", "again", { expected: put.result.digest, lease: other }),
      "AlreadyExists",
      `content ${put.result.digest}: already exists`,
    );
    // The refusal carries no rv to wait for: the hold is appended before it, so the views show it soon after.
    const held = async () => (await p.client.leases.resources("leased", other)).result;
    await eventually(async () => (await held()).length > 0, "holding the blob in the second lease");
    assert.deepEqual(await held(), [{ type: "content", id: put.result.digest }]);
    // A delete under the lease lets go of the blob.
    const deleted = await p.client.content.delete("leased", put.result.digest, { lease });
    assert.deepEqual(await resources(deleted.rv), [{ type: "content", id: committed.result.digest }]);
    await rejects(p.client.content.openWriter("leased", "x", { lease: "nope" }), "NotFound", "lease does not exist: not found");
  });

  test("a namespace that still has ingests can be deleted: they are aborted, and their bytes go", async () => {
    const w = await p.client.content.openWriter("dropme", "drop-1");
    await w.write(randomBytes(1000));
    await w.flush();
    assert.equal(ingestNames().length, 1);
    await w.close();
    const deleted = await p.client.namespaces.delete("dropme");
    const events = await eventsOf(p.client, "dropme");
    assert.deepEqual(events.slice(-2).map((e) => [e.event.type, e.topic]), [
      ["IngestAborted", "/content/ingest/abort"],
      ["NamespaceDeleted", "/namespaces/delete"],
    ]);
    assert.ok(deleted.rv > 0);
    await eventually(() => ingestNames().length === 0, "rid of the ingest's bytes");
    assert.deepEqual(ingestNames(), []);
  });

  test("events: every state change of content and ingests, with containerd's topics", async () => {
    const w = await p.client.content.openWriter("evts", "ev-1", { expected: sha256(Buffer.from("event data")) });
    await w.write(Buffer.from("event data"));
    const committed = await w.commit({ labels: { x: "1" } });
    await p.client.content.update("evts", committed.result.digest, { y: "2" }, ["labels.y"]);
    await p.client.content.delete("evts", committed.result.digest);
    const aborted = await p.client.content.openWriter("evts", "ev-2");
    await aborted.abort();
    const events = await eventsOf(p.client, "evts");
    assert.deepEqual(
      events.map((e) => [e.event.type, e.topic]),
      [
        ["NamespaceCreated", "/namespaces/create"],
        ["IngestStarted", "/content/ingest/start"],
        ["ContentCommitted", "/content/create"],
        ["ContentUpdated", "/content/update"],
        ["ContentDeleted", "/content/delete"],
        ["IngestStarted", "/content/ingest/start"],
        ["IngestAborted", "/content/ingest/abort"],
      ],
    );
    const created = events[2]!.event;
    assert.equal(created.type, "ContentCommitted");
    if (created.type === "ContentCommitted") {
      assert.deepEqual(created.data.content.labels, { x: "1" });
      assert.equal(created.data.ref, "ev-1");
      assert.equal(created.data.ingestId, (events[1]!.event as { data: { ingest: { id: string } } }).data.ingest.id);
    }
    assert.equal((events[0]!.event as { data: { implicit: boolean } }).data.implicit, true);
  });

  test("malformed requests: clear InvalidArgument, nothing appended", async () => {
    await rejects(
      p.client.requestRaw(commandSubject("default", "content", "put"), encode({ ref: "x", data: "not bytes" })),
      "InvalidArgument",
      'request field "data" must be binary: invalid argument',
    );
    await rejects(
      p.client.requestRaw(commandSubject("default", "content", "write"), Buffer.from("x"), natsHeaders()),
      "InvalidArgument",
      "ref must not be empty: invalid argument",
    );
    await rejects(p.client.content.openWriter("default", "bad-expected", { expected: "md5:abc" }), "InvalidArgument", '"md5:abc" failed validation: invalid argument');
  });

  test("memory stays flat while a large blob streams in and out", async () => {
    const size = 192 * 1024 * 1024;
    const g = generated(size, 6);
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const written = await p.client.content.writeBlob("default", "huge-1", g.stream(), { expected: g.digest });
      assert.equal(written.digest, g.digest);
      const hash = createHash("sha256");
      for await (const chunk of p.client.content.reader("default", g.digest)) hash.update(chunk as Buffer);
      assert.equal(`sha256:${hash.digest("hex")}`, g.digest);
    } finally {
      clearInterval(sample);
    }
    const growth = peak - base;
    assert.ok(growth < 96 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB for a ${size / 1048576} MiB blob`);
  });

  test("rebuilding the views from the log gives exactly the live views", async () => {
    await p.server.runtime.catchUp();
    const names = ["checkpoints", "heads", ...p.server.projections.flatMap((pr) => pr.databases)];
    const dir = tempDir("purser-content-rebuild-");
    try {
      const fresh = await replayIntoFreshViews(p.server.store, p.server.projections, dir.path, silentLogger);
      try {
        assert.deepEqual(p.server.runtime.views.dump(names), fresh.dump(names));
      } finally {
        await fresh.close();
      }
    } finally {
      dir.remove();
    }
  });
});

describe("content sharing policy", () => {
  test("isolated: every namespace uploads the whole blob, the host still keeps one file", async () => {
    const p = await startTestPurser({ content: { sharingPolicy: "isolated" } });
    try {
      const data = randomBytes(3 * 1024 * 1024);
      const digest = sha256(data);
      await p.client.content.writeBlob("default", "iso-1", data, { expected: digest });
      const file = join(p.dataDir, "blobs", "sha256", digest.slice(7));
      const ino = statSync(file).ino;
      const w = await p.client.content.openWriter("other", "iso-1", { expected: digest });
      assert.equal(w.offset, 0);
      assert.equal(w.opened.shared, false);
      await w.write(data);
      await w.commit();
      assert.equal(statSync(file).ino, ino);
    } finally {
      await p.stop();
    }
  });

  test("an unknown policy is refused at start with containerd's text", async () => {
    const dir = tempDir("purser-policy-");
    try {
      await assert.rejects(
        PurserServer.start({ natsUrl: "nats://127.0.0.1:1", dataDir: dir.path, log: silentLogger, content: { sharingPolicy: "bogus" } }),
        { message: "unknown policy: bogus: invalid argument" },
      );
    } finally {
      dir.remove();
    }
  });
});

describe("content store start and stop", () => {
  test("a store stopped while it is still making spare files leaves none open and none on disk", async () => {
    const p = await startTestPurser();
    try {
      for (let i = 0; i < 5; i++) {
        // A restart begins refilling the spares at once; the stop comes before it is done.
        await p.server.stop();
        const server = await PurserServer.start({ natsUrl: p.nats.url, dataDir: p.dataDir, log: silentLogger });
        p.server = server;
      }
      await p.server.stop();
      const left = readdirSync(join(p.dataDir, "ingest")).filter((n) => n.startsWith("spare-"));
      // A running server again before asserting: the harness stops it (a stopped one would not stop twice).
      p.server = await PurserServer.start({ natsUrl: p.nats.url, dataDir: p.dataDir, log: silentLogger });
      assert.deepEqual(left, []);
    } finally {
      await p.stop();
    }
  });
});
