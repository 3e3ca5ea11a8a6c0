// Bonds through the session's own overrun and resync path: a watcher on a fake kernel socket
// (test/helpers/fake-kernel-socket.ts) answers its link dumps with the synthetic bond fixtures
// of test/fixtures/bonds/ (built from the UAPI layout; the kernel here has no bond driver),
// gets a failover as notifications, then two overruns whose resync dumps show the gap's
// changes. The model's bonds must be exact after each, with nothing counted twice.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bonds } from '../../../src/metrics/collectors/bonds';
import { ExpositionWriter } from '../../../src/metrics/writer';
import type { PendingEvent } from '../../../src/state/events';
import { bondFixtureChunk, bondFixtureDatagrams } from '../../helpers/bond-fixtures';
import { poll } from '../../helpers/exporter';
import { FakeKernelSocket, newWatcher } from '../../helpers/fake-kernel-socket';
import { namespaceSource } from '../../helpers/model-source';

test('bonds after an overrun: the resync dump sets them exact, sweeps what went, and counts a failover once', async () => {
  const lines: string[] = [];
  const watcher = newWatcher(lines, 'bonds');
  const events: string[] = [];
  watcher.model.onEvent = (e: PendingEvent) => {
    if (e.kind === 'bond') events.push(`${e.action} ${e.interface}`);
  };
  const scrape = (): string[] => {
    const w = new ExpositionWriter(false);
    bonds(w, [namespaceSource(watcher.model)]);
    return w
      .text()
      .split('\n')
      .filter((l) => /^netlink_(bond_failovers_total|bond_slaves|bond_active_slave_info|vrf_info)\{/.test(l));
  };
  try {
    // start() makes the socket at once; the fake answers the initial dump from the next tick on.
    const start = watcher.start();
    const fake = FakeKernelSocket.last as FakeKernelSocket;
    fake.linkDumpReplies = bondFixtureDatagrams('01-dump-links');
    await start;
    assert.equal(watcher.ready, true);
    assert.deepEqual(scrape(), [
      'netlink_bond_active_slave_info{netns="bonds",bond="bond0",interface="eth-a"} 1',
      'netlink_bond_slaves{netns="bonds",bond="bond0"} 2',
      'netlink_bond_slaves{netns="bonds",bond="bond1"} 2',
      'netlink_bond_failovers_total{netns="bonds",bond="bond0"} 0',
      'netlink_bond_failovers_total{netns="bonds",bond="bond1"} 0',
      'netlink_vrf_info{netns="bonds",vrf="blue",table="100"} 1',
      'netlink_vrf_info{netns="bonds",vrf="red",table="main"} 1',
    ]);
    assert.deepEqual(events, [], 'the initial dump is quiet');

    // Notifications (pid 0): eth-a fails, eth-b takes over.
    fake.emit('data', bondFixtureChunk('02-failover'), 3);
    await poll('the failover', () => (watcher.model.bonds.bonds.get(10)?.failovers === 1 ? true : 'not yet'), {
      timeoutMs: 5_000,
      intervalMs: 10,
    });

    // An overrun; the resync's link dump shows eth-a failed again, bond1 and VRF red gone, and
    // eth-b still active (no failover in the gap).
    fake.linkDumpReplies = bondFixtureDatagrams('05-resync-dump');
    for (const round of [1, 2]) {
      fake.emit('overrun', 'queue', 1);
      await poll(`resync ${round}`, () => (watcher.resyncs >= round ? true : `resyncs ${watcher.resyncs}`), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      assert.deepEqual(scrape(), [
        'netlink_bond_active_slave_info{netns="bonds",bond="bond0",interface="eth-b"} 1',
        'netlink_bond_slaves{netns="bonds",bond="bond0"} 2',
        'netlink_bond_failovers_total{netns="bonds",bond="bond0"} 1',
        'netlink_vrf_info{netns="bonds",vrf="blue",table="100"} 1',
      ]);
      assert.equal(watcher.model.bonds.slaves.get(11)?.linkFailures, 2);
    }
    assert.deepEqual(events, ['slave_mii_down eth-a', 'failover bond0', 'slave_removed eth-c', 'slave_removed eth-d']);
  } finally {
    watcher.close();
  }
});
