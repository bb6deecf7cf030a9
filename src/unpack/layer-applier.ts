import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { DiffIdMismatchError, type LayerJob, type LayerResult } from "./apply-layer.js";
import type { WorkerReply, WorkerRequest } from "./apply-worker.js";

/**
 * Applies layers on worker threads (apply-worker.ts), so that extracting a
 * large layer, whose file-system calls are synchronous, never stalls the
 * server's commands and queries. A few workers at most (one per core, two
 * at most: extraction is bound by the disk and by the decompressor), started
 * when first needed and kept; jobs go to the worker with the fewest pending.
 * Workers do not keep the process alive.
 */
export class LayerApplier {
  private readonly workers: Array<{ worker: Worker; pending: Map<number, Pending> }> = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly size = Math.max(1, Math.min(2, availableParallelism()))) {}

  apply(job: LayerJob): Promise<LayerResult> {
    if (this.closed) return Promise.reject(new Error("layer applier is closed"));
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise<LayerResult>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage({ id, job } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = this.workers.splice(0);
    await Promise.all(all.map((w) => w.worker.terminate()));
  }

  private pick() {
    if (this.workers.length < this.size && this.workers.every((w) => w.pending.size > 0)) return this.start();
    return this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  private start() {
    const worker = new Worker(new URL("./apply-worker.js", import.meta.url));
    const slot = { worker, pending: new Map<number, Pending>() };
    worker.unref();
    worker.on("message", (reply: WorkerReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if ("result" in reply) p.resolve(reply.result);
      else if (reply.error.diffId) p.reject(new DiffIdMismatchError(reply.error.diffId.expected, reply.error.diffId.actual));
      else p.reject(Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {}));
    });
    const fail = (err: Error) => {
      const i = this.workers.indexOf(slot);
      if (i >= 0) this.workers.splice(i, 1);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`layer worker exited with code ${code}`)));
    this.workers.push(slot);
    return slot;
  }
}

interface Pending {
  resolve(r: LayerResult): void;
  reject(e: Error): void;
}
