import { readFileSync } from "node:fs";
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { ErrorKind, invalidArgument, PurserError } from "../errors/errdefs.js";

/**
 * How a purser process (server, CLI, client library) reaches NATS and proves
 * who it is: the options `nats` users know (`--creds`, `--nkey`,
 * `--user/--password` or `user:pass@` in the URL, `--token` or `token@`,
 * TLS files) gathered in one value (docs/security.md). Secrets stay in
 * here: {@link describeServers} is what logs and error texts may show.
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

interface ParsedServers {
  servers: string[];
  user?: string;
  password?: string;
  token?: string;
  tls: boolean;
}

/** Splits user info off the URLs (nats.js ignores it) and notes whether any asks for TLS. */
function parseServers(value: string): ParsedServers {
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

function readSecretFile(flag: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw invalidArgument(`cannot read ${flag} file ${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
}

/** The nats.js connection options of `settings` (files read now, so a bad path fails before connecting). */
export function natsConnectionOptions(settings: ConnectionSettings): ConnectionOptions {
  const parsed = parseServers(settings.servers);
  const options: ConnectionOptions = { servers: parsed.servers };
  const user = settings.user ?? parsed.user;
  const password = settings.password ?? parsed.password;
  const token = settings.token ?? parsed.token;
  if (user !== undefined) {
    options.user = user;
    options.pass = password ?? "";
  }
  if (token !== undefined) options.token = token;
  if (settings.credsFile && settings.nkeyFile) throw invalidArgument("--creds and --nkey cannot be used together");
  if (settings.credsFile) options.authenticator = credsAuthenticator(readSecretFile("--creds", settings.credsFile));
  if (settings.nkeyFile) {
    const seed = new TextDecoder().decode(readSecretFile("--nkey", settings.nkeyFile)).trim();
    if (!/^S[A-Z2-7]{40,}$/.test(seed)) throw invalidArgument(`--nkey file ${settings.nkeyFile} does not hold an nkey seed`);
    options.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  const tls = settings.tls ?? {};
  if (parsed.tls || tls.caFile || tls.certFile || tls.keyFile) {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) throw invalidArgument("--tls-cert and --tls-key go together");
    for (const [flag, path] of [["--tls-ca", tls.caFile], ["--tls-cert", tls.certFile], ["--tls-key", tls.keyFile]] as const) {
      if (path !== undefined) readSecretFile(flag, path);
    }
    options.tls = { ...(tls.caFile ? { caFile: tls.caFile } : {}), ...(tls.certFile ? { certFile: tls.certFile, keyFile: tls.keyFile } : {}) };
  }
  if (settings.inboxPrefix) {
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(settings.inboxPrefix)) throw invalidArgument(`invalid inbox prefix ${JSON.stringify(settings.inboxPrefix)}`);
    options.inboxPrefix = settings.inboxPrefix;
  }
  return options;
}

/**
 * Connects as `settings` say. A failure is Unavailable (the server is down
 * or refused us) with the servers named without secrets; nats.js's own text
 * (e.g. `Authorization Violation`) never holds a credential.
 */
export async function connectNats(settings: ConnectionSettings, extra: Partial<ConnectionOptions>): Promise<NatsConnection> {
  const options = natsConnectionOptions(settings);
  try {
    return await connect({ ...options, ...extra });
  } catch (err) {
    const text = scrub((err as Error).message ?? String(err), settings);
    throw new PurserError(ErrorKind.Unavailable, `cannot connect to NATS at ${describeServers(settings)}: ${text}`);
  }
}

/** Removes any secret of `settings` that a foreign error text might echo. */
function scrub(text: string, settings: ConnectionSettings): string {
  let out = text;
  const parsed = (() => {
    try {
      return parseServers(settings.servers);
    } catch {
      return undefined;
    }
  })();
  for (const secret of [settings.password, settings.token, parsed?.password, parsed?.token]) {
    if (secret) out = out.split(secret).join("[redacted]");
  }
  return out;
}
