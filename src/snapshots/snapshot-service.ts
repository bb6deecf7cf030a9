import { randomUUID } from "node:crypto";
import type { CommandDefinition, QueryDefinition, Reply } from "../commands/command.js";
import { CommandRunner, type CommandMeta } from "../commands/command-runner.js";
import type { Payload } from "../commands/payload.js";
import { snapshotResources } from "../commands/snapshot-handlers.js";
import type { SnapshotRecord } from "../events/snapshot-events.js";
import type { Logger } from "../observability/logger.js";
import { ProjectionRuntime } from "../projections/runtime.js";
import { requireNamespace } from "../validation/namespace.js";
import type { Mount, Usage } from "../protocol/results.js";
import { defaultSnapshotter } from "../protocol/defaults.js";
import { Snapshotters } from "./snapshotters.js";
import { inject, injectable } from "../di.js";
import { DefinitionEndpoints } from "../endpoints/definition-endpoints.js";
import type { Endpoint } from "../endpoints/endpoint.js";
import { Tokens } from "../tokens.js";

/** Who runs an in-process snapshot command, and under which lease. */
export interface SnapshotCallOptions {
  /** Default `native`. */
  snapshotter?: string;
  /** Record what the command creates in this lease (containerd's context lease). */
  lease?: string;
  /** Idempotency key (default: a fresh one). */
  commandId?: string;
  correlationId?: string;
  actor?: string;
}

export interface SnapshotCreateOptions extends SnapshotCallOptions {
  parent?: string;
  labels?: Record<string, string>;
  /**
   * Prepare only: hard-link the parent's files instead of copying them. For a
   * writer that never writes into an existing file and commits at once (the
   * unpacker's layer applier); see native.ts `ParentCopy`.
   */
  linkParentFiles?: boolean;
}

export interface PreparedSnapshot {
  rv: number;
  mounts: Mount[];
  /** The directory to write into: where an unpacker applies a layer's files. */
  dir: string;
}

/**
 * The snapshot plane of one process: the snapshotters (their roots under the
 * data directory), the commands and queries served over NATS, and an
 * in-process API for server-side callers such as an image unpacker, which
 * runs the very same commands (same rules, events, lease recording and OCC)
 * without a round trip:
 *
 * ```ts
 * const { dir } = await snapshots.prepare(ns, key, { parent, lease, labels });
 * await applyLayer(dir, tarStream);               // write the layer's files
 * await snapshots.commit(ns, chainId, key, { lease, labels });
 * ```
 */
@injectable()
export class SnapshotService {
  private readonly commands: CommandDefinition<any, any>[];
  private readonly queries: QueryDefinition<any, any>[];
  private readonly byVerb = new Map<string, CommandDefinition<any, any> | QueryDefinition<any, any>>();

  constructor(
    @inject(Tokens.Snapshotters) readonly snapshotters: Snapshotters,
    @inject(Tokens.CommandRunner) private readonly runner: CommandRunner,
    @inject(Tokens.ProjectionRuntime) private readonly runtime: ProjectionRuntime,
    @inject(Tokens.Logger) private readonly log: Logger,
    @inject(Tokens.DefinitionEndpoints) private readonly definitions: DefinitionEndpoints,
  ) {
    const { commands, queries } = snapshotResources(this.snapshotters);
    this.commands = commands;
    this.queries = queries;
    for (const def of [...commands, ...queries]) this.byVerb.set(def.verb, def);
  }

  /** `purser.v1.<ns>.snapshots.<verb>` (docs/snapshots.md). */
  endpoints(): Endpoint[] {
    return [...this.commands.map((d) => this.definitions.command(d)), ...this.queries.map((d) => this.definitions.query(d))];
  }

  /** Clears trees a previous run left half-copied (the data directory is this process's alone). */
  async start(): Promise<void> {
    for (const sn of this.snapshotters.all()) {
      await sn.removeStaleTemporaries().catch((err) => this.log.warn("cannot clear snapshot temporaries", { err }));
    }
  }

  /** An active snapshot (optionally on a committed parent), and the directory to write its files into. */
  async prepare(namespace: string, key: string, opts: SnapshotCreateOptions = {}): Promise<PreparedSnapshot> {
    const payload: Payload = { key, parent: opts.parent ?? "", labels: opts.labels ?? {} };
    const reply = await this.command<Mount[]>("prepare", namespace, payload, opts, (params) =>
      opts.linkParentFiles ? { ...(params as object), parentCopy: "link" } : params,
    );
    return { rv: reply.rv, mounts: reply.result, dir: reply.result[0]!.source };
  }

  /** A read-only view (of a committed parent, or empty). */
  async view(namespace: string, key: string, opts: SnapshotCreateOptions = {}): Promise<{ rv: number; mounts: Mount[] }> {
    const reply = await this.command<Mount[]>("view", namespace, { key, parent: opts.parent ?? "", labels: opts.labels ?? {} }, opts);
    return { rv: reply.rv, mounts: reply.result };
  }

  /** Commits an active snapshot under `name` (it then refuses writes); the labels replace the active one's. */
  async commit(
    namespace: string,
    name: string,
    key: string,
    opts: SnapshotCallOptions & { labels?: Record<string, string> } = {},
  ): Promise<Reply<SnapshotRecord>> {
    return this.command<SnapshotRecord>("commit", namespace, { name, key, labels: opts.labels ?? {} }, opts);
  }

  async remove(namespace: string, key: string, opts: SnapshotCallOptions = {}): Promise<Reply<null>> {
    return this.command<null>("remove", namespace, { key }, opts);
  }

  /** The snapshot, from views that have applied at least `minRv`. */
  stat(namespace: string, key: string, opts: { snapshotter?: string; minRv?: number } = {}): Promise<SnapshotRecord> {
    return this.query<SnapshotRecord>("stat", namespace, { key }, opts);
  }

  mounts(namespace: string, key: string, opts: { snapshotter?: string; minRv?: number } = {}): Promise<Mount[]> {
    return this.query<Mount[]>("mounts", namespace, { key }, opts);
  }

  usage(namespace: string, key: string, opts: { snapshotter?: string; minRv?: number } = {}): Promise<Usage> {
    return this.query<Usage>("usage", namespace, { key }, opts);
  }

  /** The directory of an active snapshot (FailedPrecondition for a view or a committed one). */
  async writableDir(namespace: string, key: string, opts: { snapshotter?: string; minRv?: number } = {}): Promise<string> {
    const s = await this.stat(namespace, key, opts);
    return this.snapshotters.get(s.snapshotter).writableDir(s);
  }

  /** Runs the served command of `verb` typed: its payload parsed as a request's, then `adjust`ed by what only in-process callers may ask. */
  private command<R>(
    verb: string,
    namespace: string,
    payload: Payload,
    opts: SnapshotCallOptions,
    adjust: (params: unknown) => unknown = (params) => params,
  ): Promise<Reply<R>> {
    requireNamespace(namespace);
    const def = this.byVerb.get(verb) as CommandDefinition<unknown, R>;
    const commandId = opts.commandId ?? randomUUID();
    const meta: CommandMeta = {
      commandId,
      correlationId: opts.correlationId ?? commandId,
      actor: opts.actor ?? "purser",
      ...(opts.lease ? { lease: opts.lease } : {}),
    };
    const params = adjust(def.parse({ ...payload, snapshotter: opts.snapshotter ?? defaultSnapshotter }, namespace));
    return this.runner.execute(def, namespace, params, meta);
  }

  private async query<R>(verb: string, namespace: string, payload: Payload, opts: { snapshotter?: string; minRv?: number }): Promise<R> {
    requireNamespace(namespace);
    const def = this.byVerb.get(verb) as QueryDefinition<unknown, R>;
    const params = def.parse({ ...payload, snapshotter: opts.snapshotter ?? defaultSnapshotter }, namespace);
    await this.runtime.waitFor(namespace, opts.minRv ?? 0);
    return def.run(this.runtime.views, namespace, params);
  }
}
