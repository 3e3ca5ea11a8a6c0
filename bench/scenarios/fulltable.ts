// Scenario 5: a full routing table. 1,000,000 IPv4 routes added then deleted in main, then
// 1,000,000 routes using one nexthop object (as FRR installs them) and the nexthop object
// deleted, which removes its IPv4 routes without a notification. netlink_routes must be exact
// after each phase; /metrics is scraped every 200 ms throughout; RSS is followed.

import { ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, Interface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { RTM_DELROUTE, RTM_NEWROUTE } from '../../src/netlink/constants';
import { parseExposition } from '../../test/helpers/exporter';
import { createNetns, vethPairLines } from '../netns';
import { cpuMicros, ExporterProc, memory, waitIdle } from '../procs';
import { RTPROT_BGP, routeBurst } from '../requests';
import { BurstSender, TruthListener } from '../sockets';
import type { Row } from '../table';
import { int, percentile, sleep } from '../util';
import type { Context } from './context';

const NH_ID = 100;
const MB20 = 20 * 1024;

/**
 * Scrapes /metrics every 200 ms (one at a time) from a child process of its own (bench/scrape-loop):
 * this process blocks in sendmsg during a burst and would otherwise time itself, not the exporter.
 */
class Scraper {
  latencies: number[] = [];
  errors: string[] = [];
  /** netlink_routes{main,inet} in the last scrape, and when it was answered (performance.now()). */
  lastRoutes: number | undefined;
  lastAt = 0;
  /** Largest nodejs_eventloop_lag_max_seconds seen (prom-client resets it at each scrape). */
  maxLoopLag = 0;
  /** When the slowest scrape started (performance.now()). */
  slowestAt = 0;
  readonly startedAt = performance.now();
  private readonly child: ChildProcess;
  private readonly lines: Interface;
  /** performance.now() - Date.now(): the child reports wall-clock times. */
  private readonly clockOffset = performance.now() - Date.now();

  constructor(exporter: ExporterProc, netns: string) {
    this.child = spawn(
      process.execPath,
      [join(__dirname, '..', 'scrape-loop.js'), `http://127.0.0.1:${exporter.port}/metrics`, netns, '200'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.lines = createInterface({ input: this.child.stdout! });
    this.lines.on('line', (line) =>
      this.take(JSON.parse(line) as { at: number; ms: number; routes?: number; lag?: number; error?: string }),
    );
  }

  private take(r: { at: number; ms: number; routes?: number; lag?: number; error?: string }): void {
    if (r.ms > Math.max(0, ...this.latencies)) this.slowestAt = r.at + this.clockOffset;
    this.latencies.push(r.ms);
    if (r.error !== undefined) {
      this.errors.push(r.error);
      return;
    }
    this.maxLoopLag = Math.max(this.maxLoopLag, r.lag ?? 0);
    this.lastRoutes = r.routes;
    this.lastAt = r.at + r.ms + this.clockOffset;
  }

  async stop(): Promise<{
    max: number;
    p50: number;
    count: number;
    errors: string[];
    maxLoopLag: number;
    slowestAfter: number;
  }> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill();
    await exited;
    this.lines.close();
    return {
      max: Math.max(0, ...this.latencies),
      p50: percentile(this.latencies, 50),
      count: this.latencies.length,
      errors: this.errors,
      maxLoopLag: this.maxLoopLag,
      slowestAfter: (this.slowestAt - this.startedAt) / 1000,
    };
  }
}

/** Where the memory is: RSS, peak so far, and V8's own view (heap, off-heap buffers), in MB. */
function memoryNote(pid: number, s: ReturnType<typeof parseExposition>): string {
  const m = memory(pid);
  const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);
  return (
    `RSS ${mb(m.rssKiB * 1024)} (peak so far ${mb(m.hwmKiB * 1024)}); V8 heap used ${mb(s.sum('nodejs_heap_size_used_bytes'))} ` +
    `of ${mb(s.sum('nodejs_heap_size_total_bytes'))}, external ${mb(s.sum('nodejs_external_memory_bytes'))}`
  );
}

function execAsync(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 300_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/** `ip -n NS -4 route show table main | wc -l`, without blocking the event loop (the scraper runs). */
function countMainRoutes4(ns: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', `ip -n ${ns} -4 route show table main | wc -l`], { timeout: 300_000 }, (err, out) =>
      err ? reject(err) : resolve(Number(String(out).trim())),
    );
  });
}

export async function fullTableScenario(ctx: Context): Promise<Row[]> {
  const count = ctx.size(1_000_000, 256);
  const ns = createNetns();
  let exporter: ExporterProc | undefined;
  let sender: BurstSender | undefined;
  let truth: TruthListener | undefined;
  const notes: string[] = [];
  const failures: string[] = [];
  try {
    ns.batch(vethPairLines('t', 'u', 1).near);
    ns.ip('address', 'add', '10.255.0.2/24', 'dev', 't0');
    const oif = ns.ifindexes().get('t0')!;
    truth = new TruthListener(ns.path);
    truth.check();
    exporter = await ExporterProc.spawn([ns.name]);
    await exporter.waitReady();
    sender = new BurstSender(ns.path);
    const ex = exporter;
    const tr = truth;
    const sd = sender;
    const nsl = { netns: ns.name };
    const routesOf = (text: string): number =>
      parseExposition(text).sum('netlink_routes', { netns: ns.name, table: 'main', family: 'inet' });
    const scrape = async () => parseExposition((await ex.metrics()).body);

    const first = parseExposition((await ex.metrics()).body); // warms up the renderer; RSS is taken after it
    await waitIdle(ex.pid);
    const rssStart = memory(ex.pid).rssKiB;
    notes.push(
      `RSS at start ${(rssStart / 1024).toFixed(1)} MB (after the first scrape); ${memoryNote(ex.pid, first)}`,
    );

    const build = (type: number, withNh: boolean, seqStart: number): Buffer[] =>
      routeBurst({
        type,
        count,
        base: '11.0.0.0',
        protocol: RTPROT_BGP,
        ...(withNh ? { nhId: NH_ID } : { oif }),
        seqStart,
      });

    /** Runs `act` while scraping, then waits for netlink_routes to equal `ip route show | wc -l`. */
    const phase = async (label: string, act: () => Promise<void>): Promise<{ exact: boolean; scrapeMax: number }> => {
      const s0 = await scrape();
      const truthMsgs0 = tr.total;
      const msgs0 = s0.sum('netlink_messages_received_total', nsl);
      const scraper = new Scraper(ex, ns.name);
      const cpu0 = cpuMicros(ex.pid);
      const t0 = performance.now();
      await act();
      const actMs = performance.now() - t0;
      const kernel = await countMainRoutes4(ns.name);
      // Wait until the exporter's gauge matches, or stops moving once it is idle.
      let got: number;
      let exactAt = 0;
      const deadline = performance.now() + 180_000;
      for (;;) {
        await sleep(100);
        if (scraper.lastRoutes === undefined) continue;
        got = scraper.lastRoutes;
        if (got === kernel) {
          exactAt = scraper.lastAt;
          break;
        }
        if (performance.now() > deadline) break;
      }
      if (got !== kernel) {
        await waitIdle(ex.pid);
        got = routesOf((await ex.metrics()).body);
        if (got === kernel) exactAt = performance.now();
      }
      const stats = await scraper.stop();
      // CPU of all the exporter's threads until it is idle again (its scrapes meanwhile included).
      const cpu = (await waitIdle(ex.pid)) - cpu0;
      await tr.settle(300);
      const s1 = await scrape();
      const msgs = s1.sum('netlink_messages_received_total', nsl) - msgs0;
      const truthMsgs = tr.total - truthMsgs0;
      const d = (action: string): number =>
        s1.sum('netlink_route_changes_total', { ...nsl, action }) -
        s0.sum('netlink_route_changes_total', { ...nsl, action });
      const exact = got === kernel;
      notes.push(
        `${label}: ${(actMs / 1000).toFixed(2)} s; netlink_routes{main,inet} ${int(got)} vs ip route show ${int(kernel)} ${exact ? 'EXACT' : 'WRONG'}` +
          (exact ? ` (${Math.max(0, (exactAt - t0 - actMs) / 1000).toFixed(2)} s after the kernel finished)` : '') +
          `; changes +${int(d('added'))} added, +${int(d('removed'))} removed, +${int(d('flushed'))} flushed; ` +
          `notifications ${int(truthMsgs)} (exporter received ${int(msgs)}); ` +
          `exporter CPU ${(cpu / 1e6).toFixed(2)} s${msgs > 0 ? `, ${(cpu / msgs).toFixed(2)} µs/notification` : ''}; ` +
          `scrapes ${stats.count}, p50 ${stats.p50.toFixed(1)} ms, max ${stats.max.toFixed(1)} ms${stats.max >= 1000 ? ' (OVER the 1 s goal)' : ''} ` +
          `(started ${stats.slowestAfter.toFixed(1)} s into the phase; exporter event-loop lag max ${(stats.maxLoopLag * 1000).toFixed(0)} ms)` +
          (stats.errors.length ? `; scrape errors: ${stats.errors.slice(0, 2).join('; ')}` : ''),
      );
      notes.push(`${label}: memory ${memoryNote(ex.pid, s1)}`);
      if (!exact) failures.push(`${label}: netlink_routes ${got} != kernel ${kernel}`);
      if (msgs !== truthMsgs)
        notes.push(`${label}: exporter received ${msgs} notifications, truth listener ${truthMsgs}`);
      return { exact, scrapeMax: stats.max };
    };

    const rssSettle = async (label: string): Promise<void> => {
      // V8 gives memory back lazily: follow RSS for up to 15 s, stop once within 20 MB of start.
      const t0 = performance.now();
      let rss = memory(ex.pid).rssKiB;
      while (rss - rssStart > MB20 && performance.now() - t0 < 15_000) {
        await sleep(500);
        rss = memory(ex.pid).rssKiB;
      }
      const within = rss - rssStart <= MB20;
      notes.push(
        `RSS after ${label}: ${(rss / 1024).toFixed(1)} MB (${rss >= rssStart ? '+' : ''}${((rss - rssStart) / 1024).toFixed(1)} MB vs start, ` +
          `${within ? 'within' : 'NOT within'} 20 MB${within ? '' : ' after 15 s'}); ${memoryNote(ex.pid, await scrape())}`,
      );
    };

    let scrapeMax = 0;
    const adds = build(RTM_NEWROUTE, false, 1);
    ctx.log(`fulltable: ${count} route adds`);
    scrapeMax = Math.max(
      scrapeMax,
      (
        await phase(`add ${int(count)}`, async () => {
          await sd.burst(adds);
          await sd.check('full table add');
        })
      ).scrapeMax,
    );
    adds.length = 0;
    const dels = build(RTM_DELROUTE, false, count + 1);
    ctx.log(`fulltable: ${count} route deletes`);
    scrapeMax = Math.max(
      scrapeMax,
      (
        await phase(`del ${int(count)}`, async () => {
          await sd.burst(dels);
          await sd.check('full table delete');
        })
      ).scrapeMax,
    );
    dels.length = 0;
    await rssSettle('delete');

    ns.ip('nexthop', 'add', 'id', String(NH_ID), 'via', '10.255.0.1', 'dev', 't0');
    const nhAdds = build(RTM_NEWROUTE, true, 2 * count + 1);
    ctx.log(`fulltable: ${count} route adds with nhid ${NH_ID}`);
    scrapeMax = Math.max(
      scrapeMax,
      (
        await phase(`nhid add ${int(count)}`, async () => {
          await sd.burst(nhAdds);
          await sd.check('full table add with nexthop object');
        })
      ).scrapeMax,
    );
    nhAdds.length = 0;
    ctx.log(`fulltable: ip nexthop del id ${NH_ID}`);
    const delroute0 = tr.count(RTM_DELROUTE);
    scrapeMax = Math.max(
      scrapeMax,
      (await phase(`nexthop del`, () => execAsync('ip', ['-n', ns.name, 'nexthop', 'del', 'id', String(NH_ID)])))
        .scrapeMax,
    );
    notes.push(
      `the kernel sent ${int(tr.count(RTM_DELROUTE) - delroute0)} RTM_DELROUTE for the ${int(count)} routes of the deleted nexthop object`,
    );
    await rssSettle('nexthop del');
    const m = memory(ex.pid);
    notes.unshift(
      `peak RSS ${(m.hwmKiB / 1024).toFixed(1)} MB (goal < 150 MB${m.hwmKiB >= 150 * 1024 ? ': OVER' : ''}); max scrape latency ${scrapeMax.toFixed(1)} ms (goal < 1 s)`,
    );
    const final = await scrape();
    const overruns = final.sum('netlink_socket_overruns_total', nsl);
    notes.push(`exporter overruns ${overruns}, resyncs ${final.sum('netlink_resyncs_total', nsl)}`);
    const w = ex.warnings();
    if (w.length)
      notes.push(
        `exporter log (${w.length} warn/error lines, first 2 and last 2):\n      ${[...w.slice(0, 2), ...(w.length > 4 ? ['...'] : []), ...w.slice(Math.max(2, w.length - 2))].join('\n      ')}`,
      );
    tr.check();
    const row: Row = { scenario: `5 full table ${count >= 1000 ? `${count / 1000}k` : count}`, notes, failures };
    return [row];
  } finally {
    sender?.close();
    truth?.close();
    await exporter?.stop();
    ns.delete();
  }
}
