import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startNatsServer, type RunningNatsServer } from "../../src/server/nats-server.js";

/** A real nats-server with JetStream on a free loopback port and a temporary store. */
export interface TestNats extends RunningNatsServer {
  dir: string;
}

export async function startTestNats(): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), "purser-nats-"));
  // dieWithParent: a test process killed mid-run leaves no nats-server behind.
  const server = await startNatsServer({ storeDir: join(dir, "store"), port: await freePort(), dieWithParent: true });
  return {
    ...server,
    dir,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
