#!/usr/bin/env node
import { Command } from "commander";
import { serviceVersion } from "../protocol/service.js";
import { registerContainerCommands } from "./containers.js";
import { registerContentCommands } from "./content.js";
import { registerEventCommands } from "./events.js";
import { registerGcCommands } from "./gc.js";
import { registerImageCommands } from "./images.js";
import { registerLeaseCommands } from "./leases.js";
import { registerNamespaceCommands } from "./namespaces.js";
import { failAndExit } from "./output.js";
import { registerRebuildCommand } from "./rebuild.js";
import { registerServeCommand } from "./serve.js";
import { registerSnapshotCommands } from "./snapshots.js";
import { registerTenantCommands } from "./tenants.js";

/** `purser`: a `ctr`-like command line for purser. */
const program = new Command()
  .name("purser")
  .description("purser: containerd's metadata plane, event-sourced on NATS JetStream")
  .version(serviceVersion)
  .option("-n, --namespace <namespace>", "namespace to use (env PURSER_NAMESPACE; else the context's, else default)")
  .option("--server <url>", "NATS server URL(s), comma-separated; user:pass@ or token@ allowed (env NATS_URL; default: the local context, else nats://127.0.0.1:4222)")
  .option("--context <file>", "a saved connection: servers, credentials, inbox prefix, namespace (default: the local context purser serve wrote)")
  .option("--creds <file>", "NATS credentials file: user JWT and nkey seed (env NATS_CREDS)")
  .option("--nkey <file>", "file holding an nkey seed (env NATS_NKEY)")
  .option("--user <name>", "NATS user (env NATS_USER)")
  .option("--password <secret>", "NATS password (env NATS_PASSWORD, which other users cannot see in ps)")
  .option("--token <secret>", "NATS token (env NATS_TOKEN)")
  .option("--tls-ca <file>", "CA certificate(s) to verify the NATS server with (env NATS_CA)")
  .option("--tls-cert <file>", "client certificate for NATS TLS (env NATS_CERT)")
  .option("--tls-key <file>", "client certificate key (env NATS_KEY)")
  .option("--inbox-prefix <prefix>", "prefix of this client's reply subjects: a tenant's own (env NATS_INBOX_PREFIX)")
  .option("--json", "print JSON for machines", false)
  .option("--lease <id>", "run commands under this lease: what they create is recorded in it (env PURSER_LEASE)", process.env.PURSER_LEASE)
  .option("--as-of <rv|time>", "read history: answer queries from the views as they were at this rv (rv=N) or RFC 3339 time")
  .showHelpAfterError();

registerServeCommand(program);
registerRebuildCommand(program);
registerNamespaceCommands(program);
registerImageCommands(program);
registerContainerCommands(program);
registerSnapshotCommands(program);
registerLeaseCommands(program);
registerContentCommands(program);
registerEventCommands(program);
registerGcCommands(program);
registerTenantCommands(program);

// `purser events | head`: a reader that went away ends the command quietly, as ctr's does.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

program.parseAsync(process.argv).catch(failAndExit);
