import type { CommandDefinition, QueryDefinition } from "../commands/command.js";
import { CommandRunner } from "../commands/command-runner.js";
import { inject, injectable } from "../di.js";
import { invalidArgument } from "../errors/errdefs.js";
import { ProjectionRuntime } from "../projections/runtime.js";
import { AsOfViews, parseAsOf } from "../projections/time-travel.js";
import { Tokens } from "../tokens.js";
import { EndpointKind, EndpointScope, type Endpoint, type EndpointReply, type RequestContext } from "./endpoint.js";
import type { Payload } from "../commands/payload.js";

export interface ServiceOptions {
  /** How long a query waits for the views to reach its minimum rv. */
  minRvTimeoutMs: number;
  /** Reply subjects the service answers on: those under these prefixes only (server/reply-guard.ts). */
  replyPrefixes: readonly string[];
}

/**
 * The endpoints of the resources' command and query definitions: a command
 * runs through the runner; a query waits for its minimum rv, then reads the
 * views (or, with `Purser-As-Of`, the views as they were then).
 */
@injectable()
export class DefinitionEndpoints {
  constructor(
    @inject(Tokens.CommandRunner) private readonly runner: CommandRunner,
    @inject(Tokens.ProjectionRuntime) private readonly runtime: ProjectionRuntime,
    @inject(Tokens.AsOfViews) private readonly asOfViews: AsOfViews,
    @inject(Tokens.ServiceOptions) private readonly options: ServiceOptions,
  ) {}

  command(def: CommandDefinition<any, any>): Endpoint {
    return {
      resource: def.resource,
      verb: def.verb,
      scope: EndpointScope.Namespace,
      kind: EndpointKind.Command,
      checksOwnNamespace: def.resource === "namespaces",
      run: (ctx, payload) => this.runner.run(def, ctx.namespace, payload, ctx.meta),
    };
  }

  query(def: QueryDefinition<any, any>): Endpoint {
    return {
      resource: def.resource,
      verb: def.verb,
      scope: def.global ? EndpointScope.Global : EndpointScope.Namespace,
      kind: EndpointKind.Query,
      checksOwnNamespace: def.resource === "namespaces",
      run: (ctx, payload) => this.runQuery(def, ctx, payload),
    };
  }

  private async runQuery(def: QueryDefinition<unknown, unknown>, ctx: RequestContext, payload: Payload): Promise<EndpointReply> {
    const namespace = ctx.namespace;
    if (def.global) {
      for (const [ns, rv] of ctx.minRvs) await this.reachMinRv(ns, rv);
    } else {
      await this.reachMinRv(namespace, ctx.minRv);
    }
    const params = def.parse(payload, namespace);
    if (ctx.asOf !== "") {
      const asOf = parseAsOf(ctx.asOf);
      if (def.global && asOf.rv !== undefined) {
        throw invalidArgument("an rv is a position in one namespace's log: give a global query a time to travel to");
      }
      const namespaces = def.global ? await this.runner.namespacesWithLog() : [namespace];
      const { views, rvs } = await this.asOfViews.get(namespaces, asOf);
      return { rv: def.global ? 0 : (rvs[namespace] ?? 0), result: await def.run(views, namespace, params) };
    }
    return { rv: def.global ? 0 : this.runtime.applied(namespace), result: await def.run(this.runtime.views, namespace, params) };
  }

  /** Waits until the views have applied `rv`; one the log has not reached is refused at once (ProjectionRuntime.reachMinRv). */
  private reachMinRv(namespace: string, rv: number): Promise<void> {
    return this.runtime.reachMinRv(namespace, rv, this.options.minRvTimeoutMs);
  }
}
