/**
 * How long JetStream itself stalls when a node of a 3-node cluster dies,
 * without purser: a raw client publishes to an R3 stream (acknowledged
 * publishes, 1 s timeout each) and reads the last message back through the
 * JetStream API, while the stream leader's node is killed with SIGKILL, and
 * then a follower's. The time from the kill until a publish and a read
 * succeed again is printed — the floor under purser's own figure in
 * test/cluster-faults.integration.test.ts. Not a test: a measurement.
 *
 *   npm run build && node dist/test/tools/cluster-failover.js [rounds]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { freePort, startNatsServer, type RunningNatsServer } from "../../src/server/nats-server.js";
import { tempDir } from "../support/nats.js";

interface Node {
  name: string;
  port: number;
  conf: string;
  store: string;
  server?: RunningNatsServer;
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? "3");
  const dir = tempDir("cluster-failover-");
  const nodes: Node[] = [];
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const routes = await Promise.all([0, 1, 2].map(() => freePort()));
  for (const i of [0, 1, 2]) {
    const nodeDir = join(dir.path, `n${i}`);
    mkdirSync(nodeDir);
    const n: Node = { name: `n${i}`, port: ports[i]!, conf: join(nodeDir, "nats.conf"), store: join(nodeDir, "store") };
    writeFileSync(
      n.conf,
      `server_name: n${i}\njetstream { store_dir: ${JSON.stringify(n.store)} }\n` +
        `cluster { name: raw, listen: "127.0.0.1:${routes[i]}", routes: ${JSON.stringify(routes.map((r) => `nats://127.0.0.1:${r}`))} }\n`,
    );
    nodes.push(n);
  }
  const start = async (n: Node) => {
    n.server = await startNatsServer({ storeDir: n.store, storeDirInConfig: true, port: n.port, configFile: n.conf, dieWithParent: true });
  };
  await Promise.all(nodes.map(start));
  const nc = await connect({ servers: nodes.map((n) => `nats://127.0.0.1:${n.port}`), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  try {
    let jsm: JetStreamManager | undefined;
    for (let i = 0; i < 600 && !jsm; i++) {
      try {
        const m = await jetstreamManager(nc);
        await m.getAccountInfo();
        jsm = m;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (!jsm) throw new Error("the cluster's JetStream did not answer");
    await jsm.streams.add({ name: "RAW", subjects: ["raw.>"], num_replicas: 3 });
    const js = jetstream(nc, { timeout: 1000 });
    let n = 0;
    const back = async (since: number): Promise<number> => {
      for (;;) {
        try {
          const ack = await js.publish("raw.x", new TextEncoder().encode(String(n++)), { timeout: 1000 });
          const m = await jsm!.streams.getMessage("RAW", { seq: ack.seq });
          if (m) return Date.now() - since;
        } catch {
          // the fault: publish or read not answered
        }
        if (Date.now() - since > 120_000) throw new Error("JetStream did not come back in 120 s");
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await back(Date.now());
    for (let round = 1; round <= rounds; round++) {
      for (const role of ["leader", "follower"] as const) {
        const leader = (await jsm.streams.info("RAW")).cluster?.leader ?? "";
        const victim = role === "leader" ? nodes.find((x) => x.name === leader)! : nodes.find((x) => x.name !== leader)!;
        const killedAt = Date.now();
        process.kill(victim.server!.pid, "SIGKILL");
        await victim.server!.stop().catch(() => {});
        const down = await back(killedAt);
        const restartedAt = Date.now();
        await start(victim);
        const up = await back(restartedAt);
        process.stdout.write(`round ${round}: kill -9 of the ${role}'s node (${victim.name}): publish+read back ${down} ms after the kill, ${up} ms after its restart\n`);
      }
    }
  } finally {
    await nc.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.server?.stop().catch(() => {})));
    dir.remove();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`cluster-failover: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
