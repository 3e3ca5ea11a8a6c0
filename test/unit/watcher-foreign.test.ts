// The watcher's side of the sender check: the addon refuses datagrams not sent by the kernel and
// signals them ('foreign', the first sender's port id, how many); the watcher counts them for
// netlink_foreign_datagrams_refused_total and logs the first, then at most once a minute. A fake
// socket plays the addon (the live test is test/integration/forged-netlink.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/log';
import { NLM_F_MULTI, NLMSG_DONE } from '../../src/netlink/constants';
import type { NativeEventHandler, NativeSocket, NativeSocketOptions } from '../../src/netlink/native';
import { buildMessage } from '../../src/netlink/request';
import { NamespaceWatcher } from '../../src/watcher';

const PORT_ID = 4242;

/** Answers every dump with an empty NLMSG_DONE; `emit` plays the reader thread. */
class FakeSocket implements NativeSocket {
  static last: FakeSocket | undefined;
  readonly portId = PORT_ID;
  readonly receiveBufferBytes = 1 << 20;
  readonly receiveBufferForced = true;

  constructor(
    _options: NativeSocketOptions,
    readonly emit: NativeEventHandler,
  ) {
    FakeSocket.last = this;
  }

  start(): void {}

  send(request: Buffer): void {
    const done = buildMessage(NLMSG_DONE, NLM_F_MULTI, request.readUInt32LE(8), Buffer.alloc(4));
    done.writeUInt32LE(PORT_ID, 12);
    const framed = Buffer.alloc(4 + done.length);
    framed.writeUInt32LE(done.length, 0);
    done.copy(framed, 4);
    setImmediate(() => this.emit('data', framed, 1));
  }

  queueDepth(): number {
    return 0;
  }

  release(): void {}

  close(): void {}
}

test("refused foreign datagrams are counted; the first is logged with the sender's port id, the rest within a minute are not", async (t) => {
  const lines: string[] = [];
  const watcher = new NamespaceWatcher({
    label: 'pod1',
    path: undefined,
    receiveBufferBytes: 1 << 20,
    include: /^.*$/,
    exclude: undefined,
    maxTracked: 100,
    vips: [],
    logger: createLogger('info', 'logfmt', (line) => lines.push(line)),
    Socket: FakeSocket,
  });
  try {
    await watcher.start();
    const fake = FakeSocket.last as FakeSocket;
    const logged = (): string[] => lines.filter((l) => l.includes('netlink datagram'));
    assert.equal(watcher.foreignRefused, 0);

    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    fake.emit('foreign', 31337, 3);
    fake.emit('foreign', 555, 2);
    assert.equal(watcher.foreignRefused, 5, 'counted at once, not queued behind data');
    assert.equal(logged().length, 1);
    assert.match(logged()[0] as string, /msg="refused a netlink datagram not sent by the kernel" netns=pod1 senderPort=31337 refused=3/);

    t.mock.timers.tick(59_999);
    fake.emit('foreign', 555, 1);
    assert.equal(logged().length, 1, 'no second line within a minute');
    t.mock.timers.tick(1);
    fake.emit('foreign', 777, 4);
    assert.equal(watcher.foreignRefused, 10);
    assert.equal(logged().length, 2);
    assert.match(logged()[1] as string, /msg="still refusing netlink datagrams not sent by the kernel" netns=pod1 senderPort=777 refused=10/);
    assert.equal(watcher.model.decodeErrors, 0, 'nothing refused reached the codec');
  } finally {
    watcher.close();
  }
});
