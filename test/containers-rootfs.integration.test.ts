/**
 * Containers with a root file system, as a user makes them with the CLI
 * against a real purser: `containers create IMAGE ID` unpacks the image if
 * needed and prepares the active snapshot `ID` on its top chain id (ctr's
 * `WithNewSnapshot`); `containers rm` removes the snapshot too, unless
 * `--keep-snapshot`.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createContainerWithSnapshot } from "../src/client/container-rootfs.js";
import { readEvents } from "../src/client/event-log.js";
import { PurserError } from "../src/errors/errdefs.js";
import { containerdPayload } from "../src/events/containerd-payload.js";
import type { StoredEvent } from "../src/events/envelope.js";
import { anchor, fixturePath } from "./support/image-archives.js";
import { runCli } from "./support/cli.js";
import { buildLayer, listTree, putImage } from "./support/layers.js";
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

  test("containers info is the record ctr makes of the fixture (captured from ctr 1.6.20 against containerd), in Go's JSON", async () => {
    await ok("containers", "create", anchor.name, "ctrlike");
    const out = (await ok("containers", "info", "ctrlike")).stdout;
    const info = JSON.parse(out) as Record<string, unknown>;
    // Go's field names and order, four-space indentation, nil maps as null.
    assert.deepEqual(Object.keys(info), ["ID", "Labels", "Image", "Runtime", "SnapshotKey", "Snapshotter", "CreatedAt", "UpdatedAt", "Extensions", "Spec"]);
    assert.ok(out.startsWith('{\n    "ID": "ctrlike",\n    "Labels": {\n        "io.containerd.image.config.stop-signal": "SIGTERM",\n'), out);
    assert.match(String(info.CreatedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
    const { CreatedAt: _c, UpdatedAt: _u, ...rest } = info;
    assert.deepEqual(rest, {
      ID: "ctrlike",
      Labels: { "io.containerd.image.config.stop-signal": "SIGTERM", "org.example.anchor": "1.0" },
      Image: anchor.name,
      Runtime: { Name: "io.containerd.runc.v2", Options: { type_url: "containerd.runc.v1.Options" } },
      SnapshotKey: "ctrlike",
      Snapshotter: "native",
      Extensions: null,
      Spec: ctrSpec("/ctr/ctrlike"),
    });
    // The spec is stored as containerd stores it: an Any of its JSON, so every client reads the same record.
    const { result } = await p.client.containers.get(ns, "ctrlike");
    const any = result.spec as { type_url: string; value: Uint8Array };
    assert.equal(any.type_url, "types.containerd.io/opencontainers/runtime-spec/1/Spec");
    assert.deepEqual(JSON.parse(Buffer.from(any.value).toString("utf8")), ctrSpec("/ctr/ctrlike"));
    assert.equal((await ok("containers", "info", "--spec", "ctrlike")).stdout, JSON.stringify(ctrSpec("/ctr/ctrlike"), null, 4) + "\n");
    // `ctr events` printed this line (apart from time and namespace) for the same create.
    const line = (await ok("events", `topic=="/containers/create"`)).stdout.split("\n").find((l) => l.includes('"id":"ctrlike"'));
    assert.match(
      line ?? "",
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC ctr \/containers\/create \{"id":"ctrlike","image":"docker\.io\/library\/anchor:1\.0","runtime":\{"name":"io\.containerd\.runc\.v2","options":\{"type_url":"containerd\.runc\.v1\.Options"\}\}\}$/,
    );
    await ok("containers", "rm", "ctrlike");
  });

  test("the image's user and its groups come from the container's own /etc/passwd and /etc/group, never the host's", async () => {
    const accounts = await buildLayer([
      { name: "etc/", type: "directory" },
      { name: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n" },
      { name: "etc/group", data: "root:x:0:\nwheel:x:10:root,app\napp:x:1001:\ndocker:x:999:app\n" },
    ]);
    await putImage(p.client, ns, "accounts:1", [accounts], undefined, { User: "app", Cmd: ["/bin/sh"] });
    await ok("containers", "create", "accounts:1", "acct");
    const spec = JSON.parse((await ok("containers", "info", "--spec", "acct")).stdout) as { process: { user: object; args: string[] } };
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1001, additionalGids: [1001, 10, 999] });

    // A crafted image whose /etc/passwd links to a file of the host: the link is followed inside the tree only.
    const host = tempDir("purser-host-accounts-");
    writeFileSync(join(host.path, "passwd"), "intruder:x:4242:4242::/:/bin/sh\n");
    const hostile = await buildLayer([
      { name: "etc/", type: "directory" },
      { name: "etc/passwd", type: "symlink", linkname: join(host.path, "passwd") },
    ]);
    await putImage(p.client, ns, "hostile:1", [hostile], undefined, { User: "intruder" });
    const refused = await run("containers", "create", "hostile:1", "intruder");
    host.remove();
    assert.deepEqual([refused.code, refused.stderr], [1, "purser: open /etc/passwd: no such file or directory: not found\n"]);
    // Nothing is left of the refused container: no record, no snapshot.
    assert.deepEqual((await p.client.containers.list(ns, ["id==intruder"])).result, []);
    assert.equal((await snapshots()).some((s) => s.key === "intruder"), false);
    await ok("containers", "rm", "acct");
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

/**
 * The spec `ctr containers create docker.io/library/anchor:1.0 c1` made
 * against containerd 1.6.20 (the fixture has no /etc/group: the additional
 * gids are the primary gid alone), with the cgroups path of this test's
 * namespace and id.
 */
function ctrSpec(cgroupsPath: string): unknown {
  return {
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": {
      "uid": 0,
      "gid": 0,
      "additionalGids": [
        0
      ]
    },
    "args": [
      "/bin/anchor"
    ],
    "env": [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    ],
    "cwd": "/app",
    "capabilities": {
      "bounding": [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
      ],
      "effective": [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
      ],
      "permitted": [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
      ]
    },
    "rlimits": [
      {
        "type": "RLIMIT_NOFILE",
        "hard": 1024,
        "soft": 1024
      }
    ],
    "noNewPrivileges": true
  },
  "root": {
    "path": "rootfs"
  },
  "mounts": [
    {
      "destination": "/proc",
      "type": "proc",
      "source": "proc",
      "options": [
        "nosuid",
        "noexec",
        "nodev"
      ]
    },
    {
      "destination": "/dev",
      "type": "tmpfs",
      "source": "tmpfs",
      "options": [
        "nosuid",
        "strictatime",
        "mode=755",
        "size=65536k"
      ]
    },
    {
      "destination": "/dev/pts",
      "type": "devpts",
      "source": "devpts",
      "options": [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        "gid=5"
      ]
    },
    {
      "destination": "/dev/shm",
      "type": "tmpfs",
      "source": "shm",
      "options": [
        "nosuid",
        "noexec",
        "nodev",
        "mode=1777",
        "size=65536k"
      ]
    },
    {
      "destination": "/dev/mqueue",
      "type": "mqueue",
      "source": "mqueue",
      "options": [
        "nosuid",
        "noexec",
        "nodev"
      ]
    },
    {
      "destination": "/sys",
      "type": "sysfs",
      "source": "sysfs",
      "options": [
        "nosuid",
        "noexec",
        "nodev",
        "ro"
      ]
    },
    {
      "destination": "/run",
      "type": "tmpfs",
      "source": "tmpfs",
      "options": [
        "nosuid",
        "strictatime",
        "mode=755",
        "size=65536k"
      ]
    }
  ],
  "linux": {
    "resources": {
      "devices": [
        {
          "allow": false,
          "access": "rwm"
        },
        {
          "allow": true,
          "type": "c",
          "major": 1,
          "minor": 3,
          "access": "rwm"
        },
        {
          "allow": true,
          "type": "c",
          "major": 1,
          "minor": 8,
          "access": "rwm"
        },
        {
          "allow": true,
          "type": "c",
          "major": 1,
          "minor": 7,
          "access": "rwm"
        },
        {
          "allow": true,
          "type": "c",
          "major": 5,
          "minor": 0,
          "access": "rwm"
        },
        {
          "allow": true,
          "type": "c",
          "major": 1,
          "minor": 5,
          "access": "rwm"
        },
        {
          "allow": true,
          "type": "c",
          "major": 1,
          "minor": 9,
          "access": "rwm"
        },
        {
          "allow": true,
          "type": "c",
          "major": 5,
          "minor": 1,
          "access": "rwm"
        },
        {
          "allow": true,
          "type": "c",
          "major": 136,
          "access": "rwm"
        },
        {
          "allow": true,
          "type": "c",
          "major": 5,
          "minor": 2,
          "access": "rwm"
        }
      ]
    },
    "cgroupsPath": cgroupsPath,
    "namespaces": [
      {
        "type": "pid"
      },
      {
        "type": "ipc"
      },
      {
        "type": "uts"
      },
      {
        "type": "mount"
      },
      {
        "type": "network"
      }
    ],
    "maskedPaths": [
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/sys/firmware",
      "/proc/scsi"
    ],
    "readonlyPaths": [
      "/proc/bus",
      "/proc/fs",
      "/proc/irq",
      "/proc/sys",
      "/proc/sysrq-trigger"
    ]
  }
};
}
