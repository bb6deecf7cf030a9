import type { Command } from "commander";
import type { PurserClient } from "../client/purser-client.js";
import { describeServers, type ConnectionSettings } from "../protocol/connection-settings.js";
import { defaultNatsUrl } from "../protocol/defaults.js";
import { localContext, readContext, type NatsContext } from "./nats-context.js";
import { lastRv, lastRvs, recordRv } from "./last-rv.js";

/** The global options every `purser` command understands. */
export interface GlobalOptions {
  namespace: string;
  /** The servers as shown and as the key of the read-your-writes state: never with credentials. */
  server: string;
  connection: ConnectionSettings;
  json: boolean;
  asOf?: string;
}

/** The connection flags (main.ts), as commander parses them. */
interface ConnectionFlags {
  server?: string;
  context?: string;
  creds?: string;
  nkey?: string;
  user?: string;
  password?: string;
  token?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  inboxPrefix?: string;
}

const env = (name: string): string | undefined => (process.env[name] === "" ? undefined : process.env[name]);

/**
 * Flags, then `NATS_*` environment variables, then a context: the one of
 * `--context`, else — when neither a server nor a credential is given —
 * the local context `purser serve` wrote (nats-context.ts).
 */
export function connectionOf(o: ConnectionFlags): { settings: ConnectionSettings; namespace?: string } {
  const given = {
    servers: o.server ?? env("NATS_URL"),
    credsFile: o.creds ?? env("NATS_CREDS"),
    nkeyFile: o.nkey ?? env("NATS_NKEY"),
    user: o.user ?? env("NATS_USER"),
    password: o.password ?? env("NATS_PASSWORD"),
    token: o.token ?? env("NATS_TOKEN"),
    inboxPrefix: o.inboxPrefix ?? env("NATS_INBOX_PREFIX"),
  };
  const tls = { caFile: o.tlsCa ?? env("NATS_CA"), certFile: o.tlsCert ?? env("NATS_CERT"), keyFile: o.tlsKey ?? env("NATS_KEY") };
  const anyGiven = Object.values(given).some((v) => v !== undefined) || Object.values(tls).some((v) => v !== undefined);
  const base: NatsContext = o.context ? readContext(o.context) : anyGiven ? { servers: defaultNatsUrl } : (localContext()?.context ?? { servers: defaultNatsUrl });
  const settings: ConnectionSettings = { ...base };
  for (const [k, v] of Object.entries(given) as Array<[keyof typeof given, string | undefined]>) if (v !== undefined) settings[k] = v;
  if (Object.values(tls).some((v) => v !== undefined)) settings.tls = { ...base.tls, ...Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) };
  delete (settings as NatsContext).namespace;
  return { settings, namespace: base.namespace };
}

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as Partial<GlobalOptions> & ConnectionFlags;
  const { settings, namespace } = connectionOf(o);
  return {
    namespace: o.namespace ?? env("PURSER_NAMESPACE") ?? namespace ?? "default",
    server: describeServers(settings),
    connection: settings,
    json: o.json ?? false,
    asOf: o.asOf,
  };
}

/** A connected client plus the read-your-writes bookkeeping of the CLI. */
export class CliSession {
  private constructor(
    readonly client: PurserClient,
    readonly options: GlobalOptions,
  ) {}

  static async open(cmd: Command): Promise<CliSession> {
    const options = globals(cmd);
    // The client (the NATS packages) loads when a command first needs it, not for --help.
    const { PurserClient } = await import("../client/purser-client.js");
    const client = await PurserClient.connect(options.connection);
    client.asOf = options.asOf;
    client.minRvIsHint = true;
    // A service restarting is waited for (client/request-resender.ts); a person at a terminal is told why nothing happens.
    if (process.stderr.isTTY) {
      client.onNoService = (subject, waitMs) => process.stderr.write(`purser: no purser service is answering on ${subject} yet; waiting up to ${Math.ceil(waitMs / 1000)}s\n`);
    }
    return new CliSession(client, options);
  }

  get namespace(): string {
    return this.options.namespace;
  }

  /** Remembers a command's rv so the next query (even from another invocation) sees it. */
  wrote(namespace: string, rv: number): void {
    recordRv(this.options.server, namespace, rv);
  }

  minRv(namespace: string): number | undefined {
    return lastRv(this.options.server, namespace);
  }

  minRvs(): Record<string, number> {
    return lastRvs(this.options.server);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/**
 * Runs an action with a session and always closes it. Ctrl-C (or SIGTERM)
 * while writers are open releases their ref locks first, as containerd does
 * when its client goes, so the same command run again starts at once and
 * resumes; other commands stop as before.
 */
export async function withSession<T>(cmd: Command, action: (s: CliSession) => Promise<T>): Promise<T> {
  const session = await CliSession.open(cmd);
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === "SIGINT" ? 130 : 143;
    if (session.client.content.openWriters() === 0) {
      // Someone else handles it (events --follow stops its readers), or nobody does: then stop, as without us.
      if (process.listenerCount(signal) === 0) process.exit(code);
      return;
    }
    const released = session.client.content.releaseWriters();
    void Promise.race([released, new Promise((r) => setTimeout(r, 2000))]).finally(() => process.exit(code));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await action(session);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await session.close();
  }
}
