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

/** `purser`: a `ctr`-like command line for purser. */
const program = new Command()
  .name("purser")
  .description("purser: containerd's metadata plane, event-sourced on NATS JetStream")
  .version(serviceVersion)
  .option("-n, --namespace <namespace>", "namespace to use (env PURSER_NAMESPACE)", process.env.PURSER_NAMESPACE ?? "default")
  .option("--server <url>", "NATS server URL (env NATS_URL)", process.env.NATS_URL)
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

program.parseAsync(process.argv).catch(failAndExit);
