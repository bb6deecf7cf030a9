/**
 * Containers with a root file system, as a user makes them with the CLI
 * against a real purser: `containers create IMAGE ID` unpacks the image if
 * needed and prepares the active snapshot `ID` on its top chain id (ctr's
 * `WithNewSnapshot`); `containers rm` removes the snapshot too, unless
 * `--keep-snapshot`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createContainerWithSnapshot } from "../src/client/container-rootfs.js";
import { readEvents } from "../src/client/event-log.js";
import { PurserError } from "../src/errors/errdefs.js";
import { containerdPayload } from "../src/events/containerd-payload.js";
import type { StoredEvent } from "../src/events/envelope.js";
import { anchor, fixturePath } from "./support/image-archives.js";
import { runCli } from "./support/cli.js";
import { listTree } from "./support/layers.js";
import { tempDir } from "./support/nats.js";
import { startTestPurser, type TestPurser } from "./support/purser.js";

const topChain = "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada";
const ns = "ctr";

describe("containers with snapshots", () => {
  let p: TestPurser;
  let state: { path: string; remove(): void };
  const run = (...args: string[]) => runCli(p.nats.url, ["-n", ns, ...args], { PURSER_STATE_DIR: state.path });
  const ok = async (...args: string[]) => {
    const r = await run(...args);
    assert.equal(r.code, 0, `purser ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  const events = async (): Promise<StoredEvent[]> => {
    const out: StoredEvent[] = [];
    await readEvents(p.client.nc, { namespaces: [ns], follow: false }, (e) => out.push(e));
    return out;
  };
  const snapshots = async () => (await p.client.snapshots.list(ns)).result.map((s) => ({ key: s.key, parent: s.parent, kind: s.kind }));
  const treeOf = async (key: string) => p.server.snapshots.snapshotters.get("native").dirPath((await p.client.snapshots.stat(ns, key)).result.dir);

  before(async () => {
    p = await startTestPurser();
    state = tempDir("purser-cli-state-");
    await ok("images", "import", "--no-unpack", fixturePath);
  });
  after(async () => {
    await p?.stop();
    state?.remove();
  });

  test("create unpacks the image first, prepares the snapshot ID on the top chain id and records it", async () => {
    assert.deepEqual(await snapshots(), []);
    const r = await ok("containers", "create", anchor.name, "web");
    assert.equal(r.stderr, "");
    const { result: c } = await p.client.containers.get(ns, "web");
    assert.deepEqual([c.snapshotter, c.snapshotKey, c.image], ["native", "web", anchor.name]);
    assert.deepEqual(await snapshots(), [
      { key: topChain, parent: anchor.diffIds[0], kind: "committed" },
      { key: anchor.diffIds[0], parent: "", kind: "committed" },
      { key: "web", parent: topChain, kind: "active" },
    ]);
    // The container's tree is a writable copy of the image's.
    assert.deepEqual(listTree(await treeOf("web")), listTree(await treeOf(topChain)));
    assert.equal(readFileSync(join(await treeOf("web"), "app/greeting.txt"), "utf8").length, 34);
    const mounts = (await p.client.snapshots.mounts(ns, "web")).result;
    assert.deepEqual(mounts[0]!.options, ["rbind", "rw"]);
    // Every lease taken on the way is gone: the container holds its snapshot, the image its chain.
    assert.deepEqual((await p.client.leases.list(ns)).result, []);

    const all = await events();
    const prepared = all.findIndex((e) => e.event.type === "SnapshotPrepared" && containerdPayload(e.event).key === "web");
    const created = all.findIndex((e) => e.event.type === "ContainerCreated");
    assert.ok(prepared >= 0 && created > prepared);
    assert.deepEqual(containerdPayload(all[prepared]!.event), { key: "web", parent: topChain, snapshotter: "native" });
  });

  test("a second container from the unpacked image unpacks nothing", async () => {
    const before = (await events()).filter((e) => e.event.type === "SnapshotCommitted").length;
    await ok("c", "create", anchor.name, "job");
    assert.equal((await events()).filter((e) => e.event.type === "SnapshotCommitted").length, before);
    assert.equal((await p.client.snapshots.stat(ns, "job")).result.parent, topChain);
  });

  test("refusals: an id whose snapshot exists, an unknown snapshotter, a container the service refuses", async () => {
    const again = await run("c", "create", anchor.name, "web");
    assert.deepEqual([again.code, again.stderr], [1, 'purser: snapshot "web": already exists\n']);
    const zfs = await run("c", "create", "--snapshotter", "zfs", anchor.name, "z");
    assert.deepEqual([zfs.code, zfs.stderr], [1, "purser: snapshotter not loaded: zfs: invalid argument\n"]);

    // The container is refused after its snapshot was prepared: the snapshot goes again.
    await assert.rejects(createContainerWithSnapshot(p.client, ns, { id: "bad", image: anchor.name, runtime: { name: "" }, spec: {} }), (err: unknown) => {
      assert.ok(err instanceof PurserError);
      assert.equal(err.message, "create container failed validation: container.Runtime.Name must be set: invalid argument");
      return true;
    });
    assert.ok(!(await snapshots()).some((s) => s.key === "bad"));
    assert.deepEqual((await p.client.leases.list(ns)).result, []);
  });

  test("rm removes the container and its snapshot; --keep-snapshot keeps the snapshot", async () => {
    await ok("containers", "rm", "web");
    await ok("containers", "rm", "--keep-snapshot", "job");
    assert.deepEqual((await p.client.containers.list(ns)).result, []);
    const keys = (await snapshots()).map((s) => s.key);
    assert.ok(!keys.includes("web"));
    assert.ok(keys.includes("job"));
    const removed = (await events()).filter((e) => e.event.type === "SnapshotRemoved").map((e) => containerdPayload(e.event).key);
    assert.deepEqual(removed.slice(-1), ["web"]);
    // The image's chain stays: it is not the container's to remove.
    assert.ok(keys.includes(topChain));
  });
});
