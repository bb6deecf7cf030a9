import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runCli } from "./support/cli.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

describe("purser CLI: namespaces and events, as ctr prints them", () => {
  let p: TestPurser;
  let state: { path: string; remove(): void };
  const cli = (...args: string[]) => runCli(p.nats.url, args, { PURSER_STATE_DIR: state.path });
  before(async () => {
    p = await startTestPurser();
    state = tempDir("purser-cli-state-");
  });
  after(async () => {
    state.remove();
    await p.stop();
  });

  test("create, ls, label, rm", async () => {
    assert.deepEqual(await cli("ns", "create", "foo", "mylabel=bar"), { code: 0, stdout: "", stderr: "" });
    // Read-your-writes across invocations: the next process sees the create at once.
    assert.equal((await cli("namespaces", "ls")).stdout, "NAME LABELS      \nfoo  mylabel=bar \n");
    assert.equal((await cli("ns", "label", "foo", "another=x", "mylabel=")).code, 0);
    assert.equal((await cli("ns", "ls")).stdout, "NAME LABELS    \nfoo  another=x \n");
    assert.equal((await cli("ns", "ls", "-q")).stdout, "foo\n");
    // A label without `=` is `key=true` (ctr's LabelArgs), at create and in label; an empty LABELS cell stays empty.
    assert.equal((await cli("ns", "create", "lbl", "a", "b=1")).code, 0);
    assert.equal((await cli("ns", "create", "plain")).code, 0);
    assert.equal((await cli("ns", "label", "lbl", "z")).code, 0);
    assert.equal((await cli("ns", "ls")).stdout, "NAME  LABELS            \nfoo   another=x         \nlbl   a=true,b=1,z=true \nplain                   \n");
    assert.deepEqual(await cli("ns", "rm", "lbl", "plain"), { code: 0, stdout: "lbl\nplain\n", stderr: "" });
    const json = JSON.parse((await cli("--json", "ns", "ls")).stdout);
    assert.deepEqual(json.map((n: { name: string; labels: object }) => [n.name, n.labels]), [["foo", { another: "x" }]]);
    assert.deepEqual(await cli("ns", "rm", "foo", "never-existed"), { code: 0, stdout: "foo\nnever-existed\n", stderr: "" });
    assert.equal((await cli("ns", "ls", "-q")).stdout, "");
  });

  test("a remembered rv of a log that was since wiped does not make queries wait", async () => {
    await cli("ns", "create", "wiped");
    // What a CLI remembers from a server that had a longer log before it was reset.
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    writeFileSync(join(state.path, "last-rv.json"), JSON.stringify({ [`${p.nats.url}|wiped`]: { rv: 999, at: Date.now() } }));
    const started = Date.now();
    const r = await cli("ns", "ls", "-q");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes("wiped\n"));
    assert.ok(Date.now() - started < 4000, "answered without waiting for the min-rv timeout");
  });

  test("errors: containerd's text on stderr, exit status 1", async () => {
    assert.deepEqual(await cli("ns", "create", "bad name"), {
      code: 1,
      stdout: "",
      stderr: 'purser: identifier "bad name" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument\n',
    });
    await cli("ns", "create", "twice");
    assert.deepEqual(await cli("ns", "create", "twice"), { code: 1, stdout: "", stderr: 'purser: namespace "twice": already exists\n' });
    assert.deepEqual(await cli("ns", "label", "missing", "a=b"), { code: 1, stdout: "", stderr: 'purser: namespace "missing": not found\n' });
  });

  test("a server that is not there: a clear error", async () => {
    const r = await runCli("nats://127.0.0.1:1", ["ns", "ls"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^purser: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1: .*: unavailable\n$/);
  });

  test("events: the log of one namespace or all, with containerd filters, or JSON", async () => {
    await cli("ns", "create", "ev1", "a=1");
    await cli("ns", "label", "ev1", "b=2");
    await cli("ns", "create", "ev2");
    await cli("ns", "rm", "ev2");

    const one = (await cli("-n", "ev1", "events")).stdout.trim().split("\n");
    assert.equal(one.length, 2);
    assert.match(one[0]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC ev1 \/namespaces\/create \{"name":"ev1","labels":\{"a":"1"\}\}$/);
    assert.match(one[1]!, / ev1 \/namespaces\/update \{"name":"ev1","labels":\{"a":"1","b":"2"\}\}$/);

    const filtered = (await cli("events", "--all-namespaces", 'topic=="/namespaces/delete",event.name~=/^ev/')).stdout.trim().split("\n");
    assert.deepEqual(filtered.map((l) => l.split(" ").slice(4).join(" ")), ['ev2 /namespaces/delete {"name":"ev2"}']);

    const byField = (await cli("events", "-A", "event.name==ev2", "event.labels.b==2")).stdout.trim().split("\n");
    assert.deepEqual(
      byField.map((l) => l.split(" ").slice(5, 6)[0]),
      ["/namespaces/update", "/namespaces/create", "/namespaces/delete"],
    );

    const fromRv = (await cli("-n", "ev1", "events", "--from-rv", "2", "--json")).stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(fromRv.map((e) => [e.rv, e.type, e.data.namespace.labels]), [[2, "NamespaceUpdated", { a: "1", b: "2" }]]);

    const bad = await cli("events", "topic==");
    assert.deepEqual(bad, { code: 1, stdout: "", stderr: "purser: filters: parse error: [topic==]: expected value or quoted: invalid argument\n" });
  });

  test("events --follow streams new events until interrupted", async () => {
    const { spawn } = await import("node:child_process");
    const { cliPath } = await import("./support/cli.js");
    // live0's event is history when the follower starts: once it is printed,
    // the follower has read the log and what comes next can only be followed.
    await cli("ns", "create", "live0");
    const child = spawn(process.execPath, [cliPath, "--server", p.nats.url, "events", "-A", "--follow", "event.name==live0", "event.name==live1"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const printed = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!out.includes(text)) return;
          child.stdout.off("data", check);
          resolve();
        };
        child.stdout.on("data", check);
        check();
      });
    child.stdout.on("data", (d) => (out += d));
    await printed("/namespaces/create");
    await cli("ns", "create", "live1");
    await cli("ns", "rm", "live1");
    await printed("/namespaces/delete");
    child.kill("SIGINT");
    await new Promise((r) => child.once("close", r));
    assert.deepEqual(
      out.trim().split("\n").map((l) => l.split(" ").slice(4, 6).join(" ")),
      ["live0 /namespaces/create", "live1 /namespaces/create", "live1 /namespaces/delete"],
    );
  });
});
