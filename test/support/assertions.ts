import assert from "node:assert/strict";
import type { PurserClient } from "../../src/client/purser-client.js";
import { readEvents } from "../../src/client/event-log.js";
import { PurserError } from "../../src/errors/errdefs.js";
import type { StoredEvent } from "../../src/events/envelope.js";

/** The promise fails with a PurserError of this containerd class and exactly this text (or matching it). */
export async function rejects(p: Promise<unknown>, kind: string, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof PurserError, `expected PurserError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

/** Every event the namespace's log holds now, read straight from JetStream. */
export async function eventsOf(client: PurserClient, namespace: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  await readEvents(client.nc, { namespaces: [namespace], follow: false }, (e) => out.push(e));
  return out;
}

/**
 * Waits until `condition` holds, checking every 20 ms; fails naming `what`
 * after `timeoutMs` (generous: a busy machine is slow, not wrong).
 */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`still not ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
