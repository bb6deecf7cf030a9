import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PurserError } from "../src/errors/errdefs.js";
import { runCli } from "./support/cli.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

describe("time travel: queries as of an rv or a time", () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser();
  });
  after(async () => {
    await p.stop();
  });

  test("a namespace as it was at each rv, and the namespace list at a time", async () => {
    const c = await p.client.namespaces.create("tt", { v: "1" });
    await new Promise((r) => setTimeout(r, 20));
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const u = await p.client.namespaces.update("tt", { v: "2" }, ["labels.v"]);
    await p.client.namespaces.create("later");
    const d = await p.client.namespaces.delete("tt");

    p.client.asOf = `rv=${c.rv}`;
    const first = await p.client.namespaces.get("tt");
    assert.deepEqual([first.rv, first.result.labels], [c.rv, { v: "1" }]);
    p.client.asOf = String(u.rv);
    assert.deepEqual((await p.client.namespaces.get("tt")).result.labels, { v: "2" });
    p.client.asOf = `rv=${d.rv}`;
    await assert.rejects(p.client.namespaces.get("tt"), { kind: "NotFound", message: 'namespace "tt": not found' });

    p.client.asOf = between;
    assert.deepEqual(
      (await p.client.namespaces.list()).result.map((n) => [n.name, n.labels]),
      [["tt", { v: "1" }]],
    );
    p.client.asOf = undefined;
    assert.deepEqual((await p.client.namespaces.list()).result.map((n) => n.name), ["later"]);
  });

  test("bad as-of values and commands in the past are refused", async () => {
    p.client.asOf = "yesterday";
    await assert.rejects(p.client.namespaces.list(), {
      kind: "InvalidArgument",
      message: 'as-of "yesterday" is neither an rv nor an RFC 3339 time: invalid argument',
    });
    p.client.asOf = "rv=3";
    await assert.rejects(p.client.namespaces.list(), (err: unknown) => err instanceof PurserError && err.kind === "InvalidArgument");
    await assert.rejects(p.client.namespaces.create("nope"), {
      kind: "InvalidArgument",
      message: "--as-of reads history: it cannot be used with a command that changes state: invalid argument",
    });
    p.client.asOf = undefined;
  });

  test("the CLI: --as-of on any query", async () => {
    await p.client.namespaces.create("cli-tt", { a: "1" });
    await new Promise((r) => setTimeout(r, 20));
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const u = await p.client.namespaces.update("cli-tt", { a: "2" }, ["labels.a"]);
    await p.client.namespaces.get("cli-tt", { minRv: u.rv });
    const r = await runCli(p.nats.url, ["--as-of", between, "--json", "ns", "ls"]);
    assert.equal(r.code, 0, r.stderr);
    const listed = JSON.parse(r.stdout) as Array<{ name: string; labels: object }>;
    assert.deepEqual(listed.find((n) => n.name === "cli-tt")?.labels, { a: "1" });
    const refused = await runCli(p.nats.url, ["--as-of", "rv=1", "ns", "ls"]);
    assert.deepEqual(refused, {
      code: 1,
      stdout: "",
      stderr: "purser: an rv is a position in one namespace's log: give a global query a time to travel to: invalid argument\n",
    });
  });
});
