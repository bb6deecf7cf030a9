import { PurserError } from "../errors/errdefs.js";

/**
 * Output as `ctr` writes it: aligned columns (Go's tabwriter with padding 1,
 * as ctr sets it up), `-` for empty cells, errors on stderr as `purser: <err>`
 * with exit status 1.
 */
export function table(
  header: readonly string[] | undefined,
  rows: readonly (readonly string[])[],
  /** Spaces after the widest cell of a column (`ctr containers ls` uses 4). */
  padding = 1,
): string {
  const all = header ? [header, ...rows] : rows;
  if (all.length === 0) return "";
  const widths: number[] = [];
  for (const row of all) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return (
    all
      .map((row) =>
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + padding)))
          .join("")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

/** `k=v,k2=v2` in key order, or `-` when there are none (ctr's label column). */
export function labelsCell(labels: Readonly<Record<string, string>> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return "-";
  return keys.map((k) => `${k}=${labels![k]}`).join(",");
}

/** ctr's `LabelArgs`: `k=v` sets, `k=` (or a bare `k`) gives an empty value, which removes. */
export function parseLabelArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const at = arg.indexOf("=");
    if (at < 0) out[arg] = "";
    else out[arg.slice(0, at)] = arg.slice(at + 1);
  }
  return out;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** Thrown by a command to exit with status 1 after its own message was printed. */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

export function failAndExit(err: unknown): never {
  const message = err instanceof PurserError || err instanceof ExitError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`purser: ${message}\n`);
  process.exit(err instanceof ExitError ? err.code : 1);
}
