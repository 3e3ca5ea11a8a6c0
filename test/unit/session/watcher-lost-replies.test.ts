// The watcher's recovery when an overrun in our own queue drops the reply to one of its own
// dumps: the resync must not wait forever for an NLMSG_DONE that was thrown away. A queue
// overrun needs JavaScript stalled for a whole queue of chunks while a dump replies, which a
// test cannot arrange with the real kernel on purpose; a fake socket that speaks the same
// framing plays the kernel's part (the live overrun tests cover the kernel's own ENOBUFS).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernelSocket, newWatcher } from '../../helpers/fake-kernel-socket';
import { poll } from '../../helpers/exporter';

test('a resync whose dump reply was lost in a queue overrun dumps again and completes', async () => {
  const lines: string[] = [];
  const watcher = newWatcher(lines);
  try {
    await watcher.start();
    const fake = FakeKernelSocket.last as FakeKernelSocket;
    assert.equal(watcher.ready, true);
    const before = fake.dumpRequests;
    // The resync's first dump loses its replies (DONE included); the retry meets the kernel
    // still busy with the abandoned dump once, then goes through.
    fake.loseDumps = 1;
    fake.busyDumps = 1;
    fake.emit('overrun', 'queue', 1);
    await poll(
      'the resync to complete despite the lost dump reply',
      () => (watcher.resyncs >= 1 ? true : `resyncs ${watcher.resyncs}, dump requests ${fake.dumpRequests - before}`),
      {
        timeoutMs: 15_000,
        intervalMs: 20,
      },
    );
    assert.equal(fake.lost, 1);
    assert.ok(
      lines.some((l) => l.includes('a dump reply was lost in an overrun')),
      lines.join('\n'),
    );
    // Every dump kind once, plus the lost one and the refused one again.
    assert.ok(fake.dumpRequests - before >= 6 + 2, `dump requests during the resync: ${fake.dumpRequests - before}`);
    assert.equal(watcher.overruns, 2);
  } finally {
    watcher.close();
  }
});

test('an overrun drops pending barriers instead of keeping them forever', async () => {
  const lines: string[] = [];
  const watcher = newWatcher(lines);
  try {
    await watcher.start();
    const barriers = (watcher as unknown as { barriers: Map<number, () => void> }).barriers;
    let ran = false;
    // A barrier whose ACK the fake never sends (it is lost with the overrun).
    barriers.set(999_999, () => {
      ran = true;
    });
    (FakeKernelSocket.last as FakeKernelSocket).emit('overrun', 'queue', 1);
    await poll('the overrun to be processed', () => (watcher.overruns === 1 ? true : `overruns ${watcher.overruns}`), {
      timeoutMs: 5_000,
      intervalMs: 10,
    });
    assert.equal(barriers.size, 0);
    assert.equal(ran, false, 'a barrier whose ACK was lost must not repair early: the resync does');
  } finally {
    watcher.close();
  }
});

test('a dump that waits for a read is nudged with an NLMSG_NOOP and completes', async () => {
  const lines: string[] = [];
  const watcher = newWatcher(lines);
  try {
    await watcher.start();
    const fake = FakeKernelSocket.last as FakeKernelSocket;
    // The resync's first dump gets no reply until something else is read from the socket.
    fake.stallDumps = 1;
    watcher.requestResync();
    await poll('the stalled resync to complete', () => (watcher.resyncs >= 1 ? true : `resyncs ${watcher.resyncs}`), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    assert.equal(watcher.overruns, 0);
  } finally {
    watcher.close();
  }
});
