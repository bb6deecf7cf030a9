import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GcScheduler, type SchedulerConfig } from "../src/gc/scheduler.js";

/** A manual clock and timer queue: the scheduler's policy, tested without waiting. */
class FakeTime {
  now = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private seq = 0;
  setTimer = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.push({ at: this.now + ms, fn, id });
    return () => (this.timers = this.timers.filter((t) => t.id !== id));
  };
  pending(): number[] {
    return this.timers.map((t) => t.at).sort((a, b) => a - b);
  }
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.now = next.at;
      next.fn();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    this.now = end;
  }
}

function setup(config: Partial<SchedulerConfig>, gcMs = 10, fail = false) {
  const time = new FakeTime();
  const runs: number[] = [];
  const s = new GcScheduler(config, {
    now: () => time.now,
    setTimer: time.setTimer,
    collect: async () => {
      runs.push(time.now);
      if (fail) throw new Error("boom");
      return { elapsedMs: gcMs };
    },
  });
  return { time, runs, s };
}

describe("GC scheduler (containerd's policy, A.11)", () => {
  test("defaults and clamps", () => {
    const { s } = setup({ pauseThreshold: 0.9, mutationThreshold: -3, scheduleDelayMs: -1 });
    assert.deepEqual(s.settings, { pauseThreshold: 0.5, deletionThreshold: 0, mutationThreshold: 0, scheduleDelayMs: 0, startupDelayMs: 100 });
  });

  test("the first collection runs after the startup delay, even with nothing to do", async () => {
    const { time, runs, s } = setup({});
    s.start();
    await time.advance(99);
    assert.deepEqual(runs, []);
    await time.advance(1);
    assert.deepEqual(runs, [100]);
  });

  test("interval = avg/pause_threshold - avg; idle ticks are skipped", async () => {
    const { time, runs, s } = setup({}, 10);
    s.start();
    await time.advance(100);
    assert.equal(s.interval, 10 / 0.02 - 10); // 490 ms
    await time.advance(5000);
    assert.deepEqual(runs, [100]); // nothing happened: every tick skipped
  });

  test("deletion threshold 0: a deletion schedules a run when none is scheduled, after the schedule delay", async () => {
    const { time, runs, s } = setup({ scheduleDelayMs: 50 });
    s.start();
    await time.advance(100);
    await time.advance(10);
    s.mutation(true);
    // The next tick (490 ms after the first run) is already scheduled: the deletion guarantees it runs.
    await time.advance(1000);
    assert.deepEqual(runs, [100, 590]);
  });

  test("deletions below a positive threshold wait; reaching it schedules at once", async () => {
    const { time, runs, s } = setup({ deletionThreshold: 3, scheduleDelayMs: 20 });
    s.start();
    await time.advance(100);
    s.mutation(true);
    s.mutation(true);
    await time.advance(10);
    assert.deepEqual(runs, [100]);
    s.mutation(true);
    await time.advance(20);
    assert.deepEqual(runs, [100, 130]);
  });

  test("mutations below the threshold do not make a scheduled tick run; reaching it does", async () => {
    const { time, runs, s } = setup({ mutationThreshold: 3 });
    s.start();
    await time.advance(100);
    s.mutation(false);
    s.mutation(false);
    await time.advance(490);
    assert.deepEqual(runs, [100]);
    s.mutation(false);
    await time.advance(490);
    assert.deepEqual(runs, [100, 1080]);
  });

  test("a trigger runs after the schedule delay and resolves its waiters", async () => {
    const { time, runs, s } = setup({ scheduleDelayMs: 0, startupDelayMs: 0 }, 7);
    s.start();
    const waited = s.scheduleAndWait();
    await time.advance(0);
    assert.deepEqual(await waited, { elapsedMs: 7 });
    assert.deepEqual(runs, [0]);
  });

  test("an earlier run is never pushed later", async () => {
    const { time, s } = setup({ scheduleDelayMs: 200, startupDelayMs: 0, deletionThreshold: 1 });
    s.start();
    const w = s.scheduleAndWait();
    assert.deepEqual(time.pending(), [200]);
    await time.advance(150);
    s.mutation(true); // would schedule at 350: the run at 200 stays
    assert.deepEqual(time.pending(), [200]);
    await time.advance(50);
    await w;
  });

  test("mutations older than the last collection are ignored", async () => {
    const { time, runs, s } = setup({ deletionThreshold: 1 });
    s.start();
    await time.advance(100);
    s.mutation(true, 50);
    await time.advance(10);
    assert.deepEqual(runs, [100]);
  });

  test("deletions during a collection wait for the interval after it (no runs back to back)", async () => {
    const time = new FakeTime();
    const runs: number[] = [];
    let finish: () => void = () => {};
    const s = new GcScheduler({}, {
      now: () => time.now,
      setTimer: time.setTimer,
      collect: () =>
        new Promise((resolve) => {
          runs.push(time.now);
          finish = () => resolve({ elapsedMs: 10 });
        }),
    });
    s.start();
    await time.advance(100);
    assert.deepEqual(runs, [100]);
    // The run takes 10 ms; deletions arrive meanwhile.
    await time.advance(5);
    s.mutation(true);
    s.mutation(true);
    await time.advance(5);
    finish();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    // interval = 10 / 0.02 - 10 = 490 ms after the run, not at once.
    await time.advance(489);
    assert.deepEqual(runs, [100]);
    await time.advance(1);
    assert.deepEqual(runs, [100, 600]);
  });

  test("a failed collection: waiters get `gc failed`, the interval grows by 1 s", async () => {
    const { time, s } = setup({ startupDelayMs: 0 }, 10, true);
    s.start();
    const before = s.interval;
    const w = s.scheduleAndWait();
    await time.advance(0);
    await assert.rejects(w, { message: "gc failed" });
    assert.equal(s.interval, before + 1000);
  });
});
