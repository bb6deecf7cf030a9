import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connectNats } from "../../src/protocol/connection.js";
import { freePort, startNatsServer, type RunningNatsServer } from "../../src/server/nats-server.js";
import { eventually } from "./assertions.js";
import { tempDir } from "./nats.js";

/** One node of a {@link TestCluster}: its own port, configuration and store. */
export interface ClusterNode {
  name: string;
  port: number;
  url: string;
  conf: string;
  store: string;
  server?: RunningNatsServer;
}

/**
 * A real 3-node NATS cluster with JetStream on loopback (free ports, a
 * temporary directory): what the cluster fault test and the JetStream
 * failover measurement kill nodes of.
 */
export interface TestCluster {
  nodes: ClusterNode[];
  /** Every node's URL, comma-separated (a client or service that knows them all). */
  urls: string;
  /** The temporary directory holding the nodes (and whatever a test puts beside them). */
  dir: string;
  /** Starts `node` (again) on its port and store. */
  start(node: ClusterNode): Promise<void>;
  /** SIGKILL of `node`'s nats-server, resolved once it is gone. */
  kill(node: ClusterNode): Promise<void>;
  node(name: string): ClusterNode | undefined;
  stop(): Promise<void>;
}

export async function startTestCluster(name: string, options: { maxPayload?: string } = {}): Promise<TestCluster> {
  const dir = tempDir(`purser-${name}-`);
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const routes = await Promise.all([0, 1, 2].map(() => freePort()));
  const nodes: ClusterNode[] = [0, 1, 2].map((i) => {
    const nodeDir = join(dir.path, `n${i}`);
    mkdirSync(nodeDir);
    const n: ClusterNode = { name: `n${i}`, port: ports[i]!, url: `nats://127.0.0.1:${ports[i]}`, conf: join(nodeDir, "nats.conf"), store: join(nodeDir, "store") };
    writeFileSync(
      n.conf,
      `server_name: n${i}\n${options.maxPayload ? `max_payload: ${options.maxPayload}\n` : ""}jetstream { store_dir: ${JSON.stringify(n.store)} }\n` +
        `cluster { name: ${name}, listen: "127.0.0.1:${routes[i]}", routes: ${JSON.stringify(routes.map((r) => `nats://127.0.0.1:${r}`))} }\n`,
    );
    return n;
  });
  const start = async (n: ClusterNode) => {
    n.server = await startNatsServer({ storeDir: n.store, storeDirInConfig: true, port: n.port, configFile: n.conf, dieWithParent: true });
  };
  const cluster: TestCluster = {
    nodes,
    urls: nodes.map((n) => n.url).join(","),
    dir: dir.path,
    start,
    async kill(n) {
      process.kill(n.server!.pid, "SIGKILL");
      await n.server!.stop().catch(() => {});
    },
    node: (wanted) => nodes.find((n) => n.name === wanted),
    async stop() {
      await Promise.all(nodes.map((n) => n.server?.stop().catch(() => {})));
      dir.remove();
    },
  };
  try {
    await Promise.all(nodes.map(start));
    const nc = await connectNats({ servers: cluster.urls }, {});
    try {
      await eventually(() => jetstreamManager(nc).then((j) => j.getAccountInfo()).then(() => true, () => false), "the cluster's JetStream to answer", 60_000);
    } finally {
      await nc.close();
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
