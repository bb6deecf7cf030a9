import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { gcOptionsOf } from "../src/cli/serve.js";
import { defaultGcOptions } from "../src/gc/gc-service.js";

/** `purser serve --gc-…`: containerd's scheduler keys and defaults (A.11). */
describe("purser serve --gc-* flags", () => {
  const defaults = { gcPauseThreshold: "0.02", gcDeletionThreshold: "0", gcMutationThreshold: "100", gcScheduleDelay: "0ms", gcStartupDelay: "100ms" };

  test("the defaults are containerd's", () => {
    assert.deepEqual(gcOptionsOf(defaults), { pauseThreshold: 0.02, deletionThreshold: 0, mutationThreshold: 100, scheduleDelayMs: 0, startupDelayMs: 100, automatic: true });
    const { pauseThreshold, deletionThreshold, mutationThreshold, scheduleDelayMs, startupDelayMs, automatic } = defaultGcOptions;
    assert.deepEqual({ pauseThreshold, deletionThreshold, mutationThreshold, scheduleDelayMs, startupDelayMs, automatic }, gcOptionsOf(defaults));
  });

  test("durations are Go's; --gc-manual turns the schedule off", () => {
    assert.deepEqual(gcOptionsOf({ ...defaults, gcScheduleDelay: "1.5s", gcStartupDelay: "1m", gcManual: true }), {
      pauseThreshold: 0.02,
      deletionThreshold: 0,
      mutationThreshold: 100,
      scheduleDelayMs: 1500,
      startupDelayMs: 60_000,
      automatic: false,
    });
  });

  test("bad values are refused with the flag's name", () => {
    assert.throws(() => gcOptionsOf({ ...defaults, gcPauseThreshold: "two percent" }), { message: 'invalid --gc-pause-threshold "two percent": not a number' });
    assert.throws(() => gcOptionsOf({ ...defaults, gcScheduleDelay: "soon" }), { message: 'invalid --gc-schedule-delay "soon": time: invalid duration "soon"' });
  });
});
