import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { rejects } from "./support/assertions.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";
import { defaultContentOptions } from "../src/content/content-service.js";

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

  test("writes stop at the reserve kept for the log: ResourceExhausted with the path and the space; the log still takes events; freeing space heals", async () => {
    const reserve = 8 * 1024 * 1024;
    await p.restart({ content: { ...defaultContentOptions, diskReserveBytes: reserve } });
    const big = Buffer.alloc(32 * 1024 * 1024, 3);
    await rejects(
      p.client.content.writeBlob("full", "too-big", big),
      "ResourceExhausted",
      new RegExp(`^no space left on device writing ${mountpoint}/ingest/[0-9a-f]+/data: \\d+ bytes free, ${reserve} kept for the event log and views \\(serve --disk-reserve\\): resource exhausted$`),
    );
    // The reserve is still there: what only the log and the views need goes on.
    const labelled = await p.client.namespaces.update("full", { still: "writable" }, ["labels.still"]);
    assert.deepEqual((await p.client.namespaces.get("full", { minRv: labelled.rv })).result.labels, { still: "writable" });
    // The refused ingest's bytes still take space: abort it, and the next write fits.
    await p.client.content.abort("full", "too-big");
    const ok = await p.client.content.writeBlob("full", "fits", Buffer.alloc(4 * 1024 * 1024, 4));
    assert.equal(ok.created, true);
    assert.equal((await p.client.content.info("full", ok.digest, { minRv: ok.rv })).result.size, 4 * 1024 * 1024);
    await p.client.content.delete("full", ok.digest);
  });

  test("without a reserve, the file system's ENOSPC is ResourceExhausted with the path and the space left", async () => {
    await p.restart({ content: { ...defaultContentOptions, diskReserveBytes: 0 } });
    const big = Buffer.alloc(32 * 1024 * 1024, 3);
    await rejects(
      p.client.content.writeBlob("full", "too-big-2", big),
      "ResourceExhausted",
      new RegExp(`^no space left on device writing ${mountpoint}/ingest/[0-9a-f]+/data, \\d+ bytes free: resource exhausted$`),
    );
    await p.client.content.abort("full", "too-big-2");
    const ok = await p.client.content.writeBlob("full", "fits-2", Buffer.alloc(4 * 1024 * 1024, 5));
    assert.equal(ok.created, true);
  });
});
