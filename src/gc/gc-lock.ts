import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

/** The KV bucket and key of the sweep lock (docs/gc.md). */
export const gcLockBucket = "purser_gc";
export const gcLockKey = "sweep";

/** What the lock's value says: who holds it and until when (ms since the epoch). */
export interface LockValue {
  holder: string;
  until: number;
}

/** A held lock: renew it while sweeping, release it after. */
export interface HeldLock {
  readonly holder: string;
  /** False once a renewal found the lock taken over (the holder's lease ran out). */
  readonly held: boolean;
  release(): Promise<void>;
}

/**
 * Only one process sweeps at a time: a key in a NATS KV bucket taken with
 * compare-and-set — `create` when the key is absent (or deleted), `update`
 * against the revision read when the holder's lease time has passed — and
 * renewed with `update` against the holder's own last revision while it
 * sweeps. Correctness never rests on it: every delete is an OCC append; the
 * lock only keeps processes from wasting sweeps on each other's conflicts.
 */
export class GcLock {
  private kv?: Promise<KV>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly holder: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly replicas = 1,
  ) {}

  private bucket(): Promise<KV> {
    this.kv ??= new Kvm(this.nc).create(gcLockBucket, { history: 1, replicas: this.replicas }).catch((err) => {
      this.kv = undefined;
      throw err;
    });
    return this.kv;
  }

  /** One attempt: the lock, or undefined when another holder's lease is still running. */
  async tryAcquire(): Promise<HeldLock | undefined> {
    const kv = await this.bucket();
    const value = (): Uint8Array => encodeValue({ holder: this.holder, until: this.now() + this.ttlMs });
    let revision: number;
    try {
      revision = await kv.create(gcLockKey, value());
    } catch {
      const entry = await kv.get(gcLockKey);
      if (!entry) return undefined; // purged between the two calls: the next attempt creates it
      if (entry.operation === "PUT") {
        const current = decodeValue(entry.value);
        if (current && current.until > this.now()) return undefined;
      }
      try {
        // Expired (or released): take it over, unless someone else did first.
        revision = await kv.update(gcLockKey, value(), entry.revision);
      } catch {
        return undefined;
      }
    }
    return this.held(kv, revision);
  }

  /** Waits (polling) until the lock is taken or `timeoutMs` passed. */
  async acquire(timeoutMs: number, pollMs = 25): Promise<HeldLock | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lock = await this.tryAcquire();
      if (lock || Date.now() >= deadline) return lock;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Who holds the lock now, if anyone (for reports). */
  async current(): Promise<LockValue | undefined> {
    const entry = await (await this.bucket()).get(gcLockKey);
    if (!entry || entry.operation !== "PUT") return undefined;
    const v = decodeValue(entry.value);
    return v && v.until > this.now() ? v : undefined;
  }

  private held(kv: KV, firstRevision: number): HeldLock {
    let revision = firstRevision;
    let held = true;
    let renewing: Promise<void> = Promise.resolve();
    // Renew at a third of the lease, so two missed renewals still leave it held.
    const timer = setInterval(() => {
      renewing = (async () => {
        try {
          revision = await kv.update(gcLockKey, encodeValue({ holder: this.holder, until: this.now() + this.ttlMs }), revision);
        } catch {
          held = false;
          clearInterval(timer);
        }
      })();
    }, Math.max(10, Math.floor(this.ttlMs / 3)));
    timer.unref();
    return {
      holder: this.holder,
      get held() {
        return held;
      },
      release: async () => {
        clearInterval(timer);
        await renewing;
        if (!held) return;
        held = false;
        await kv.delete(gcLockKey, { previousSeq: revision }).catch(() => {});
      },
    };
  }
}

function encodeValue(v: LockValue): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(v));
}

function decodeValue(bytes: Uint8Array): LockValue | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as LockValue;
    return typeof v.holder === "string" && typeof v.until === "number" ? v : undefined;
  } catch {
    return undefined;
  }
}
