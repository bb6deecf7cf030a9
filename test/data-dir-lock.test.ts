/**
 * The data directory's lock (one purser per data directory): held by a live
 * serve, and never by a pid that is not one (a killed serve whose pid another
 * program got, or a zombie nobody reaped).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { lockDataDir } from "../src/server/data-dir-lock.js";
import { tempDir } from "./support/nats.js";

describe("the data directory's lock", () => {
  test("a pid that is another program's is no lock: the next serve starts", async () => {
    const dir = tempDir("purser-lock-");
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await new Promise((r) => other.once("spawn", r));
      writeFileSync(join(dir.path, "purser.pid"), `${other.pid}\n`);
      const unlock = lockDataDir(dir.path);
      unlock();
    } finally {
      other.kill("SIGKILL");
      dir.remove();
    }
  });

  test("a live serve's pid is a lock, with the text that names it", async () => {
    const dir = tempDir("purser-lock-");
    // A process whose command line has `serve` in it, as `purser serve` does.
    const serve = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)", "serve"], { stdio: "ignore" });
    try {
      await new Promise((r) => serve.once("spawn", r));
      writeFileSync(join(dir.path, "purser.pid"), `${serve.pid}\n`);
      assert.throws(() => lockDataDir(dir.path), new Error(`data directory ${dir.path} is in use by purser process ${serve.pid}`));
    } finally {
      serve.kill("SIGKILL");
      dir.remove();
    }
  });
});
