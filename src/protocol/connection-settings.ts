import { invalidArgument } from "../errors/errdefs.js";

/**
 * How a purser process (server, CLI, client library) reaches NATS and proves
 * who it is: the options `nats` users know (`--creds`, `--nkey`,
 * `--user/--password` or `user:pass@` in the URL, `--token` or `token@`,
 * TLS files) gathered in one value (docs/security.md). Secrets stay in
 * here: {@link describeServers} is what logs and error texts may show.
 * No NATS package is loaded by this file (the CLI reads it for --help);
 * connection.ts makes the connection.
 */
export interface ConnectionSettings {
  /** One URL or several, comma-separated; each may carry `user:pass@` or `token@`. */
  servers: string;
  user?: string;
  password?: string;
  token?: string;
  /** A decentralised-auth credentials file (user JWT + nkey seed), as `nats --creds`. */
  credsFile?: string;
  /** A file holding an nkey seed (`SU…`), as `nats --nkey`. */
  nkeyFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** The prefix of this connection's reply subjects (a tenant's own, so that no one else reads its replies). */
  inboxPrefix?: string;
}

/** The prefix of the inboxes a connection with no configured prefix uses (nats.js's and every NATS client's). */
export const defaultInboxPrefix = "_INBOX";

export interface ParsedServers {
  servers: string[];
  user?: string;
  password?: string;
  token?: string;
  tls: boolean;
}

/** Splits user info off the URLs (nats.js ignores it) and notes whether any asks for TLS. */
export function parseServers(value: string): ParsedServers {
  const out: ParsedServers = { servers: [], tls: false };
  for (const raw of value.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    let url: URL;
    try {
      url = new URL(raw.includes("://") ? raw : `nats://${raw}`);
    } catch {
      throw invalidArgument(`invalid NATS server URL ${JSON.stringify(redactUrl(raw))}`);
    }
    if (!["nats:", "tls:"].includes(url.protocol)) throw invalidArgument(`invalid NATS server URL ${JSON.stringify(redactUrl(raw))}: scheme must be nats:// or tls://`);
    if (url.protocol === "tls:") out.tls = true;
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    if (user && password) {
      out.user = user;
      out.password = password;
    } else if (user) {
      out.token = user;
    }
    out.servers.push(`${url.protocol}//${url.host}`);
  }
  if (out.servers.length === 0) throw invalidArgument("no NATS server URL given");
  return out;
}

/** A URL as logs and errors may show it: user info (a password or a token) never appears. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)?[^@/]*@/i, (_m, scheme: string | undefined) => `${scheme ?? ""}`);
}

/** The servers of `settings` without their secrets, for the ready line, logs and errors. */
export function describeServers(settings: ConnectionSettings): string {
  return settings.servers
    .split(",")
    .map((s) => redactUrl(s.trim()))
    .filter((s) => s !== "")
    .join(",");
}
