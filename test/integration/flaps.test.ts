// Flaps counted exactly against the kernel's own carrier counters, on both ends of a veth pair,
// including five down/up toggles done back-to-back (the kernel coalesces their notifications).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
      wrong.push(`${e.iface}: netlink_interface_flaps_total delta ${flapDelta} (value ${got.flaps}), kernel carrier_down_count delta ${k.down - base.down} (${base.down} -> ${k.down})`);
    }
    if (got.changes !== k.changes) wrong.push(`${e.iface}: netlink_interface_carrier_changes_total ${got.changes}, kernel carrier_changes ${k.changes}`);
    if (got.up !== k.up) wrong.push(`${e.iface}: netlink_interface_carrier_up_changes_total ${got.up}, kernel carrier_up_count ${k.up}`);
    if (got.down !== k.down) wrong.push(`${e.iface}: netlink_interface_carrier_down_changes_total ${got.down}, kernel carrier_down_count ${k.down}`);
    if (s.value('netlink_interface_up', l) !== (e.ns.link(e.iface).operstate === 'UP' ? 1 : 0)) {
      wrong.push(`${e.iface}: netlink_interface_up ${s.value('netlink_interface_up', l)}, kernel operstate ${e.ns.link(e.iface).operstate}`);
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

  async function expectExact(list: End[], base: Map<string, { flaps: number; down: number }>, what: string): Promise<Scrape> {
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

  test('at start: flaps 0 and the carrier counters equal the kernel\'s', async () => {
    const list = ends();
    const base = await baseline(list);
    const s = await expectExact(list, base, 'carrier counters equal to the kernel at start');
    for (const e of list) assert.equal(s.value('netlink_interface_flaps_total', labels(e)), 0, `${e.iface}: no flap since the exporter started`);
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
      assert.ok(ts !== undefined && ts >= t0 - 1, `${e.iface}: last_change_timestamp_seconds ${ts} should be >= ${t0.toFixed(3)}`);
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

  test('deleting a watched namespace\'s name releases it: the kernel destroys it (its veth peer goes too)', async () => {
    // A socket left open inside `other` would keep it, and so fx1 and its peer fx0, alive.
    other.delete();
    await poll(
      `fx0 gone from ${ns.name} (its peer's namespace destroyed)`,
      () => (ns.links().some((l) => l.ifname === 'fx0') ? `fx0 still in ${ns.name}: the exporter still holds ${other.name}` : true),
      { timeoutMs: 15_000 },
    );
    assert.ok(ex!.running, ex!.logs());
    assert.equal((await ex!.get('/-/healthy')).status, 200);
    await ex!.waitFor('fx0 no longer up', (s) => (s.value('netlink_interface_up', labels({ ns, iface: 'fx0' })) === 1 ? 'fx0 still up' : true));
  });
});
