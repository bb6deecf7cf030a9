import { parentPort } from "node:worker_threads";
import { applyLayer, DiffIdMismatchError, type LayerJob } from "./apply-layer.js";

/**
 * The worker thread that applies layers (layer-applier.ts starts it): its
 * synchronous file-system calls never hold up the server's event loop.
 * Jobs arrive as `{id, job}`; each answers `{id, result}` or `{id, error}`.
 */
export interface WorkerRequest {
  id: number;
  job: LayerJob;
}

export type WorkerReply =
  | { id: number; result: Awaited<ReturnType<typeof applyLayer>> }
  | { id: number; error: { message: string; code?: string; diffId?: { expected: string; actual: string } } };

const port = parentPort;
if (!port) throw new Error("apply-worker.js runs as a worker thread");

port.on("message", (req: WorkerRequest) => {
  applyLayer(req.job).then(
    (result) => port.postMessage({ id: req.id, result } satisfies WorkerReply),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      const diffId = e instanceof DiffIdMismatchError ? { expected: e.expected, actual: e.actual } : undefined;
      const code = (e as NodeJS.ErrnoException).code;
      port.postMessage({ id: req.id, error: { message: e.message, ...(code ? { code } : {}), ...(diffId ? { diffId } : {}) } } satisfies WorkerReply);
    },
  );
});
