import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { PurserClient } from "../src/client/purser-client.js";
import { findNatsServer } from "../src/server/nats-server.js";
import { eventually } from "./support/assertions.js";
import { spawnServe, startServe, type ServeProcess } from "./support/serve.js";
import { startTestNats, tempDir } from "./support/nats.js";
import { readEvents } from "../src/client/event-log.js";

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");

/**
 * Faults an operator meets with the embedded mode (issue 12), against the
 * real `purser serve`: nothing is left behind, nothing needs a hand.
 */
describe("purser serve heals its embedded nats-server", () => {
  test("kill -9 of serve takes its nats-server with it; a new serve on the same port and data starts at once", async (t) => {
    const first = await startServe();
    const admin = await PurserClient.connect({ servers: first.url, nkeyFile: first.adminSeed }, "admin");
    const created = await admin.namespaces.create("survives", { k: "v" });
    await admin.close();
    assert.ok(alive(first.natsPid), "nats-server runs");
    const killedAt = Date.now();
    process.kill(first.pid, "SIGKILL");
    await first.exited;
    await eventually(() => !alive(first.natsPid), "the orphaned nats-server gone");

    const second = await startServe([], { root: first.root, port: first.port });
    try {
      const c = await PurserClient.connect({ servers: second.url, nkeyFile: second.adminSeed }, "admin");
      assert.deepEqual((await c.namespaces.get("survives", { minRv: created.rv })).result.labels, { k: "v" });
      // A service manager's restart included: the client stall of this fault.
      t.diagnostic(`kill -9 of serve: answering again ${Date.now() - killedAt} ms after the kill (a new serve started at once)`);
      await c.close();
    } finally {
      await second.stop();
    }
  });

  test("a nats-server left running by an earlier start (its pid file, our config) is stopped before the new one starts", async () => {
    const first = await startServe();
    await first.stop({ keep: true });
    // What a serve without the parent-death signal (or an older purser) leaves: nats-server on our port and store.
    const config = join(first.dataDir, "identities", "nats-server.conf");
    const orphan = spawn(findNatsServer(), ["-c", config, "-js", "-a", "127.0.0.1", "-p", String(first.port)], { stdio: "ignore", detached: true });
    orphan.unref();
    writeFileSync(join(first.dataDir, "nats-server.pid"), `${orphan.pid}\n`);
    await eventually(async () => {
      try {
        await (await PurserClient.connect({ servers: first.url, nkeyFile: first.adminSeed })).close();
        return true;
      } catch {
        return false;
      }
    }, "the leftover nats-server to listen");
    const second = await startServe([], { root: first.root, port: first.port });
    try {
      assert.ok(!alive(orphan.pid!), "the leftover was stopped");
      assert.notEqual(second.natsPid, orphan.pid);
      assert.ok(second.logs().every((l) => l.level !== "error"), JSON.stringify(second.logs().filter((l) => l.level === "error")));
    } finally {
      if (alive(orphan.pid!)) process.kill(orphan.pid!, "SIGKILL");
      await second.stop();
    }
  });

  test("a nats-server killed under serve is started again, and clients carry on", async (t) => {
    const s = await startServe();
    let client: PurserClient | undefined;
    try {
      const c = (client = await PurserClient.connect({ servers: s.url, nkeyFile: s.adminSeed }, "admin"));
      const before = await c.namespaces.create("before");
      const killedAt = Date.now();
      process.kill(s.natsPid, "SIGKILL");
      await eventually(() => s.logs().some((l) => l.msg === "embedded nats-server running again"), "serve to start nats-server again");
      const restartedPid = Number(s.logs().find((l) => l.msg === "embedded nats-server running again")!.pid);
      assert.notEqual(restartedPid, s.natsPid);
      // The same client reconnects; the service answers again (and its views caught up).
      let after: Awaited<ReturnType<typeof c.namespaces.create>> | undefined;
      await eventually(async () => {
        after = await c.namespaces.create("after").catch(() => undefined);
        return after !== undefined;
      }, "a command to succeed after the restart", 60_000);
      // Read-your-write of it, through the views: the stall a client sees.
      await c.namespaces.get("after", { minRv: after!.rv });
      t.diagnostic(`kill -9 of the embedded nats-server: a command and a read of it succeed ${Date.now() - killedAt} ms after the kill`);
      assert.deepEqual(
        // Read-your-writes across namespaces names both rvs (the feed of "before" restarted too).
        (await c.namespaces.list({ after: after!.rv, before: before.rv })).result.map((n) => n.name),
        ["after", "before"],
      );
      assert.ok(alive(restartedPid));
    } finally {
      // Closed whatever happened: a client reconnects for ever, and would keep the test process alive.
      await client?.close();
      await s.stop();
    }
  });

  test("a stop that hangs (nats-server frozen: no answer, as on a full disk) is forced within serve's bound: nothing left running", async () => {
    const s = await startServe();
    const c = await PurserClient.connect({ servers: s.url, nkeyFile: s.adminSeed }, "admin");
    await c.namespaces.create("frozen");
    await c.close();
    process.kill(s.natsPid, "SIGSTOP");
    process.kill(s.pid, "SIGTERM");
    const code = await s.exited;
    assert.equal(code, 1, "a forced stop exits non-zero, for the service manager");
    assert.ok(s.logs().some((l) => l.msg === "stop did not complete in time: forcing"), JSON.stringify(s.logs().slice(-5)));
    await eventually(() => !alive(s.natsPid), "the frozen nats-server gone");
    await s.stop(); // removes its directory
  });
});

/**
 * A request that reached a purser process which then died (or whose own
 * connection moved to another cluster node) is answered by no one: the
 * client used to wait out its whole timeout. Every process announces itself
 * when it starts (server/service-announcer.ts) and the client sends its
 * unanswered requests again (client/request-resender.ts).
 */
describe("a request a dead purser process took is sent again when a process serves", () => {
  test("kill -9 of serve (external NATS) while it holds a command, a query and, after it died, a command nobody serves: all answered by the next serve, the command applied once", async (t) => {
    const nats = await startTestNats();
    const dir = tempDir("purser-announce-");
    const args = ["--server", nats.url, "serve", "--data-dir", join(dir.path, "data"), "--gc-manual", "--containerd-address", ""];
    const env = { NATS_URL: "", PURSER_CONTEXT: join(dir.path, "context.json"), PURSER_STATE_DIR: join(dir.path, "cli-state") };
    let second: ServeProcess | undefined;
    const client = await PurserClient.connect(nats.url, "test");
    try {
      const first = await spawnServe(args, env);
      await client.namespaces.create("held");
      // Frozen, the process keeps its subscriptions: NATS hands it the requests, which die with it.
      process.kill(first.child.pid!, "SIGSTOP");
      // Without the announcement these would wait out their 120 s and fail.
      const timeoutMs = 120_000;
      const command = client.leases.create("held", { id: "l1" }, { commandId: "held-command", timeoutMs });
      const query = client.namespaces.get("held", { timeoutMs });
      command.catch(() => {});
      query.catch(() => {});
      await client.nc.flush(); // both are on the server, on their way to the frozen process
      process.kill(first.child.pid!, "SIGKILL");
      await first.exited;
      const killedAt = Date.now();
      // Now no process serves: NATS answers "no responders", and the client waits for one.
      const unserved = client.namespaces.create("unserved", {}, { timeoutMs });
      unserved.catch(() => {});
      second = await spawnServe(args, env);
      const [created, got, made] = await Promise.all([command, query, unserved]);
      t.diagnostic(`kill -9 of serve holding requests: answered ${Date.now() - killedAt} ms after the kill (a new serve started at once)`);
      assert.equal(created.result.id, "l1");
      assert.equal(got.result.name, "held");
      assert.equal(made.result.name, "unserved");
      // Sent twice or more, the command is in the log once.
      const leases = await client.leases.list("held", [], { minRv: created.rv });
      assert.deepEqual(leases.result.map((l) => l.id), ["l1"]);
      const events: string[] = [];
      await readEvents(client.nc, { namespaces: ["held"], follow: false }, (e) => events.push(e.event.type));
      assert.deepEqual(events, ["NamespaceCreated", "LeaseCreated"]);
    } finally {
      await client.close();
      await second?.stop();
      await nats.stop();
      dir.remove();
    }
  });
});
