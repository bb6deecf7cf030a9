import assert from "node:assert/strict";
import { quarantinedEvents } from "../src/projections/quarantine.js";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { open as openLmdb } from "lmdb";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { encode } from "@msgpack/msgpack";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { PurserError } from "../src/errors/errdefs.js";
import { EventStore, defaultEventStoreOptions } from "../src/events/event-store.js";
import { namespaceSubject } from "../src/events/subjects.js";
import { commandSubject } from "../src/protocol/subjects.js";
import { silentLogger } from "../src/observability/logger.js";
import type { Projection } from "../src/projections/projection.js";
import { replayIntoFreshViews } from "../src/projections/rebuild.js";
import { ViewStore } from "../src/projections/view-store.js";
import { currentGeneration, generationPath } from "../src/projections/view-generations.js";
import { currentBootId, viewsLayout } from "../src/projections/view-durability.js";
import { PurserServer } from "../src/server/purser-server.js";
import { RequestHeader } from "../src/protocol/request-headers.js";
import { countingProjection } from "./support/counting-projection.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { eventsOf, rejects } from "./support/assertions.js";

function dbNames(projections: readonly Projection[]): string[] {
  return ["checkpoints", "heads", ...projections.flatMap((pr) => pr.databases)];
}

async function assertViewsEqualRebuild(p: TestPurser, views: ViewStore, projections: readonly Projection[]): Promise<void> {
  const dir = tempDir("purser-rebuild-");
  try {
    const fresh = await replayIntoFreshViews(p.server.store, projections, dir.path, silentLogger);
    try {
      assert.deepEqual(views.dump(dbNames(projections)), fresh.dump(dbNames(projections)));
    } finally {
      await fresh.close();
    }
  } finally {
    dir.remove();
  }
}

describe("the spine against a real nats-server and LMDB", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p.stop();
  });

  test("a duplicate command id appends one event and answers as the first time", async () => {
    const commandId = randomUUID();
    const first = await p.client.namespaces.create("dupcmd", { a: "1" }, { commandId });
    const second = await p.client.namespaces.create("dupcmd", { a: "1" }, { commandId });
    assert.equal(second.rv, first.rv);
    assert.deepEqual(second.result, first.result);
    // And again once the views have applied the first (the head-based path).
    await p.client.namespaces.get("dupcmd", { minRv: first.rv });
    const third = await p.client.namespaces.create("dupcmd", { a: "1" }, { commandId });
    assert.equal(third.rv, first.rv);
    const events = await eventsOf(p.client, "dupcmd");
    assert.deepEqual(
      events.map((e) => [e.event.type, e.seq, e.context.causationId]),
      [["NamespaceCreated", 1, commandId]],
    );
    // A new command id is a new command: containerd's AlreadyExists.
    await assert.rejects(p.client.namespaces.create("dupcmd"), { kind: "AlreadyExists", message: 'namespace "dupcmd": already exists' });
  });

  test("concurrent creates of one name: exactly one succeeds, the rest get AlreadyExists", async () => {
    for (let round = 0; round < 5; round++) {
      const name = `race-${round}`;
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => p.client.namespaces.create(name, { round: String(round) })));
      const ok = results.filter((r) => r.status === "fulfilled");
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      assert.equal(ok.length, 1, `round ${round}: ${ok.length} creates succeeded`);
      for (const f of failed) {
        assert.ok(f.reason instanceof PurserError);
        assert.equal(f.reason.kind, "AlreadyExists");
        assert.equal(f.reason.message, `namespace "${name}": already exists`);
      }
      assert.equal((await eventsOf(p.client, name)).length, 1);
    }
  });

  test("concurrent label updates: none is lost (OCC retried inside the service)", async () => {
    await p.client.namespaces.create("counter");
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => p.client.namespaces.update("counter", { [k]: "v" }, [`labels.${k}`])));
    const events = await eventsOf(p.client, "counter");
    const last = events[events.length - 1]!;
    const got = await p.client.namespaces.get("counter", { minRv: last.seq });
    assert.deepEqual(Object.keys(got.result.labels).sort(), [...keys].sort());
    assert.equal(events.length, 1 + keys.length);
  });

  test("a command's reply rv read back with min rv always shows the write", async () => {
    await p.client.namespaces.create("ryw");
    for (let i = 0; i < 50; i++) {
      const w = await p.client.namespaces.update("ryw", { i: String(i) }, ["labels.i"]);
      const r = await p.client.namespaces.get("ryw", { minRv: w.rv });
      assert.equal(r.result.labels.i, String(i));
      assert.ok(r.rv >= w.rv);
    }
  });

  test("a min rv beyond the log is refused at once, not after the timeout", async () => {
    const last = await p.server.store.lastSequence("ryw");
    const started = Date.now();
    await assert.rejects(p.client.query("ryw", "namespaces", "get", {}, { minRv: 1_000_000 }), {
      kind: "FailedPrecondition",
      message: `rv 1000000 is beyond the log of namespace "ryw" (its last rv is ${last}): failed precondition`,
    });
    await assert.rejects(p.client.namespaces.list({ ryw: 1_000_000 }), { kind: "FailedPrecondition" });
    assert.ok(Date.now() - started < 4000);
  });

  test("garbage payloads of any shape get InvalidArgument and append nothing", async () => {
    await p.client.namespaces.create("garbage");
    const before = await p.server.store.lastSequence("garbage");
    const subject = commandSubject("garbage", "namespaces", "update");
    const cases: Array<[string, Uint8Array, string]> = [
      ["not msgpack", new Uint8Array([0xc1, 0xff, 0x00]), "request payload is not valid msgpack: invalid argument"],
      ["truncated msgpack", encode({ labels: { a: "b" } }).slice(0, 5), "request payload is not valid msgpack: invalid argument"],
      ["a string", encode("labels"), "request payload must be a map: invalid argument"],
      ["an array", encode([1, 2]), "request payload must be a map: invalid argument"],
      ["binary", encode(new Uint8Array([1, 2])), "request payload must be a map: invalid argument"],
      ["labels not a map", encode({ labels: 5 }), 'request field "labels" must be a map of strings: invalid argument'],
      ["label value not a string", encode({ labels: { a: 1 } }), 'request field "labels" must be a map of strings (key "a"): invalid argument'],
      ["field paths not a list", encode({ labels: {}, fieldPaths: "labels.a" }), 'request field "fieldPaths" must be a list of strings: invalid argument'],
      ["field path not a string", encode({ labels: {}, fieldPaths: [1] }), 'request field "fieldPaths" must be a list of strings: invalid argument'],
      ["oversize label", encode({ labels: { k: "v".repeat(5000) }, fieldPaths: ["labels.k"] }), "namespace.Labels: label key and value length (5001 bytes) greater than maximum size (4096 bytes), key: k: invalid argument"],
    ];
    for (const [name, data, message] of cases) {
      await assert.rejects(p.client.requestRaw(subject, data), (err: unknown) => {
        assert.ok(err instanceof PurserError, name);
        assert.equal(err.kind, "InvalidArgument", name);
        assert.equal(err.message, message, name);
        return true;
      });
    }
    await assert.rejects(p.client.requestRaw("purser.v1._zz.namespaces.create", encode({})), {
      kind: "InvalidArgument",
      message: 'namespace token "_zz" is not a valid encoding: invalid argument',
    });
    assert.equal(await p.server.store.lastSequence("garbage"), before);
    // The service is still answering.
    assert.equal((await p.client.namespaces.get("garbage")).result.name, "garbage");
  });

  test("errors travel as Nats-Service-Error headers plus the class", async () => {
    const msg = await p.client.nc.request(commandSubject("nope", "namespaces", "get"), encode({}));
    assert.equal(msg.headers?.get("Nats-Service-Error"), 'namespace "nope": not found');
    assert.equal(msg.headers?.get("Nats-Service-Error-Code"), "404");
    assert.equal(msg.headers?.get("Purser-Error-Class"), "NotFound");
  });

  test("$SRV discovery lists the service and its endpoints", async () => {
    const info = JSON.parse(new TextDecoder().decode((await p.client.nc.request("$SRV.INFO.purser", new Uint8Array())).data));
    assert.equal(info.name, "purser");
    const subjects = info.endpoints.map((e: { subject: string }) => e.subject);
    assert.ok(subjects.includes("purser.v1.*.namespaces.create"));
    assert.ok(subjects.includes("purser.v1._global.namespaces.list"));
    assert.ok(info.endpoints.every((e: { queue_group: string }) => e.queue_group === "purser"));
  });

  test("events carry type, version, ids, actor and the containerd topic", async () => {
    const h = natsHeaders();
    const commandId = randomUUID();
    h.set(RequestHeader.CommandId, commandId);
    h.set(RequestHeader.CorrelationId, "corr-1");
    h.set(RequestHeader.Actor, "alice@host");
    await p.client.requestRaw(commandSubject("audit", "namespaces", "create"), encode({ labels: { x: "y" } }), h);
    const [e] = await eventsOf(p.client, "audit");
    assert.equal(e!.subject, namespaceSubject("audit"));
    assert.equal(e!.topic, "/namespaces/create");
    assert.equal(e!.event.type, "NamespaceCreated");
    assert.equal(e!.version, 1);
    assert.equal(e!.context.causationId, commandId);
    assert.equal(e!.context.correlationId, "corr-1");
    assert.equal(e!.context.actor, "alice@host");
    assert.match(e!.context.eventId, /^[0-9a-f-]{36}$/);
  });

  test("rebuild: replaying the log gives exactly the live views, and swapping keeps serving", async () => {
    await p.server.runtime.catchUp();
    await assertViewsEqualRebuild(p, p.server.holder.current, p.server.projections);
    const before = (await p.client.namespaces.list()).result;
    const result = await p.server.rebuild();
    assert.ok(result.events > 0);
    assert.equal(currentGeneration(p.dataDir), result.generation);
    assert.deepEqual((await p.client.namespaces.list()).result, before);
    const w = await p.client.namespaces.create("after-rebuild");
    assert.equal((await p.client.namespaces.get("after-rebuild", { minRv: w.rv })).result.name, "after-rebuild");
  });
});

describe("projection crash recovery", () => {
  test("views left open by another boot (the machine went down) are replayed from the log", async () => {
    const p = await startTestPurser();
    try {
      const w = await p.client.namespaces.create("survivor", { a: "1" });
      await p.client.namespaces.get("survivor", { minRv: w.rv });
      await p.server.stop();
      const before = currentGeneration(p.dataDir);
      // What a machine crash leaves: the generation marked open, by a boot that is gone.
      writeFileSync(join(p.dataDir, "views", `${before}.session`), JSON.stringify({ bootId: "a-previous-boot", open: true }));
      p.server = await PurserServer.start({ natsUrl: p.nats.url, dataDir: p.dataDir, log: silentLogger });
      assert.notEqual(currentGeneration(p.dataDir), before);
      assert.deepEqual((await p.client.namespaces.get("survivor", { minRv: w.rv })).result.labels, { a: "1" });
      // A clean restart in the same boot keeps the generation.
      const now = currentGeneration(p.dataDir);
      await p.restart();
      assert.equal(currentGeneration(p.dataDir), now);
    } finally {
      await p.stop();
    }
  });


  test("views built with an older layout are replayed from the log at start, with the new databases filled", async () => {
    const p = await startTestPurser();
    try {
      const w = await p.client.images.create("layout", {
        name: "old/app:1",
        labels: { tier: "web" },
        target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + "a".repeat(64), size: 10 },
      });
      await p.client.images.get("layout", "old/app:1", { minRv: w.rv });
      await p.server.stop();
      const before = currentGeneration(p.dataDir);
      // A generation an older purser closed cleanly: no layout in its marker, and none of the label index rows.
      const views = ViewStore.open(join(p.dataDir, "views", before));
      await views.root.transaction(() => views.db("images-labels").clearSync());
      await views.close();
      writeFileSync(join(p.dataDir, "views", `${before}.session`), JSON.stringify({ bootId: currentBootId(), open: false }));
      p.server = await PurserServer.start({ natsUrl: p.nats.url, dataDir: p.dataDir, log: silentLogger });
      assert.notEqual(currentGeneration(p.dataDir), before);
      assert.deepEqual((await p.client.images.list("layout", ["labels.tier==web"], { minRv: w.rv })).result.map((i) => i.name), ["old/app:1"]);
      const marker = JSON.parse(readFileSync(join(p.dataDir, "views", `${currentGeneration(p.dataDir)}.session`), "utf8"));
      assert.equal(marker.layout, viewsLayout);
      // The same layout is kept across a clean restart.
      const now = currentGeneration(p.dataDir);
      await p.restart();
      assert.equal(currentGeneration(p.dataDir), now);
    } finally {
      await p.stop();
    }
  });


  test("a batch that fails mid-way is rolled back and re-applied: views equal a rebuild, nothing applied twice", async () => {
    let failuresLeft = 3;
    const faulty: Projection = {
      name: "faulty",
      databases: [],
      apply(_views, stored) {
        // Fail in the middle of some batches, after other projections wrote rows.
        if (stored.seq % 37 === 0 && failuresLeft > 0) {
          failuresLeft--;
          // As the store fails (a `code`, like a full map): retried, never quarantined (projections/quarantine.ts).
          throw Object.assign(new Error(`injected failure at seq ${stored.seq}`), { code: "EIO" });
        }
      },
    };
    const p = await startTestPurser({ extraProjections: [countingProjection, faulty], runtime: { maxBatch: 25 } });
    try {
      await p.client.namespaces.create("crash");
      let last = 0;
      for (let i = 0; i < 150; i++) last = (await p.client.namespaces.update("crash", { i: String(i) }, ["labels.i"])).rv;
      await p.server.runtime.waitFor("crash", last, 20_000);
      assert.equal(failuresLeft, 0);
      const views = p.server.holder.current;
      assert.equal(views.db<number, string>("test-counter").get("PURSER_NS_crash"), last);
      await assertViewsEqualRebuild(p, views, p.server.projections.filter((pr) => pr.name !== "faulty"));
    } finally {
      await p.stop();
    }
  });

  test("kill -9 of the server process mid-backlog: after restart, no event skipped or applied twice", async () => {
    const p = await startTestPurser();
    const dir = tempDir("purser-child-");
    try {
      // A backlog written straight to the log (fast), for the child to apply.
      const store = new EventStore(p.client.nc, defaultEventStoreOptions);
      const total = 20_000;
      const now = new Date().toISOString();
      const record = { name: "backlog", labels: {}, createdAt: now, updatedAt: now };
      await store.append(
        "backlog",
        { event: { type: "NamespaceCreated", data: { namespace: record, implicit: false } }, subject: namespaceSubject("backlog"), expect: { none: true }, msgId: randomUUID() },
        { eventId: randomUUID(), correlationId: "c", causationId: "c", actor: "test" },
      );
      const pending: Promise<unknown>[] = [];
      for (let i = 1; i < total; i++) {
        pending.push(
          store.append(
            "backlog",
            {
              event: { type: "NamespaceUpdated", data: { namespace: { ...record, labels: { i: String(i) } }, fieldPaths: ["labels.i"] } },
              subject: namespaceSubject("backlog"),
              expect: { none: true },
              msgId: randomUUID(),
            },
            { eventId: randomUUID(), correlationId: "c", causationId: "c", actor: "test" },
          ),
        );
        if (pending.length >= 256) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);

      const child = join(fileURLToPath(new URL(".", import.meta.url)), "support", "projection-child.js");
      // The children's debug logs, shown (what is not debug) when an assertion fails.
      const childLog = join(dir.path, "children.log");
      const childNotes = () =>
        existsSync(childLog)
          ? readFileSync(childLog, "utf8").split("\n").filter((l) => l && !l.includes('"level":"debug"')).slice(-40).join("\n")
          : "";
      const startChild = () => {
        const proc = spawn(process.execPath, [child, p.nats.url, dir.path, "50", childLog], { stdio: ["ignore", "pipe", "inherit"] });
        const progress = { applied: 0, committed: 0 };
        const ready = new Promise<void>((resolve, reject) => {
          proc.stdout!.on("data", (d: Buffer) => {
            const text = d.toString();
            for (const m of text.matchAll(/applied (\d+)/g)) progress.applied = Math.max(progress.applied, Number(m[1]));
            for (const m of text.matchAll(/committed (\d+)/g)) progress.committed = Math.max(progress.committed, Number(m[1]));
            if (text.includes("ready")) resolve();
          });
          proc.once("exit", (code, signal) => reject(new Error(`child exited early with ${code ?? signal}`)));
        });
        const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
        return { proc, ready, exited, progress };
      };
      // Read the dead child's checkpoint read-only, without creating anything. Only a dead
      // one's: opening the environment while the child commits can lose that commit (docs/lmdb.md).
      const checkpoint = async (): Promise<number> => {
        const current = join(dir.path, "views", "CURRENT");
        if (!existsSync(current)) return 0;
        const path = generationPath(dir.path, readFileSync(current, "utf8").trim());
        if (!existsSync(join(path, "data.mdb"))) return 0;
        try {
          const env = openLmdb({ path, readOnly: true, maxDbs: 64 });
          try {
            return env.openDB<number, string>({ name: "checkpoints" }).get("views/PURSER_NS_backlog") ?? 0;
          } finally {
            await env.close();
          }
        } catch {
          return 0;
        }
      };

      const seen: number[] = [];
      // Each round kills the child the moment its views have moved on since the
      // last round, so every kill lands in the middle of the backlog.
      for (let round = 0, last = 0; round < 4; round++) {
        const c = startChild();
        c.ready.catch(() => {}); // killed before it said so, as intended
        // A few batches past the last kill: some committed, more in flight.
        for (let i = 0; i < 5000 && c.progress.applied < last + 500; i++) await new Promise((r) => setTimeout(r, 1));
        c.proc.kill("SIGKILL");
        await c.exited;
        last = await checkpoint();
        seen.push(last);
      }
      assert.ok(seen.filter((s) => s > 0 && s < total).length >= 2, `checkpoints at kill: ${seen.join(", ")}`);

      const last = startChild();
      await last.ready;
      // As long as a busy machine needs (a bound of 20 s stopped the child short on a loaded CI machine).
      const deadline = Date.now() + 180_000;
      while (last.progress.committed < total) {
        assert.ok(Date.now() < deadline, `the last child did not apply the backlog in 180 s (committed ${last.progress.committed})`);
        await new Promise((r) => setTimeout(r, 20));
      }
      last.proc.kill("SIGTERM");
      await last.exited;

      const views = ViewStore.open(generationPath(dir.path, currentGeneration(dir.path)));
      try {
        // Nothing quarantined: a projection throwing would make the views move past an event.
        assert.deepEqual(quarantinedEvents(views), [], childNotes());
        assert.equal(views.checkpoint("views", "PURSER_NS_backlog"), total, childNotes());
        assert.equal(views.db<number, string>("test-counter").get("PURSER_NS_backlog"), total, childNotes());
        await assertViewsEqualRebuild(p, views, [...p.server.projections, countingProjection]);
      } finally {
        await views.close();
      }
    } finally {
      dir.remove();
      await p.stop();
    }
  });
});
