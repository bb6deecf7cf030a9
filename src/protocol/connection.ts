import { readFileSync } from "node:fs";
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { ErrorKind, invalidArgument, PurserError } from "../errors/errdefs.js";
import { describeServers, parseServers, type ConnectionSettings } from "./connection-settings.js";

export { defaultInboxPrefix, describeServers, redactUrl, type ConnectionSettings } from "./connection-settings.js";

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
