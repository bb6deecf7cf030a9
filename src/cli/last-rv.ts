import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Read-your-writes across CLI invocations: each command's reply rv is kept per
 * server and namespace in a small state file, and the next query passes it as
 * its minimum rv. Entries older than a minute are ignored: by then the views
 * have long caught up, and a server whose log was wiped must not make every
 * query wait for an rv it will never reach. Failures here never fail a command.
 */
const maxAgeMs = 60_000;

interface Entry {
  rv: number;
  at: number;
}

function stateFile(): string {
  const dir =
    process.env.PURSER_STATE_DIR ??
    join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "purser");
  return join(dir, "last-rv.json");
}

function load(): Record<string, Entry> {
  try {
    return JSON.parse(readFileSync(stateFile(), "utf8")) as Record<string, Entry>;
  } catch {
    return {};
  }
}

export function recordRv(server: string, namespace: string, rv: number): void {
  try {
    const now = Date.now();
    const all = load();
    for (const [k, e] of Object.entries(all)) if (now - e.at > maxAgeMs) delete all[k];
    all[`${server}|${namespace}`] = { rv, at: now };
    const file = stateFile();
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file + ".tmp", JSON.stringify(all));
    renameSync(file + ".tmp", file);
  } catch {
    // Read-your-writes across invocations is a convenience; never fail a command for it.
  }
}

export function lastRv(server: string, namespace: string): number | undefined {
  const e = load()[`${server}|${namespace}`];
  return e && Date.now() - e.at <= maxAgeMs ? e.rv : undefined;
}

export function lastRvs(server: string): Record<string, number> {
  const now = Date.now();
  const out: Record<string, number> = {};
  for (const [k, e] of Object.entries(load())) {
    const bar = k.lastIndexOf("|");
    if (k.slice(0, bar) === server && now - e.at <= maxAgeMs) out[k.slice(bar + 1)] = e.rv;
  }
  return out;
}
