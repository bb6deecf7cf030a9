import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { humanDuration, humanSize } from "../src/cli/units.js";
import { cliPath, runCli } from "./support/cli.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { eventually, rejects } from "./support/assertions.js";
import { writerKeepaliveMs } from "../src/protocol/defaults.js";
import { commandSubject } from "../src/protocol/subjects.js";
import { encode } from "@msgpack/msgpack";

const sha256 = (data: Uint8Array) => `sha256:${createHash("sha256").update(data).digest("hex")}`;
const age = "(Less than a second|\\d+ seconds?)";

/**
 * Where each cell of a tab-aligned line starts, with tabs every 8 columns (as
 * a terminal shows Go's tabwriter output). The AGE column's width depends on
 * how long the test took ("Less than a second" or "1 second"), so a header is
 * checked by lining up with its row, not by a fixed count of tabs.
 */
function cellColumns(line: string): number[] {
  const starts: number[] = [];
  let col = 0;
  let atCellStart = true;
  for (const ch of line) {
    if (ch === "\t") {
      col = (Math.floor(col / 8) + 1) * 8;
      atCellStart = true;
      continue;
    }
    if (atCellStart) starts.push(col);
    atCellStart = false;
    col++;
  }
  return starts;
}

/**
 * Runs the CLI with bytes on stdin and collects stdout as bytes (for `content
 * get`). An ingest that finds the blob already there exits without reading
 * all of stdin, as ctr does: the broken pipe is expected, not a failure.
 */
function runCliBytes(
  server: string,
  args: string[],
  env: Record<string, string>,
  input?: Buffer,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, "--server", server, ...args], {
      env: { ...process.env, NATS_URL: "", PURSER_NAMESPACE: "", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") reject(err);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    child.stdin.end(input);
  });
}

describe("go-units and tabwriter, as ctr prints sizes, ages and tables", () => {
  const sizes: Array<[number, string]> = [
    [0, "0B"],
    [15, "15B"],
    [999, "999B"],
    [1000, "1kB"],
    [1843, "1.843kB"],
    [4096, "4.096kB"],
    [1_000_000, "1MB"],
    [67_108_864, "67.11MB"],
    [1_234_567_890, "1.235GB"],
  ];
  for (const [bytes, text] of sizes) test(`HumanSize(${bytes}) = ${text}`, () => assert.equal(humanSize(bytes), text));
  const ages: Array<[number, string]> = [
    [500, "Less than a second"],
    [1000, "1 second"],
    [59_999, "59 seconds"],
    [60_000, "About a minute"],
    [5 * 60_000, "5 minutes"],
    [60 * 60_000, "About an hour"],
    [3 * 3_600_000, "3 hours"],
    [3 * 86_400_000, "3 days"],
    [21 * 86_400_000, "3 weeks"],
    [90 * 86_400_000, "3 months"],
    [800 * 86_400_000, "2 years"],
  ];
  for (const [ms, text] of ages) test(`HumanDuration(${ms} ms) = ${text}`, () => assert.equal(humanDuration(ms), text));
});

describe("purser content CLI, as ctr content prints it", () => {
  let p: TestPurser;
  let state: { path: string; remove(): void };
  const env = () => ({ PURSER_STATE_DIR: state.path });
  const cli = (args: string[], input?: Buffer | string) => runCli(p.nats.url, ["-n", "default", ...args], env(), input);
  before(async () => {
    p = await startTestPurser();
    state = tempDir("purser-content-cli-");
  });
  after(async () => {
    state.remove();
    await p.stop();
  });

  test("Ctrl-C during content ingest releases the ref: the same command run again resumes at once", async (t) => {
    const data = Buffer.alloc(4 * 1024 * 1024, 7);
    const ns = "ctrlc"; // its own namespace: the other tests list "default"
    const child = spawn(process.execPath, [cliPath, "--server", p.nats.url, "-n", ns, "content", "ingest", "interrupted"], {
      env: { ...process.env, NATS_URL: "", PURSER_NAMESPACE: "", ...env() },
      stdio: ["pipe", "ignore", "pipe"],
    });
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    child.stdin.on("error", () => {}); // the child goes away with stdin open
    child.stdin.write(data.subarray(0, 2 * 1024 * 1024)); // more than one chunk: an ingest, not a put; stdin stays open
    try {
      await eventually(
        () => p.client.content.status(ns, "interrupted").then((s) => s.result.offset > 0, () => false),
        "the ingest to hold bytes",
      );
      child.kill("SIGINT");
      assert.equal(await exited, 130);
    } finally {
      child.kill("SIGKILL");
    }
    const rerunAt = Date.now();
    const again = await runCliBytes(p.nats.url, ["-n", ns, "content", "ingest", "interrupted"], env(), data);
    t.diagnostic(`re-run after Ctrl-C: done in ${Date.now() - rerunAt} ms`);
    assert.equal(again.stderr, "");
    assert.equal(again.code, 0);
    assert.deepEqual((await runCliBytes(p.nats.url, ["-n", ns, "content", "get", sha256(data)], env())).stdout, data);
  });

  test("kill -9 during content ingest: the ref is free once the dead writer's heartbeats stop; the re-run says it waits, then resumes", async (t) => {
    const data = Buffer.alloc(4 * 1024 * 1024, 9);
    const ns = "killed";
    const child = spawn(process.execPath, [cliPath, "--server", p.nats.url, "-n", ns, "content", "ingest", "victim"], {
      env: { ...process.env, NATS_URL: "", PURSER_NAMESPACE: "", ...env() },
      stdio: ["pipe", "ignore", "pipe"],
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on("close", (_code, signal) => r(signal)));
    child.stdin.on("error", () => {});
    child.stdin.write(data.subarray(0, 2 * 1024 * 1024));
    try {
      await eventually(() => p.client.content.status(ns, "victim").then((s) => s.result.offset > 0, () => false), "the ingest to hold bytes");
      child.kill("SIGKILL"); // no handler runs: the lock is not released by the client
      assert.equal(await exited, "SIGKILL");
    } finally {
      child.kill("SIGKILL");
    }
    const rerunAt = Date.now();
    const again = await runCliBytes(p.nats.url, ["-n", ns, "content", "ingest", "victim"], env(), data);
    t.diagnostic(`re-run after kill -9: done in ${Date.now() - rerunAt} ms (waiting for the dead writer's lock included)`);
    assert.equal(again.code, 0, again.stderr.toString());
    // It met the dead writer's lock (the lock outlives the process by a few heartbeats) and said so.
    assert.match(again.stderr.toString(), /^purser: waiting for ref "victim": ref victim locked for \S+ \(since [^)]+\): unavailable \(another writer has it; it is free when that writer ends, or seconds after it is gone\)\n$/);
    assert.deepEqual((await runCliBytes(p.nats.url, ["-n", ns, "content", "get", sha256(data)], env())).stdout, data);
  });

  test("a live writer keeps its ref through idle time: its heartbeats renew the lock", async () => {
    const w = await p.client.content.openWriter("idle", "held");
    await w.write(Buffer.alloc(1024, 1));
    await w.flush();
    const opened = Date.now();
    // Idle for longer than the lock timeout (three heartbeat periods) with no write.
    await eventually(() => Date.now() - opened > 4 * writerKeepaliveMs, "idle past the lock timeout", 60_000);
    await rejects(p.client.content.openWriter("idle", "held"), "Unavailable", /^ref held locked for /);
    await w.close();
    const next = await p.client.content.openWriter("idle", "held");
    assert.equal(next.offset, 1024);
    await next.abort();
    // A heartbeat for a ref that has no ingest takes no lock (a flood of made-up refs grows nothing).
    await rejects(
      p.client.requestRaw(commandSubject("idle", "content", "keepalive"), encode({ ref: "made-up", session: "s" })),
      "NotFound",
      "reference made-up: not found",
    );
  });

  test("ingest from stdin, ls (-q, filters), label, info, get, rm", async () => {
    const data = Buffer.from("hello, content\n");
    const digest = sha256(data);
    assert.deepEqual(await cli(["content", "ingest", "cli-1"], data), { code: 0, stdout: "", stderr: "" });
    const ls = await cli(["content", "ls"]);
    assert.equal(ls.code, 0);
    const lines = ls.stdout.split("\n");
    assert.match(lines[0]!, /^DIGEST\t{9}SIZE\tAGE\t+LABELS$/);
    assert.match(lines[1]!, new RegExp(`^${digest}\\t15B\\t${age}\\t+-$`));
    assert.deepEqual(cellColumns(lines[0]!), cellColumns(lines[1]!));
    assert.equal((await cli(["content", "ls", "-q"])).stdout, `${digest}\n`);

    assert.deepEqual(await cli(["content", "label", digest, "b=2", "a=1"]), { code: 0, stdout: "a=1,b=2\n", stderr: "" });
    assert.deepEqual(await cli(["content", "label", digest, "b="]), { code: 0, stdout: "a=1\n", stderr: "" });
    assert.deepEqual(await cli(["content", "label", digest, "app"]), { code: 0, stdout: "a=1,app=true\n", stderr: "" });
    assert.deepEqual(await cli(["content", "label", digest, "app="]), { code: 0, stdout: "a=1\n", stderr: "" });
    assert.equal((await cli(["content", "ls", "-q", "labels.a==1"])).stdout, `${digest}\n`);
    assert.equal((await cli(["content", "ls", "-q", "labels.a==2"])).stdout, "");
    assert.match((await cli(["content", "ls"])).stdout.split("\n")[1]!, /\ta=1$/);
    const info = JSON.parse((await cli(["content", "info", digest])).stdout);
    assert.deepEqual([info.digest, info.size, info.labels], [digest, 15, { a: "1" }]);

    const got = await runCliBytes(p.nats.url, ["-n", "default", "content", "get", digest], env());
    assert.equal(got.code, 0);
    assert.deepEqual(got.stdout, data);

    const missing = sha256(Buffer.from("missing"));
    // As ctr: what was removed is printed; a blob that was not there is neither printed nor an error.
    assert.deepEqual(await cli(["content", "rm", digest, missing]), { code: 0, stdout: `${digest}\n`, stderr: "" });
    assert.equal((await cli(["content", "ls", "-q"])).stdout, "");
  });

  test("a large ingest streams through an ingest; get streams it back", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 11);
    const digest = sha256(data);
    assert.deepEqual(await cli(["content", "ingest", "cli-big", "--expected-digest", digest, "--expected-size", String(data.length)], data), {
      code: 0,
      stdout: "",
      stderr: "",
    });
    const got = await runCliBytes(p.nats.url, ["-n", "default", "content", "get", digest], env());
    assert.equal(got.code, 0);
    assert.equal(sha256(got.stdout), digest);
    // Again: the namespace holds it already, which ctr's ingest treats as done (without reading all of stdin).
    const again = await runCliBytes(p.nats.url, ["-n", "default", "content", "ingest", "cli-big-2", "--expected-digest", digest], env(), data);
    assert.deepEqual([again.code, again.stderr], [0, ""]);
  });

  test("errors: ctr's texts on stderr, exit status 1", async () => {
    assert.deepEqual(await cli(["content", "ingest"], "x"), { code: 1, stdout: "", stderr: "purser: must specify a transaction reference\n" });
    assert.deepEqual(await cli(["content", "ingest", "r", "--expected-digest", "sha256:zz"], "x"), {
      code: 1,
      stdout: "",
      stderr: "purser: invalid checksum digest length\n",
    });
    assert.deepEqual(await cli(["content", "ingest", "r", "--expected-size", "3"], "fifteen bytes!!"), {
      code: 1,
      stdout: "",
      stderr: 'purser: failed commit on ref "r": commit failed: "r" failed size validation: 15 != 3: failed precondition\n',
    });
    // As containerd's: the failed commit leaves the ingest, bytes and all, for a retry or an abort.
    assert.match((await cli(["content", "active"])).stdout.split("\n")[1]!, /^r\t15B\t/);
    // A new session that names no digest is not bound by the failed one's size or digest.
    assert.equal((await cli(["content", "ingest", "r"], "fifteen bytes!!")).code, 0);
    assert.equal((await cli(["content", "active"])).stdout, "REF\tSIZE\tAGE\t\n");
    // ctr parses digests itself, with go-digest's bare texts.
    const rm = await cli(["content", "rm", "not-a-digest"]);
    assert.deepEqual([rm.code, rm.stdout], [1, ""]);
    assert.match(rm.stderr, /^time="[^"]+" level=error msg="could not delete not-a-digest" error="invalid checksum digest format"\npurser: invalid checksum digest format\n$/);
    assert.deepEqual(await cli(["content", "get", "sha256:xyz"]), { code: 1, stdout: "", stderr: "purser: invalid checksum digest length\n" });
    assert.deepEqual(await cli(["content", "label", "sha256:xyz", "a"]), { code: 1, stdout: "", stderr: "purser: invalid checksum digest length\n" });
    const missing = sha256(Buffer.from("nowhere"));
    assert.deepEqual(await cli(["content", "info", missing]), { code: 1, stdout: "", stderr: `purser: content digest ${missing}: not found\n` });
  });

  test("active ingests: REF SIZE AGE (every cell tab-ended), filters on ref; abort", async () => {
    const w = await p.client.content.openWriter("default", "layer-cli");
    await w.write(randomBytes(2000));
    await w.flush();
    await w.close();
    const active = await cli(["content", "active"]);
    assert.equal(active.code, 0);
    const [header, row, end] = active.stdout.split("\n");
    assert.match(header!, /^REF\t\tSIZE\tAGE\t+$/);
    assert.match(row!, new RegExp(`^layer-cli\\t2kB\\t${age}\\t+$`));
    assert.deepEqual(cellColumns(header!), cellColumns(row!));
    assert.equal(end, "");
    assert.equal((await cli(["content", "active", "ref==other"])).stdout, "REF\tSIZE\tAGE\t\n");
    assert.deepEqual(await cli(["content", "abort", "layer-cli"]), { code: 0, stdout: "", stderr: "" });
    assert.equal((await cli(["content", "active"])).stdout, "REF\tSIZE\tAGE\t\n");
    assert.deepEqual(await cli(["content", "abort", "layer-cli"]), { code: 1, stdout: "", stderr: "purser: reference layer-cli: not found\n" });
  });
});
