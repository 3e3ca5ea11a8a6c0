// Live tests of addon/process_watch.cc: a pidfd in a libuv poll handle that calls back once when
// a process exits. Needs no privilege and no namespace.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { loadProcessWatch } from '../../src/runtime/process-watch';
import { REPO } from '../helpers/paths';

const ProcessWatch = loadProcessWatch();

function sleeper(): ChildProcess {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  assert.ok(child.pid, 'spawned sleep has a pid');
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

test('calls back once when the process exits, in the async context it was created in', async () => {
  const child = sleeper();
  const store = new AsyncLocalStorage<string>();
  const calls: { err: NodeJS.ErrnoException | null; ctx: string | undefined }[] = [];
  const fired = new Promise<void>((resolve) => {
    store.run('watch-ctx', () => {
      const w = new ProcessWatch(child.pid!, (err) => {
        calls.push({ err, ctx: store.getStore() });
        resolve();
      });
      assert.equal(w.pid, child.pid);
    });
  });
  child.kill('SIGKILL');
  await fired;
  await exited(child);
  assert.deepEqual(calls, [{ err: null, ctx: 'watch-ctx' }]);
});

test('close() before the exit: the callback never runs', async () => {
  const child = sleeper();
  let closedFired = false;
  const closed = new ProcessWatch(child.pid!, () => {
    closedFired = true;
  });
  closed.close();
  closed.close(); // idempotent
  // A second watch on the same process tells when the exit has been seen.
  const seen = new Promise<void>((resolve) => new ProcessWatch(child.pid!, () => resolve()));
  child.kill('SIGKILL');
  await seen;
  await exited(child);
  assert.equal(closedFired, false);
});

test('a pid with no process throws ESRCH shaped like a Node system error', async () => {
  // A pid that just became free: a child that ran and was reaped.
  const r = spawnSync('true');
  const pid = r.pid;
  assert.ok(pid > 0 && !fs.existsSync(`/proc/${pid}`), `pid ${pid} should be free`);
  assert.throws(
    () => new ProcessWatch(pid, () => undefined),
    (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ESRCH');
      assert.equal(err.syscall, 'pidfd_open');
      assert.equal(err.errno, -3);
      assert.match(err.message, /^ESRCH: no such process, pidfd_open$/);
      return true;
    },
  );
});

test('bad arguments are a TypeError or RangeError, not a crash', () => {
  assert.throws(
    () => new (ProcessWatch as unknown as new (...a: unknown[]) => unknown)('1', () => undefined),
    TypeError,
  );
  assert.throws(() => new (ProcessWatch as unknown as new (...a: unknown[]) => unknown)(1), TypeError);
  assert.throws(() => new ProcessWatch(0, () => undefined), RangeError);
  assert.throws(() => new ProcessWatch(1.5, () => undefined), RangeError);
});

test('unref(): a watch alone does not keep the process alive', () => {
  // A child Node process watches a process that never exits (its parent, us), unrefs and ends.
  const script =
    `const W = require(${JSON.stringify(join(REPO, 'build', 'Release', 'process_watch.node'))}).ProcessWatch;` +
    `new W(${process.pid}, () => {}).unref();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
});
