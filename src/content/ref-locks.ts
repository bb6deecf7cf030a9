import { unavailable } from "../errors/errdefs.js";

/**
 * One writer per ingest ref (containerd `content/local/locks.go`): the first
 * writing session holds the ref; another gets Unavailable with containerd's
 * text, `ref <ref> locked for <duration> (since <time>): unavailable`.
 *
 * containerd holds the lock for as long as the gRPC write stream lives. Here a
 * writer is a series of requests, so the lock is a lease: each request of the
 * holding session renews it, and a lock not renewed for `timeoutMs` (a client
 * that vanished) is free for the next session. The holder's requests take a
 * free lock back, so a writer can carry on after a server restart.
 */
export interface RefLock {
  session: string;
  since: number;
  renewedAt: number;
}

export class RefLocks {
  private readonly locks = new Map<string, RefLock>();

  constructor(private readonly timeoutMs: number) {}

  /**
   * Takes or renews the lock of `key` for `session` at time `now` (ms), or
   * throws Unavailable while another session holds it.
   */
  acquire(key: string, ref: string, session: string, now: number): void {
    const held = this.locks.get(key);
    if (held && held.session !== session && now - held.renewedAt < this.timeoutMs) {
      throw unavailable(`ref ${ref} locked for ${goDuration(now - held.since)} (since ${goTime(held.since)})`);
    }
    if (held && held.session === session) held.renewedAt = now;
    else this.locks.set(key, { session, since: now, renewedAt: now });
  }

  /** Releases the lock if `session` holds it (any holder when `session` is undefined). */
  release(key: string, session?: string): void {
    const held = this.locks.get(key);
    if (held && (session === undefined || held.session === session)) this.locks.delete(key);
  }

  holder(key: string, now: number): RefLock | undefined {
    const held = this.locks.get(key);
    return held && now - held.renewedAt < this.timeoutMs ? held : undefined;
  }
}

/** Go's `time.Duration.String()` for a duration in milliseconds (`1.5s`, `2m3.004s`, `250ms`, `0s`). */
export function goDuration(ms: number): string {
  if (ms <= 0) return "0s";
  if (ms < 1000) return `${trimFraction(ms.toFixed(3))}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = trimFraction(((ms % 60_000) / 1000).toFixed(3));
  return `${h > 0 ? `${h}h` : ""}${h > 0 || m > 0 ? `${m}m` : ""}${s}s`;
}

/** Go's `time.Time.String()` in UTC, without the monotonic reading: `2006-01-02 15:04:05.999 +0000 UTC`. */
export function goTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2006-01-02T15:04:05.999Z
  const [date, rest] = iso.split("T") as [string, string];
  const [clock, frac] = rest.slice(0, -1).split(".") as [string, string];
  const fraction = frac.replace(/0+$/, "");
  return `${date} ${clock}${fraction ? `.${fraction}` : ""} +0000 UTC`;
}

function trimFraction(fixed: string): string {
  return fixed.includes(".") ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
}
