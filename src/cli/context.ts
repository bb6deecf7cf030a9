import type { Command } from "commander";
import type { PurserClient } from "../client/purser-client.js";
import { defaultNatsUrl } from "../protocol/defaults.js";
import { lastRv, lastRvs, recordRv } from "./last-rv.js";

/** The global options every `purser` command understands. */
export interface GlobalOptions {
  namespace: string;
  server: string;
  json: boolean;
  asOf?: string;
}

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as Partial<GlobalOptions>;
  return {
    namespace: o.namespace ?? process.env.PURSER_NAMESPACE ?? "default",
    server: o.server ?? process.env.NATS_URL ?? defaultNatsUrl,
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
    const client = await PurserClient.connect(options.server);
    client.asOf = options.asOf;
    client.minRvIsHint = true;
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

/** Runs an action with a session and always closes it. */
export async function withSession<T>(cmd: Command, action: (s: CliSession) => Promise<T>): Promise<T> {
  const session = await CliSession.open(cmd);
  try {
    return await action(session);
  } finally {
    await session.close();
  }
}
