// Bridge ports' STP state on a live kernel, in a private namespace: a bridge with kernel STP
// (forward_delay 2 s, the least the kernel takes) and veth ports. A port set up goes disabled ->
// listening -> learning -> forwarding; its peer enslaved to the same bridge makes a loop, which
// STP breaks by blocking one of them; a port set down is disabled; a port released from the
// bridge loses its series with no flap or deletion counted. Each step: the exact scraped
// netlink_bridge_port_state (one-hot) and netlink_bridge_port_state_changes_total against the
// kernel's `bridge -j link show`, and the exact `events` mode lines. Last, ports released, added
// and changed while the socket overran: after the resync every port equals the kernel.
//
// The steps build on each other: once one fails, the later ones are skipped.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createNetns, liveDescribe, Netns, run } from '../helpers/netns';
import { EventsProcess, Exporter, Scrape, poll, startEvents, startExporter } from '../helpers/exporter';
import { eventsModeReady, overrunAndResync, resumeAndStop } from '../helpers/overrun';
import { sequentialSteps } from '../helpers/steps';

type Json = Record<string, unknown>;

const STATES = ['disabled', 'listening', 'learning', 'forwarding', 'blocking'];
/** Rules added while the exporter is stopped: enough notifications to overrun the smallest buffer. */
const STORM = 400;

interface KernelPort {
  ifname: string;
  master: string;
  state: string;
}

liveDescribe('bridge ports: STP state set, changes, events, exact after a resync', { timeout: 240_000 }, () => {
  let ns: Netns;
  let ex: Exporter | undefined;
  let ev: EventsProcess | undefined;
  let dir: string | undefined;
  /** netlink_bridge_port_state_changes_total expected per port (a port not in it has no series). */
  const changes = new Map<string, number>();

  const step = sequentialSteps();

  /** The kernel's bridge ports: name -> {bridge, state}. */
  function kernelPorts(): Map<string, { bridge: string; state: string }> {
    const text = run('bridge', ['-n', ns.name, '-j', 'link', 'show']).stdout.trim();
    const out = new Map<string, { bridge: string; state: string }>();
    for (const p of (text === '' ? [] : JSON.parse(text)) as KernelPort[])
      out.set(p.ifname, { bridge: p.master, state: p.state });
    return out;
  }

  /** Differences between the scrape and the kernel (and the expected counters). */
  function wrong(s: Scrape, kernel = kernelPorts()): string[] {
    const problems: string[] = [];
    const netns = ns.name;
    const scrapedPorts = new Set(s.series('netlink_bridge_port_state', { netns }).map((x) => x.labels.interface!));
    for (const name of scrapedPorts) if (!kernel.has(name)) problems.push(`${name}: series, but no port in the kernel`);
    for (const [name, { bridge, state }] of kernel) {
      const samples = s.series('netlink_bridge_port_state', { netns, interface: name });
      const got = samples.map((x) => `${x.labels.bridge}:${x.labels.state}=${x.value}`).sort();
      const want = STATES.map((st) => `${bridge}:${st}=${st === state ? 1 : 0}`).sort();
      if (got.join() !== want.join()) problems.push(`${name}: ${got.join(' ')}, kernel ${bridge} ${state}`);
    }
    const counters = s.series('netlink_bridge_port_state_changes_total', { netns });
    for (const c of counters)
      if (!changes.has(c.labels.interface!)) problems.push(`${c.labels.interface}: a counter, expected none`);
    for (const [name, n] of changes) {
      const got = s.value('netlink_bridge_port_state_changes_total', {
        netns,
        bridge: kernel.get(name)?.bridge ?? '?',
        interface: name,
      });
      if (got !== n) problems.push(`${name} changes: ${got}, expected ${n}`);
    }
    return problems;
  }

  const settle = (what: string, extra?: (s: Scrape) => string | undefined) =>
    ex!.waitFor(
      what,
      (s) => {
        const w = wrong(s);
        const more = extra?.(s);
        if (more) w.push(more);
        return w.length ? w.slice(0, 8).join('; ') : true;
      },
      { timeoutMs: 30_000 },
    );

  /** Polls the kernel until port `name` is in `state`. */
  const kernelState = (name: string, state: string) =>
    poll(
      `${name} ${state} in the kernel`,
      () => {
        const st = kernelPorts().get(name)?.state;
        return st === state ? true : `state ${st}`;
      },
      { timeoutMs: 20_000 },
    );

  /** The next `events` line of a bridge_port change of `port`, with the time and netns cut off. */
  async function nextPortLine(port: string): Promise<string> {
    const line = await ev!.nextLine(`bridge_port ${port}`, (l) => l.includes(` bridge_port changed ${port} `), 20_000);
    return line.slice(line.indexOf(' bridge_port ') + 1);
  }

  async function portEvents(): Promise<Json[]> {
    const res = await ex!.get('/api/v1/events?kind=bridge_port&limit=1000');
    assert.equal(res.status, 200, res.body.slice(0, 300));
    return (JSON.parse(res.body) as { events: Json[] }).events;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-bridge-'));
    const config = path.join(dir, 'config.yml');
    // The kernel's smallest receive buffer: the storm while the exporter is stopped overruns it.
    fs.writeFileSync(config, 'socket:\n  receive_buffer_bytes: 1\n');
    ns = createNetns('bridge');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    ns.ip('link', 'add', 'br0', 'type', 'bridge', 'stp_state', '1', 'forward_delay', '200');
    ns.ip('link', 'set', 'dev', 'br0', 'addrgenmode', 'none');
    // p1's peer q1 is up, so p1 has its carrier as soon as it is up; p1 joins br0 while down.
    ns.addVeth('p1', 'q1');
    ns.ip('link', 'set', 'dev', 'q1', 'up');
    ns.ip('link', 'set', 'dev', 'p1', 'master', 'br0');
    ns.ip('link', 'set', 'dev', 'br0', 'up');
    ex = await startExporter({ netns: [ns.name], configFile: config });
    ev = startEvents({ netns: [ns.name] });
    await eventsModeReady(ev, ns, 20_000);
  });

  after(async () => {
    await ev?.stop();
    await resumeAndStop(ex);
    ns?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  step('at start: the port p1 (down) is disabled, its counter at 0; the bridge itself is no port', async () => {
    changes.set('p1', 0);
    const s = await settle('p1 disabled');
    const netns = ns.name;
    assert.equal(s.value('netlink_bridge_port_state', { netns, bridge: 'br0', interface: 'p1', state: 'disabled' }), 1);
    assert.equal(s.series('netlink_bridge_port_state', { netns }).length, 5, s.show('netlink_bridge_port_state'));
    assert.equal(s.value('netlink_bridge_ports_dropped_total', { netns }), 0);
    assert.deepEqual(await portEvents(), [], 'the initial dump is quiet');
  });

  step('p1 up: disabled -> listening -> learning -> forwarding, three changes, three lines', async () => {
    ns.ip('link', 'set', 'dev', 'p1', 'up');
    await kernelState('p1', 'forwarding');
    changes.set('p1', 3);
    await settle('p1 forwarding');
    const p1 = ns.ifindex('p1');
    assert.deepEqual(
      [await nextPortLine('p1'), await nextPortLine('p1'), await nextPortLine('p1')],
      [
        `bridge_port changed p1 ifindex=${p1} bridge=br0 state=disabled->listening`,
        `bridge_port changed p1 ifindex=${p1} bridge=br0 state=listening->learning`,
        `bridge_port changed p1 ifindex=${p1} bridge=br0 state=learning->forwarding`,
      ],
    );
    const events = await portEvents();
    assert.deepEqual(
      events.map((e) => [e.netns, e.interface, e.ifindex, e.bridge, e.bridgeIfindex, e.previousState, e.state]),
      [
        [ns.name, 'p1', p1, 'br0', ns.ifindex('br0'), 'disabled', 'listening'],
        [ns.name, 'p1', p1, 'br0', ns.ifindex('br0'), 'listening', 'learning'],
        [ns.name, 'p1', p1, 'br0', ns.ifindex('br0'), 'learning', 'forwarding'],
      ],
    );
  });

  step('q1, p1 peer, joins br0 too: a loop, STP blocks q1 and p1 keeps forwarding', async () => {
    const seen = (await portEvents()).length;
    ns.ip('link', 'set', 'dev', 'q1', 'master', 'br0');
    await kernelState('q1', 'blocking');
    const q1 = ns.ifindex('q1');
    // q1 joins with its link up, in the state STP gives it first: blocking at once, or listening
    // until p1's BPDUs arrive. The first state is no change; each change after it is one event
    // and one count.
    let q1Events: Json[] = [];
    await poll(
      'q1 blocking in the scrape, its counter equal to its events',
      async () => {
        q1Events = (await portEvents()).slice(seen);
        const sc = await ex!.scrape();
        const netns = ns.name;
        const blocking = sc.value('netlink_bridge_port_state', {
          netns,
          bridge: 'br0',
          interface: 'q1',
          state: 'blocking',
        });
        const counted = sc.value('netlink_bridge_port_state_changes_total', { netns, bridge: 'br0', interface: 'q1' });
        if (blocking !== 1) return `q1 blocking ${blocking}`;
        return counted === q1Events.length ? true : `q1 changes ${counted}, events ${q1Events.length}`;
      },
      { timeoutMs: 30_000 },
    );
    assert.ok(
      q1Events.every((e) => e.interface === 'q1'),
      JSON.stringify(q1Events),
    );
    changes.set('q1', q1Events.length);
    await settle('q1 blocking, p1 forwarding');
    const lines: string[] = [];
    for (let i = 0; i < q1Events.length; i++) lines.push(await nextPortLine('q1'));
    assert.deepEqual(
      lines,
      q1Events.map(
        (e) => `bridge_port changed q1 ifindex=${q1} bridge=br0 state=${String(e.previousState)}->${String(e.state)}`,
      ),
    );
    if (lines.length > 0) assert.equal(lines.at(-1)?.endsWith('->blocking'), true, lines.join('\n'));
  });

  step('p1 down: p1 forwarding -> disabled (q1, losing its carrier with it, disabled too)', async () => {
    ns.ip('link', 'set', 'dev', 'p1', 'down');
    await kernelState('p1', 'disabled');
    await kernelState('q1', 'disabled');
    changes.set('p1', 4);
    changes.set('q1', changes.get('q1')! + 1);
    await settle('p1 and q1 disabled');
    const p1 = ns.ifindex('p1');
    const q1 = ns.ifindex('q1');
    assert.equal(
      await nextPortLine('p1'),
      `bridge_port changed p1 ifindex=${p1} bridge=br0 state=forwarding->disabled`,
    );
    assert.equal(await nextPortLine('q1'), `bridge_port changed q1 ifindex=${q1} bridge=br0 state=blocking->disabled`);
  });

  step('p1 leaves br0: its port series go; the interface stays, no flap or deletion counted', async () => {
    const netns = ns.name;
    const before = await ex!.scrape();
    const flaps = before.value('netlink_interface_flaps_total', { netns, interface: 'p1' });
    const deletions = before.value('netlink_interface_deletions_total', { netns });
    const events = (await portEvents()).length;
    ns.ip('link', 'set', 'dev', 'p1', 'nomaster');
    changes.delete('p1');
    const s = await settle('p1 no longer a port', (sc) =>
      sc.series('netlink_bridge_port_state', { netns, interface: 'p1' }).length === 0
        ? undefined
        : 'p1 still has series',
    );
    assert.equal(s.value('netlink_interface_flaps_total', { netns, interface: 'p1' }), flaps);
    assert.equal(s.value('netlink_interface_deletions_total', { netns }), deletions);
    assert.equal(s.value('netlink_interface_admin_up', { netns, interface: 'p1' }), 0, 'p1 keeps its interface series');
    assert.equal((await portEvents()).length, events, 'leaving is no state change');
  });

  step(
    'ports released, added and changed while the socket overran: after the resync every port equals the kernel',
    async () => {
      const netns = ns.name;
      const seen = (await portEvents()).length;
      const rules: string[] = [];
      for (let i = 0; i < STORM; i++)
        rules.push(`rule add from 10.9.${i >> 8}.${i & 255} table 300 priority ${1000 + i}`);
      await overrunAndResync(ex!, netns, () => {
        ns.ip('link', 'set', 'dev', 'q1', 'nomaster'); // released unheard: the sweep drops it
        ns.addVeth('p2', 'q2');
        ns.ip('link', 'set', 'dev', 'q2', 'up');
        ns.ip('link', 'set', 'dev', 'p2', 'master', 'br0'); // joined unheard: the resync finds it
        ns.ip('link', 'set', 'dev', 'p1', 'master', 'br0'); // back, and up: listening unheard
        ns.ip('link', 'set', 'dev', 'p1', 'up');
        run('ip', ['-n', ns.name, '-batch', '-'], { input: rules.join('\n') + '\n' });
      });
      changes.delete('q1');
      changes.set('p1', 0);
      changes.set('p2', 0);
      // p1 and p2 rejoined unheard: new ports, counters afresh. Once the resync is in, p1 goes on
      // through learning to forwarding with notifications heard: wait for the kernel to be there.
      await kernelState('p1', 'forwarding');
      // Changes after the resync was in are heard; ones between the overrun and the resync's dump
      // are a lower bound: the counter must be between 0 and the number of states p1 passed.
      const s = await ex!.waitFor(
        'p1, p2 equal the kernel; q1 gone',
        (sc) => {
          const kernel = kernelPorts();
          const problems: string[] = [];
          if (sc.series('netlink_bridge_port_state', { netns, interface: 'q1' }).length > 0)
            problems.push('q1 still has series');
          for (const name of ['p1', 'p2']) {
            const k = kernel.get(name);
            if (!k) {
              problems.push(`${name}: no port in the kernel`);
              continue;
            }
            const one = sc.series('netlink_bridge_port_state', { netns, interface: name }).filter((x) => x.value === 1);
            if (one.length !== 1 || one[0]!.labels.state !== k.state || one[0]!.labels.bridge !== 'br0')
              problems.push(`${name}: ${JSON.stringify(one.map((x) => x.labels))}, kernel ${k.state}`);
          }
          return problems.length ? problems.join('; ') : true;
        },
        { timeoutMs: 30_000 },
      );
      // p1 rejoined as a new port: each change counted since is one event (heard, or found by
      // the resync), at most the three from disabled to forwarding; p2 changed nothing.
      const later = (await portEvents()).slice(seen);
      const p1Changes = s.value('netlink_bridge_port_state_changes_total', { netns, bridge: 'br0', interface: 'p1' });
      assert.equal(p1Changes, later.filter((e) => e.interface === 'p1').length, JSON.stringify(later));
      assert.ok(p1Changes! <= 3, `p1 changes ${p1Changes}`);
      assert.equal(s.value('netlink_bridge_port_state_changes_total', { netns, bridge: 'br0', interface: 'p2' }), 0);
      assert.equal(s.series('netlink_bridge_port_state', { netns }).length, 10, s.show('netlink_bridge_port_state'));
    },
  );
});
