import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess, type ProcessResult } from "./process.js";

/**
 * The real `ctr` of containerd 1.6 (Debian's package): the one on PATH, or
 * the one infra/containerd-protos.sh extracted beside the API definitions.
 * Run asynchronously: the server answering it lives in the test's process.
 */
export function ctrPath(): string {
  const extracted = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "..", "var", "containerd-api", "bin", "ctr");
  if (existsSync(extracted)) return extracted;
  try {
    return execFileSync("sh", ["-c", "command -v ctr"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("ctr not found: run infra/containerd-protos.sh (it extracts ctr from Debian's containerd package)");
  }
}

export type CtrResult = ProcessResult;

export function runCtr(address: string, args: readonly string[], input?: string | Buffer): Promise<CtrResult> {
  return runProcess(ctrPath(), ["--address", address, ...args], { ...process.env, CONTAINERD_ADDRESS: "", CONTAINERD_NAMESPACE: "" }, input);
}

/** A long-running ctr (`ctr events`): its output so far, and a stop. */
export function startCtr(address: string, args: readonly string[]): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(ctrPath(), ["--address", address, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
