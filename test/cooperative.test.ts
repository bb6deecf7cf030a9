/** The cooperative runner (concurrency/cooperative.ts): the same result either way, and the event loop turns between slices. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runInSlices, runToEnd, type Steps } from "../src/concurrency/cooperative.js";

/** Busy work for about `ms`, yielding every 0.1 ms or so; returns how many yields it made. */
function* busy(ms: number): Steps<number> {
  const end = performance.now() + ms;
  let yields = 0;
  while (performance.now() < end) {
    const spin = performance.now() + 0.1;
    while (performance.now() < spin);
    yields++;
    yield;
  }
  return yields;
}

describe("cooperative steps", () => {
  test("runToEnd and runInSlices give the same result", async () => {
    function* sum(n: number): Steps<number> {
      let s = 0;
      for (let i = 1; i <= n; i++) {
        s += i;
        if (i % 10 === 0) yield;
      }
      return s;
    }
    assert.equal(runToEnd(sum(1000)), 500500);
    assert.equal(await runInSlices(sum(1000)), 500500);
  });

  test("between slices the event loop runs what waits: a 60 ms computation lets a timer and an immediate in", async () => {
    const seen: string[] = [];
    setImmediate(() => seen.push("immediate"));
    setTimeout(() => seen.push("timer"), 5);
    const done = runInSlices(busy(60), 4).then(() => seen.push("done"));
    await done;
    assert.deepEqual(seen, ["immediate", "timer", "done"]);
  });

  test("run to the end, nothing else runs until it is done", async () => {
    const seen: string[] = [];
    setImmediate(() => seen.push("immediate"));
    runToEnd(busy(20));
    seen.push("done");
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, ["done", "immediate"]);
  });
});
