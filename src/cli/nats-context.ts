import { existsSync, mkdirSync, readFileSync, rmSync, chmodSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { invalidArgument } from "../errors/errdefs.js";
import type { ConnectionSettings } from "../protocol/connection-settings.js";
import { writeSecretFile } from "../security/secret-files.js";

/**
 * A saved connection (docs/security.md): the server URL and where the
 * credentials are, as a JSON file of {@link ConnectionSettings} fields plus
 * the namespace to use. Relative file paths are read against the context
 * file's own directory, so a tenant's context and seed travel together.
 *
 * `purser serve` (embedded) writes one for its admin identity at the local
 * context path, and the CLI uses it when it is given no connection flags:
 * the way ctr finds containerd's socket. Root-only by file permissions.
 */
export interface NatsContext extends ConnectionSettings {
  namespace?: string;
}

/** `$PURSER_CONTEXT`, else /run/purser/context.json for root, else under `$XDG_RUNTIME_DIR` or ~/.local/state. */
export function localContextPath(): string {
  if (process.env.PURSER_CONTEXT) return resolve(process.env.PURSER_CONTEXT);
  if (process.getuid?.() === 0) return "/run/purser/context.json";
  const base = process.env.XDG_RUNTIME_DIR ?? process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state");
  return join(base, "purser", "context.json");
}

export function readContext(path: string): NatsContext {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw invalidArgument(`cannot read context ${path}: ${code ?? "not JSON"}`);
  }
  if (typeof parsed !== "object" || parsed === null || typeof (parsed as NatsContext).servers !== "string") {
    throw invalidArgument(`context ${path} has no "servers"`);
  }
  const ctx = parsed as NatsContext;
  const at = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(dirname(path), p));
  const out: NatsContext = { ...ctx, credsFile: at(ctx.credsFile), nkeyFile: at(ctx.nkeyFile) };
  if (ctx.tls) out.tls = { caFile: at(ctx.tls.caFile), certFile: at(ctx.tls.certFile), keyFile: at(ctx.tls.keyFile) };
  for (const k of Object.keys(out) as Array<keyof NatsContext>) if (out[k] === undefined) delete out[k];
  return out;
}

/** The local context if there is one. */
export function localContext(): { path: string; context: NatsContext } | undefined {
  const path = localContextPath();
  return existsSync(path) ? { path, context: readContext(path) } : undefined;
}

export function writeContext(path: string, ctx: NatsContext): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700);
  writeSecretFile(path, `${JSON.stringify(ctx, null, 2)}\n`);
}

/** Removes the context at `path` if it is still the one written (another serve may have replaced it). */
export function removeContextIf(path: string, ctx: NatsContext): void {
  try {
    if (readFileSync(path, "utf8") === `${JSON.stringify(ctx, null, 2)}\n`) rmSync(path);
  } catch {
    // gone already
  }
}
