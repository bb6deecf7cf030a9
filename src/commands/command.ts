import type { PurserError } from "../errors/errdefs.js";
import type { DomainEvent } from "../events/catalog.js";
import type { Expectation } from "../events/event-store.js";
import type { ViewStore } from "../projections/view-store.js";
import type { Payload } from "./payload.js";

/** What a command handler may read while deciding: the views, never the log. */
export interface CommandContext {
  namespace: string;
  views: ViewStore;
  /** The service clock's reading for this attempt (RFC 3339). */
  now: string;
  /** The namespace stream's sequence the views have applied: the namespace-wide OCC expectation. */
  appliedRv: number;
  /** The lease the command runs under, if any (request header `Purser-Lease`). */
  lease?: string;
  /**
   * Exclusive commands only: events this process appended for the
   * namespace's exclusive commands that `views` have not applied yet, in log
   * order. A decision must read through them (they are the namespace's state
   * as of `appliedRv`, which is then the last of them).
   */
  pending?: readonly DomainEvent[];
}

/** One event to append, with the expectation it was decided under. */
export interface Append {
  event: DomainEvent;
  expect: Expectation;
}

export interface Decision<R> {
  appends: Append[];
  /** What the reply carries (the resulting record, usually). */
  result: R;
  /**
   * Append, then refuse with this error: containerd has a few refusals that
   * still change state (a prepare whose target snapshot exists adds the
   * target to the context lease, then answers AlreadyExists).
   */
  error?: PurserError;
}

/**
 * A command on typed parameters: decide from the views, append. `decide` is
 * the only place a resource's rules run; it throws a PurserError to refuse.
 * In-process callers run it as it is (`CommandRunner.execute`).
 */
export interface CommandHandler<P, R> {
  readonly resource: string;
  readonly verb: string;
  /**
   * The subject of the object the command changes. When its last event came
   * from the same command id, the command was already applied: the reply is
   * replayed instead of deciding again.
   */
  subject(namespace: string, params: P): string;
  decide(ctx: CommandContext, params: P): Decision<R>;
  /**
   * Host side effects the decided events depend on (a snapshot's directory
   * must exist before its `SnapshotPrepared` is in the log). Runs after
   * decide and before the append, again on every OCC retry, so it must be
   * idempotent; a failure refuses the command and nothing is appended.
   */
  beforeAppend?(ctx: CommandContext, params: P, decision: Decision<R>): Promise<void>;
  /**
   * True when the command's appends expect the namespace's last sequence:
   * such commands of one namespace then take turns in this process instead
   * of failing each other's expectation, without waiting for the views
   * between turns. Their decide must then read through `ctx.pending`
   * (see ExclusiveLane).
   */
  exclusive?(params: P): boolean;
  /** The reply of an already-applied command (see {@link subject}). */
  replay(ctx: CommandContext, params: P): R;
}

/** A command a request can carry: a handler plus the parsing of its payload. */
export interface CommandDefinition<P, R> extends CommandHandler<P, R> {
  /** Payload shape checks (InvalidArgument); runs once, before any read. */
  parse(payload: Payload, namespace: string): P;
}

/** A query: parse, then read the views (after they reach the caller's minimum rv). */
export interface QueryDefinition<P, R> {
  readonly resource: string;
  readonly verb: string;
  /** Global queries live on `purser.v1._global.…` and take no namespace. */
  readonly global?: boolean;
  parse(payload: Payload, namespace: string): P;
  /** May be async when the answer needs the host (a snapshot's disk usage). */
  run(views: ViewStore, namespace: string, params: P): R | Promise<R>;
}

export type { Reply } from "../protocol/results.js";
