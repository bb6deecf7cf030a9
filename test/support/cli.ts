import { runProcess, type ProcessResult } from "./process.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const cliPath = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "src", "cli", "main.js");

export type CliResult = ProcessResult;

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
  return runProcess(
    process.execPath,
    [cliPath, "--server", server, ...args],
    {
      ...process.env,
      NATS_URL: "",
      PURSER_NAMESPACE: "",
      PURSER_STATE_DIR: (stateDir ??= cliStateDir()),
      // Never the host's own local context (/run/purser/context.json): a test names its server.
      PURSER_CONTEXT: join(stateDir, "no-context.json"),
      ...env,
    },
    input,
  );
}
