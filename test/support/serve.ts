import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../src/server/nats-server.js";
import { cliPath } from "./cli.js";
import { tempDir } from "./nats.js";

/**
 * A real `purser serve` process in the embedded mode, as `bash infra/run.sh`
 * runs it: its own nats-server with authorization on, a data directory and a
 * local context in temporary directories, on a free loopback port.
 */
export interface ServedPurser {
  url: string;
  port: number;
  /** The temporary directory holding the data directory and the local context. */
  root: string;
  pid: number;
  /** The embedded nats-server's pid, from the ready line. */
  natsPid: number;
  dataDir: string;
  /** Where serve wrote the admin's context (PURSER_CONTEXT of this process). */
  contextFile: string;
  adminSeed: string;
  serviceSeed: string;
  /** The environment a CLI on this host has: the local context points at this serve. */
  env: Record<string, string>;
  /** serve's JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with serve's exit code when it has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, wait, and remove the directory (unless `keep`). */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

/** A `purser` process started with `args` (serve and its flags), resolved on its ready line. */
export interface ServeProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Its stderr so far, line by line (serve logs JSON lines there). */
  lines: string[];
  /** What it printed so far, stdout then stderr. */
  stdout(): string;
  /** SIGTERM, and wait for it to exit. */
  stop(): Promise<void>;
}

export async function spawnServe(args: readonly string[], env: Record<string, string>): Promise<ServeProcess> {
  const child: ChildProcess = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const lines: string[] = [];
  let stdout = "";
  let buffered = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`purser serve not ready in 30s:\n${stdout}\n${lines.join("\n")}`)), 30_000);
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (stdout.includes(" ready: ")) {
        clearTimeout(timer);
        ready();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`purser serve exited with ${code}:\n${stdout}\n${lines.join("\n")}`));
    });
  });
  return {
    child,
    exited,
    lines,
    stdout: () => `${stdout}${lines.join("\n")}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Starts serve; with `again`, on the data directory and port of an earlier one. */
export async function startServe(extraArgs: readonly string[] = [], again?: { root: string; port: number }): Promise<ServedPurser> {
  const data = again ? { path: again.root, remove: () => rmSync(again.root, { recursive: true, force: true }) } : tempDir("purser-serve-");
  const port = again?.port ?? (await freePort());
  const contextFile = join(data.path, "run", "context.json");
  const env = { PURSER_CONTEXT: contextFile, NATS_URL: "", PURSER_NAMESPACE: "", PURSER_STATE_DIR: join(data.path, "cli-state") };
  const served = await spawnServe(["serve", "--data-dir", join(data.path, "data"), "--nats-port", String(port), "--gc-manual", ...extraArgs], env);
  const { child, exited, lines } = served;
  const stdout = served.stdout();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    root: data.path,
    pid: child.pid!,
    natsPid: Number(/embedded nats-server pid (\d+)/.exec(stdout)?.[1] ?? 0),
    exited,
    dataDir: join(data.path, "data"),
    contextFile,
    adminSeed: join(data.path, "data", "identities", "admin.nk"),
    serviceSeed: join(data.path, "data", "identities", "service.nk"),
    env,
    logs: () =>
      lines.flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    async stop(opts = {}) {
      await served.stop();
      if (!opts.keep) data.remove();
    },
  };
}
