// Scenario 10: a Kubernetes node. 250 pod namespaces, each as a CNI plugin makes one (a veth
// from a node-side namespace to the pod's eth0, a /32 address, a default route), created one
// after the other and all deleted, over 3 cycles, with an exporter running --netns.all. Printed:
// peak RSS (goal < 150 MB), RSS per pod namespace, threads, series per pod namespace (goal <= 50),
// and the time from `ip netns add` (with the pod's setup) to the pod visible in /metrics, median
// and p99. ip monitor cannot watch 250 namespaces, so only the exporter's figures are printed.
//
// --netns.all sees every name under /run/netns: the exporter and every `ip` command run in a
// private mount namespace with a tmpfs on /run/netns (a holder process keeps it; the others
// enter it with nsenter). The namespaces exist only there and go with it on every exit path.

import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseExposition, Scrape } from '../../test/helpers/exporter';
import { trackChild } from '../cleanup';
import { ExporterProc, memory } from '../procs';
import type { Row } from '../table';
import { int, median, percentile, sleep, waitUntil } from '../util';
import type { Context } from './context';

const CYCLES = 3;
const SERIES_GOAL = 50;
const RSS_GOAL_MB = 150;

function threads(pid: number): number {
  return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

function fds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** A private mount namespace with a tmpfs on /run/netns, kept by a `sleep`. */
async function holdMountNamespace(): Promise<ChildProcess> {
  const script = 'mkdir -p /run/netns && mount -t tmpfs nle-bench /run/netns && echo ready && exec sleep 100000';
  const argv = fs.existsSync('/usr/bin/setpriv')
    ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script]
    : ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script];
  const holder = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  trackChild(holder);
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`unshare -m exited (${code}): is util-linux installed?`)));
  });
  return holder;
}

export async function nodeScenario(ctx: Context): Promise<Row[]> {
  const pods = ctx.size(250, 2);
  const notes: string[] = [];
  const failures: string[] = [];
  const holder = await holdMountNamespace();
  const enter = ['nsenter', '-t', String(holder.pid), '-m'];
  /** A shell script (set -e) inside the mount namespace. */
  const sh = (script: string): Promise<void> =>
    new Promise((resolve, reject) => {
      execFile(
        enter[0]!,
        [...enter.slice(1), 'sh', '-e', '-c', script],
        { maxBuffer: 16 << 20, timeout: 300_000 },
        (err, _out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()),
      );
    });
  const nodeNs = `nle-bench-${process.pid}-node`;
  const podName = (cycle: number, i: number): string => `nle-bench-${process.pid}-pod${cycle}x${i}`;
  const address = (i: number): string => `10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`;
  let exporter: ExporterProc | undefined;
  try {
    await sh(`ip netns add ${nodeNs}`);
    exporter = await ExporterProc.spawn([], ['--netns.all'], enter);
    await exporter.waitReady(60_000, 20);
    const ex = exporter;
    const pid = ex.pid;
    // The baseline: the exporter with its own and the node's namespace, after a first scrape.
    const heap = (sc: Scrape): string =>
      `V8 heap used ${(sc.sum('nodejs_heap_size_used_bytes', {}) / 1048576).toFixed(1)} MB, external ${(sc.sum('nodejs_external_memory_bytes', {}) / 1048576).toFixed(1)} MB`;
    const baseHeap = heap(parseExposition((await ex.metrics()).body));
    const base = { rss: memory(pid).rssKiB, threads: threads(pid), fds: fds(pid) };
    let heapAtFull = '';
    const latencies: number[] = [];
    const seriesPerPod: number[] = [];
    let rssAtFull = 0;
    let threadsAtFull = 0;
    let scrapeMsAtFull = 0;

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      ctx.log(`node: cycle ${cycle + 1}/${CYCLES}: creating ${pods} pods`);
      // Pods are created one after the other while a loop scrapes /metrics: a pod's time is from
      // just before its `ip netns add` to the end of the first scrape that shows it complete
      // (ready, eth0 up with its address, its default route).
      const startedAt = new Map<string, number>();
      const visibleAt = new Map<string, number>();
      let creating = true;
      const visible = (s: Scrape, name: string, i: number): boolean =>
        s.value('netlink_namespace_ready', { netns: name }) === 1 &&
        s.value('netlink_interface_up', { netns: name, interface: 'eth0' }) === 1 &&
        s.value('netlink_address_info', {
          netns: name,
          interface: 'eth0',
          family: 'inet',
          address: address(i),
          prefix_length: '32',
          scope: 'global',
        }) === 1 &&
        s.value('netlink_default_route_info', {
          netns: name,
          table: 'main',
          family: 'inet',
          interface: 'eth0',
          gateway: '',
          protocol: 'boot',
        }) === 1;
      const scrapeLoop = (async () => {
        while (creating || visibleAt.size < pods) {
          const r = await ex.metrics();
          const at = performance.now();
          const s = parseExposition(r.body);
          for (const [name] of startedAt) {
            if (visibleAt.has(name)) continue;
            if (visible(s, name, Number(name.slice(name.lastIndexOf('x') + 1)))) visibleAt.set(name, at);
          }
          if (!creating && performance.now() - (Math.max(...startedAt.values()) ?? 0) > 120_000)
            throw new Error(`${pods - visibleAt.size} pods not visible 120 s after the last was made`);
        }
      })();
      scrapeLoop.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
      try {
        for (let i = 0; i < pods; i++) {
          const name = podName(cycle, i);
          const veth = `vb${cycle}x${i}`;
          startedAt.set(name, performance.now());
          await sh(
            [
              `ip netns add ${name}`,
              `ip -n ${nodeNs} link add ${veth} type veth peer name eth0 netns ${name}`,
              `ip -n ${name} link set lo up`,
              `ip -n ${name} link set eth0 up`,
              `ip -n ${nodeNs} link set ${veth} up`,
              `ip -n ${name} addr add ${address(i)}/32 dev eth0`,
              `ip -n ${name} route add default dev eth0`,
            ].join('\n'),
          );
        }
      } finally {
        creating = false;
      }
      await scrapeLoop;
      for (const [name, t] of visibleAt) latencies.push(t - (startedAt.get(name) as number));
      const full = await ex.metrics();
      const s = parseExposition(full.body);
      for (let i = 0; i < pods; i++) seriesPerPod.push(s.withLabels({ netns: podName(cycle, i) }).length);
      rssAtFull = memory(pid).rssKiB;
      heapAtFull = heap(s);
      threadsAtFull = threads(pid);
      scrapeMsAtFull = full.ms;

      ctx.log(`node: cycle ${cycle + 1}/${CYCLES}: deleting ${pods} pods`);
      await sh(Array.from({ length: pods }, (_, i) => `ip netns del ${podName(cycle, i)}`).join('\n'));
      const names = new Set(Array.from({ length: pods }, (_, i) => podName(cycle, i)));
      await waitUntil(
        `cycle ${cycle + 1}: no series of a deleted pod`,
        async () => {
          const left = parseExposition((await ex.metrics()).body).samples.filter((x) =>
            names.has(x.labels.netns ?? ''),
          ).length;
          return left === 0 ? true : `${left} series left`;
        },
        60_000,
        200,
      );
    }
    // Nothing of a pod remains: fds and threads back to the baseline.
    try {
      await waitUntil(
        'fds and threads back to the baseline',
        () =>
          fds(pid) === base.fds && threads(pid) <= base.threads
            ? true
            : `${fds(pid)} fds (was ${base.fds}), ${threads(pid)} threads (was ${base.threads})`,
        20_000,
        100,
      );
    } catch (e) {
      failures.push((e as Error).message);
    }
    // The exporter collects (and trims) about a second after the pods' memory became garbage,
    // and once more after 6 quiet seconds: follow RSS for up to 10 s.
    for (
      const until = performance.now() + 10_000;
      performance.now() < until && memory(pid).rssKiB - base.rss > 20 * 1024;
    )
      await sleep(500);
    const end = memory(pid);
    const endHeap = heap(parseExposition((await ex.metrics()).body));
    const mb = (kib: number): string => (kib / 1024).toFixed(1);
    const maxSeries = Math.max(...seriesPerPod);
    const peakMb = end.hwmKiB / 1024;
    notes.push(
      `${int(pods)} pods (lo, eth0 = veth to the node's namespace, /32, default route), created one by one and all deleted, ${CYCLES} cycles; exporter --netns.all in a private mount namespace`,
    );
    notes.push(
      `peak RSS ${peakMb.toFixed(1)} MB (goal < ${RSS_GOAL_MB} MB${peakMb >= RSS_GOAL_MB ? ': OVER' : ''}); RSS ${mb(base.rss)} MB with no pod, ${mb(rssAtFull)} MB with ${pods} (last cycle), ` +
        `${((rssAtFull - base.rss) / pods).toFixed(0)} KiB a pod namespace; ${mb(end.rssKiB)} MB after the last deletion`,
    );
    notes.push(`with no pod: ${baseHeap}; with ${pods}: ${heapAtFull}; after the last deletion: ${endHeap}`);
    notes.push(
      `threads ${base.threads} with no pod, ${threadsAtFull} with ${pods}, ${threads(pid)} after; fds ${base.fds} with no pod, ${fds(pid)} after`,
    );
    notes.push(
      `series per pod namespace: max ${maxSeries}, median ${median(seriesPerPod)} (goal <= ${SERIES_GOAL}${maxSeries > SERIES_GOAL ? ': OVER' : ''}); ` +
        `/metrics with ${pods} pods: ${scrapeMsAtFull.toFixed(0)} ms`,
    );
    notes.push(
      `ip netns add + setup -> pod visible in /metrics (${int(latencies.length)} pods): median ${median(latencies).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, ` +
        `max ${Math.max(...latencies).toFixed(0)} ms (includes the ${7} ip commands of the setup)`,
    );
    if (maxSeries > SERIES_GOAL) failures.push(`a pod namespace has ${maxSeries} series (goal <= ${SERIES_GOAL})`);
    return [{ scenario: `10 node ${int(pods)} pods`, notes, failures }];
  } finally {
    await exporter?.stop();
    if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
  }
}
