// Flaps counted exactly against the kernel's own carrier counters, on both ends of a veth pair,
// including five down/up toggles done back-to-back (the kernel coalesces their notifications).
// Then one outage = one flap on each kind of device: a bridge losing its only port (STP off
// and on: the kernel announces carrier down, then the operstate), macvlan (its lower device's
// carrier), vxlan (admin down, carrier kept), tun (its reader gone); a tun brought up with no
// reader is never up (no flap); a deletion, also of a pod's namespace, is no flap but counted
// in netlink_interface_deletions_total.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { createNetns, liveDescribe, Netns } from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';

interface End {
  ns: Netns;
  iface: string;
}

liveDescribe('flaps', { timeout: 120_000 }, () => {
  let ns: Netns;
  let other: Netns;
  let ex: Exporter | undefined;
  const ends = (): End[] => [
    { ns, iface: 'fa0' },
    { ns, iface: 'fa1' },
  ];

  const labels = (e: End) => ({ netns: e.ns.name, interface: e.iface });

  async function kernelUp(e: End): Promise<void> {
    await poll(`${e.ns.name}/${e.iface} operstate UP in the kernel`, () => {
      const st = e.ns.link(e.iface).operstate;
      return st === 'UP' ? true : `operstate ${st}`;
    });
  }

  /** Exporter flaps and carrier counters for an end, and the kernel's counters. */
  function compare(s: Scrape, e: End, base: { flaps: number; down: number }): string[] {
    const k = e.ns.carrierCounters(e.iface);
    const l = labels(e);
    const got = {
      flaps: s.value('netlink_interface_flaps_total', l),
      changes: s.value('netlink_interface_carrier_changes_total', l),
      up: s.value('netlink_interface_carrier_up_changes_total', l),
      down: s.value('netlink_interface_carrier_down_changes_total', l),
    };
    const wrong: string[] = [];
    const flapDelta = got.flaps === undefined ? undefined : got.flaps - base.flaps;
    if (flapDelta !== k.down - base.down) {
      wrong.push(
        `${e.iface}: netlink_interface_flaps_total delta ${flapDelta} (value ${got.flaps}), kernel carrier_down_count delta ${k.down - base.down} (${base.down} -> ${k.down})`,
      );
    }
    if (got.changes !== k.changes)
      wrong.push(
        `${e.iface}: netlink_interface_carrier_changes_total ${got.changes}, kernel carrier_changes ${k.changes}`,
      );
    if (got.up !== k.up)
      wrong.push(`${e.iface}: netlink_interface_carrier_up_changes_total ${got.up}, kernel carrier_up_count ${k.up}`);
    if (got.down !== k.down)
      wrong.push(
        `${e.iface}: netlink_interface_carrier_down_changes_total ${got.down}, kernel carrier_down_count ${k.down}`,
      );
    if (s.value('netlink_interface_up', l) !== (e.ns.link(e.iface).operstate === 'UP' ? 1 : 0)) {
      wrong.push(
        `${e.iface}: netlink_interface_up ${s.value('netlink_interface_up', l)}, kernel operstate ${e.ns.link(e.iface).operstate}`,
      );
    }
    return wrong;
  }

  /** Current exporter flap counts and kernel carrier_down_count, once both agree on "up". */
  async function baseline(list: End[]): Promise<Map<string, { flaps: number; down: number }>> {
    for (const e of list) await kernelUp(e);
    const s = await ex!.waitFor('all ends up in the exporter', (sc) => {
      const bad = list.filter((e) => sc.value('netlink_interface_up', labels(e)) !== 1);
      return bad.length === 0 ? true : bad.map((e) => sc.show('netlink_interface_up', labels(e))).join('; ');
    });
    const m = new Map<string, { flaps: number; down: number }>();
    for (const e of list) {
      const flaps = s.value('netlink_interface_flaps_total', labels(e));
      assert.notEqual(flaps, undefined, s.show('netlink_interface_flaps_total', { netns: e.ns.name }));
      m.set(`${e.ns.name}/${e.iface}`, { flaps: flaps!, down: e.ns.carrierCounters(e.iface).down });
    }
    return m;
  }

  async function expectExact(
    list: End[],
    base: Map<string, { flaps: number; down: number }>,
    what: string,
  ): Promise<Scrape> {
    return ex!.waitFor(what, (s) => {
      const wrong = list.flatMap((e) => compare(s, e, base.get(`${e.ns.name}/${e.iface}`)!));
      return wrong.length === 0 ? true : wrong.join('; ');
    });
  }

  before(async () => {
    ns = createNetns('flaps');
    other = createNetns('flaps');
    ns.addVeth('fa0', 'fa1', { up: true });
    // One end in a second namespace: two --netns at once.
    ns.addVeth('fx0', 'fx1', { peerNetns: other, up: true });
    ex = await startExporter({ netns: [ns.name, other.name] });
  });

  after(async () => {
    await ex?.stop();
    ns?.delete();
    other?.delete();
  });

  test("at start: flaps 0 and the carrier counters equal the kernel's", async () => {
    const list = ends();
    const base = await baseline(list);
    const s = await expectExact(list, base, 'carrier counters equal to the kernel at start');
    for (const e of list)
      assert.equal(
        s.value('netlink_interface_flaps_total', labels(e)),
        0,
        `${e.iface}: no flap since the exporter started`,
      );
  });

  test('one slow flap (each state seen): +1 on both ends, not 2', async () => {
    const list = ends();
    const base = await baseline(list);
    ns.ip('link', 'set', 'dev', 'fa1', 'down');
    await ex!.waitForValue('netlink_interface_up', labels({ ns, iface: 'fa0' }), 0);
    ns.ip('link', 'set', 'dev', 'fa1', 'up');
    for (const e of list) await kernelUp(e);
    for (const e of list) {
      const b = base.get(`${e.ns.name}/${e.iface}`)!;
      assert.equal(e.ns.carrierCounters(e.iface).down - b.down, 1, `kernel: ${e.iface} carrier_down_count moved by 1`);
    }
    await expectExact(list, base, 'one flap on each end');
  });

  test('five fast down/up toggles in one ip -batch: flaps == kernel carrier_down_count delta, exactly', async () => {
    const list = ends();
    const base = await baseline(list);
    const t0 = Date.now() / 1000;
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) lines.push('link set dev fa1 down', 'link set dev fa1 up');
    ns.batch(lines);
    for (const e of list) await kernelUp(e);
    for (const e of list) {
      const b = base.get(`${e.ns.name}/${e.iface}`)!;
      const d = e.ns.carrierCounters(e.iface).down - b.down;
      assert.ok(d >= 5, `kernel: ${e.iface} carrier_down_count moved by ${d}, expected >= 5 (test setup)`);
    }
    const s = await expectExact(list, base, 'flaps equal to the kernel counter deltas after 5 fast toggles');
    for (const e of list) {
      const ts = s.value('netlink_interface_last_change_timestamp_seconds', labels(e));
      assert.ok(
        ts !== undefined && ts >= t0 - 1,
        `${e.iface}: last_change_timestamp_seconds ${ts} should be >= ${t0.toFixed(3)}`,
      );
    }
  });

  test('a veth pair across two watched namespaces: each end counted under its own netns', async () => {
    const list: End[] = [
      { ns, iface: 'fx0' },
      { ns: other, iface: 'fx1' },
    ];
    const base = await baseline(list);
    const lines: string[] = [];
    for (let i = 0; i < 3; i++) lines.push('link set dev fx1 down', 'link set dev fx1 up');
    other.batch(lines);
    for (const e of list) await kernelUp(e);
    const s = await expectExact(list, base, 'flaps across namespaces');
    // The names exist only in their own namespace.
    assert.equal(s.series('netlink_interface_up', { netns: other.name, interface: 'fx0' }).length, 0);
    assert.equal(s.series('netlink_interface_up', { netns: ns.name, interface: 'fx1' }).length, 0);
  });

  test("deleting a watched namespace's name releases it: the kernel destroys it (its veth peer goes too)", async () => {
    // A socket left open inside `other` would keep it, and so fx1 and its peer fx0, alive.
    other.delete();
    await poll(
      `fx0 gone from ${ns.name} (its peer's namespace destroyed)`,
      () =>
        ns.links().some((l) => l.ifname === 'fx0')
          ? `fx0 still in ${ns.name}: the exporter still holds ${other.name}`
          : true,
      { timeoutMs: 15_000 },
    );
    assert.ok(ex!.running, ex!.logs());
    assert.equal((await ex!.get('/-/healthy')).status, 200);
    await ex!.waitFor('fx0 no longer up', (s) =>
      s.value('netlink_interface_up', labels({ ns, iface: 'fx0' })) === 1 ? 'fx0 still up' : true,
    );
  });
});

/** Attaches to a persistent tun device and holds it until stdin closes (IFF_TUN | IFF_NO_PI, as `ip tuntap add mode tun`). */
const TUN_READER = `
import fcntl, os, struct, sys
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', sys.argv[1].encode(), 0x0001 | 0x1000))
print('attached', flush=True)
sys.stdin.read()
`;

liveDescribe('one outage, one flap on every kind of device; a deletion is no flap', { timeout: 240_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  const readers = new Set<ChildProcess>();
  const L = (iface: string): Record<string, string> => ({ netns: ns.name, interface: iface });

  /** In service as the kernel says: IFF_UP and LOWER_UP, operstate UP or UNKNOWN. */
  function kernelInService(iface: string): boolean {
    const l = ns.link(iface);
    return (
      l.flags.includes('UP') && l.flags.includes('LOWER_UP') && (l.operstate === 'UP' || l.operstate === 'UNKNOWN')
    );
  }

  async function kernelState(iface: string, inService: boolean): Promise<void> {
    await poll(
      `${iface} ${inService ? 'in service' : 'out of service'} in the kernel`,
      () => {
        const l = ns.link(iface);
        return kernelInService(iface) === inService ? true : `flags ${l.flags.join(',')}, operstate ${l.operstate}`;
      },
      { timeoutMs: 20_000 },
    );
  }

  /**
   * N outages of `iface`, each slow enough that the kernel reports every step (carrier, then
   * operstate): its flap counter must grow by exactly N, and, when the outage is a carrier loss,
   * so must the kernel's carrier_down_count (by 0 when the carrier is kept).
   */
  async function outages(
    iface: string,
    n: number,
    down: () => void | Promise<void>,
    up: () => void | Promise<void>,
    carrierLoss: boolean,
  ): Promise<void> {
    await kernelState(iface, true);
    const s0 = await ex!.waitForValue('netlink_interface_up', L(iface), 1);
    const flaps0 = s0.value('netlink_interface_flaps_total', L(iface));
    assert.notEqual(flaps0, undefined, s0.show('netlink_interface_flaps_total', { netns: ns.name }));
    const down0 = ns.carrierCounters(iface).down;
    for (let i = 0; i < n; i++) {
      await down();
      await kernelState(iface, false);
      await up();
      await kernelState(iface, true);
    }
    const kernelDowns = ns.carrierCounters(iface).down - down0;
    assert.equal(
      kernelDowns,
      carrierLoss ? n : 0,
      `kernel: ${iface} carrier_down_count moved by ${kernelDowns} over ${n} outages`,
    );
    await ex!.waitFor(`${n} flaps on ${iface}`, (s) => {
      const flaps = (s.value('netlink_interface_flaps_total', L(iface)) ?? NaN) - flaps0!;
      const upNow = s.value('netlink_interface_up', L(iface));
      return flaps === n && upNow === 1 ? true : `flaps delta ${flaps} (want ${n}), up ${upNow}`;
    });
    // Nothing late: a barrier-free re-check after the exporter has seen the link up again.
    const s = await ex!.scrape();
    assert.equal(
      (s.value('netlink_interface_flaps_total', L(iface)) ?? NaN) - flaps0!,
      n,
      s.show('netlink_interface_flaps_total', L(iface)),
    );
  }

  async function attachTun(iface: string): Promise<ChildProcess> {
    const child = spawn('ip', ['netns', 'exec', ns.name, 'python3', '-c', TUN_READER, iface], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    readers.add(child);
    child.on('exit', () => readers.delete(child));
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`tun reader exited ${code}: ${err}`)));
    });
    return child;
  }

  async function detachTun(child: ChildProcess): Promise<void> {
    const exited = new Promise<void>((resolve) =>
      child.exitCode !== null ? resolve() : child.once('exit', () => resolve()),
    );
    child.stdin!.end();
    await exited;
  }

  before(async () => {
    ns = createNetns('kinds');
    // Bridges, each with one port (a veth whose peer stays up).
    for (const [br, port, peer, stp] of [
      ['br0', 'bp0', 'bq0', '0'],
      ['br1', 'bp1', 'bq1', '1'],
    ] as const) {
      ns.ip('link', 'add', br, 'type', 'bridge', 'stp_state', stp, 'forward_delay', '200');
      ns.addVeth(port, peer, { up: true });
      ns.ip('link', 'set', port, 'master', br);
      ns.ip('link', 'set', br, 'up');
    }
    // macvlan over a veth whose peer toggles.
    ns.addVeth('ml0', 'ml1', { up: true });
    ns.ip('link', 'add', 'mv0', 'link', 'ml0', 'type', 'macvlan', 'mode', 'bridge');
    ns.ip('link', 'set', 'mv0', 'up');
    // vxlan over a veth.
    ns.addVeth('xl0', 'xl1', { up: true });
    ns.ip('addr', 'add', '10.77.0.1/24', 'dev', 'xl0');
    ns.ip('link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'dev', 'xl0', 'dstport', '4789', 'local', '10.77.0.1');
    ns.ip('link', 'set', 'vx0', 'up');
    // A tun that gets a reader (the one that never does is made in its test, under the exporter's eyes).
    ns.ip('tuntap', 'add', 'tn0', 'mode', 'tun');
    ns.ip('link', 'set', 'tn0', 'up');
    ns.addVeth('va0', 'va1', { up: true });
    ex = await startExporter({ netns: [ns.name] });
  });

  after(async () => {
    for (const child of readers) child.kill('SIGKILL');
    await ex?.stop();
    ns?.delete();
  });

  test('bridge (STP off) losing its only port: 3 outages, 3 flaps, as carrier_down_count (not 2 each)', async () => {
    await outages(
      'br0',
      3,
      () => void ns.ip('link', 'set', 'bp0', 'nomaster'),
      () => void ns.ip('link', 'set', 'bp0', 'master', 'br0'),
      true,
    );
  });

  test('bridge (STP on) whose only port loses its carrier: 2 outages, 2 flaps', async () => {
    await outages(
      'br1',
      2,
      () => void ns.ip('link', 'set', 'bq1', 'down'),
      () => void ns.ip('link', 'set', 'bq1', 'up'),
      true,
    );
  });

  test('veth whose peer goes down: 3 outages, 3 flaps', async () => {
    await outages(
      'va0',
      3,
      () => void ns.ip('link', 'set', 'va1', 'down'),
      () => void ns.ip('link', 'set', 'va1', 'up'),
      true,
    );
  });

  test('macvlan whose lower device loses its carrier: 3 outages, 3 flaps', async () => {
    await outages(
      'mv0',
      3,
      () => void ns.ip('link', 'set', 'ml1', 'down'),
      () => void ns.ip('link', 'set', 'ml1', 'up'),
      true,
    );
  });

  test('vxlan set down and up (it keeps its carrier): 3 outages, 3 flaps, carrier_down_count unmoved', async () => {
    await outages(
      'vx0',
      3,
      () => void ns.ip('link', 'set', 'vx0', 'down'),
      () => void ns.ip('link', 'set', 'vx0', 'up'),
      false,
    );
  });

  test('tun whose reader goes away: 2 outages, 2 flaps', async () => {
    let reader = await attachTun('tn0');
    await outages(
      'tn0',
      2,
      () => detachTun(reader),
      async () => {
        reader = await attachTun('tn0');
      },
      true,
    );
    await detachTun(reader);
  });

  test('tun brought up with nothing attached: never up, no flap (though carrier_down_count moved)', async () => {
    // Made while the exporter watches: created with carrier (its creator attached), the creator
    // detaches while it is down (the carrier_down_count moves), then it is brought up.
    ns.ip('tuntap', 'add', 'tn1', 'mode', 'tun');
    await ex!.waitFor('tn1 in the exporter', (s) =>
      s.value('netlink_interface_admin_up', L('tn1')) === 0 ? true : s.show('netlink_interface_admin_up', L('tn1')),
    );
    const before = ns.carrierCounters('tn1').down;
    ns.ip('link', 'set', 'tn1', 'up');
    await ex!.waitFor('tn1 admin up in the exporter', (s) =>
      s.value('netlink_interface_admin_up', L('tn1')) === 1 ? true : s.show('netlink_interface_admin_up', L('tn1')),
    );
    // Something after it on the same socket, so the exporter has certainly processed tn1's messages.
    ns.ip('link', 'set', 'tn1', 'mtu', '1400');
    const s = await ex!.waitForValue('netlink_interface_mtu_bytes', L('tn1'), 1400);
    assert.equal(s.value('netlink_interface_up', L('tn1')), 0);
    assert.equal(
      s.value('netlink_interface_flaps_total', L('tn1')),
      0,
      `kernel carrier_down_count ${before} -> ${ns.carrierCounters('tn1').down}`,
    );
    assert.ok(
      ns.carrierCounters('tn1').down >= 1,
      'test setup: the kernel counted the carrier loss of the creator detaching',
    );
  });

  test('deleting a veth pair in service, and a pod namespace with its veth: no flap, deletions counted', async () => {
    ns.addVeth('dl0', 'dl1', { up: true });
    const pod = createNetns('kpod');
    try {
      ns.addVeth('ph0', 'eth0', { peerNetns: pod, up: true });
      await kernelState('dl0', true);
      await kernelState('ph0', true);
      const s0 = await ex!.waitFor('dl0, dl1 and ph0 up in the exporter', (s) =>
        ['dl0', 'dl1', 'ph0'].every((i) => s.value('netlink_interface_up', L(i)) === 1)
          ? true
          : ['dl0', 'dl1', 'ph0'].map((i) => s.show('netlink_interface_up', L(i))).join('; '),
      );
      const deletions0 = s0.value('netlink_interface_deletions_total', { netns: ns.name });
      assert.notEqual(deletions0, undefined, s0.show('netlink_interface_deletions_total'));
      ns.ip('link', 'del', 'dl0');
      pod.delete();
      const s = await ex!.waitFor(
        'three deletions counted',
        (sc) => {
          const d = (sc.value('netlink_interface_deletions_total', { netns: ns.name }) ?? NaN) - deletions0!;
          return d === 3 ? true : `deletions delta ${d}`;
        },
        { timeoutMs: 20_000 },
      );
      // The deleted interfaces' series stay for the grace period, with their counters as they were.
      for (const iface of ['dl0', 'dl1', 'ph0']) {
        assert.equal(
          s.value('netlink_interface_flaps_total', L(iface)),
          0,
          `${iface}: ${s.show('netlink_interface_flaps_total', L(iface))}`,
        );
      }
    } finally {
      pod.delete();
    }
  });
});
