import type { DomainEvent } from "../events/catalog.js";

/** An event a lane appended (or sent and awaits the ack of), at the sequence it has or will have. */
export interface LaneEntry {
  seq: number;
  event: DomainEvent;
  /** Its `Nats-Msg-Id`: the next append of the lane expects it as the stream's last. */
  msgId: string;
}

/**
 * The turns of one namespace's exclusive commands in this process (see
 * `CommandDefinition.exclusive`), and what those commands appended that the
 * views have not applied yet.
 *
 * Exclusive commands expect the namespace's last sequence. Run side by side
 * they would fail each other's expectation; taking turns they do not, and a
 * turn waits neither for the views nor for the previous turn's ack: it
 * decides on the views *plus* the lane's pending events
 * (`CommandContext.pending`), and its appends expect the lane's last
 * sequence *and* the lane's last message id (`Nats-Expected-Last-Msg-Id`).
 * They land only if the stream ends exactly with the lane's own events, i.e.
 * exactly in the state the decision saw; if an earlier send fails, every
 * later one fails too and decides again. When another writer's event sits
 * among the pending ones, the runner lets the views catch up first.
 */
export class ExclusiveLane {
  private tail: Promise<void> = Promise.resolve();
  private pending: LaneEntry[] = [];
  /** The namespace's stream is known to exist: a send goes out at once, so sends can overlap. */
  warm = false;

  /** Runs `work` after every earlier turn has finished. */
  async turn<T>(work: () => Promise<T>): Promise<T> {
    const before = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    await before;
    try {
      return await work();
    } finally {
      done();
    }
  }

  /**
   * The pending events given the views' applied sequence: `{events, last,
   * lastMsgId}` when they continue it without a gap (`last` is then the
   * expectation), or `{gapUntil}` when some other writer's event sits among
   * them.
   */
  unapplied(applied: number): { events: DomainEvent[]; last: number; lastMsgId?: string } | { gapUntil: number } {
    this.pending = this.pending.filter((p) => p.seq > applied);
    let expected = applied + 1;
    for (const p of this.pending) {
      if (p.seq !== expected) return { gapUntil: this.pending[this.pending.length - 1]!.seq };
      expected++;
    }
    const last = this.pending[this.pending.length - 1];
    return { events: this.pending.map((p) => p.event), last: expected - 1, ...(last ? { lastMsgId: last.msgId } : {}) };
  }

  /** Remembers what a turn appended or sent, at the sequences it got or will get. */
  record(entries: readonly LaneEntry[]): void {
    this.pending.push(...entries);
  }

  /** Whether `msgId` at `seq` is still the lane's last entry (no send at or before it failed since). */
  endsWith(seq: number, msgId: string): boolean {
    const last = this.pending[this.pending.length - 1];
    return last !== undefined && last.seq === seq && last.msgId === msgId;
  }

  /** A send at `seq` failed: it and everything sent after it will not be in the log. */
  fail(seq: number): void {
    this.pending = this.pending.filter((p) => p.seq < seq);
  }
}
