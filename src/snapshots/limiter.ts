/**
 * Bounds how many file-system operations a tree walk has in flight: libuv's
 * thread pool (4 threads by default) is shared with everything else the
 * process does, and an unbounded walk of a large tree would queue thousands
 * of operations and open as many descriptors.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  async run<T>(op: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await op();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
