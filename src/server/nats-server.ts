import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Starts and stops a local `nats-server` (Debian package `nats-server`) with
 * JetStream: what `purser serve` runs when no server is given, and what the
 * tests and benchmarks start on a free loopback port with a temporary store.
 */
export interface NatsServerOptions {
  storeDir: string;
  port: number;
  host?: string;
  configFile?: string;
  /** The configuration file names the store directory itself (a reloadable one must: nats-server refuses `-sd` then). */
  storeDirInConfig?: boolean;
  /** Called with each line nats-server logs (it logs to stderr). */
  onLog?: (line: string) => void;
}

export interface RunningNatsServer {
  url: string;
  pid: number;
  /** Makes nats-server read its configuration file again (SIGHUP) and resolves once it has, or says why not. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const defaultNatsConfig = join(projectRoot, "infra", "nats.conf");

export class NatsServerMissingError extends Error {
  override readonly name = "NatsServerMissingError";
  constructor() {
    super(
      "nats-server was not found on PATH or in /usr/sbin. Install it with `sudo apt-get install nats-server` " +
        "(Debian), or give purser an existing server with --server nats://HOST:PORT (or NATS_URL).",
    );
  }
}

export function findNatsServer(): string {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin"]) {
    if (dir && existsSync(join(dir, "nats-server"))) return join(dir, "nats-server");
  }
  throw new NatsServerMissingError();
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export async function startNatsServer(options: NatsServerOptions): Promise<RunningNatsServer> {
  const binary = findNatsServer();
  mkdirSync(options.storeDir, { recursive: true });
  const host = options.host ?? "127.0.0.1";
  const args = ["-c", options.configFile ?? defaultNatsConfig, "-js", ...(options.storeDirInConfig ? [] : ["-sd", options.storeDir]), "-a", host, "-p", String(options.port)];
  const child: ChildProcess = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  let log = "";
  const lineListeners = new Set<(line: string) => void>();
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`nats-server did not become ready in 10s:\n${log}`)), 10_000);
    child.stderr!.setEncoding("utf8");
    let buffered = "";
    child.stderr!.on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (log.length < 20_000) log += line + "\n";
        options.onLog?.(line);
        for (const listener of lineListeners) listener(line);
        if (line.includes("Server is ready")) {
          clearTimeout(timer);
          ready();
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`nats-server exited with code ${code} before it was ready:\n${log}`));
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      fail(err);
    });
  });
  return {
    url: `nats://${host}:${options.port}`,
    pid: child.pid!,
    reload() {
      return new Promise<void>((done, fail) => {
        const timer = setTimeout(() => finish(new Error("nats-server did not reload its configuration in 10s")), 10_000);
        const finish = (err?: Error) => {
          clearTimeout(timer);
          lineListeners.delete(listener);
          if (err) fail(err);
          else done();
        };
        const listener = (line: string) => {
          if (line.includes("Reloaded server configuration")) finish();
          else if (/failed to reload|reload.*error/i.test(line)) finish(new Error(`nats-server refused the new configuration: ${line}`));
        };
        lineListeners.add(listener);
        if (!child.kill("SIGHUP")) finish(new Error("nats-server is not running"));
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
