// bcrypt off the event loop, with a bound. One worker thread runs the checks one after another
// (as exporter-toolkit runs them under one mutex), so a flood of wrong passwords costs at most one
// core, never the event loop; at most `maxPending` checks wait, and past that a check is refused
// at once instead of queued (the caller answers 429), so the queue and its memory stay bounded.

import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PasswordChecker } from './basic-auth';
import type { BcryptAnswer, BcryptJob } from './bcrypt-worker';

export class BcryptPool implements PasswordChecker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (ok: boolean) => void>();

  constructor(
    private readonly maxPending: number,
    private readonly onWorkerError: (err: Error) => void = () => undefined,
  ) {}

  /** Checks waiting or running now. */
  get depth(): number {
    return this.pending.size;
  }

  /** Resolves with the result of bcrypt.compare; undefined at once when the queue is full. */
  compare(password: string, hash: string): Promise<boolean> | undefined {
    if (this.pending.size >= this.maxPending) return undefined;
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<boolean>((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, password, hash } satisfies BcryptJob);
    });
  }

  /** Stops the thread; checks still waiting fail (the server is closing). */
  close(): void {
    const worker = this.worker;
    this.worker = undefined;
    this.failPending();
    void worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(join(__dirname, 'bcrypt-worker.js'));
    // The thread must not keep a stopping exporter alive.
    worker.unref();
    worker.on('message', (answer: BcryptAnswer) => {
      const resolve = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      resolve?.(answer.ok);
    });
    // A thread that dies fails the checks it held (refused, never let in) and is started afresh
    // by the next check.
    const gone = (err: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failPending();
      this.onWorkerError(err);
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`bcrypt worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private failPending(): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const resolve of waiting) resolve(false);
  }
}
