import { PurserError } from "../errors/errdefs.js";
import { ctrTabwriter, formatTabs, type TabwriterOptions } from "./tabwriter.js";

/**
 * A table as ctr prints one: each line's cells joined by tabs through Go's
 * tabwriter (src/cli/tabwriter.ts), every line ending in a tab unless the
 * command's Go format string does not (then the last column is not padded).
 * Errors go to stderr as `purser: <err>` with exit status 1.
 */
export interface TableLayout extends Partial<TabwriterOptions> {
  /** The header's format ends in `\t` (default true). */
  headerTerminated?: boolean;
  /** Each row's format ends in `\t` (default true). */
  rowsTerminated?: boolean;
}

export function table(header: readonly string[] | undefined, rows: readonly (readonly string[])[], layout: TableLayout = {}): string {
  const { headerTerminated = true, rowsTerminated = true, ...writer } = layout;
  let text = header ? header.join("\t") + (headerTerminated ? "\t\n" : "\n") : "";
  for (const row of rows) text += row.join("\t") + (rowsTerminated ? "\t\n" : "\n");
  return formatTabs(text, { ...ctrTabwriter, ...writer });
}

/** `k=v,k2=v2` sorted as ctr sorts the pairs, or `-` when there are none (ctr's LABELS of images and leases). */
/** A table of purser's own (no ctr counterpart): aligned the same way, without trailing padding. */
export const ownTable: TableLayout = { headerTerminated: false, rowsTerminated: false };

export function labelsCell(labels: Readonly<Record<string, string>> | undefined, empty = "-"): string {
  const pairs = Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`);
  if (pairs.length === 0) return empty;
  return pairs.sort(byCodeUnits).join(",");
}

/** Go's `sort.Strings` order (bytes; code units agree for the ASCII of label keys). */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * ctr's `LabelArgs`: `k=v` sets, a bare `k` means `k=true`, and `k=` gives an
 * empty value (which the label commands take as "remove").
 */
export function parseLabelArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const at = arg.indexOf("=");
    if (at < 0) out[arg] = "true";
    else out[arg.slice(0, at)] = arg.slice(at + 1);
  }
  return out;
}

/** JSON as ctr's `commands.PrintAsJSON` writes it: Go's MarshalIndent with four spaces. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 4) + "\n");
}

/**
 * A line as ctr's `log.G(ctx).WithError(err).Errorf(msg)` writes it on a
 * terminal-less stderr (logrus' text formatter): the local time to the
 * second, and the values quoted as Go's %q quotes them.
 */
export function logrusError(msg: string, err: string, now = new Date()): string {
  return logrusLine("error", msg, err, now);
}

/** `log.G(ctx).Warnf(msg)`, the same way. */
export function logrusWarning(msg: string, now = new Date()): string {
  return logrusLine("warning", msg, undefined, now);
}

function logrusLine(level: string, msg: string, err: string | undefined, now: Date): string {
  const error = err === undefined ? "" : ` error=${JSON.stringify(err)}`;
  return `time=${JSON.stringify(localRfc3339(now.toISOString()))} level=${level} msg=${JSON.stringify(msg)}${error}\n`;
}

/** Go's `t.Local().Format(time.RFC3339)`, as ctr prints times (a lease's creation, its log lines). */
export function localRfc3339(iso: string): string {
  const d = new Date(iso);
  const offsetMin = -d.getTimezoneOffset();
  const pad = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const local = new Date(d.getTime() + offsetMin * 60_000).toISOString().slice(0, 19);
  const zone = offsetMin === 0 ? "Z" : `${offsetMin > 0 ? "+" : "-"}${pad(offsetMin / 60)}:${pad(offsetMin % 60)}`;
  return local + zone;
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
