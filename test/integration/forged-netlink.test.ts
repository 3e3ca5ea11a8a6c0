// Only the kernel is believed: a datagram whose source port id (nl_pid) is not 0 is refused and
// counted, whatever it says. An unprivileged user in a user and network
// namespace of its own (`unshare -Urn`, what any rootless container can do) has CAP_NET_ADMIN
// there, and so may send netlink datagrams to any socket in that namespace: by unicast to its
// port id, or by multicast to the rtnetlink groups. A root exporter watches that namespace
// (--netns /proc/PID/ns/net). Forged links (one with a 60-byte name) and routes must leave no
// trace in /metrics but the refusal counter, and real changes must still be seen.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { liveDescribe, onProcessExit, run } from '../helpers/netns';
import { Exporter, parseLogLine, Scrape, startExporter } from '../helpers/exporter';
import { Forger, startForger } from '../helpers/forge';

/** An unprivileged uid that surely owns nothing here (nobody). */
const UNPRIVILEGED = '65534';
const FORGED_NAMES = ['forged0', 'f'.repeat(60)];

liveDescribe('forged netlink from an unprivileged user namespace', { timeout: 120_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  /** What the exporter believes about the namespace, apart from its own counters. */
  function state(s: Scrape, netns: string): Record<string, unknown> {
    return {
      interfaces: s
        .series('netlink_interface_info', { netns })
        .map((x) => `${x.labels.interface}/${x.labels.ifindex}`)
        .sort(),
      up: s
        .series('netlink_interface_up', { netns })
        .map((x) => `${x.labels.interface}=${x.value}`)
        .sort(),
      routes: s
        .series('netlink_routes', { netns })
        .map((x) => `${x.labels.table}/${x.labels.family}/${x.labels.protocol}=${x.value}`)
        .sort(),
      routeChanges: s.sum('netlink_route_changes_total', { netns }),
      flaps: s.sum('netlink_interface_flaps_total', { netns }),
      notifications: s.sum('netlink_messages_received_total', { netns }),
      decodeErrors: s.value('netlink_decode_errors_total', { netns }),
    };
  }

  test('forged RTM_NEWLINK / RTM_NEWROUTE are refused and counted; the real state is unchanged and still followed', async () => {
    // setpriv drops to nobody first: the forger holds no capability outside its own namespaces.
    const forger: Forger = await startForger([
      'setpriv',
      `--reuid=${UNPRIVILEGED}`,
      `--regid=${UNPRIVILEGED}`,
      '--clear-groups',
      'unshare',
      '-Urn',
    ]);
    const removeHook = onProcessExit(() => forger.close());
    cleanups.push(() => {
      forger.close();
      removeHook();
    });
    const netns = `/proc/${forger.pid}/ns/net`;
    const ex: Exporter = await startExporter({ netns: [netns] });
    cleanups.push(() => ex.stop());
    const before = await ex.waitFor('lo seen in the forger namespace', (s) =>
      s.series('netlink_interface_info', { netns, interface: 'lo' }).length === 1 ? true : 'no lo yet',
    );
    assert.equal(
      before.value('netlink_foreign_datagrams_refused_total', { netns }),
      0,
      'the counter is there at 0 before any forgery',
    );

    let multicast = 0;
    for (const [round, name] of FORGED_NAMES.entries()) {
      const count = round === 0 ? 25 : 10;
      const result = await forger.forge(count, name);
      // The exporter's socket is in the list of ports, and the kernel turned away every unicast
      // to it: the socket is connected to the kernel.
      assert.ok(
        result.ports.length >= 1,
        `the exporter's socket is listed in /proc/net/netlink: ${JSON.stringify(result)}`,
      );
      assert.deepEqual(result.unicast, { sent: 0, refused: 2 * count * result.ports.length, other_errors: 0 });
      // Multicast goes through (the sender has CAP_NET_ADMIN in this namespace): the exporter
      // must refuse it itself.
      assert.deepEqual(result.multicast, { sent: 2 * count, errors: [] });
      multicast += result.multicast.sent;
    }

    const after1 = await ex.waitForValue('netlink_foreign_datagrams_refused_total', { netns }, multicast);
    assert.deepEqual(state(after1, netns), state(before, netns), 'nothing forged changed what the exporter believes');
    for (const name of FORGED_NAMES) {
      assert.ok(!after1.text.includes(name), `${name.slice(0, 16)}... appears in /metrics`);
    }
    assert.ok(!after1.text.includes('10.99.'), 'no forged route destination in /metrics');

    const refusedLog = ex.stderr.lines
      .map(parseLogLine)
      .find((kv) => kv && String(kv.msg).includes('refused a netlink datagram not sent by the kernel'));
    assert.ok(refusedLog, `the first refusal is logged\n${ex.logs(10)}`);
    assert.equal(String(refusedLog.netns), netns);
    assert.equal(Number(refusedLog.senderPort), forger.port, "the log names the forger's port id");
    assert.equal(
      ex.stderr.lines.filter((l) => l.includes('netlink datagram')).length,
      1,
      'further refusals within a minute are not logged',
    );

    // A real change in the same namespace is still seen, and is not counted as foreign.
    run('nsenter', [`--net=${netns}`, 'ip', 'link', 'add', 'real0', 'type', 'veth', 'peer', 'name', 'real1']);
    const after2 = await ex.waitFor('real0 and real1 seen', (s) => {
      const names = s.series('netlink_interface_info', { netns }).map((x) => x.labels.interface);
      return names.includes('real0') && names.includes('real1') ? true : `interfaces: ${names.join(',')}`;
    });
    assert.equal(after2.value('netlink_foreign_datagrams_refused_total', { netns }), multicast);
    assert.equal(after2.value('netlink_decode_errors_total', { netns }), 0);
    await ex.stop();
  });
});
