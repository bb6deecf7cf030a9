import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
  /**
   * The kernel kills nats-server when this process dies, even by SIGKILL
   * (`setpriv --pdeathsig KILL`, util-linux): no orphan keeps the port and
   * the store (issue 12).
   */
  dieWithParent?: boolean;
  /**
   * Where its pid is kept. A nats-server still running from an earlier start
   * (its pid there, our configuration file on its command line) is stopped
   * before a new one starts, so a restart never fails on `address already in use`.
   */
  pidFile?: string;
  /** Called when nats-server exits other than by {@link RunningNatsServer.stop}. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
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

/** util-linux's setpriv (Essential on Debian), if present. */
function findSetpriv(): string | undefined {
  for (const p of ["/usr/bin/setpriv", "/bin/setpriv"]) if (existsSync(p)) return p;
  return undefined;
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

/** Stops the nats-server an earlier start left running (see {@link NatsServerOptions.pidFile}). */
export async function reapStaleNatsServer(pidFile: string, configFile: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    return undefined;
  }
  const alive = () => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return cmdline.some((a) => a.endsWith("nats-server")) && cmdline.includes(configFile);
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 1 || !alive()) return undefined;
  process.kill(pid, "SIGTERM");
  // nats-server with its store on a full disk ignores SIGTERM (STACK-NOTES): SIGKILL after 5 s.
  for (let waited = 0; alive(); waited += 50) {
    if (waited === 5000) process.kill(pid, "SIGKILL");
    if (waited > 10_000) throw new Error(`nats-server ${pid} of an earlier start does not stop`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return pid;
}

export async function startNatsServer(options: NatsServerOptions): Promise<RunningNatsServer> {
  const binary = findNatsServer();
  mkdirSync(options.storeDir, { recursive: true });
  const host = options.host ?? "127.0.0.1";
  const configFile = options.configFile ?? defaultNatsConfig;
  if (options.pidFile) await reapStaleNatsServer(options.pidFile, configFile);
  const args = ["-c", configFile, "-js", ...(options.storeDirInConfig ? [] : ["-sd", options.storeDir]), "-a", host, "-p", String(options.port)];
  const setpriv = options.dieWithParent ? findSetpriv() : undefined;
  // setpriv execs nats-server: the pid is nats-server's own.
  const child: ChildProcess = setpriv
    ? spawn(setpriv, ["--pdeathsig", "KILL", "--", binary, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    : spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stopping = false;
  let ready = false;
  child.once("exit", (code, signal) => {
    if (options.pidFile) rmSync(options.pidFile, { force: true });
    if (ready && !stopping) options.onExit?.(code, signal);
  });
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
  ready = true;
  if (options.pidFile) writeFileSync(options.pidFile, `${child.pid}\n`);
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
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
