// The watcher's recovery when an overrun in our own queue drops the reply to one of its own
// dumps: the resync must not wait forever for an NLMSG_DONE that was thrown away. A queue
// overrun needs JavaScript stalled for a whole queue of chunks while a dump replies, which a
// test cannot arrange with the real kernel on purpose; a fake socket that speaks the same
// framing plays the kernel's part (the live overrun tests cover the kernel's own ENOBUFS).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/log';
import { NLM_F_MULTI, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP } from '../../src/netlink/constants';
import type { NativeEventHandler, NativeSocket, NativeSocketOptions } from '../../src/netlink/native';
import { buildMessage } from '../../src/netlink/request';
import { NamespaceWatcher } from '../../src/watcher';
import { poll } from '../helpers/exporter';

const PORT_ID = 4242;
const EBUSY = 16;

/** One datagram in the addon's chunk framing: [u32 length][datagram][pad to 4]. */
function chunk(datagram: Buffer): Buffer {
  const out = Buffer.alloc(4 + ((datagram.length + 3) & ~3));
  out.writeUInt32LE(datagram.length, 0);
  datagram.copy(out, 4);
  return out;
}

function reply(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const m = buildMessage(type, flags, seq, payload);
  m.writeUInt32LE(PORT_ID, 12); // nlmsg_pid: replies to us carry our port id
  return m;
}

/** Answers every dump with an empty NLMSG_DONE and every ACK request with an ACK, unless told to lose or refuse one. */
class FakeKernelSocket implements NativeSocket {
  static last: FakeKernelSocket | undefined;
  readonly portId = PORT_ID;
  readonly receiveBufferBytes = 1 << 20;
  readonly receiveBufferForced = true;
  /** Dump requests to answer with a 'queue' overrun instead of their replies. */
  loseDumps = 0;
  /** Dump requests to answer with EBUSY. */
  busyDumps = 0;
  /**
   * Dump requests whose replies wait for the socket's next read, as a kernel dump whose
   * continuation was refused while the queue was full waits in netlink_recvmsg.
   */
  stallDumps = 0;
  private stalled: Buffer | undefined;
  dumpRequests = 0;
  lost = 0;

  constructor(
    _options: NativeSocketOptions,
    private readonly onEvent: NativeEventHandler,
  ) {
    FakeKernelSocket.last = this;
  }

  start(): void {}

  send(request: Buffer): void {
    const type = request.readUInt16LE(4);
    const seq = request.readUInt32LE(8);
    setImmediate(() => {
      if (type === NLMSG_NOOP) {
        this.deliver(reply(NLMSG_ERROR, 0, seq, Buffer.concat([Buffer.alloc(4), request.subarray(0, NLMSG_HDRLEN)])));
        return;
      }
      if (this.stallDumps > 0) {
        this.stallDumps--;
        this.dumpRequests++;
        this.stalled = reply(NLMSG_DONE, NLM_F_MULTI, seq, Buffer.alloc(4));
        return;
      }
      this.dumpRequests++;
      if (this.loseDumps > 0) {
        this.loseDumps--;
        this.lost++;
        this.onEvent('overrun', 'queue', 1);
        return;
      }
      if (this.busyDumps > 0) {
        this.busyDumps--;
        const error = Buffer.alloc(4);
        error.writeInt32LE(-EBUSY, 0);
        this.deliver(reply(NLMSG_ERROR, 0, seq, Buffer.concat([error, request.subarray(0, NLMSG_HDRLEN)])));
        return;
      }
      this.deliver(reply(NLMSG_DONE, NLM_F_MULTI, seq, Buffer.alloc(4)));
    });
  }

  private deliver(datagram: Buffer): void {
    const framed = chunk(datagram);
    this.onEvent('data', framed, 1);
    // A read lets a stalled dump go on: its replies come next.
    const stalled = this.stalled;
    this.stalled = undefined;
    if (stalled) setImmediate(() => this.deliver(stalled));
  }

  queueDepth(): number {
    return 0;
  }

  release(): void {}

  close(): void {}
}

function newWatcher(lines: string[]): NamespaceWatcher {
  return new NamespaceWatcher({
    label: 'fake',
    path: undefined,
    receiveBufferBytes: 1 << 20,
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 100,
    vips: [],
    logger: createLogger('debug', 'logfmt', (line) => lines.push(line)),
    Socket: FakeKernelSocket,
  });
}

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
    (fake as unknown as { onEvent: NativeEventHandler }).onEvent('overrun', 'queue', 1);
    await poll('the resync to complete despite the lost dump reply', () => (watcher.resyncs >= 1 ? true : `resyncs ${watcher.resyncs}, dump requests ${fake.dumpRequests - before}`), {
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    assert.equal(fake.lost, 1);
    assert.ok(lines.some((l) => l.includes('a dump reply was lost in an overrun')), lines.join('\n'));
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
    const fake = FakeKernelSocket.last as unknown as { onEvent: NativeEventHandler };
    fake.onEvent('overrun', 'queue', 1);
    await poll('the overrun to be processed', () => (watcher.overruns === 1 ? true : `overruns ${watcher.overruns}`), { timeoutMs: 5_000, intervalMs: 10 });
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
    await poll('the stalled resync to complete', () => (watcher.resyncs >= 1 ? true : `resyncs ${watcher.resyncs}`), { timeoutMs: 10_000, intervalMs: 20 });
    assert.equal(watcher.overruns, 0);
  } finally {
    watcher.close();
  }
});
