// The measurement of one burst, exporter and `ip monitor` side by side on the same burst.
//
// Per phase:
//  1. everything idle (truth listener quiet, exporter and ip monitor not using CPU);
//  2. baseline: one scrape of the exporter, ip monitor's line count, the kernel truth, then the
//     CPU time of both processes (the exporter's sampled after the baseline scrape is done);
//  3. the burst, sent as fast as the kernel takes it (batches without acks);
//  4. the truth listener settles (quiet for settleMs; link scenarios wait for linkwatch);
//  5. the exporter has caught up: it is idle (CPU time sampled then, before the verifying
//     scrape, so scrapes are not billed to the burst) and a scrape shows its counter at the
//     truth, or not moving between two idle points (then the difference is its loss);
//  6. ip monitor has caught up: idle, and its output file stopped growing.
// CPU per event = (utime + stime of all threads, after - before) / events the process
// processed: for the exporter the notifications it received (netlink_messages_received_total
// delta), for ip monitor the notifications it printed.

import { performance } from 'node:perf_hooks';
import { parseExposition } from '../test/helpers/exporter';
import type { Scrape } from '../test/helpers/exporter';
import { BenchNetns } from './netns';
import { ExporterProc, IpMonitor, cpuMicros, memory, socketInodes, threadCpuMicros, waitIdle } from './procs';
import { BurstSender, TruthListener } from './sockets';
import { sleep, waitUntil } from './util';

export interface SideResult {
  /** What this side should have seen (kernel truth). */
  truth: number;
  /** What it counted / printed. */
  counted: number;
  /** Notifications it processed (the CPU divisor). */
  processed: number;
  cpuMicros: number;
  peakKiB: number;
  /** Exporter: netlink_socket_overruns_total delta; ip monitor: ENOBUFS lines on stderr. */
  overruns: number;
  /** Drops of its sockets in /proc/net/netlink (delta). */
  drops: number;
}

export interface PhaseResult {
  label: string;
  requests: number;
  burstSeconds: number;
  exporter: SideResult;
  ipmon?: SideResult;
  notes: string[];
  /** Exactness failures (the benchmark exits non-zero). */
  failures: string[];
}

export interface PhaseSpec {
  label: string;
  sender: BurstSender;
  batches: Buffer[];
  requests: number;
  /** Cumulative count the exporter shows for what the burst generates. */
  exporterCounted: (s: Scrape) => number;
  /** Cumulative kernel truth for that count. */
  truth: () => number;
  /** Truth-listener message types that ip monitor prints (one line each). */
  ipTypes: number[];
  /** Quiet time the truth listener needs after the burst (linkwatch defers carrier events ~1 s). */
  settleMs: number;
  /** Optional extra notes computed at the end (gets the final scrape). */
  extraNotes?: (s: Scrape, base: Scrape) => string[];
}

/**
 * The CPU of a burst split by thread: the main (JavaScript) thread, and the others (the socket's
 * reader thread, V8's compiler and garbage-collector helpers, libuv's pool) by thread id.
 */
function threadSplit(pid: number, before: Map<number, number>, after: Map<number, number>): string {
  const ms = (us: number): string => `${Math.round(us / 1000)} ms`;
  const others: string[] = [];
  for (const [tid, us] of after) {
    if (tid === pid) continue;
    const d = us - (before.get(tid) ?? 0);
    if (d > 0) others.push(`${tid} ${ms(d)}`);
  }
  return `main ${ms((after.get(pid) ?? 0) - (before.get(pid) ?? 0))}; others ${others.length ? others.join(', ') : '0'}`;
}

/** The exporter, ip monitor and the truth listener on one watched namespace. */
export class BurstRig {
  exporter!: ExporterProc;
  ipmon: IpMonitor | undefined;
  truth!: TruthListener;
  /** Milliseconds from spawn to /-/ready 200, and RSS (KiB) then: the start-up's cost. */
  readyMs = 0;
  readyRssKiB = 0;

  private constructor(readonly ns: BenchNetns) {}

  static async start(ns: BenchNetns, monitorObjects: string[] | undefined): Promise<BurstRig> {
    const rig = new BurstRig(ns);
    rig.truth = new TruthListener(ns.path);
    rig.truth.check();
    rig.exporter = await ExporterProc.spawn([ns.name]);
    rig.readyMs = (await rig.exporter.waitReady()) - rig.exporter.spawnedAt;
    rig.readyRssKiB = memory(rig.exporter.pid).rssKiB;
    if (monitorObjects) rig.ipmon = new IpMonitor(ns.name, monitorObjects);
    return rig;
  }

  /**
   * Makes one change (`act`) and waits until ip monitor printed it and the truth listener got
   * it: then ip monitor is surely subscribed.
   */
  async sentinel(act: () => void): Promise<void> {
    if (this.ipmon) {
      const m = this.ipmon;
      await waitUntil(
        'ip monitor subscribed',
        () => (m.subscribed() ? true : `not yet; stderr: ${m.stderrText().trim()}`),
        10_000,
        5,
      );
    }
    const t0 = this.truth.total;
    act();
    await waitUntil(
      'truth listener sees the sentinel change',
      () => (this.truth.total > t0 ? true : 'not yet'),
      10_000,
      10,
    );
    if (this.ipmon) {
      const m = this.ipmon;
      await waitUntil(
        'ip monitor prints the sentinel change',
        () => (m.read().events > 0 ? true : `no line yet; stderr: ${m.stderrText().trim()}`),
        10_000,
        20,
      );
    }
  }

  async scrape(): Promise<Scrape> {
    return parseExposition((await this.exporter.metrics()).body);
  }

  private drops(): { exporter: number; ipmon: number } {
    const table = this.ns.netlinkSockets();
    const sum = (pid: number): number => socketInodes(pid).reduce((a, ino) => a + (table.get(ino)?.drops ?? 0), 0);
    return { exporter: sum(this.exporter.pid), ipmon: this.ipmon ? sum(this.ipmon.pid) : 0 };
  }

  async phase(spec: PhaseSpec): Promise<PhaseResult> {
    const nsl = { netns: this.ns.name };
    const failures: string[] = [];
    const notes: string[] = [];
    const ipmon = this.ipmon;
    const ipSize = ipmon ? (): number => ipmon.size() : undefined;

    // 1-2. idle, baseline
    await this.truth.settle(Math.max(300, spec.settleMs));
    await waitIdle(this.exporter.pid);
    if (ipmon) await waitIdle(ipmon.pid, { stable: ipSize! });
    const base = await this.scrape();
    const counted0 = spec.exporterCounted(base);
    const msgs0 = base.sum('netlink_messages_received_total', nsl);
    const overruns0 = base.sum('netlink_socket_overruns_total', nsl);
    const truth0 = spec.truth();
    const truthMsgs0 = this.truth.total;
    const ipTruth0 = this.truth.count(...spec.ipTypes);
    const ipEvents0 = ipmon ? ipmon.read().events : 0;
    const enobufs0 = ipmon ? ipmon.enobufs() : 0;
    const drops0 = this.drops();
    const cpuE0 = await waitIdle(this.exporter.pid);
    const threads0 = threadCpuMicros(this.exporter.pid);
    const cpuI0 = ipmon ? cpuMicros(ipmon.pid) : 0;

    // 3. burst
    const burst = await spec.sender.burst(spec.batches);
    await spec.sender.check(spec.label);

    // 4. truth
    await this.truth.settle(spec.settleMs);
    this.truth.check();
    const truth = spec.truth() - truth0;
    const truthMsgs = this.truth.total - truthMsgs0;
    const ipTruth = this.truth.count(...spec.ipTypes) - ipTruth0;

    // 5. exporter caught up
    let cpuE1: number;
    let threads1: Map<number, number>;
    let final: Scrape;
    let last = -1;
    let caughtUpAt: number;
    for (let round = 0; ; round++) {
      cpuE1 = await waitIdle(this.exporter.pid);
      threads1 = threadCpuMicros(this.exporter.pid);
      caughtUpAt = performance.now();
      final = await this.scrape();
      const c = spec.exporterCounted(final) - counted0;
      if (c >= truth || c === last) break;
      last = c;
      if (round > 100) throw new Error(`${spec.label}: exporter counter still moving after 100 idle rounds`);
      await sleep(200);
    }
    const counted = spec.exporterCounted(final) - counted0;
    const msgs = final.sum('netlink_messages_received_total', nsl) - msgs0;
    const overruns = final.sum('netlink_socket_overruns_total', nsl) - overruns0;

    // 6. ip monitor caught up
    let ipResult: SideResult | undefined;
    if (ipmon) {
      const cpuI1 = await waitIdle(ipmon.pid, { stable: ipSize! });
      const events = ipmon.read().events - ipEvents0;
      ipResult = {
        truth: ipTruth,
        counted: events,
        processed: events,
        cpuMicros: cpuI1 - cpuI0,
        peakKiB: memory(ipmon.pid).hwmKiB,
        overruns: ipmon.enobufs() - enobufs0,
        drops: 0,
      };
    }
    const drops1 = this.drops();
    if (ipResult) ipResult.drops = drops1.ipmon - drops0.ipmon;

    const exporter: SideResult = {
      truth,
      counted,
      processed: msgs,
      cpuMicros: cpuE1 - cpuE0,
      peakKiB: memory(this.exporter.pid).hwmKiB,
      overruns,
      drops: drops1.exporter - drops0.exporter,
    };

    if (counted !== truth) failures.push(`exporter counted ${counted}, kernel truth ${truth}`);
    if (msgs !== truthMsgs)
      failures.push(`exporter netlink_messages_received_total +${msgs}, truth listener +${truthMsgs}`);
    if (overruns > 0) failures.push(`exporter overruns ${overruns}`);
    if (exporter.drops > 0) failures.push(`exporter socket drops ${exporter.drops} (/proc/net/netlink)`);

    const rate = spec.requests / burst.seconds;
    notes.push(
      `burst: ${spec.requests.toLocaleString('en-US')} requests in ${burst.seconds.toFixed(2)} s (${Math.round(rate).toLocaleString('en-US')}/s); ` +
        `notifications ${truthMsgs.toLocaleString('en-US')}; exporter idle ${((caughtUpAt - burst.endedAt) / 1000).toFixed(2)} s after the burst, ` +
        `processed ${msgs.toLocaleString('en-US')} notifications (= truth listener: ${msgs === truthMsgs ? 'yes' : 'NO'})`,
    );
    notes.push(`exporter CPU by thread: ${threadSplit(this.exporter.pid, threads0, threads1)}`);
    if (burst.longestSendMs > 50 || burst.longestYieldMs > 50) {
      notes.push(
        `pauses in the burst: longest single sendmsg (up to 256 requests, time in the kernel) ${burst.longestSendMs.toFixed(0)} ms, ` +
          `longest event-loop turn between sends ${burst.longestYieldMs.toFixed(0)} ms`,
      );
    }
    if (spec.extraNotes) notes.push(...spec.extraNotes(final, base));
    if (failures.length) {
      const w = this.exporter.warnings();
      if (w.length)
        notes.push(`exporter log (${w.length} warn/error lines, last 3):\n      ${w.slice(-3).join('\n      ')}`);
    }
    return {
      label: spec.label,
      requests: spec.requests,
      burstSeconds: burst.seconds,
      exporter,
      ...(ipResult ? { ipmon: ipResult } : {}),
      notes,
      failures,
    };
  }

  async stop(): Promise<void> {
    await this.exporter?.stop();
    await this.ipmon?.stop();
    this.truth?.close();
  }
}
