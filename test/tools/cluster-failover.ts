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
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startTestCluster } from "../support/cluster.js";

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? "3");
  const cluster = await startTestCluster("raw");
  const nc = await connect({ servers: cluster.nodes.map((n) => n.url), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "RAW", subjects: ["raw.>"], num_replicas: 3 });
    const js = jetstream(nc, { timeout: 1000 });
    let n = 0;
    const back = async (since: number): Promise<number> => {
      for (;;) {
        try {
          const ack = await js.publish("raw.x", new TextEncoder().encode(String(n++)), { timeout: 1000 });
          const m = await jsm.streams.getMessage("RAW", { seq: ack.seq });
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
        const victim = role === "leader" ? cluster.node(leader)! : cluster.nodes.find((x) => x.name !== leader)!;
        const killedAt = Date.now();
        await cluster.kill(victim);
        const down = await back(killedAt);
        const restartedAt = Date.now();
        await cluster.start(victim);
        const up = await back(restartedAt);
        process.stdout.write(`round ${round}: kill -9 of the ${role}'s node (${victim.name}): publish+read back ${down} ms after the kill, ${up} ms after its restart\n`);
      }
    }
  } finally {
    await nc.close().catch(() => {});
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`cluster-failover: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
