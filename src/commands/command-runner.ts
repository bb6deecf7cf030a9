import { randomUUID } from "node:crypto";
import { inject, injectable } from "../di.js";
import { PurserError, unavailable } from "../errors/errdefs.js";
import { Tokens } from "../tokens.js";
import type { EventContext } from "../events/envelope.js";
import { subjectOfEvent } from "../events/event-subject.js";
import { streamName } from "../events/subjects.js";
import { EventStore, WrongExpectedSequenceError, type AppendResult, type Expectation } from "../events/event-store.js";
import type { Logger } from "../observability/logger.js";
import { ProjectionRuntime } from "../projections/runtime.js";
import type { Append, CommandContext, CommandDefinition, CommandHandler, Decision, Reply } from "./command.js";
import { ExclusiveLane, type LaneEntry } from "./exclusive-lane.js";
import type { Payload } from "./payload.js";

/** Who sent a command, and under which ids. */
export interface CommandMeta {
  commandId: string;
  correlationId: string;
  actor: string;
  /** The lease the command runs under (containerd's context lease). */
  lease?: string;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Conflicts a command absorbs before it answers Unavailable. */
const maxAttempts = 25;

/** What one attempt came to. */
type Attempt<R> =
  | { reply: Reply<R> }
  /** A refusal on views that lag the log: catch up to this rv and decide again. */
  | { catchUpTo: number }
  /** Appends on their way; `first` is the sequence of the first (a lane forgets from there if they fail). */
  | { sent: Promise<AppendResult[]>; decision: Decision<R>; first: number };

/**
 * Runs a command: read the views → decide → append with OCC → reply with the rv.
 * On an OCC conflict it waits until the views have applied what it raced with,
 * then decides again (bounded), so a caller never sees a lost update.
 */
@injectable()
export class CommandRunner {
  constructor(
    @inject(Tokens.EventStore) private readonly store: EventStore,
    @inject(Tokens.ProjectionRuntime) private readonly runtime: ProjectionRuntime,
    @inject(Tokens.Clock) private readonly clock: Clock,
    @inject(Tokens.Logger) private readonly log: Logger,
  ) {}

  /** Each namespace's exclusive commands (see {@link ExclusiveLane}). */
  private readonly lanes = new Map<string, ExclusiveLane>();

  /** A request's command: its payload parsed (InvalidArgument before anything is read), then {@link execute}. */
  run<P, R>(def: CommandDefinition<P, R>, namespace: string, payload: Payload, meta: CommandMeta): Promise<Reply<R>> {
    return this.execute(def, namespace, def.parse(payload, namespace), meta);
  }

  /**
   * Runs a command whose parameters are already typed: what in-process
   * callers use (the content service after its disk work, the unpacker, the
   * snapshot API), so nothing travels through a payload map.
   */
  async execute<P, R>(def: CommandHandler<P, R>, namespace: string, params: P, meta: CommandMeta): Promise<Reply<R>> {
    if (!def.exclusive?.(params)) return this.attempts(def, namespace, params, meta);
    let lane = this.lanes.get(namespace);
    if (!lane) this.lanes.set(namespace, (lane = new ExclusiveLane()));
    // Host effects first, outside the turn: a long copy must not hold up the
    // namespace's other exclusive commands. Deciding again in turn finds the
    // effect done (effects are idempotent); a refusal here is met again there.
    if (def.beforeAppend) {
      try {
        const ctx = this.context(namespace, meta, lane);
        const decision = def.decide(ctx, params);
        if (decision.appends.length > 0) await def.beforeAppend(ctx, params, decision);
      } catch {
        // Decided again, and answered, in turn.
      }
    }
    // Commands whose appends expect the namespace's last sequence would only
    // fail each other's expectation if they ran side by side (each conflict a
    // wasted append and a retry): in this process they take turns per
    // namespace. Other processes and other commands still race them; OCC
    // stays the guard.
    return this.attempts(def, namespace, params, meta, lane);
  }

  /**
   * What a decision reads. In an exclusive lane whose pending appends
   * continue the views without a gap, those appends come along
   * (`ctx.pending`) and the expectation is the lane's last append.
   */
  private context(namespace: string, meta: CommandMeta, lane?: ExclusiveLane): CommandContext {
    const views = this.runtime.views;
    const applied = this.runtime.applied(namespace);
    const ctx: CommandContext = { namespace, views, now: this.clock.now().toISOString(), appliedRv: applied, lease: meta.lease };
    const pending = lane?.unapplied(applied);
    if (pending && "events" in pending && pending.events.length > 0) {
      ctx.appliedRv = pending.last;
      ctx.pending = pending.events;
      if (pending.lastMsgId !== undefined) this.chainBase.set(ctx, pending.lastMsgId);
    }
    return ctx;
  }

  /** The message id a lane decision's first append must follow (the lane's last entry when it decided). */
  private readonly chainBase = new WeakMap<CommandContext, string>();

  /**
   * The attempt loop, the same for every command: decide (in the lane's turn
   * for an exclusive command), send, await the acks (outside the turn, so the
   * next turn decides while this one's append is on the wire), and on an OCC
   * conflict wait for the views to apply what it raced with and decide again.
   */
  private async attempts<P, R>(def: CommandHandler<P, R>, namespace: string, params: P, meta: CommandMeta, lane?: ExclusiveLane): Promise<Reply<R>> {
    const subject = def.subject(namespace, params);
    for (let attempt = 1; ; attempt++) {
      const decideOnce = () => this.attempt(def, namespace, params, meta, subject, attempt, lane);
      const step = lane ? await lane.turn(decideOnce) : await decideOnce();
      if ("reply" in step) return step.reply;
      if ("catchUpTo" in step) {
        await this.runtime.waitFor(namespace, step.catchUpTo);
        continue;
      }
      try {
        const acks = await step.sent;
        const last = acks[acks.length - 1]!;
        if (last.duplicate) {
          // The same command id raced its first run, which appended first: answer as that one did.
          lane?.fail(step.first);
          await this.runtime.waitFor(namespace, last.seq);
          return { rv: last.seq, result: def.replay(this.context(namespace, meta), params) };
        }
        if (step.decision.error) throw step.decision.error;
        return { rv: last.seq, result: step.decision.result };
      } catch (err) {
        lane?.fail(step.first);
        if (!(err instanceof WrongExpectedSequenceError)) throw err;
        if (attempt >= maxAttempts) {
          throw unavailable(`${def.resource} ${def.verb}: gave up after ${attempt} concurrent-write conflicts`);
        }
        this.log.debug("occ conflict, deciding again", { subject: err.subject, actual: err.actual, attempt, lane: lane !== undefined });
        const target = err.actual > 0 ? err.actual : await this.store.lastSequence(namespace);
        await this.runtime.waitFor(namespace, target);
      }
    }
  }

  /**
   * One attempt: the reply of an already-applied command id, a refusal to
   * check against the log, or the decided appends on their way.
   */
  private async attempt<P, R>(
    def: CommandHandler<P, R>,
    namespace: string,
    params: P,
    meta: CommandMeta,
    subject: string,
    attempt: number,
    lane: ExclusiveLane | undefined,
  ): Promise<Attempt<R>> {
    if (lane) {
      // Another writer's event among the lane's pending ones: let the views catch up first.
      const gap = lane.unapplied(this.runtime.applied(namespace));
      if ("gapUntil" in gap) await this.runtime.waitFor(namespace, gap.gapUntil);
    }
    const ctx = this.context(namespace, meta, lane);
    const head = ctx.views.heads.get(subject);
    if (head && head.causationId === meta.commandId) return { reply: { rv: head.seq, result: def.replay(ctx, params) } };
    let decision: Decision<R>;
    try {
      decision = def.decide(ctx, params);
    } catch (err) {
      return { catchUpTo: await this.staleRefusal(namespace, ctx, err, attempt) };
    }
    if (decision.appends.length === 0) {
      // Nothing to append rests on the views as a refusal does (deleting what a
      // lagging view does not have yet): decide again once they hold the whole log.
      const last = attempt < maxAttempts ? await this.store.lastSequence(namespace) : ctx.appliedRv;
      if (last > ctx.appliedRv) return { catchUpTo: last };
      if (decision.error) throw decision.error;
      return { reply: { rv: ctx.appliedRv, result: decision.result } };
    }
    if (def.beforeAppend) await def.beforeAppend(ctx, params, decision);
    const chained = lane !== undefined && decision.appends.every((a) => "lastSequence" in a.expect);
    if (lane?.warm && chained) return { ...this.sendChained(namespace, decision.appends, meta, lane, ctx), decision };
    // An ordinary command, the namespace's first exclusive append (its stream
    // may not exist yet), or an exclusive decision guarded per object: append
    // and await the acks here (in turn, for a lane).
    try {
      const { seqs, msgIds, duplicate } = await this.appendAll(namespace, decision.appends, meta, ctx.appliedRv);
      if (lane) {
        lane.warm = true;
        if (!duplicate && chained) lane.record(decision.appends.map((a, i) => ({ seq: seqs[i]!, event: a.event, msgId: msgIds[i]! })));
      }
      return { sent: Promise.resolve(seqs.map((seq, i) => ({ seq, duplicate: duplicate && i === seqs.length - 1 }))), decision, first: seqs[0]! };
    } catch (err) {
      if (!(err instanceof WrongExpectedSequenceError)) throw err;
      // Nothing of it is in the log, so nothing of a lane's is to be forgotten (first: none).
      return { sent: Promise.reject(err), decision, first: Number.MAX_SAFE_INTEGER };
    }
  }

  /**
   * Sends a decision's appends without waiting for their acks, each expecting
   * the sequence and message id of the append before it (the lane's last for
   * the first), and records them in the lane at the sequences they will get.
   * The sends leave in order: `EventStore.append` publishes synchronously
   * once the stream is known.
   */
  private sendChained(
    namespace: string,
    appends: readonly Append[],
    meta: CommandMeta,
    lane: ExclusiveLane,
    ctx: CommandContext,
  ): { sent: Promise<AppendResult[]>; first: number } {
    // Chain on exactly what the decision saw. If that append failed meanwhile
    // (the turn awaited a host effect), this one would fail too: decide again.
    let seq = ctx.appliedRv;
    let lastMsgId = this.chainBase.get(ctx);
    if (lastMsgId !== undefined && !lane.endsWith(seq, lastMsgId)) {
      const subject = subjectOfEvent(namespace, appends[0]!.event);
      // Nothing was sent, so nothing of the lane's is to be forgotten (first: none).
      return { sent: Promise.reject(new WrongExpectedSequenceError(streamName(namespace), subject, appends[0]!.expect, -1)), first: Number.MAX_SAFE_INTEGER };
    }
    const first = seq + 1;
    const entries: LaneEntry[] = [];
    const acks: Array<Promise<AppendResult>> = [];
    appends.forEach(({ event }, i) => {
      const subject = subjectOfEvent(namespace, event);
      const msgId = i === appends.length - 1 ? meta.commandId : `${meta.commandId}:${event.type}:${subject}`;
      const expect: Expectation = { lastSequence: seq, ...(lastMsgId ? { lastMsgId } : {}) };
      const context: EventContext = { eventId: randomUUID(), correlationId: meta.correlationId, causationId: meta.commandId, actor: meta.actor };
      acks.push(this.store.append(namespace, { event, subject, expect, msgId, logRv: ctx.appliedRv }, context));
      seq += 1;
      lastMsgId = msgId;
      entries.push({ seq, event, msgId });
    });
    lane.record(entries);
    return { sent: Promise.all(acks), first };
  }

  /**
   * A refusal may rest on views that lag the log (the caller's own write a
   * moment ago, or another client's). Refuse only what the current log
   * refuses: rethrows the refusal when the views had applied the whole log
   * when deciding, else answers the rv to catch up to before deciding again.
   * Accepted decisions need no such check: their OCC expectation guards them.
   */
  private async staleRefusal(namespace: string, ctx: CommandContext, err: unknown, attempt: number): Promise<number> {
    if (!(err instanceof PurserError) || attempt >= maxAttempts) throw err;
    const last = await this.store.lastSequence(namespace);
    if (last <= ctx.appliedRv) throw err;
    return last;
  }

  /** The namespace's last rv in the log (0 when it has none). */
  lastRv(namespace: string): Promise<number> {
    return this.store.lastSequence(namespace);
  }

  /** Every namespace that has a log (a stream), live or deleted. */
  namespacesWithLog(): Promise<string[]> {
    return this.store.listNamespaces();
  }

  /**
   * Appends the decided events in order. The last one is the command's own
   * event and carries the command id as `Nats-Msg-Id`; earlier ones (an
   * implicit namespace creation, what a namespace delete drops) get derived ids,
   * so a retry that no longer needs them cannot be mistaken for a duplicate.
   */
  private async appendAll(
    namespace: string,
    appends: readonly Append[],
    meta: CommandMeta,
    logRv: number,
  ): Promise<{ seqs: number[]; msgIds: string[]; duplicate: boolean }> {
    const seqs: number[] = [];
    const msgIds: string[] = [];
    let duplicate = false;
    let previous: number | undefined;
    const appendedTo = new Map<string, number>();
    for (let i = 0; i < appends.length; i++) {
      const { event } = appends[i]!;
      let expect: Expectation = appends[i]!.expect;
      const subject = subjectOfEvent(namespace, event);
      // A chain of namespace-wide expectations: each follows the one before it.
      if (previous !== undefined && "lastSequence" in expect) expect = { lastSequence: previous };
      // Two appends to one subject (a lease gaining one resource and losing
      // another): the second follows the first.
      const mine = appendedTo.get(subject);
      if (mine !== undefined && "lastSubjectSequence" in expect) expect = { lastSubjectSequence: mine };
      const primary = i === appends.length - 1;
      const context: EventContext = {
        eventId: randomUUID(),
        correlationId: meta.correlationId,
        causationId: meta.commandId,
        actor: meta.actor,
      };
      const msgId = primary ? meta.commandId : `${meta.commandId}:${event.type}:${subject}`;
      const result = await this.store.append(namespace, { event, subject, expect, msgId, logRv }, context);
      msgIds.push(msgId);
      previous = result.seq;
      appendedTo.set(subject, result.seq);
      seqs.push(result.seq);
      // JetStream recognised the command id: its first run's event is in the log.
      if (primary && result.duplicate) duplicate = true;
    }
    return { seqs, msgIds, duplicate };
  }
}
