// The watcher's side of the sender check: the addon refuses datagrams not sent by the kernel and
// signals them ('foreign', the first sender's port id, how many); the watcher counts them for
// netlink_foreign_datagrams_refused_total and logs the first, then at most once a minute. A fake
// socket plays the addon (the live test is test/integration/forged-netlink.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernelSocket, newWatcher } from '../../helpers/fake-kernel-socket';

test("refused foreign datagrams are counted; the first is logged with the sender's port id, the rest within a minute are not", async (t) => {
  const lines: string[] = [];
  const watcher = newWatcher(lines, 'pod1');
  try {
    await watcher.start();
    const fake = FakeKernelSocket.last as FakeKernelSocket;
    const logged = (): string[] => lines.filter((l) => l.includes('netlink datagram'));
    assert.equal(watcher.foreignRefused, 0);

    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    fake.emit('foreign', 31337, 3);
    fake.emit('foreign', 555, 2);
    assert.equal(watcher.foreignRefused, 5, 'counted at once, not queued behind data');
    assert.equal(logged().length, 1);
    assert.match(
      logged()[0] as string,
      /msg="refused a netlink datagram not sent by the kernel" netns=pod1 senderPort=31337 refused=3/,
    );

    t.mock.timers.tick(59_999);
    fake.emit('foreign', 555, 1);
    assert.equal(logged().length, 1, 'no second line within a minute');
    t.mock.timers.tick(1);
    fake.emit('foreign', 777, 4);
    assert.equal(watcher.foreignRefused, 10);
    assert.equal(logged().length, 2);
    assert.match(
      logged()[1] as string,
      /msg="still refusing netlink datagrams not sent by the kernel" netns=pod1 senderPort=777 refused=10/,
    );
    assert.equal(watcher.counters.decodeErrors, 0, 'nothing refused reached the codec');
  } finally {
    watcher.close();
  }
});
