/**
 * What the service answers for failures that are not its own (a unit test of
 * the one mapping, src/server/command-service.ts `toPurserError`): passing
 * conditions of NATS and JetStream are Unavailable, a full log is
 * ResourceExhausted, never Unknown.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { JetStreamApiError } from "@nats-io/jetstream";
import { toPurserError } from "../src/endpoints/failure.js";

const jsError = (err_code: number, description: string) => new JetStreamApiError({ code: 503, err_code, description });

describe("errors of NATS and JetStream as the service answers them", () => {
  test("a cluster electing its leaders is Unavailable (seen when a node of three was killed)", () => {
    for (const [code, text] of [
      [10008, "JetStream system temporarily unavailable"],
      [10009, "JetStream cluster can not handle request"],
    ] as const) {
      const e = toPurserError(jsError(code, text));
      assert.deepEqual([e.kind, e.message], ["Unavailable", `log unavailable: ${text}: unavailable`]);
    }
  });

  test("anything else unexpected stays Unknown, and says so", () => {
    const e = toPurserError(new Error("boom"));
    assert.deepEqual([e.kind, e.message], ["Unknown", "internal error: boom: unknown"]);
  });
});
