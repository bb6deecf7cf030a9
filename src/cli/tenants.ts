import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { withSession } from "./context.js";
import { ExitError, printJson, ownTable, table } from "./output.js";

/**
 * `purser tenants add|ls|rm` (docs/security.md): the admin issues a NATS
 * identity confined to some namespaces. The key pair is made here and the
 * seed written next to a context file for the tenant; the server only ever
 * sees the public key.
 */
export function registerTenantCommands(program: Command): void {
  const tenants = program.command("tenants").alias("tenant").description("manage tenants: NATS identities confined to their namespaces");

  tenants
    .command("add")
    .description("issue a tenant's identity: writes <dir>/<name>.nk (its nkey seed) and <dir>/<name>.context.json")
    .argument("<name>", "tenant name ([a-z0-9-], 1-63)")
    // Positional, as `ns create NAME LABELS…`: `--namespace` is the global `-n`.
    .argument("<namespaces...>", "namespaces the tenant may use (one or more)")
    .option("-o, --output <dir>", "where to write the seed and the context", ".")
    .action(async (name: string, namespaces: string[], opts: { output: string }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const dir = resolve(opts.output);
        const seedFile = join(dir, `${name}.nk`);
        const contextFile = join(dir, `${name}.context.json`);
        for (const f of [seedFile, contextFile]) if (existsSync(f)) throw new ExitError(`${f} exists: remove it or choose another --output`);
        const { newUserKeys } = await import("../security/identity-files.js");
        const { writeSecretFile } = await import("../security/secret-files.js");
        const keys = newUserKeys();
        const { result } = await s.client.tenants.add(name, keys.publicKey, namespaces);
        writeSecretFile(seedFile, `${keys.seed}\n`);
        writeSecretFile(
          contextFile,
          `${JSON.stringify({ servers: s.options.server, nkeyFile: `${name}.nk`, inboxPrefix: result.inboxPrefix, namespace: result.namespaces[0] }, null, 2)}\n`,
        );
        if (s.options.json) return printJson({ ...result, seedFile, contextFile });
        process.stdout.write(`tenant ${result.name}: namespaces ${result.namespaces.join(",")}; connect with --context ${contextFile}\n`);
      }),
    );

  tenants
    .command("list")
    .alias("ls")
    .description("list tenants")
    .option("-q, --quiet", "print only the names")
    .action(async (opts: { quiet?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.tenants.list();
        if (s.options.json) return printJson(result);
        if (opts.quiet) return void process.stdout.write(result.map((t) => `${t.name}\n`).join(""));
        process.stdout.write(table(["NAME", "NAMESPACES", "INBOX PREFIX", "PUBLIC KEY", "CREATED"], result.map((t) => [t.name, t.namespaces.join(","), t.inboxPrefix, t.publicKey, t.created]), ownTable));
      }),
    );

  tenants
    .command("remove")
    .alias("rm")
    .description("remove tenants: their connections are closed and their credentials refused from now on")
    .argument("<names...>")
    .action(async (names: string[], _opts: unknown, cmd: Command) =>
      withSession(cmd, async (s) => {
        for (const name of names) {
          await s.client.tenants.remove(name);
          process.stdout.write(`${name}\n`);
        }
      }),
    );
}
