/**
 * containerd's own client against purser (issue 14): the real `ctr` of
 * containerd 1.6 (Debian's package; no containerd daemon anywhere) talks to
 * purser's containerd API on a unix socket, against a real nats-server and
 * LMDB. Each step asserts ctr's exact output and exit code. ctr prints label
 * maps in Go's random map order: those lines are compared as sets.
 */
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { anchor, fixturePath } from "./support/image-archives.js";
import { runCli } from "./support/cli.js";
import { runCtr, startCtr } from "./support/ctr.js";
import { eventsOf, eventually } from "./support/assertions.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { tempDir } from "./support/nats.js";

const ref = anchor.name;
const chain = [anchor.diffIds[0]!, "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada"];
const labelSet = (line: string) => new Set(line.trim().split(","));

describe("ctr against purser's containerd API", () => {
  let p: TestPurser;
  let socket: string;
  const dir = tempDir("purser-ctr-");
  const ctr = (...args: string[]) => runCtr(socket, args);
  const ok = async (args: string[], stdout: string) => {
    const r = await ctr(...args);
    assert.deepEqual([r.code, r.stderr], [0, ""], `ctr ${args.join(" ")}`);
    assert.equal(r.stdout, stdout, `ctr ${args.join(" ")}`);
  };
  const fails = async (args: string[], stderr: string | RegExp) => {
    const r = await ctr(...args);
    assert.equal(r.code, 1, `ctr ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    if (typeof stderr === "string") assert.equal(r.stderr, stderr);
    else assert.match(r.stderr, stderr);
  };

  before(async () => {
    socket = join(dir.path, "containerd.sock");
    p = await startTestPurser({ containerdAddress: socket });
  });
  after(async () => {
    await p.stop();
    dir.remove();
  });

  test("the socket is the trust boundary: owner and group only, as containerd's", () => {
    const st = statSync(socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });

  test("ctr version: purser's API version and a stable server uuid", async () => {
    const r = await ctr("version");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nServer:\n  Version:  1\.6\.20\+purser\n  Revision: \d+\.\d+\.\d+\n  UUID: [0-9a-f-]{36}\n/);
    const uuid = /UUID: (\S+)/.exec(r.stdout)![1];
    await p.restart({ containerdAddress: socket });
    assert.match((await ctr("version")).stdout, new RegExp(`UUID: ${uuid}\n`));
  });

  test("namespaces create, ls, label, rm (refused while not empty)", async () => {
    await ok(["namespaces", "create", "team", "owner=ops", "tier=1"], "");
    await ok(["namespaces", "ls"], "NAME LABELS           \nteam owner=ops,tier=1 \n");
    await ok(["namespaces", "label", "team", "tier=2"], "");
    await ok(["namespaces", "label", "team", "owner="], "");
    await ok(["namespaces", "ls"], "NAME LABELS \nteam tier=2 \n");
    await fails(["namespaces", "create", "bad/name"], 'ctr: identifier "bad/name" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument\n');
    await fails(["namespaces", "create", "team"], 'ctr: namespace "team": already exists\n');
    await ok(["-n", "team", "leases", "create", "--id", "keep"], "keep\n");
    // Leases do not block a delete (containerd drops them with the namespace).
    await ok(["namespaces", "rm", "team"], "team\n");
    await ok(["namespaces", "ls", "-q"], "");
  });

  test("images import (blobs through Content.Write, unpacked through Snapshots and Diff), ls, check", async () => {
    await ok(["-n", "imp", "images", "import", "--snapshotter", "native", fixturePath], `unpacking ${ref} (${anchor.manifest})...done\n`);
    await ok(
      ["-n", "imp", "images", "ls"],
      "REF                          TYPE                                       DIGEST                                                                  SIZE    PLATFORMS   LABELS \n" +
        `${ref} application/vnd.oci.image.manifest.v1+json ${anchor.manifest} 1.8 KiB linux/amd64 -      \n`,
    );
    await ok(
      ["-n", "imp", "images", "check", "--snapshotter", "native"],
      "REF                          TYPE                                       DIGEST                                                                  STATUS         SIZE            UNPACKED \n" +
        `${ref} application/vnd.oci.image.manifest.v1+json ${anchor.manifest} complete (3/3) 1.2 KiB/1.2 KiB true\n`,
    );
    await ok(["-n", "imp", "snapshots", "--snapshotter", "native", "tree"], ` ${chain[0]}\n  \\_ ${chain[1]}\n`);
    await fails(["namespaces", "rm", "imp"], /ctr: unable to delete imp: namespace "imp" must be empty, but it still has images, blobs, snapshots on "native" snapshotter: failed precondition\n$/);
    // Every change is an event in the namespace's log, by the containerd API.
    const events = await eventsOf(p.client, "imp");
    assert.deepEqual([...new Set(events.map((e) => e.context.actor))], ["containerd-api"]);
    assert.ok(events.some((e) => e.event.type === "ImageCreated"));
  });

  test("images label, tag, rm --sync", async () => {
    await ok(["-n", "imp", "images", "label", ref, "role=test"], "role=test\n");
    await ok(["-n", "imp", "images", "tag", ref, "docker.io/library/anchor:copy"], "docker.io/library/anchor:copy\n");
    await ok(["-n", "imp", "images", "ls", "-q"], `${ref}\ndocker.io/library/anchor:copy\n`);
    await fails(["-n", "imp", "images", "tag", ref, "docker.io/library/anchor:copy"], 'ctr: image "docker.io/library/anchor:copy": already exists\n');
    await ok(["-n", "imp", "images", "rm", "--sync", "docker.io/library/anchor:copy"], "docker.io/library/anchor:copy\n");
    const missing = await ctr("-n", "imp", "images", "rm", "docker.io/library/anchor:none");
    assert.equal(missing.code, 0);
    assert.match(missing.stderr, /level=warning msg="docker\.io\/library\/anchor:none: image not found"\n$/);
  });

  test("containers create, ls, info, label, rm", async () => {
    await ok(["-n", "imp", "containers", "create", "--snapshotter", "native", ref, "box"], "");
    await fails(["-n", "imp", "containers", "create", "--snapshotter", "native", ref, "box"], 'ctr: snapshot "box": already exists\n');
    await ok(["-n", "imp", "containers", "ls"], `CONTAINER    IMAGE                           RUNTIME                  \nbox          ${ref}    io.containerd.runc.v2    \n`);
    const info = await ctr("-n", "imp", "containers", "info", "box");
    assert.equal(info.code, 0, info.stderr);
    const shown = JSON.parse(info.stdout) as { ID: string; Image: string; Snapshotter: string; SnapshotKey: string; Runtime: { Name: string }; Spec: { process: { args: string[] } }; Labels: Record<string, string> };
    assert.deepEqual([shown.ID, shown.Image, shown.Snapshotter, shown.SnapshotKey, shown.Runtime.Name], ["box", ref, "native", "box", "io.containerd.runc.v2"]);
    // The spec went in as an Any and comes back unchanged; ctr adds the image's labels to the container's.
    assert.deepEqual(shown.Spec.process.args, ["/bin/anchor"]);
    assert.deepEqual(shown.Labels, { "io.containerd.image.config.stop-signal": "SIGTERM", "org.example.anchor": "1.0", role: "test" });
    const labelled = await ctr("-n", "imp", "containers", "label", "box", "k=v");
    assert.equal(labelled.code, 0, labelled.stderr);
    assert.deepEqual(labelSet(labelled.stdout), new Set(["io.containerd.image.config.stop-signal=SIGTERM", "k=v", "org.example.anchor=1.0", "role=test"]));
    await ok(["-n", "imp", "containers", "rm", "box"], "");
    await fails(["-n", "imp", "containers", "rm", "box"], /ctr: container "box" in namespace "imp": not found\n$/);
    // ctr removes the container's snapshot with it.
    await fails(["-n", "imp", "snapshots", "--snapshotter", "native", "rm", "box"], 'ctr: failed to remove "box": snapshot box does not exist: not found\n');
  });

  test("content ingest, ls, get, label, active, rm", async () => {
    const digest = "sha256:a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";
    const ingest = await runCtr(socket, ["-n", "blobs", "content", "ingest", "ref1"], "hello world\n");
    assert.deepEqual([ingest.code, ingest.stdout, ingest.stderr], [0, "", ""]);
    const ls = await ctr("-n", "blobs", "content", "ls");
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`^DIGEST\\tSIZE\\tAGE\\tLABELS\\n${digest}\\t12B\\t[^\\t]+\\t-\\n$`.replace(/\\t/g, "\\t+")));
    await ok(["-n", "blobs", "content", "get", digest], "hello world\n");
    await ok(["-n", "blobs", "content", "label", digest, "foo=bar"], "foo=bar\n");
    assert.match((await ctr("-n", "blobs", "content", "ls")).stdout, /\tfoo=bar\n$/);
    await ok(["-n", "blobs", "content", "active"], "REF\tSIZE\tAGE\t\n");
    await fails(["-n", "blobs", "content", "get", "sha256:" + "0".repeat(64)], /content digest sha256:0{64}: not found\n$/);
    await ok(["-n", "blobs", "content", "rm", digest], `${digest}\n`);
    await ok(["-n", "blobs", "content", "ls"], "DIGEST\tSIZE\tAGE\tLABELS\n");
  });

  test("a killed writer frees its ref at once: the next ingest of the ref starts, no lock wait", { timeout: 120_000 }, async () => {
    // Locks that would outlive this test: only the end of the stream can free the ref in time.
    await p.restart({ containerdAddress: socket, content: { lockTimeoutMs: 30 * 60_000 } });
    const writer = startCtr(socket, ["-n", "blobs", "content", "ingest", "held-ref"]);
    try {
      // ctr holds the ref from its first message; its bytes wait for stdin to end, which never comes.
      writer.child.stdin!.write("partial bytes, then the client dies");
      await eventually(async () => (await p.client.content.statuses("blobs")).result.some((s) => s.ref === "held-ref"), "the first writer opened its ingest");
    } finally {
      await writer.stop(); // SIGKILL
    }
    // ctr retries a locked ref until the lock goes: with the lock left to expire, this would wait half an hour.
    const next = await runCtr(socket, ["-n", "blobs", "content", "ingest", "held-ref"], "the whole blob\n");
    assert.deepEqual([next.code, next.stderr], [0, ""]);
    assert.deepEqual((await p.client.content.statuses("blobs")).result, []);
    await p.restart({ containerdAddress: socket });
  });

  test("snapshots prepare, view, mounts, commit, info, label, usage, ls, rm", async () => {
    const sn = ["-n", "imp", "snapshots", "--snapshotter", "native"];
    await ok([...sn, "prepare", "work", chain[1]!], "");
    const mounts = await ctr(...sn, "mounts", "/mnt", "work");
    assert.equal(mounts.code, 0, mounts.stderr);
    assert.match(mounts.stdout, new RegExp(`^mount -t bind ${p.dataDir}/snapshots/native/snapshots/[0-9a-f]+ /mnt -o rbind,rw\\n$`));
    await ok([...sn, "view", "look", chain[1]!], "");
    assert.match((await ctr(...sn, "mounts", "/mnt", "look")).stdout, /-o rbind,ro\n$/);
    await ok([...sn, "commit", "done", "work"], "");
    const info = JSON.parse((await ctr(...sn, "info", "done")).stdout) as { Kind: string; Name: string; Parent: string };
    assert.deepEqual([info.Kind, info.Name, info.Parent], ["Committed", "done", chain[1]]);
    const labelled = await ctr(...sn, "label", "done", "x=y");
    assert.ok(labelSet(labelled.stdout).has("x=y"));
    const usage = await ctr(...sn, "usage", "done");
    assert.match(usage.stdout, /^KEY +SIZE +INODES *\ndone +[0-9.]+ KiB +\d+ *\n$/);
    const ls = await ctr(...sn, "ls");
    assert.deepEqual(
      ls.stdout.trim().split("\n").slice(1).map((l) => l.trim().split(/ +/)).sort(),
      [["done", chain[1], "Committed"], ["look", chain[1], "View"], [chain[1], chain[0], "Committed"], [chain[0], "Committed"]].sort(),
    );
    await fails([...sn, "rm", chain[1]!], /cannot remove snapshot with child: failed precondition\n$/);
    await ok([...sn, "rm", "done", "look"], "");
    // ctr's default snapshotter is not purser's.
    await fails(["-n", "imp", "snapshots", "ls"], "ctr: snapshotter not loaded: overlayfs: invalid argument\n");
  });

  test("leases create, ls, rm", async () => {
    await ok(["-n", "imp", "leases", "create", "--id", "mylease", "--expires", "1h"], "mylease\n");
    await fails(["-n", "imp", "leases", "create", "--id", "mylease"], 'ctr: lease "mylease": already exists\n');
    const ls = await ctr("-n", "imp", "leases", "ls");
    assert.match(ls.stdout, /^ID +CREATED AT +LABELS *\nmylease +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +containerd\.io\/gc\.expire=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ *\n$/);
    await ok(["-n", "imp", "leases", "ls", "-q"], "mylease\n");
    await ok(["-n", "imp", "leases", "rm", "mylease"], "mylease\n");
    await fails(["-n", "imp", "leases", "rm", "mylease"], 'ctr: lease "mylease": not found\n');
  });

  test("ctr events while another ctr makes changes: containerd's topics and payloads", async () => {
    const events = startCtr(socket, ["events"]);
    // Subscribed once a change made now reaches it.
    await eventually(async () => {
      await ctr("namespaces", "label", "imp", `probe=${Date.now()}`);
      return events.output().includes("/namespaces/update");
    }, "ctr events is subscribed");
    await ok(["-n", "imp", "images", "tag", ref, "docker.io/library/anchor:seen"], "docker.io/library/anchor:seen\n");
    await ok(["-n", "imp", "images", "rm", "docker.io/library/anchor:seen"], "docker.io/library/anchor:seen\n");
    await ok(["-n", "imp", "leases", "create", "--id", "unseen"], "unseen\n"); // containerd publishes nothing for leases
    await ok(["namespaces", "create", "last"], "");
    await eventually(() => events.output().includes("/namespaces/create"), "the last event arrived");
    await events.stop();
    const lines = events.output().trim().split("\n").filter((l) => !l.includes("/namespaces/update"));
    const stamp = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d+ \\+0000 UTC";
    assert.equal(lines.length, 3, events.output());
    assert.match(lines[0]!, new RegExp(`^${stamp} imp /images/create \\{"name":"docker\\.io/library/anchor:seen","labels":\\{"role":"test"\\}\\}$`));
    assert.match(lines[1]!, new RegExp(`^${stamp} imp /images/delete \\{"name":"docker\\.io/library/anchor:seen"\\}$`));
    assert.match(lines[2]!, new RegExp(`^${stamp} last /namespaces/create \\{"name":"last"\\}$`));
  });

  test("tasks answer Unimplemented, saying why", async () => {
    await fails(["-n", "imp", "tasks", "ls"], "ctr: rpc error: code = Unimplemented desc = containerd.services.tasks.v1.Tasks/List: purser stores metadata and runs no tasks: not implemented\n");
  });

  test("the same import through ctr and through purser images import: the same views and disk contents", async () => {
    const cli = await runCli(p.nats.url, ["-n", "viapurser", "images", "import", fixturePath]);
    assert.equal(cli.code, 0, cli.stderr);
    await ok(["-n", "viactr", "images", "import", "--snapshotter", "native", fixturePath], `unpacking ${ref} (${anchor.manifest})...done\n`);
    // ctr also stores the archive's index.json, which nothing references: the collector removes it.
    await p.client.gc.collect();
    const strip = (x: unknown) => JSON.parse(JSON.stringify(x, (k, v) => (["createdAt", "updatedAt", "backendKey", "dir"].includes(k) ? undefined : v)));
    for (const read of [
      (ns: string) => p.client.images.list(ns),
      (ns: string) => p.client.content.list(ns),
      (ns: string) => p.client.snapshots.list(ns),
    ]) {
      assert.deepEqual(strip((await read("viactr")).result), strip((await read("viapurser")).result));
    }
    // The trees on disk: the same files, sizes and modes.
    const tree = async (ns: string) => {
      const top = (await p.client.snapshots.list(ns)).result.find((s) => s.key === chain[1])!;
      const root = join(p.dataDir, "snapshots", "native", "snapshots", top.dir);
      const out: string[] = [];
      const walk = (d: string) => {
        for (const name of readdirSync(d).sort()) {
          const path = join(d, name);
          const st = statSync(path, { throwIfNoEntry: false }) ?? { mode: 0, size: 0, isDirectory: () => false };
          out.push(`${relative(root, path)} ${st.mode.toString(8)} ${st.isDirectory() ? "-" : st.size}`);
          if (st.isDirectory()) walk(path);
        }
      };
      walk(root);
      return out;
    };
    assert.deepEqual(await tree("viactr"), await tree("viapurser"));
    const actors = async (ns: string) => [...new Set((await eventsOf(p.client, ns)).map((e) => e.context.actor))];
    assert.deepEqual(await actors("viactr"), ["containerd-api", "gc"]);
  });
});
