import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseGoDuration } from "../src/cli/duration.js";
import { binarySize, snapshotTree } from "../src/cli/snapshots.js";
import type { SnapshotRecord } from "../src/events/snapshot-events.js";
import { runCli } from "./support/cli.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

describe("purser CLI: snapshots and leases, as ctr prints them", () => {
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

  test("snapshots: prepare, commit, ls (KEY PARENT KIND), tree, info, label, usage, mounts, rm", async () => {
    const n = ["-n", "snapcli"];
    const prepared = await cli(...n, "snapshots", "prepare", "--mounts", "base-key");
    assert.equal(prepared.code, 0, prepared.stderr);
    // containerd's mount.Mount as Go's encoding/json writes it, indented by four spaces as ctr does.
    const mounts = JSON.parse(prepared.stdout) as Array<{ Type: string; Source: string; Options: string[] }>;
    assert.deepEqual(Object.keys(mounts[0]!), ["Type", "Source", "Options"]);
    assert.deepEqual([mounts[0]!.Type, mounts[0]!.Options], ["bind", ["rbind", "rw"]]);
    assert.match(prepared.stdout, /^\[\n    \{\n        "Type": "bind",\n/);
    writeFileSync(join(mounts[0]!.Source, "hello"), "x".repeat(5000));
    assert.deepEqual(await cli(...n, "snapshots", "commit", "base", "base-key"), { code: 0, stdout: "", stderr: "" });
    const child = await cli(...n, "snapshot", "prepare", "-t", "/mnt/x", "child", "base");
    assert.match(child.stdout, /^mount -t bind \S+\/snapshots\/native\/snapshots\/[0-9a-f]+ \/mnt\/x -o rbind,rw\n$/);
    assert.equal((await cli(...n, "snapshots", "view", "look", "base")).code, 0);

    assert.equal((await cli(...n, "snapshots", "ls")).stdout, "KEY   PARENT KIND      \nbase         Committed \nchild base   Active    \nlook  base   View      \n");
    assert.equal((await cli(...n, "snapshots", "ls", "kind==view")).stdout, "KEY  PARENT KIND \nlook base   View \n");
    assert.equal((await cli(...n, "snapshots", "tree")).stdout, " base\n  \\_ child\n  \\_ look\n");

    const info = JSON.parse((await cli(...n, "snapshots", "info", "child")).stdout);
    assert.deepEqual(Object.keys(info), ["Kind", "Name", "Parent", "Labels", "Created", "Updated"]);
    assert.equal(info.Kind, "Active");
    assert.equal(info.Parent, "base");
    assert.match(info.Labels["containerd.io/gc.root"], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    assert.equal((await cli(...n, "snapshots", "label", "child", "a=1", "containerd.io/gc.root=")).stdout, "a=1\n");
    assert.equal((await cli(...n, "snapshots", "label", "child")).stdout, "a=1\n");
    assert.equal((await cli(...n, "snapshots", "label", "child", "sl")).stdout, "a=1,sl=true\n");

    const usage = await cli(...n, "snapshots", "usage", "-b", "base", "look");
    const lines = usage.stdout.split("\n");
    assert.match(lines[0]!, /^KEY +SIZE +INODES $/);
    assert.match(lines[1]!, /^base \d+ +2 +$/);
    assert.match(lines[2]!, /^look 0 +0 +$/);

    const mount = await cli(...n, "snapshots", "mounts", "/target", "look");
    assert.match(mount.stdout, /^mount -t bind \S+ \/target -o rbind,ro\n$/);
    assert.deepEqual(await cli(...n, "snapshots", "rm", "base"), {
      code: 1,
      stdout: "",
      stderr: 'purser: failed to remove "base": cannot remove snapshot with child: failed precondition\n',
    });
    assert.equal((await cli(...n, "snapshots", "rm", "look", "child", "base")).code, 0);
    assert.equal((await cli(...n, "snapshots", "ls")).stdout, "KEY PARENT KIND \n");
    assert.ok(existsSync(mounts[0]!.Source), "removal leaves trees to the collector");
    const json = JSON.parse((await cli(...n, "--json", "snapshots", "ls")).stdout);
    assert.deepEqual(json, []);
  });

  test("snapshots: errors in containerd's words, a snapshotter that is not loaded", async () => {
    assert.deepEqual(await cli("-n", "snaperr", "snapshots", "prepare", "k", "nope"), {
      code: 1,
      stdout: "",
      stderr: "purser: parent snapshot nope does not exist: not found\n",
    });
    assert.deepEqual(await cli("-n", "snaperr", "snapshots", "--snapshotter", "overlayfs", "ls"), {
      code: 1,
      stdout: "",
      stderr: "purser: snapshotter not loaded: overlayfs: invalid argument\n",
    });
  });

  test("leases: create (generated id, --expires), ls (ID CREATED AT LABELS), resources, --lease, rm", async () => {
    const n = ["-n", "leasecli"];
    const created = await cli(...n, "leases", "create", "--id", "l1", "--expires", "1h", "team=x");
    assert.deepEqual(created, { code: 0, stdout: "l1\n", stderr: "" });
    const generated = (await cli(...n, "leases", "create", "-x", "0")).stdout.trim();
    assert.match(generated, /^\d{1,9}-[A-Za-z0-9_-]{4}$/);
    const ls = (await cli(...n, "leases", "ls")).stdout.split("\n");
    assert.match(ls[0]!, /^ID +CREATED AT +LABELS +$/);
    const row = ls.find((l) => l.startsWith("l1 "))!;
    assert.match(row, /^l1 +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) +containerd\.io\/gc\.expire=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ,team=x $/);
    assert.equal((await cli(...n, "leases", "ls", "-q", "labels.team==x")).stdout, "l1\n");

    assert.equal((await cli(...n, "--lease", "l1", "snapshots", "prepare", "k")).code, 0);
    assert.equal((await cli(...n, "leases", "resources", "add", "l1", "ingests", "ref-1")).code, 0);
    assert.equal((await cli(...n, "leases", "resources", "ls", "l1")).stdout, "TYPE             ID\ningests          ref-1\nsnapshots/native k\n");
    assert.equal((await cli(...n, "leases", "resources", "rm", "l1", "ingests", "ref-1")).code, 0);
    assert.deepEqual(await cli(...n, "leases", "resources", "add", "l1", "images", "x"), {
      code: 1,
      stdout: "",
      stderr: "purser: resource type images not supported yet: not implemented\n",
    });
    assert.deepEqual(await cli(...n, "--lease", "gone", "snapshots", "prepare", "k2"), {
      code: 1,
      stdout: "",
      stderr: "purser: lease does not exist: not found\n",
    });
    assert.deepEqual(await cli(...n, "leases", "rm", "--sync", "l1", generated), { code: 0, stdout: `l1\n${generated}\n`, stderr: "" });
    assert.deepEqual(await cli(...n, "leases", "rm", "l1"), { code: 1, stdout: "", stderr: 'purser: lease "l1": not found\n' });
    assert.deepEqual(await cli(...n, "leases", "create", "--expires", "soon"), {
      code: 1,
      stdout: "",
      stderr: 'purser: invalid value "soon" for flag -expires: time: invalid duration "soon"\n',
    });
    assert.deepEqual(await cli(...n, "leases", "ls", "id=="), {
      code: 1,
      stdout: "",
      stderr: "purser: failed to list leases: filters: parse error: [id==]: expected value or quoted: invalid argument: invalid argument\n",
    });
  });
});

describe("CLI formatting helpers", () => {
  test("Go durations", () => {
    const cases: Array<[string, number]> = [
      ["24h", 86_400_000],
      ["1h30m", 5_400_000],
      ["1.5h", 5_400_000],
      ["90s", 90_000],
      ["300ms", 300],
      ["0", 0],
      ["2h45m30.5s", 9_930_500],
    ];
    for (const [text, ms] of cases) assert.equal(parseGoDuration(text), ms, text);
    assert.throws(() => parseGoDuration("10"), /time: missing unit in duration "10"/);
    assert.throws(() => parseGoDuration("h"), /time: invalid duration "h"/);
    assert.throws(() => parseGoDuration(""), /time: invalid duration ""/);
  });

  test("containerd's progress.Bytes", () => {
    assert.equal(binarySize(0), "0.0 B");
    assert.equal(binarySize(512), "512.0 B");
    assert.equal(binarySize(4096), "4.0 KiB");
    assert.equal(binarySize(1536 * 1024), "1.5 MiB");
  });

  test("ctr's tree: placeholders for parents that are not listed", () => {
    const s = (key: string, parent = ""): SnapshotRecord => ({
      snapshotter: "native",
      key,
      kind: "committed",
      parent,
      labels: {},
      createdAt: "",
      updatedAt: "",
      backendKey: "",
      dir: "",
    });
    assert.equal(snapshotTree([s("a"), s("b", "a"), s("c", "b"), s("x", "gone")]), " a\n  \\_ b\n    \\_ c\n gone\n  \\_ x\n");
  });
});
