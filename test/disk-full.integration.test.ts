import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { rejects } from "./support/assertions.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

/**
 * A full disk under the data directory (issue 12): a tmpfs of 24 MiB mounted
 * for the test (root only; skipped with a message otherwise). A blob that
 * does not fit is refused as containerd's ResourceExhausted naming the path
 * and the space left, not an internal error, and writes work again once the
 * space is freed, with no restart.
 */
const mountpoint = mkdtempSync(join(tmpdir(), "purser-full-"));
let mounted = false;
try {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", mountpoint], { stdio: "pipe" });
  mounted = true;
} catch (err) {
  rmSync(mountpoint, { recursive: true, force: true });
  process.stdout.write(`disk-full tests skipped: cannot mount a tmpfs here (${String((err as Error).message).split("\n")[0]})\n`);
}

describe("a full disk", { skip: !mounted && "needs root to mount a small tmpfs" }, () => {
  let p: TestPurser;
  before(async () => {
    p = await startTestPurser({ dataDir: mountpoint });
  });
  after(async () => {
    await p?.stop().catch(() => {});
    if (mounted) execFileSync("umount", [mountpoint]);
    rmSync(mountpoint, { recursive: true, force: true });
  });

  test("a blob that does not fit is ResourceExhausted with the path and the space left; freeing space heals", async () => {
    const big = Buffer.alloc(32 * 1024 * 1024, 3);
    await rejects(
      p.client.content.writeBlob("full", "too-big", big),
      "ResourceExhausted",
      new RegExp(`^no space left on device writing ${mountpoint}/ingest/[0-9a-f]+/data, \\d+ bytes free: resource exhausted$`),
    );
    // The refused ingest's bytes still take the space: abort it, and the next write fits.
    await p.client.content.abort("full", "too-big");
    const ok = await p.client.content.writeBlob("full", "fits", Buffer.alloc(4 * 1024 * 1024, 4));
    assert.equal(ok.created, true);
    assert.equal((await p.client.content.info("full", ok.digest, { minRv: ok.rv })).result.size, 4 * 1024 * 1024);
  });
});
