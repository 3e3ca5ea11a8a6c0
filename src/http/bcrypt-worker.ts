// The thread that runs bcrypt for basic auth (see bcrypt-pool.ts): a check costs tens to hundreds
// of milliseconds of CPU by design, which on the event loop would stall every scrape and the
// netlink path behind it. One message in, one answer out, in order.

import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

export interface BcryptJob {
  id: number;
  password: string;
  hash: string;
}

export interface BcryptAnswer {
  id: number;
  ok: boolean;
}

parentPort?.on('message', (job: BcryptJob) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(job.password, job.hash);
  } catch {
    // A hash bcryptjs cannot read is a failed check, not a dead thread.
  }
  parentPort?.postMessage({ id: job.id, ok } satisfies BcryptAnswer);
});
