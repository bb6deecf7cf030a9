/**
 * Runs the same `ctr` steps against a private containerd 1.6 daemon and
 * against purser's containerd API, side by side, and prints every step whose
 * exit code or output differs (times and temporary paths normalised). Not a
 * test: the tests never need a containerd daemon. Needs root and Debian's
 * `containerd` package (its daemon runs with a temporary root, state and
 * socket, CRI off, and is stopped by its pid at the end).
 *
 *   npm run build && node dist/test/tools/ctr-compare.js
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCtr } from "../support/ctr.js";
import { startTestPurser } from "../support/purser.js";
import { fixturePath } from "../support/image-archives.js";

const F = fixturePath;
const steps: string[][] = [
  ["namespaces", "create", "cmp", "a=b"],
  ["namespaces", "ls"],
  ["namespaces", "create", "cmp"],
  ["namespaces", "label", "cmp", "c=d"],
  ["-n", "cmp", "images", "import", "--snapshotter", "native", F],
  ["namespaces", "rm", "cmp"],
  ["-n", "cmp", "images", "ls"],
  ["-n", "cmp", "images", "check", "--snapshotter", "native"],
  ["-n", "cmp", "images", "label", "docker.io/library/anchor:1.0", "x=y"],
  ["-n", "cmp", "images", "tag", "docker.io/library/anchor:1.0", "docker.io/library/anchor:t"],
  ["-n", "cmp", "images", "tag", "docker.io/library/anchor:1.0", "docker.io/library/anchor:t"],
  ["-n", "cmp", "images", "rm", "--sync", "docker.io/library/anchor:t"],
  ["-n", "cmp", "images", "rm", "docker.io/library/anchor:none"],
  ["-n", "cmp", "content", "ls", "-q"],
  ["-n", "cmp", "content", "ingest", "r1"],
  ["-n", "cmp", "content", "active"],
  ["-n", "cmp", "content", "get", "sha256:0000000000000000000000000000000000000000000000000000000000000000"],
  ["-n", "cmp", "content", "get", "bad"],
  ["-n", "cmp", "content", "rm", "sha256:0000000000000000000000000000000000000000000000000000000000000000"],
  ["-n", "cmp", "content", "label", "sha256:3535610003cd243067605971c652690d72cf18f2dc47854193e3cbb3d7472b61", "q=1"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "ls"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "tree"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "prepare", "w", "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "prepare", "w", "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "view", "v", "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "commit", "c", "v"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "commit", "c", "w"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "rm", "sha256:9faf0176302e4e43985bf90914faf32802d9501451327657fc33941f5a1faada"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "rm", "nope"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "info", "nope"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "usage", "c"],
  ["-n", "cmp", "snapshots", "--snapshotter", "native", "rm", "c", "v"],
  ["-n", "cmp", "snapshots", "ls"],
  ["-n", "cmp", "leases", "create", "--id", "L1"],
  ["-n", "cmp", "leases", "create", "--id", "L1"],
  ["-n", "cmp", "leases", "ls", "-q"],
  ["-n", "cmp", "leases", "rm", "L1"],
  ["-n", "cmp", "leases", "rm", "L1"],
  ["-n", "cmp", "containers", "create", "--snapshotter", "native", "docker.io/library/anchor:1.0", "box"],
  ["-n", "cmp", "containers", "ls"],
  ["-n", "cmp", "containers", "create", "docker.io/library/anchor:none", "box2"],
  ["-n", "cmp", "containers", "rm", "box"],
  ["-n", "cmp", "containers", "rm", "box"],
  ["-n", "cmp", "containers", "info", "box"],
  ["plugins", "ls", "-q"],
  ["-n", "cmp", "images", "rm", "--sync", "docker.io/library/anchor:1.0"],
  ["-n", "cmp", "content", "ls", "-q"],
  ["namespaces", "rm", "cmp"],
  ["namespaces", "rm", "cmp"],
];

const norm = (s: string) =>
  s
    .replace(/time="[^"]+"/g, "time=T")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "TS")
    .replace(/\/tmp\/\S+/g, "PATH");

async function main(): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), "ctr-compare-"));
  const containerdSocket = join(root, "containerd.sock");
  writeFileSync(
    join(root, "config.toml"),
    `version = 2\nroot = "${root}/root"\nstate = "${root}/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${containerdSocket}"\n[ttrpc]\n  address = "${containerdSocket}.ttrpc"\n`,
  );
  const daemon = spawn("containerd", ["--config", join(root, "config.toml")], { stdio: "ignore" });
  const purser = await startTestPurser({ containerdAddress: join(root, "purser.sock") });
  try {
    for (let i = 0; !existsSync(containerdSocket); i++) {
      if (i > 100 || daemon.exitCode !== null) throw new Error("containerd did not start (root and Debian's containerd package are needed)");
      await new Promise((r) => setTimeout(r, 100));
    }
    let differ = 0;
    for (const args of steps) {
      const input = args.includes("ingest") ? "hello\n" : undefined;
      const a = await runCtr(containerdSocket, args, input);
      const b = await runCtr(join(root, "purser.sock"), args, input);
      if (a.code === b.code && norm(a.stdout) === norm(b.stdout) && norm(a.stderr) === norm(b.stderr)) continue;
      differ++;
      process.stdout.write(`### ctr ${args.join(" ")}\n--- containerd (exit ${a.code})\n${a.stdout}${a.stderr}--- purser (exit ${b.code})\n${b.stdout}${b.stderr}\n`);
    }
    process.stdout.write(`${steps.length - differ} of ${steps.length} steps identical\n`);
    return 0;
  } finally {
    await purser.stop();
    if (daemon.pid !== undefined && daemon.exitCode === null) daemon.kill("SIGTERM");
    await new Promise((r) => (daemon.exitCode !== null ? r(undefined) : daemon.once("exit", r)));
    rmSync(root, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`ctr-compare: ${(err as Error).message}\n`);
  process.exit(1);
});
