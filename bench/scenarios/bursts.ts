// Scenarios 1-4: route, address, flap and carrier-only bursts, the exporter and
// `ip monitor` on the same burst.

import {
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
} from '../../src/netlink/constants';
import type { Scrape } from '../../test/helpers/exporter';
import { BurstRig, PhaseResult } from '../measure';
import { BenchNetns, createNetns, vethPairLines } from '../netns';
import { RTPROT_STATIC, addressBurst, flapBurst, routeBurst } from '../requests';
import { BurstSender } from '../sockets';
import type { Row } from '../table';
import type { Context } from './context';

/**
 * Row suffixes: every scenario runs its burst twice in one exporter process. `1st` is the first
 * burst a fresh process meets (nothing before it but the start-up and one sentinel change), `2nd`
 * what a running exporter pays.
 */
const FIRST_BURST = ', 1st';
const REPEATED_BURST = ', 2nd';

/** What the start-up cost: time to ready (the warm-up is part of it) and RSS then. */
function startupNote(rig: BurstRig): string {
  return `exporter start-up: ready ${Math.round(rig.readyMs)} ms after spawn, RSS then ${(rig.readyRssKiB / 1024).toFixed(1)} MB`;
}

function toRow(scenario: string, p: PhaseResult): Row {
  return {
    scenario,
    exporter: p.exporter,
    ...(p.ipmon ? { ipmon: p.ipmon } : {}),
    notes: p.notes,
    failures: p.failures,
  };
}

/** Runs `body` with a rig and a sender, stopping and deleting everything whatever happens. */
async function withRig<T>(
  namespaces: BenchNetns[],
  watched: BenchNetns,
  monitor: string[],
  senderNs: BenchNetns,
  body: (rig: BurstRig, sender: BurstSender) => Promise<T>,
): Promise<T> {
  let rig: BurstRig | undefined;
  let sender: BurstSender | undefined;
  try {
    rig = await BurstRig.start(watched, monitor);
    sender = new BurstSender(senderNs.path);
    return await body(rig, sender);
  } finally {
    sender?.close();
    await rig?.stop();
    for (const ns of namespaces) ns.delete();
  }
}

// ---- 1. route burst -------------------------------------------------------------------------

export async function routeScenario(ctx: Context): Promise<Row[]> {
  const count = ctx.size(400_000, 256);
  const ns = createNetns();
  const namespaces = [ns];
  try {
    ns.batch(vethPairLines('r', 'p', 1).near);
    const oif = ns.ifindexes().get('r0')!;
    const adds = routeBurst({ type: RTM_NEWROUTE, count, base: '10.0.0.0', protocol: RTPROT_STATIC, oif });
    const dels = routeBurst({
      type: RTM_DELROUTE,
      count,
      base: '10.0.0.0',
      protocol: RTPROT_STATIC,
      oif,
      seqStart: count + 1,
    });
    return await withRig(namespaces, ns, ['route'], ns, async (rig, sender) => {
      await rig.sentinel(() => ns.ip('route', 'add', '10.255.255.254/32', 'dev', 'r0'));
      const changes = (action: string) => (s: Scrape) =>
        s.sum('netlink_route_changes_total', { netns: ns.name, action });
      const rows: Row[] = [];
      for (const round of [FIRST_BURST, REPEATED_BURST]) {
        ctx.log(`route: ${count} adds${round}`);
        const add = await rig.phase({
          label: 'route add',
          sender,
          batches: adds,
          requests: count,
          exporterCounted: changes('added'),
          truth: () => rig.truth.count(RTM_NEWROUTE),
          ipTypes: [RTM_NEWROUTE, RTM_DELROUTE],
          settleMs: 300,
        });
        ctx.log(`route: ${count} deletes${round}`);
        const del = await rig.phase({
          label: 'route del',
          sender,
          batches: dels,
          requests: count,
          exporterCounted: changes('removed'),
          truth: () => rig.truth.count(RTM_DELROUTE),
          ipTypes: [RTM_NEWROUTE, RTM_DELROUTE],
          settleMs: 300,
          extraNotes: (s, b) => {
            const flushed =
              s.sum('netlink_route_changes_total', { netns: ns.name, action: 'flushed' }) -
              b.sum('netlink_route_changes_total', { netns: ns.name, action: 'flushed' });
            return flushed ? [`unexpected flushed routes: ${flushed}`] : [];
          },
        });
        if (round === FIRST_BURST) add.notes.push(startupNote(rig));
        rows.push(toRow(`1 route add ${fmtK(count)}${round}`, add), toRow(`1 route del ${fmtK(count)}${round}`, del));
      }
      return rows;
    });
  } catch (e) {
    for (const n of namespaces) n.delete();
    throw e;
  }
}

function fmtK(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

// ---- 2. address burst -----------------------------------------------------------------------

export async function addressScenario(ctx: Context): Promise<Row[]> {
  const count = ctx.size(20_000, 16);
  const devices = 4;
  const ns = createNetns();
  const namespaces = [ns];
  try {
    ns.batch(vethPairLines('a', 'b', devices).near);
    const idx = ns.ifindexes();
    const ifindexes = Array.from({ length: devices }, (_, i) => idx.get(`a${i}`)!);
    const adds = addressBurst(RTM_NEWADDR, count, '10.128.0.0', ifindexes);
    const dels = addressBurst(RTM_DELADDR, count, '10.128.0.0', ifindexes, count + 1);
    return await withRig(namespaces, ns, ['address'], ns, async (rig, sender) => {
      await rig.sentinel(() => ns.ip('address', 'add', '10.254.254.254/32', 'dev', 'a0'));
      const changes = (action: string) => (s: Scrape) =>
        s.sum('netlink_address_changes_total', { netns: ns.name, family: 'inet', action });
      const routeNote = (kind: string) => (): string[] => [
        `each /32 address also makes the kernel ${kind} its local route (table local): the exporter processes those route notifications too, ip monitor address does not subscribe to them`,
      ];
      const rows: Row[] = [];
      // Twice: a fresh process meets its first large burst with code V8 has not optimised yet
      // and a heap it has not grown yet; the second burst shows what a running exporter pays.
      for (const round of [FIRST_BURST, REPEATED_BURST]) {
        ctx.log(`address: ${count} adds over ${devices} devices${round}`);
        const add = await rig.phase({
          label: 'address add',
          sender,
          batches: adds,
          requests: count,
          exporterCounted: changes('added'),
          truth: () => rig.truth.count(RTM_NEWADDR),
          ipTypes: [RTM_NEWADDR, RTM_DELADDR],
          settleMs: 300,
          extraNotes: routeNote('add'),
        });
        ctx.log(`address: ${count} removes${round}`);
        const del = await rig.phase({
          label: 'address del',
          sender,
          batches: dels,
          requests: count,
          exporterCounted: changes('removed'),
          truth: () => rig.truth.count(RTM_DELADDR),
          ipTypes: [RTM_NEWADDR, RTM_DELADDR],
          settleMs: 300,
          extraNotes: routeNote('remove'),
        });
        for (const p of [add, del]) {
          p.notes.push(
            `per address change: exporter ${(p.exporter.cpuMicros / Math.max(1, p.exporter.truth)).toFixed(2)} µs (all it processed), ` +
              `ip monitor ${p.ipmon ? (p.ipmon.cpuMicros / Math.max(1, p.ipmon.counted)).toFixed(2) : '-'} µs`,
          );
        }
        if (round === FIRST_BURST) add.notes.push(startupNote(rig));
        rows.push(
          toRow(`2 address add ${fmtK(count)}${round}`, add),
          toRow(`2 address del ${fmtK(count)}${round}`, del),
        );
      }
      return rows;
    });
  } catch (e) {
    for (const n of namespaces) n.delete();
    throw e;
  }
}

// ---- 3. flap burst --------------------------------------------------------------------------

/** Lines of ip monitor output that show an interface operationally down. */
function downLines(lines: string[]): number {
  return lines.filter((l) => /^\d+: /.test(l) && /NO-CARRIER|state (DOWN|LOWERLAYERDOWN)/.test(l)).length;
}

export async function flapScenario(ctx: Context): Promise<Row[]> {
  const pairs = 100;
  const toggles = ctx.size(50_000, 2 * pairs);
  const ns = createNetns();
  const namespaces = [ns];
  try {
    ns.batch(vethPairLines('fa', 'fb', pairs).near);
    const idx = ns.ifindexes();
    const ifindexes = Array.from({ length: pairs }, (_, i) => idx.get(`fa${i}`)!);
    const burst = flapBurst(ifindexes, toggles);
    return await withRig(namespaces, ns, ['link'], ns, async (rig, sender) => {
      await rig.sentinel(() => ns.ip('link', 'set', 'dev', 'fa0', 'alias', 'sentinel'));
      const carrierDowns = (): number => [...ns.carrierDownCounts().values()].reduce((a, b) => a + b, 0);
      const rows: Row[] = [];
      for (const round of [FIRST_BURST, REPEATED_BURST]) {
        ctx.log(`flap: ${burst.toggles} admin toggles over ${pairs} veth pairs${round}`);
        const lines0 = rig.ipmon!.read().lines.length;
        const p = await rig.phase({
          label: 'flap',
          sender,
          batches: burst.batches,
          requests: burst.toggles,
          exporterCounted: (s) => s.sum('netlink_interface_flaps_total', { netns: ns.name }),
          truth: carrierDowns,
          ipTypes: [RTM_NEWLINK, RTM_DELLINK],
          settleMs: 1_500,
          extraNotes: () => {
            const lines = rig.ipmon!.read().lines.slice(lines0);
            return [
              `truth = sum of carrier_down_count deltas of the ${pairs} toggled ends and their ${pairs} peers; ip monitor truth = RTM_NEWLINK notifications`,
              `ip monitor printed ${downLines(lines).toLocaleString('en-US')} lines showing a link down (what a line reader could count as flaps)`,
            ];
          },
        });
        if (round === FIRST_BURST) p.notes.push(startupNote(rig));
        rows.push(toRow(`3 flap ${fmtK(burst.toggles)} toggles${round}`, p));
      }
      return rows;
    });
  } catch (e) {
    for (const n of namespaces) n.delete();
    throw e;
  }
}

// ---- 4. carrier-only burst ------------------------------------------------------------------

export async function carrierScenario(ctx: Context): Promise<Row[]> {
  const pairs = 100;
  const toggles = ctx.size(50_000, 2 * pairs);
  const near = createNetns();
  const namespaces = [near];
  try {
    const far = createNetns();
    namespaces.push(far);
    const lines = vethPairLines('ca', 'cb', pairs, { peerNetns: far });
    near.batch(lines.near);
    far.batch(lines.far);
    const idx = far.ifindexes();
    const ifindexes = Array.from({ length: pairs }, (_, i) => idx.get(`cb${i}`)!);
    const burst = flapBurst(ifindexes, toggles);
    return await withRig(namespaces, near, ['link'], far, async (rig, sender) => {
      await rig.sentinel(() => near.ip('link', 'set', 'dev', 'ca0', 'alias', 'sentinel'));
      const carrierDowns = (): number => [...near.carrierDownCounts().values()].reduce((a, b) => a + b, 0);
      const rows: Row[] = [];
      for (const round of [FIRST_BURST, REPEATED_BURST]) {
        ctx.log(`carrier: ${burst.toggles} admin toggles of the far ends (other namespace)${round}`);
        const lines0 = rig.ipmon!.read().lines.length;
        const p = await rig.phase({
          label: 'carrier',
          sender,
          batches: burst.batches,
          requests: burst.toggles,
          exporterCounted: (s) => s.sum('netlink_interface_flaps_total', { netns: near.name }),
          truth: carrierDowns,
          ipTypes: [RTM_NEWLINK, RTM_DELLINK],
          settleMs: 2_500,
          extraNotes: () => {
            const l = rig.ipmon!.read().lines.slice(lines0);
            return [
              'far ends toggled in another namespace: the watched ends see only carrier changes; ' +
                'truth = their carrier_down_count delta, ip monitor truth = RTM_NEWLINK notifications (the kernel coalesces them)',
              `ip monitor printed ${downLines(l).toLocaleString('en-US')} lines showing a link down`,
            ];
          },
        });
        if (round === FIRST_BURST) p.notes.push(startupNote(rig));
        rows.push(toRow(`4 carrier-only ${fmtK(burst.toggles)}${round}`, p));
      }
      return rows;
    });
  } catch (e) {
    for (const n of namespaces) n.delete();
    throw e;
  }
}
