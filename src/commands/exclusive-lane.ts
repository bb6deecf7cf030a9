import type { DomainEvent } from "../events/catalog.js";

/**
 * The turns of one namespace's exclusive commands in this process (see
 * `CommandDefinition.exclusive`), and what those commands appended that the
 * views have not applied yet.
 *
 * Exclusive commands expect the namespace's last sequence. Run side by side
 * they would fail each other's expectation; taking turns they do not, and a
 * turn need not wait for the views to apply the turn before it: the next
 * command decides on the views *plus* the events still pending
 * (`CommandContext.pending`) and expects the lane's last append. That holds
 * only while nobody else wrote in between, i.e. while the pending events
 * continue the applied sequence without a gap; otherwise the runner first
 * lets the views catch up (and OCC guards the rest, as always).
 */
export class ExclusiveLane {
  private tail: Promise<void> = Promise.resolve();
  private pending: Array<{ seq: number; event: DomainEvent }> = [];

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
   * The pending events given the views' applied sequence: `{events, last}`
   * when they continue it without a gap (`last` is then the expectation), or
   * `{gapUntil}` when some other writer's event sits among them.
   */
  unapplied(applied: number): { events: DomainEvent[]; last: number } | { gapUntil: number } {
    this.pending = this.pending.filter((p) => p.seq > applied);
    let expected = applied + 1;
    for (const p of this.pending) {
      if (p.seq !== expected) return { gapUntil: this.pending[this.pending.length - 1]!.seq };
      expected++;
    }
    return { events: this.pending.map((p) => p.event), last: expected - 1 };
  }

  /** Remembers what a turn appended, at the sequences it got. */
  record(appended: ReadonlyArray<{ seq: number; event: DomainEvent }>): void {
    this.pending.push(...appended);
  }
}
