import type { Options, SingleBar } from "cli-progress";

/**
 * A progress bar on stderr when stderr is a terminal, else none. cli-progress
 * is loaded only then, so commands that draw nothing never pay for it.
 */
export async function terminalBar(options: Options): Promise<SingleBar | undefined> {
  if (!process.stderr.isTTY) return undefined;
  const { default: cliProgress } = await import("cli-progress");
  return new cliProgress.SingleBar({ stream: process.stderr, ...options }, cliProgress.Presets.shades_classic);
}
