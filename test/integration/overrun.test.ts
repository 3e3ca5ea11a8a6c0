// Loss forced with the smallest receive buffer the kernel grants (socket.receive_buffer_bytes: 1):
// a storm of route, address and link changes overruns the socket; the overrun is counted, a
// resync (fresh dump diffed against the model) repairs it, and afterwards every gauge equals the
// kernel's truth again, the flap counters included (recovered from IFLA_CARRIER_DOWN_COUNT), and
// the socket still delivers the next change normally.
//
// The first round of the storm is sent while the exporter is stopped (SIGSTOP, every thread of
// it), so the overrun is certain however fast its reader is; the later rounds hit it running,
// while it repairs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, groupRoutes, kernelRoutes, LinkJson, liveDescribe, Netns, routeGroupKey } from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';
import { resumeAndStop } from '../helpers/overrun';
import { addressRequest, BurstSender, ipv4Nth, ipv6Nth, linkToggleRequest, routeBurst } from '../helpers/burst';
import { AF_INET, AF_INET6, RTM_DELADDR, RTM_NEWADDR } from '../../src/netlink/constants';

const RTPROT_STATIC = 4;
const FLAP_PAIRS = 10;
const FLAP_CYCLES = 20;
/** Routes that exist before the exporter starts and go during the storm (table 301). */
const OLD_ROUTES = 200;
/** Routes added in the storm (table 300); ROUTES_DELETED of them deleted again in a later round. */
const ROUTES = 10_000;
const ROUTES_DELETED = 4_000;
/** Addresses on oa0 before the start (removed in the storm), and added on oa1 in the storm. */
const OLD_V4 = 50;
const OLD_V6 = 20;
const NEW_PER_FAMILY = 300;

liveDescribe('overrun: detected, counted, repaired', { timeout: 180_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let sender: BurstSender | undefined;
  let dir: string | undefined;
  const flapEnds: string[] = [];
  for (let i = 0; i < FLAP_PAIRS; i++) flapEnds.push(`of${i}a`, `of${i}b`);
  /** Exporter flaps and kernel carrier_down_count per flap end at the start. */
  const base = new Map<string, { flaps: number; down: number }>();
  let seq = 1;

  const L = (iface: string) => ({ netns: ns.name, interface: iface });
  const nsl = () => ({ netns: ns.name });

  /** `ip -j link`'s view as the exporter's gauges put it. */
  function kernelLinkState(l: LinkJson): { up: number; admin: number; carrier: number } {
    const has = (f: string) => l.flags.includes(f);
    const operUp = l.operstate === 'UP' || (l.operstate === 'UNKNOWN' && has('UP') && has('LOWER_UP'));
    // IFLA_CARRIER: `ip` shows LOWER_UP only for a running device; a veth that is admin down has
    // no carrier either (veth_close turns it off on both ends), and lo is up here.
    return { up: operUp ? 1 : 0, admin: has('UP') ? 1 : 0, carrier: has('LOWER_UP') ? 1 : 0 };
  }

  /** Everything that must equal the kernel after the repair; the differences, or []. */
  function wrongAgainstKernel(s: Scrape): string[] {
    const wrong: string[] = [];
    // Routes, by (table, family, protocol).
    const got = new Map<string, number>();
    for (const x of s.series('netlink_routes', nsl()))
      got.set(routeGroupKey(x.labels.table!, x.labels.family!, x.labels.protocol!), x.value);
    const want = groupRoutes(kernelRoutes(ns));
    for (const k of new Set([...got.keys(), ...want.keys()])) {
      if ((got.get(k) ?? 0) !== (want.get(k) ?? 0))
        wrong.push(`netlink_routes{${k}} = ${got.get(k) ?? '(absent)'}, kernel lists ${want.get(k) ?? 0}`);
    }
    // Links: state, addresses per family, flaps.
    const links = ns.links();
    const tracked = s
      .series('netlink_interface_info', nsl())
      .map((x) => x.labels.interface!)
      .sort();
    const kernelNames = links.map((l) => l.ifname).sort();
    if (tracked.join(',') !== kernelNames.join(','))
      wrong.push(`netlink_interface_info interfaces [${tracked.join(',')}], kernel [${kernelNames.join(',')}]`);
    const addrs = new Map<string, number>();
    for (const a of ns.ipJson<Array<{ ifname: string; addr_info?: Array<{ family: string }> }>>('addr', 'show')) {
      for (const i of a.addr_info ?? [])
        addrs.set(`${a.ifname}/${i.family}`, (addrs.get(`${a.ifname}/${i.family}`) ?? 0) + 1);
    }
    for (const l of links) {
      const k = kernelLinkState(l);
      const e = L(l.ifname);
      for (const [metric, v] of [
        ['netlink_interface_up', k.up],
        ['netlink_interface_admin_up', k.admin],
        ['netlink_interface_carrier', k.carrier],
      ] as const) {
        if (s.value(metric, e) !== v)
          wrong.push(
            `${l.ifname}: ${metric} ${s.value(metric, e)}, kernel ${v} (operstate ${l.operstate}, flags ${l.flags.join(',')})`,
          );
      }
      for (const family of ['inet', 'inet6']) {
        const held = addrs.get(`${l.ifname}/${family}`) ?? 0;
        const gauge = s.value('netlink_interface_addresses', { ...e, family }) ?? 0;
        if (gauge !== held)
          wrong.push(`${l.ifname}: netlink_interface_addresses{family="${family}"} ${gauge}, kernel holds ${held}`);
      }
    }
    for (const end of flapEnds) {
      const b = base.get(end)!;
      const k = ns.carrierCounters(end);
      const flaps = s.value('netlink_interface_flaps_total', L(end));
      if (flaps === undefined || flaps - b.flaps !== k.down - b.down) {
        wrong.push(
          `${end}: flaps_total delta ${flaps === undefined ? '(absent)' : flaps - b.flaps}, kernel carrier_down_count delta ${k.down - b.down}`,
        );
      }
      const down = s.value('netlink_interface_carrier_down_changes_total', L(end));
      if (down !== k.down) wrong.push(`${end}: carrier_down_changes_total ${down}, kernel ${k.down}`);
    }
    return wrong;
  }

  function toggles(cycles: number, leaveDown: string[] = []): Buffer[] {
    const ifindex = new Map(ns.links().map((l) => [l.ifname, l.ifindex]));
    const out: Buffer[] = [];
    for (let c = 0; c < cycles; c++) {
      for (let i = 0; i < FLAP_PAIRS; i++) out.push(linkToggleRequest(ifindex.get(`of${i}a`)!, false, seq++));
      for (let i = 0; i < FLAP_PAIRS; i++) {
        const a = `of${i}a`;
        if (c < cycles - 1 || !leaveDown.includes(a)) out.push(linkToggleRequest(ifindex.get(a)!, true, seq++));
      }
    }
    return out;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-overrun-'));
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(config, 'socket:\n  receive_buffer_bytes: 1\ninterfaces:\n  deleted_grace_period: 1s\n');
    ns = createNetns('overrun');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    ns.addVeth('or0', 'or1', { up: true });
    ns.addVeth('oa0', 'oa1', { up: true });
    ns.addVeth('od0', 'od1', { up: true });
    const lines: string[] = [];
    for (let i = 0; i < FLAP_PAIRS; i++) {
      lines.push(`link add name of${i}a type veth peer name of${i}b`);
      lines.push(`link set dev of${i}a addrgenmode none`, `link set dev of${i}b addrgenmode none`);
      lines.push(`link set dev of${i}a up`, `link set dev of${i}b up`);
    }
    for (let i = 0; i < OLD_ROUTES; i++)
      lines.push(`route add 10.31.${i >> 8}.${i & 255}/32 dev or0 table 301 proto static`);
    for (let i = 0; i < OLD_V4; i++) lines.push(`addr add 10.150.0.${i + 1}/32 dev oa0`);
    for (let i = 0; i < OLD_V6; i++) lines.push(`addr add 2001:db8:150::${(i + 1).toString(16)}/128 dev oa0 nodad`);
    // Routes through a toggled device: its first admin down in the storm drops them (IPv4
    // silently, IPv6 with RTM_DELROUTE), where the exporter may not see it.
    for (let i = 0; i < 10; i++)
      lines.push(
        `route add 10.33.${i}.0/24 dev of1a table 303 proto static`,
        `route add 2001:db8:303:${i}::/64 dev of1a table 303 proto static`,
      );
    ns.batch(lines);
    ex = await startExporter({ netns: [ns.name], configFile: config });
    sender = new BurstSender(ns);
  });

  after(async () => {
    sender?.close();
    await resumeAndStop(ex);
    ns?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the kernel grants its minimum buffer; at start the model equals the kernel', async () => {
    await poll('flap ends up in the kernel', () => {
      const down = ns.links().filter((l) => flapEnds.includes(l.ifname) && l.operstate !== 'UP');
      return down.length === 0 ? true : down.map((l) => `${l.ifname} ${l.operstate}`).join(', ');
    });
    const s = await ex!.waitFor('the model equals the kernel before the storm', (sc) => {
      for (const end of flapEnds)
        base.set(end, {
          flaps: sc.value('netlink_interface_flaps_total', L(end)) ?? NaN,
          down: ns.carrierCounters(end).down,
        });
      const wrong = wrongAgainstKernel(sc);
      return wrong.length ? wrong.slice(0, 8).join('; ') : true;
    });
    const granted = s.value('netlink_socket_receive_buffer_bytes', nsl());
    assert.ok(
      granted !== undefined && granted > 0 && granted < 16 * 1024,
      `netlink_socket_receive_buffer_bytes ${granted}: the kernel's minimum`,
    );
    assert.equal(s.value('netlink_socket_overruns_total', nsl()), 0);
    assert.equal(s.value('netlink_resyncs_total', nsl()), 0);
  });

  test('a storm overruns the socket: counted, resynced, and then every gauge equals the kernel', async () => {
    const oa0 = ns.ifindex('oa0');
    const oa1 = ns.ifindex('oa1');
    const or0 = ns.ifindex('or0');
    const { adds, deletes } = routeBurst({
      count: ROUTES,
      second: 60,
      table: 300,
      protocol: RTPROT_STATIC,
      oif: or0,
      seq: 1_000_000,
    });
    const oldRoutes = routeBurst({
      count: OLD_ROUTES,
      second: 31,
      table: 301,
      protocol: RTPROT_STATIC,
      oif: or0,
      seq: 2_000_000,
    });
    const addAddresses: Buffer[] = [];
    const delNewV4: Buffer[] = [];
    for (let i = 0; i < NEW_PER_FAMILY; i++) {
      const v4 = { family: AF_INET, ifindex: oa1, address: ipv4Nth(160, i + 1), prefixLength: 32 };
      addAddresses.push(addressRequest({ ...v4, type: RTM_NEWADDR, seq: seq++ }));
      addAddresses.push(
        addressRequest({
          family: AF_INET6,
          ifindex: oa1,
          address: ipv6Nth(0x160, i + 1),
          prefixLength: 128,
          type: RTM_NEWADDR,
          seq: seq++,
        }),
      );
      if (i % 2 === 0) delNewV4.push(addressRequest({ ...v4, type: RTM_DELADDR, seq: seq++ }));
    }
    const delOld: Buffer[] = [];
    for (let i = 0; i < OLD_V4; i++)
      delOld.push(
        addressRequest({
          family: AF_INET,
          ifindex: oa0,
          address: Uint8Array.of(10, 150, 0, i + 1),
          prefixLength: 32,
          type: RTM_DELADDR,
          seq: seq++,
        }),
      );
    for (let i = 0; i < OLD_V6; i++)
      delOld.push(
        addressRequest({
          family: AF_INET6,
          ifindex: oa0,
          address: ipv6Nth(0x150, i + 1),
          prefixLength: 128,
          type: RTM_DELADDR,
          seq: seq++,
        }),
      );

    // Round 1, the exporter stopped: its socket cannot be drained, the overrun is certain.
    const pid = ex!.child.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      sender!.send(adds);
      sender!.send(oldRoutes.deletes);
      sender!.send([...addAddresses, ...delOld]);
      sender!.send(toggles(FLAP_CYCLES));
      ns.ip('link', 'del', 'dev', 'od0'); // its peer od1 goes with it
      await sender!.sync('storm round 1');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await ex!.waitFor('an overrun counted', (s) => {
      const v = s.value('netlink_socket_overruns_total', nsl());
      return v !== undefined && v > 0 ? true : `netlink_socket_overruns_total ${v}`;
    });

    // Rounds 2 and 3 hit the exporter running, while it resyncs.
    sender!.send([...deletes.slice(0, ROUTES_DELETED / 2), ...toggles(FLAP_CYCLES / 2), ...delNewV4]);
    await sender!.sync('storm round 2');
    sender!.send([...deletes.slice(ROUTES_DELETED / 2, ROUTES_DELETED), ...toggles(FLAP_CYCLES / 2, ['of9a'])]);
    await sender!.sync('storm round 3');

    // The kernel settles: every flap end up but the pair left down (of9a admin down, of9b no carrier).
    await poll('the kernel settled after the storm', () => {
      const bad = ns
        .links()
        .filter(
          (l) =>
            flapEnds.includes(l.ifname) &&
            l.operstate !== (l.ifname.startsWith('of9') ? 'DOWN' : 'UP') &&
            !(l.ifname === 'of9b' && l.operstate === 'LOWERLAYERDOWN'),
        );
      return bad.length === 0 ? true : bad.map((l) => `${l.ifname} ${l.operstate}`).join(', ');
    });
    assert.equal(
      groupRoutes(kernelRoutes(ns)).get(routeGroupKey('300', 'inet', 'static')),
      ROUTES - ROUTES_DELETED,
      'kernel: routes left in table 300 (test setup)',
    );
    assert.equal(
      groupRoutes(kernelRoutes(ns)).get(routeGroupKey('301', 'inet', 'static')),
      undefined,
      'kernel: table 301 emptied (test setup)',
    );
    assert.deepEqual(
      kernelRoutes(ns).filter((r) => r.table === '303'),
      [],
      'kernel: the routes through of1a went with its first admin down (test setup)',
    );
    for (const end of flapEnds) {
      const d = ns.carrierCounters(end).down - base.get(end)!.down;
      assert.equal(d, 2 * FLAP_CYCLES, `kernel: ${end} carrier_down_count delta ${d} (test setup)`);
    }

    const s = await ex!.waitFor(
      'resynced, and the model equal to the kernel',
      (sc) => {
        const wrong: string[] = [];
        const resyncs = sc.value('netlink_resyncs_total', nsl()) ?? 0;
        if (resyncs < 1) wrong.push(`netlink_resyncs_total ${resyncs}`);
        wrong.push(...wrongAgainstKernel(sc));
        return wrong.length ? `${wrong.length} differences: ${wrong.slice(0, 8).join('; ')}` : true;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.ok(
      (s.value('netlink_last_resync_timestamp_seconds', nsl()) ?? 0) > 0,
      s.show('netlink_last_resync_timestamp_seconds', nsl()),
    );
    // The deleted pair's series went with the grace period.
    for (const gone of ['od0', 'od1'])
      assert.deepEqual(
        s.withLabels(L(gone)).map((x) => x.name),
        [],
        `${gone}: series after its deletion`,
      );
    assert.ok(ex!.running, ex!.logs());
  });

  test('after the storm, one more change is seen normally (the socket still delivers)', async () => {
    const s0 = await ex!.scrape();
    const group = { netns: ns.name, table: '302', family: 'inet', protocol: 'static' };
    const overruns = s0.value('netlink_socket_overruns_total', nsl());
    const newroute = s0.value('netlink_messages_received_total', { netns: ns.name, type: 'RTM_NEWROUTE' }) ?? 0;
    assert.equal(s0.value('netlink_route_changes_total', { ...group, action: 'added' }), undefined);
    ns.ip('route', 'add', '10.99.0.0/24', 'dev', 'or0', 'table', '302', 'proto', 'static');
    const s = await ex!.waitFor('the route in table 302 seen by its notification', (sc) => {
      const wrong: string[] = [];
      const added = sc.value('netlink_route_changes_total', { ...group, action: 'added' });
      if (added !== 1) wrong.push(`route_changes_total{table="302",action="added"} ${added}`);
      if (sc.value('netlink_routes', group) !== 1)
        wrong.push(`netlink_routes{table="302"} ${sc.value('netlink_routes', group)}`);
      const delta =
        (sc.value('netlink_messages_received_total', { netns: ns.name, type: 'RTM_NEWROUTE' }) ?? 0) - newroute;
      if (delta !== 1) wrong.push(`messages_received_total{type="RTM_NEWROUTE"} delta ${delta}`);
      return wrong.length ? wrong.join('; ') : true;
    });
    assert.equal(s.value('netlink_socket_overruns_total', nsl()), overruns, 'no overrun from one change');
  });
});
