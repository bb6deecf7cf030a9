import type { Command } from "commander";
import { isPurserError } from "../errors/errdefs.js";
import { withSession } from "./context.js";
import { ExitError, labelsCell, logrusError, parseLabelArgs, printJson, table } from "./output.js";

/** `purser namespaces|ns create|ls|label|rm`, as `ctr namespaces`. */
export function registerNamespaceCommands(program: Command): void {
  const ns = program.command("namespaces").alias("ns").description("manage namespaces");

  ns.command("create")
    .description("create a new namespace")
    .argument("<name>", "namespace name")
    .argument("[labels...]", "labels as key=value")
    .action(async (name: string, labels: string[], _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const reply = await s.client.namespaces.create(name, parseLabelArgs(labels));
        s.wrote(name, reply.rv);
        if (s.options.json) printJson(reply.result);
      }),
    );

  ns.command("list")
    .alias("ls")
    .description("list namespaces")
    .option("-q, --quiet", "print only the namespace name")
    .action(async (opts: { quiet?: boolean }, cmd: Command) =>
      withSession(cmd, async (s) => {
        const { result } = await s.client.namespaces.list(s.minRvs());
        if (s.options.json) return printJson(result);
        if (opts.quiet) return void process.stdout.write(result.map((n) => n.name + "\n").join(""));
        process.stdout.write(table(["NAME", "LABELS"], result.map((n) => [n.name, labelsCell(n.labels, "")])));
      }),
    );

  ns.command("label")
    .description("set and clear labels for a namespace (key= removes)")
    .argument("<name>", "namespace name")
    .argument("[labels...]", "labels as key=value")
    .action(async (name: string, labels: string[], _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        const set = parseLabelArgs(labels);
        const reply = await s.client.namespaces.update(name, set, Object.keys(set).map((k) => `labels.${k}`));
        s.wrote(name, reply.rv);
        if (s.options.json) printJson(reply.result);
      }),
    );

  ns.command("remove")
    .alias("rm")
    .description("remove one or more namespaces (they must be empty)")
    .argument("<names...>", "namespace names")
    .action(async (names: string[], _o, cmd: Command) =>
      withSession(cmd, async (s) => {
        let failure: ExitError | undefined;
        for (const name of names) {
          try {
            const reply = await s.client.namespaces.delete(name);
            s.wrote(name, reply.rv);
          } catch (err) {
            // As ctr: a namespace that is already gone is not an error.
            if (!isPurserError(err, "NotFound")) {
              process.stderr.write(logrusError(`unable to delete ${name}`, (err as Error).message));
              failure ??= new ExitError(`unable to delete ${name}: ${(err as Error).message}`);
              continue;
            }
          }
          process.stdout.write(name + "\n");
        }
        if (failure) throw failure;
      }),
    );
}
