import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { readContext } from "../src/cli/nats-context.js";
import { readEvents } from "../src/client/event-log.js";
import { PurserClient } from "../src/client/purser-client.js";
import { decodeMsgpack, encodeWireMsgpack } from "../src/events/msgpack.js";
import { serviceUpSubject, type ServiceUp } from "../src/protocol/service.js";
import { streamName } from "../src/events/subjects.js";
import { connectNats, type ConnectionSettings } from "../src/protocol/connection.js";
import { RequestHeader } from "../src/protocol/request-headers.js";
import { serviceInboxPrefix } from "../src/security/permissions.js";
import { eventually, rejects } from "./support/assertions.js";
import { cliPath, runCli, type CliResult } from "./support/cli.js";
import { startServe, type ServedPurser } from "./support/serve.js";
import { runCtr } from "./support/ctr.js";

const garbage = new TextEncoder().encode("tenant-b's unreferenced blob: a collection would remove it");

/**
 * The attacks of docs/security.md, each against a real `purser serve` in the
 * embedded mode (its nats-server with authorization on) with two tenants:
 * `ta` confined to tenant-a, `tb` to tenant-b. Every attack asserts what the
 * attacker got (a refusal, or nothing) and that nothing changed: every
 * stream's state, the namespaces and their labels, the views' generations,
 * and tenant-b's garbage blob that a collection would remove.
 */
describe("trust on NATS: identities, least privilege and confined tenants", () => {
  let s: ServedPurser;
  let admin: PurserClient;
  let ta: PurserClient;
  let taSettings: ConnectionSettings;
  let tb: PurserClient;
  let garbageDigest: string;
  const cli = (args: string[]): Promise<CliResult> => runCli(s.url, ["--context", s.contextFile, ...args]);

  before(async () => {
    s = await startServe();
    admin = await PurserClient.connect({ servers: s.url, nkeyFile: s.adminSeed }, "admin");
    await admin.namespaces.create("tenant-a", { team: "a" });
    await admin.namespaces.create("tenant-b", { team: "b" });
    garbageDigest = (await admin.content.put("tenant-b", "garbage", garbage)).result.digest;
    const out = join(s.dataDir, "..", "issued");
    mkdirSync(out);
    for (const [name, ns] of [["ta", "tenant-a"], ["tb", "tenant-b"]]) {
      const r = await cli(["tenants", "add", name!, ns!, "-o", out]);
      assert.equal(r.code, 0, r.stderr);
    }
    taSettings = readContext(join(out, "ta.context.json"));
    ta = await PurserClient.connect(taSettings, "ta");
    tb = await PurserClient.connect(readContext(join(out, "tb.context.json")), "tb");
  });
  after(async () => {
    await ta?.close();
    await tb?.close();
    await admin?.close();
    await s?.stop();
  });

  /** Everything an attack could change. */
  async function state() {
    const jsm = await jetstreamManager(admin.nc);
    const streams: Record<string, { messages: number; first: number; last: number }> = {};
    for await (const si of jsm.streams.list()) streams[si.config.name] = { messages: si.state.messages, first: si.state.first_seq, last: si.state.last_seq };
    const namespaces = (await admin.namespaces.list()).result.map((n) => ({ name: n.name, labels: n.labels }));
    const blob = (await admin.content.info("tenant-b", garbageDigest)).result.digest;
    const views = readdirSync(join(s.dataDir, "views")).sort();
    return { streams, namespaces, blob, views };
  }

  const dropped = (reply: string | RegExp) =>
    s.logs().filter((l) => l.msg === "request dropped: its reply subject is not under an inbox prefix" && (typeof reply === "string" ? l.reply === reply : reply.test(String(l.reply)))).length;

  test("an unauthenticated local connection is refused, and the CLI says so", async () => {
    await assert.rejects(connect({ servers: s.url }), /Authorization Violation/);
    const r = await runCli(s.url, ["ns", "ls"]);
    assert.equal(r.stderr, `purser: cannot connect to NATS at ${s.url}: Authorization Violation: unavailable\n`);
    assert.equal(r.code, 1);
  });

  test("a password or token given in the URL or as a flag never appears in an error", async () => {
    const url = s.url.replace("nats://", "nats://admin:hunter2-pw@");
    for (const args of [["--server", url, "ns", "ls"], ["--token", "tok-s3cret", "ns", "ls"], ["--user", "admin", "--password", "hunter2-pw", "ns", "ls"]]) {
      const r = await runCli(s.url, args);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `purser: cannot connect to NATS at ${s.url}: Authorization Violation: unavailable\n`);
    }
  });

  test("the CLI on the host uses the admin's local context when given no connection flags; its secrets are 0600 in 0700", async () => {
    const r = await new Promise<CliResult>((resolve) => {
      const child = spawn(process.execPath, [cliPath, "ns", "ls"], { env: { ...process.env, ...s.env } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "NAME     LABELS \ntenant-a team=a \ntenant-b team=b \n");
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    assert.equal(mode(join(s.dataDir, "identities")), "700");
    for (const f of ["admin.nk", "service.nk", "tenants.json", "nats-server.conf"]) assert.equal(mode(join(s.dataDir, "identities", f)), "600", f);
    assert.equal(mode(s.contextFile), "600");
    assert.deepEqual(readContext(s.contextFile), { servers: s.url, nkeyFile: s.adminSeed });
  });

  test("a tenant works in its namespace: commands, queries, its log through a consumer", async () => {
    const created = await ta.leases.create("tenant-a", { id: "mine" });
    assert.deepEqual((await ta.leases.list("tenant-a", [], { minRv: created.rv })).result.map((l) => l.id), ["mine"]);
    const types: string[] = [];
    await readEvents(ta.nc, { namespaces: ["tenant-a"], follow: false }, (e) => types.push(e.event.type));
    assert.deepEqual(types, ["NamespaceCreated", "LeaseCreated"]);
  });

  test("direct publish: a tenant cannot send another namespace's commands or queries", async () => {
    const before = await state();
    await rejects(ta.namespaces.update("tenant-b", {}), "PermissionDenied", "this identity may not send purser.v1.tenant-b.namespaces.update: permission denied");
    await rejects(ta.images.list("tenant-b"), "PermissionDenied", "this identity may not send purser.v1.tenant-b.images.list: permission denied");
    await rejects(ta.namespaces.delete("tenant-c"), "PermissionDenied", "this identity may not send purser.v1.tenant-c.namespaces.delete: permission denied");
    assert.deepEqual(await state(), before);
  });

  test("direct publish: a tenant cannot reach global endpoints (namespace list, rebuild, gc, tenants)", async () => {
    const before = await state();
    await rejects(ta.namespaces.list(), "PermissionDenied", "this identity may not send purser.v1._global.namespaces.list: permission denied");
    await rejects(ta.system.rebuild(), "PermissionDenied", "this identity may not send purser.v1._global.system.rebuild: permission denied");
    await rejects(ta.gc.collect(), "PermissionDenied", "this identity may not send purser.v1._global.gc.collect: permission denied");
    await rejects(ta.tenants.add("evil", "UAAA", ["tenant-b"]), "PermissionDenied", "this identity may not send purser.v1._global.tenants.add: permission denied");
    assert.deepEqual(await state(), before);
  });

  test("direct publish: a tenant cannot purge or delete a stream, its own included, nor read another's", async () => {
    const before = await state();
    for (const subject of [
      `$JS.API.STREAM.DELETE.${streamName("tenant-b")}`,
      `$JS.API.STREAM.PURGE.${streamName("tenant-b")}`,
      `$JS.API.STREAM.PURGE.${streamName("tenant-a")}`,
      `$JS.API.STREAM.DELETE.${streamName("tenant-a")}`,
      `$JS.API.STREAM.INFO.${streamName("tenant-b")}`,
      `$JS.API.CONSUMER.CREATE.${streamName("tenant-b")}`,
      "$JS.API.STREAM.NAMES",
    ]) {
      await assert.rejects(ta.nc.request(subject, "{}", { timeout: 5000 }), /Permissions Violation for Publish/, subject);
    }
    await rejects(
      readEvents(ta.nc, { namespaces: ["tenant-b"], follow: false }, () => {}),
      "PermissionDenied",
      "this identity may not read the log of tenant-b: permission denied",
    );
    assert.deepEqual(await state(), before);
  });

  test("event forging: only the service may publish on purser.ev.> (a tenant, and the admin, are refused)", async () => {
    const before = await state();
    const forged = encodeWireMsgpack({ type: "NamespaceUpdated", version: 1, data: { name: "tenant-a", labels: { owned: "yes" } } });
    for (const nc of [ta.nc, admin.nc]) {
      await assert.rejects(jetstream(nc).publish("purser.ev.tenant-a.namespace.x", forged), /Permissions Violation for Publish to "purser.ev.tenant-a.namespace.x"/);
    }
    assert.deepEqual(await state(), before);
  });

  test("the service identity cannot delete or purge a stream", async () => {
    const service = await connectNats({ servers: s.url, nkeyFile: s.serviceSeed, inboxPrefix: serviceInboxPrefix }, {});
    try {
      const before = await state();
      const jsm = await jetstreamManager(service);
      await assert.rejects(jsm.streams.purge(streamName("tenant-b")), /Permissions Violation for Publish to "\$JS.API.STREAM.PURGE.PURSER_NS_tenant-b"/);
      await assert.rejects(jsm.streams.delete(streamName("tenant-b")), /Permissions Violation for Publish to "\$JS.API.STREAM.DELETE.PURSER_NS_tenant-b"/);
      assert.deepEqual(await state(), before);
    } finally {
      await service.close();
    }
  });

  const targets: Array<[string, string]> = [
    ["another namespace's command", "purser.v1.tenant-b.namespaces.update"],
    ["a namespace creation", "purser.v1.tenant-c.namespaces.create"],
    ["a namespace deletion", "purser.v1.tenant-b.namespaces.delete"],
    ["a global endpoint (rebuild)", "purser.v1._global.system.rebuild"],
    ["a global endpoint (gc)", "purser.v1._global.gc.collect"],
    ["$JS.API.STREAM.PURGE", `$JS.API.STREAM.PURGE.${streamName("tenant-b")}`],
    ["$JS.API.STREAM.DELETE", `$JS.API.STREAM.DELETE.${streamName("tenant-b")}`],
    ["$KV (the GC lock)", "$KV.purser_gc.lock"],
    ["the log itself", "purser.ev.tenant-b.namespace.forged"],
  ];
  for (const [what, reply] of targets) {
    test(`reply-subject injection onto ${what} is dropped and logged, never answered`, async () => {
      const before = await state();
      const seen = dropped(reply);
      const h = natsHeaders();
      h.set(RequestHeader.Actor, "ta");
      ta.nc.publish("purser.v1.tenant-a.images.list", encodeWireMsgpack({}), { reply, headers: h });
      // The guard drops in the subscription's callback, in order: the next answer on this connection follows it.
      await ta.images.list("tenant-a");
      await eventually(() => dropped(reply) > seen, `the drop of the request with reply ${reply} logged`);
      const line = s.logs().filter((l) => l.reply === reply).at(-1)!;
      assert.equal(line.subject, "purser.v1.tenant-a.images.list");
      assert.equal(line.actor, "ta");
      assert.deepEqual(await state(), before);
    });
  }

  test("a command published without a reply subject is dropped, not run (fire-and-forget would act with no one to answer)", async () => {
    const before = await state();
    const seen = dropped("");
    ta.nc.publish("purser.v1.tenant-a.namespaces.update", encodeWireMsgpack({ labels: { owned: "yes" } }));
    await ta.images.list("tenant-a");
    await eventually(() => dropped("") > seen, "the drop of the request without a reply logged");
    assert.deepEqual(await state(), before);
  });

  test("service discovery ($SRV) with a foreign reply subject is not answered", async () => {
    const before = await state();
    const reply = "purser.ev.tenant-b.namespace.srv";
    const seen = dropped(reply);
    admin.nc.publish("$SRV.PING", new Uint8Array(0), { reply });
    await admin.nc.request("$SRV.PING", new Uint8Array(0), { timeout: 5000 });
    await eventually(() => dropped(reply) > seen, "the $SRV.PING drop logged");
    assert.deepEqual(await state(), before);
  });

  test("a progress subject outside the inbox prefixes is refused before anything runs", async () => {
    const before = await state();
    const h = natsHeaders();
    h.set(RequestHeader.ProgressSubject, "purser.v1.tenant-b.namespaces.delete");
    await rejects(
      admin.requestMsg("purser.v1._global.system.rebuild", encodeWireMsgpack({}), h),
      "InvalidArgument",
      "Purser-Progress-Subject must be a subject under _INBOX.>: invalid argument",
    );
    assert.deepEqual(await state(), before);
  });

  test("a non-canonical namespace token is refused (InvalidArgument), so a NATS rule on the canonical one holds", async () => {
    const before = await state();
    await rejects(
      admin.requestMsg("purser.v1._74enant-b.namespaces.update", encodeWireMsgpack({ labels: {} })),
      "InvalidArgument",
      'namespace token "_74enant-b" is not canonical: that namespace is spelled "tenant-b": invalid argument',
    );
    await rejects(admin.requestMsg("purser.v1.tenant_2Db.images.list", encodeWireMsgpack({})), "InvalidArgument", 'namespace token "tenant_2Db" is not canonical: that namespace is spelled "tenant-b": invalid argument');
    // And a tenant cannot send it at all: its grant is the canonical token.
    await rejects(ta.requestMsg("purser.v1._74enant-a.images.list", encodeWireMsgpack({})), "PermissionDenied", "this identity may not send purser.v1._74enant-a.images.list: permission denied");
    assert.deepEqual(await state(), before);
  });

  test("inbox snooping: a tenant may subscribe only to its own inbox prefix", async () => {
    for (const subject of ["_INBOX.>", "_INBOX.t-tb.>", ">", "purser.v1.>", "purser.ev.>"]) {
      const sub = ta.nc.subscribe(subject);
      const closed = await sub.closed;
      assert.ok(closed instanceof Error && /Permissions Violation for Subscription/.test(closed.message), `${subject}: ${String(closed)}`);
    }
    // tb's replies flow meanwhile, on its own prefix.
    assert.equal((await tb.images.list("tenant-b")).result.length, 0);
  });

  test("a tenant hears a service announce itself (it sends lost requests again then) but cannot announce one", async () => {
    const heard: string[] = [];
    const sub = tb.nc.subscribe(serviceUpSubject, {
      callback: (err, m) => {
        if (!err) heard.push((decodeMsgpack(m.data) as ServiceUp).reason);
      },
    });
    await tb.nc.flush();
    await assert.rejects(ta.nc.request(serviceUpSubject, encodeWireMsgpack({ instance: "forged", reason: "start" }), { timeout: 2000 }), /Permissions Violation for Publish to "purser.v1._global.service.up"/);
    const service = await connectNats({ servers: s.url, nkeyFile: s.serviceSeed, inboxPrefix: serviceInboxPrefix }, {});
    try {
      service.publish(serviceUpSubject, encodeWireMsgpack({ instance: "test", reason: "reconnect" } satisfies ServiceUp));
      await service.flush();
      await eventually(() => heard.length > 0, "the tenant to hear the announcement");
      assert.deepEqual(heard, ["reconnect"]);
    } finally {
      sub.unsubscribe();
      await service.close();
    }
  });

  test("tenants rm: the key is refused from then on", async () => {
    const out = join(s.dataDir, "..", "issued-td");
    mkdirSync(out);
    assert.equal((await cli(["tenants", "add", "td", "tenant-d", "-o", out])).code, 0);
    const td = readContext(join(out, "td.context.json"));
    const conn = await connectNats(td, {});
    await conn.close();
    const ls = await cli(["tenants", "ls", "-q"]);
    assert.equal(ls.stdout, "ta\ntb\ntd\n");
    const rm = await cli(["tenants", "rm", "td"]);
    assert.equal(rm.code, 0, rm.stderr);
    await rejects(connectNats(td, {}), "Unavailable", `cannot connect to NATS at ${s.url}: Authorization Violation: unavailable`);
    assert.equal((await cli(["tenants", "ls", "-q"])).stdout, "ta\ntb\n");
    const again = await cli(["tenants", "rm", "td"]);
    assert.equal(again.stderr, 'purser: tenant "td": not found\n');
  });

  test("serve's containerd API: <data-dir>/containerd.sock, owner and group only, and the real ctr works through it", async () => {
    const socket = join(s.dataDir, "containerd.sock");
    assert.equal((statSync(socket).mode & 0o777).toString(8), "660");
    const r = await runCtr(socket, ["namespaces", "ls", "-q"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.split("\n").includes("tenant-a"), r.stdout);
    const made = await runCtr(socket, ["-n", "via-socket", "leases", "create", "--id", "via-socket"]);
    assert.deepEqual([made.code, made.stdout], [0, "via-socket\n"]);
    const events: Array<{ actor: string; type: string }> = [];
    await readEvents(admin.nc, { namespaces: ["via-socket"], follow: false }, (e) => events.push({ actor: e.context.actor, type: e.event.type }));
    assert.deepEqual(events.filter((e) => e.type === "LeaseCreated"), [{ actor: "containerd-api", type: "LeaseCreated" }]);
  });
});
