import type { Command } from "commander";
import { invalidArgument } from "../errors/errdefs.js";
import { withSession } from "./context.js";

/**
 * `purser events`: the audit log. Unlike `ctr events` (live only, nothing
 * before you joined) it reads history from the start, an rv or a time, and
 * `--follow` keeps streaming.
 */
export function registerEventCommands(program: Command): void {
  program
    .command("events")
    .description("print the event log of a namespace (-n) or of all namespaces")
    .argument("[filters...]", "containerd filters on topic, namespace and event.<field>; several are ORed")
    .option("-A, --all-namespaces", "read the log of every namespace")
    .option("--from-rv <rv>", "start at this rv of each namespace")
    .option("--since <time>", "start at this time (RFC 3339, or a duration such as 10m or 2h ago)")
    .option("-f, --follow", "keep streaming new events")
    .option("--host", "read the host stream instead (blobs removed from hosts' disks; the NAMESPACE column is the host)")
    .option("--quarantined", "list the events the views skipped (undecodable, or a projection failed on them) and why")
    .action(async (filters: string[], opts: { allNamespaces?: boolean; fromRv?: string; since?: string; follow?: boolean; host?: boolean; quarantined?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        if (opts.quarantined) {
          const { result } = await s.client.system.quarantined();
          const { printJson, ownTable, table } = await import("./output.js");
          if (s.options.json) return printJson(result);
          process.stdout.write(table(["NAMESPACE", "RV", "SUBJECT", "TYPE", "REASON"], result.map((q) => [q.namespace, String(q.seq), q.subject, q.type || "-", q.reason]), ownTable));
          return;
        }
        // The filter language and the line formats load with the command, not with every CLI start.
        const { parseFilters } = await import("../filters/index.js");
        const { eventAdaptor, eventJson, eventLine } = await import("./event-output.js");
        const filter = parseFilters(filters);
        if (opts.host) {
          const abort = new AbortController();
          const onSignal = () => abort.abort();
          process.once("SIGINT", onSignal);
          try {
            const { readHostEvents } = await import("../client/host-events.js");
            await readHostEvents(s.client.nc, { follow: opts.follow ?? false, signal: abort.signal }, (e) => {
              if (!filter.match(eventAdaptor(e))) return;
              process.stdout.write((s.options.json ? JSON.stringify(eventJson(e)) : eventLine(e)) + "\n");
            });
          } finally {
            process.off("SIGINT", onSignal);
          }
          return;
        }
        const fromRv = opts.fromRv === undefined ? undefined : Number(opts.fromRv);
        if (fromRv !== undefined && (!Number.isSafeInteger(fromRv) || fromRv < 1)) {
          throw invalidArgument(`--from-rv must be a positive integer, not ${JSON.stringify(opts.fromRv)}`);
        }
        const since = opts.since === undefined ? undefined : parseSince(opts.since, new Date());
        const abort = new AbortController();
        const onSignal = () => abort.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        try {
          const { readEvents } = await import("../client/event-log.js");
          await readEvents(
            s.client.nc,
            {
              namespaces: opts.allNamespaces ? undefined : [s.namespace],
              fromRv,
              since,
              follow: opts.follow ?? false,
              signal: abort.signal,
              onUndecodable: (ns, seq, err) =>
                process.stderr.write(`purser: skipping undecodable message ${ns}@${seq}: ${(err as Error).message}\n`),
            },
            (e) => {
              if (!filter.match(eventAdaptor(e))) return;
              process.stdout.write((s.options.json ? JSON.stringify(eventJson(e)) : eventLine(e)) + "\n");
            },
          );
        } finally {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        }
      }),
    );
}

/** RFC 3339, or a Go-style duration (`90s`, `10m`, `1h30m`) meaning that long ago. */
export function parseSince(value: string, now: Date): Date {
  const duration = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?: ago)?$/.exec(value.trim());
  if (duration && value.trim() !== "" && duration.slice(1).some((x) => x !== undefined)) {
    const [h, m, s] = duration.slice(1).map((x) => Number(x ?? 0));
    return new Date(now.getTime() - ((h! * 60 + m!) * 60 + s!) * 1000);
  }
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) throw invalidArgument(`--since ${JSON.stringify(value)} is neither a time nor a duration`);
  return t;
}
