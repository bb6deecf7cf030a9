/**
 * Bounds how many operations of one kind are in flight: the file-system
 * operations of a tree walk (libuv's thread pool of 4 is shared with
 * everything else the process does; an unbounded walk of a large tree would
 * queue thousands and open as many descriptors), the consumers the views
 * create at once (a thousand JetStream API requests at once time out).
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
