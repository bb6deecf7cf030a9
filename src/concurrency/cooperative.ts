/**
 * Long computations written once, run either at once or in slices that give
 * the event loop back (the collector's read and mark over a big host).
 *
 * A computation is a generator that yields (nothing) now and then — every
 * few hundred items — at points where stopping is safe; it holds no lock and
 * sees a consistent input (an LMDB read transaction, or its own data).
 * {@link runToEnd} ignores the yields; {@link runInSlices} resumes it until a
 * slice of `sliceMs` is used up, then waits for the event loop to turn
 * (`setImmediate`: pending I/O and timers run first) before the next slice.
 */
export type Steps<T> = Generator<void, T, void>;

/** How often a computation yields: every `every` items of a loop. */
export const yieldEvery = 256;

export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

export async function runInSlices<T>(steps: Steps<T>, sliceMs = 4): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}
