import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const cliPath = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "src", "cli", "main.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The CLI's read-your-writes state of this test process: never the user's own
 * (~/.local/state/purser), and not shared with other test files whose servers
 * may reuse a port.
 */
let stateDir: string | undefined;

function cliStateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "purser-cli-state-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the built `purser` CLI as a user would, against the given server. */
export function runCli(server: string, args: readonly string[], env: Record<string, string> = {}, input?: string | Buffer): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, "--server", server, ...args], {
      env: {
        ...process.env,
        NATS_URL: "",
        PURSER_NAMESPACE: "",
        PURSER_STATE_DIR: (stateDir ??= cliStateDir()),
        // Never the host's own local context (/run/purser/context.json): a test names its server.
        PURSER_CONTEXT: join(stateDir, "no-context.json"),
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
