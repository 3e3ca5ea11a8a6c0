// The bound on scrapes: a few render at once, a few more wait in line, the rest are turned away
// (503) rather than queue without limit behind a slow render.

/** Counts scrapes in flight; the excess waits in a FIFO, and past its bound is turned away. */
export class ScrapeGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly queueBound: number,
  ) {}

  /** Resolves with a release function, or undefined when the queue is full. */
  async enter(): Promise<(() => void) | undefined> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueBound) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }
}
