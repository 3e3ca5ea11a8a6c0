// A Kubernetes node in small: --netns.all following pod namespaces that come and go. Each pod
// is a namespace with lo and eth0 (a veth to a node namespace), a /32 address and a default
// route; 32 pods are created and deleted over 3 cycles. Checked on every cycle: each
// pod is visible with exact values, costs at most 50 series (the README's budget, one of them
// kept for a counter another change adds), the netns="*" sums never go down; after deletion no
// series of any pod remains, and the exporter's fds and threads are back to where they were.
//
// --netns.all sees every name under /run/netns, so the exporter and every `ip netns` command run
// in a private mount namespace with a tmpfs on /run/netns: a holder process (unshare) keeps it,
// and everything else enters it with nsenter. The namespaces live only there: when the holder
// and the exporter are gone, so are they, on every exit path (the holder is killed at exit too).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { liveDescribe, onProcessExit, run } from '../helpers/netns';
import { Exporter, poll, Scrape, startExporter } from '../helpers/exporter';

const PODS = 32;
const CYCLES = 3;
/** Series a pod namespace may cost: the README's budget. */
const SERIES_PER_POD = 50;
/** One of them is kept for netlink_foreign_messages_refused_total{netns} (another change adds it). */
const RESERVED = 1;

const NODE_NS = `nle-podnode-${process.pid}-0`;
const podName = (cycle: number, i: number): string => `nle-pod-${process.pid}-${cycle * 100 + i}`;
const podAddress = (cycle: number, i: number): string => `10.${100 + cycle}.${Math.floor(i / 200)}.${(i % 200) + 1}`;

/** The holder of the private mount namespace, and a way to run commands in it. */
class MountNamespace {
  private constructor(readonly holder: ChildProcess) {}

  static async start(): Promise<MountNamespace> {
    const holder = spawn(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mkdir -p /run/netns && mount -t tmpfs nle-pods /run/netns && echo ready && exec sleep 100000',
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const kill = (): void => {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
    };
    onProcessExit(kill);
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`the mount namespace holder exited (${code})`)));
    });
    return new MountNamespace(holder);
  }

  get prefix(): string[] {
    return ['nsenter', '-t', String(this.holder.pid), '-m'];
  }

  /** Runs a shell script (set -e) inside the mount namespace. */
  sh(script: string): void {
    run(this.prefix[0]!, [...this.prefix.slice(1), 'sh', '-e', '-c', script], { timeoutMs: 120_000 });
  }

  ls(): string[] {
    const out = run(this.prefix[0]!, [...this.prefix.slice(1), 'ls', '/run/netns']).stdout;
    return out.split('\n').filter((l) => l !== '');
  }

  stop(): void {
    if (this.holder.exitCode === null && this.holder.signalCode === null) this.holder.kill('SIGKILL');
  }
}

/** Pods of one cycle, as a CNI plugin would make them: veth into the pod, /32, default route. */
function createPods(mnt: MountNamespace, cycle: number): void {
  const lines: string[] = [];
  for (let i = 0; i < PODS; i++) {
    const pod = podName(cycle, i);
    lines.push(
      `ip netns add ${pod}`,
      `ip -n ${NODE_NS} link add vp${cycle}x${i} type veth peer name eth0 netns ${pod}`,
      `ip -n ${pod} link set lo up`,
      `ip -n ${pod} link set eth0 up`,
      `ip -n ${NODE_NS} link set vp${cycle}x${i} up`,
      `ip -n ${pod} addr add ${podAddress(cycle, i)}/32 dev eth0`,
      `ip -n ${pod} route add default dev eth0`,
    );
  }
  mnt.sh(lines.join('\n'));
}

function deletePods(mnt: MountNamespace, cycle: number): void {
  mnt.sh(Array.from({ length: PODS }, (_, i) => `ip netns del ${podName(cycle, i)}`).join('\n'));
}

/** What is wrong with one pod's series, or undefined when every value is exact. */
function podProblem(s: Scrape, cycle: number, i: number): string | undefined {
  const netns = podName(cycle, i);
  const eth0 = { netns, interface: 'eth0' };
  const want: [string, Record<string, string>, number][] = [
    ['netlink_namespace_ready', { netns }, 1],
    ['netlink_socket_overruns_total', { netns }, 0],
    ['netlink_interface_up', eth0, 1],
    ['netlink_interface_up', { netns, interface: 'lo' }, 1],
    ['netlink_interface_flaps_total', eth0, 0],
    ['netlink_interface_addresses', { ...eth0, family: 'inet' }, 1],
    [
      'netlink_address_info',
      { ...eth0, family: 'inet', address: podAddress(cycle, i), prefix_length: '32', scope: 'global' },
      1,
    ],
    ['netlink_routes', { netns, table: 'main', family: 'inet', protocol: 'boot' }, 1],
    [
      'netlink_default_route_info',
      { netns, table: 'main', family: 'inet', interface: 'eth0', gateway: '', protocol: 'boot' },
      1,
    ],
  ];
  for (const [name, labels, value] of want) {
    const got = s.value(name, labels);
    if (got !== value) return `${netns}: ${name}${JSON.stringify(labels)} = ${got}, want ${value}`;
  }
  const series = s.withLabels({ netns }).length;
  if (series > SERIES_PER_POD - RESERVED)
    return `${netns}: ${series} series, more than ${SERIES_PER_POD - RESERVED}:\n${s
      .withLabels({ netns })
      .map((x) => x.name)
      .join('\n')}`;
  return undefined;
}

function fds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

function threads(pid: number): number {
  return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** The netns="*" sum of notifications: every type, pods gone included. */
function notificationSum(s: Scrape): number {
  return s.sum('netlink_messages_received_total', { netns: '*' });
}

liveDescribe('pod namespaces under --netns.all', { timeout: 600_000 }, () => {
  let mnt: MountNamespace | undefined;
  let ex: Exporter | undefined;

  before(async () => {
    if (!fs.existsSync('/usr/bin/nsenter') && !fs.existsSync('/bin/nsenter'))
      throw new Error('nsenter (util-linux) is missing');
    mnt = await MountNamespace.start();
    mnt.sh(`ip netns add ${NODE_NS}`);
  });

  after(async () => {
    await ex?.stop();
    mnt?.stop();
  });

  test(`${PODS} pods created and deleted ${CYCLES} times: exact values, at most ${SERIES_PER_POD} series a pod, nothing left`, async () => {
    const m = mnt!;
    ex = await startExporter({ args: ['--netns.all'], prefix: m.prefix });
    const pid = ex.child.pid!;
    const e = ex;
    await e.waitForValue('netlink_namespace_ready', { netns: NODE_NS }, 1);
    // Only the namespaces of this mount namespace are seen.
    const first = await e.scrape();
    const seen = first.series('netlink_namespace_ready').map((x) => x.labels.netns);
    assert.deepEqual(seen.sort(), ['', NODE_NS].sort(), first.show('netlink_namespace_ready'));
    // Host-wide neighbour tables: once, not per namespace.
    assert.ok(
      first.series('netlink_neighbour_table_limit', {}).length <= 2,
      first.show('netlink_neighbour_table_limit', {}),
    );
    const baseFds = fds(pid);
    const baseThreads = threads(pid);
    let lastSum = notificationSum(first);

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      createPods(m, cycle);
      let failing = -1;
      const s = await e
        .waitFor(
          `cycle ${cycle}: all ${PODS} pods visible with exact values`,
          (sc) => {
            for (let i = 0; i < PODS; i++) {
              const problem = podProblem(sc, cycle, i);
              failing = i;
              if (problem) return problem;
            }
            return true;
          },
          { timeoutMs: 60_000, intervalMs: 200 },
        )
        .catch(async (err: Error) => {
          // What the exporter saw of that pod, and what the kernel holds.
          const netns = podName(cycle, failing);
          const events = (await e.get(`/api/v1/events?netns=${netns}`)).body;
          const series = (await e.scrape())
            .withLabels({ netns })
            .map((x) => `${x.name}${JSON.stringify(x.labels)} ${x.value}`);
          let kernel: string;
          try {
            kernel = run(m.prefix[0]!, [...m.prefix.slice(1), 'ip', '-n', netns, '-o', 'addr']).stdout;
          } catch (k) {
            kernel = (k as Error).message;
          }
          const logs = e.stderr.lines.filter((l) => l.includes(netns)).join('\n');
          throw new Error(
            `${err.message}\nkernel (ip -o addr):\n${kernel}\nevents: ${events.slice(0, 4000)}\nseries:\n${series.join('\n')}\nall logs:\n${logs}`,
          );
        });
      for (let i = 0; i < PODS; i++) assert.equal(podProblem(s, cycle, i), undefined);
      const sum = notificationSum(s);
      assert.ok(sum >= lastSum, `netlink_messages_received_total{netns="*"} went down: ${lastSum} -> ${sum}`);
      lastSum = sum;
      assert.deepEqual(s.problems, []);

      deletePods(m, cycle);
      const pods = Array.from({ length: PODS }, (_, i) => podName(cycle, i));
      await e.waitFor(
        `cycle ${cycle}: no series of a deleted pod`,
        (sc) => {
          const left = sc.samples.filter((x) => x.labels.netns !== undefined && pods.includes(x.labels.netns));
          return left.length === 0
            ? true
            : `${left.length} left, e.g. ${left
                .slice(0, 3)
                .map((x) => `${x.name}{netns="${x.labels.netns}"}`)
                .join(', ')}`;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      assert.deepEqual(m.ls(), [NODE_NS], 'the pods are gone from /run/netns');
      // The sockets (and whatever else a pod had) are closed: back to the fds and threads of
      // before the first pod.
      await poll(
        `cycle ${cycle}: exporter fds back to ${baseFds}`,
        () =>
          fds(pid) === baseFds
            ? true
            : `${fds(pid)} fds: ${fs
                .readdirSync(`/proc/${pid}/fd`)
                .map((fd) => {
                  try {
                    return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
                  } catch {
                    return '?';
                  }
                })
                .join(' ')}`,
        { timeoutMs: 20_000 },
      );
      await poll(
        `cycle ${cycle}: exporter threads back to ${baseThreads}`,
        () => (threads(pid) <= baseThreads ? true : `${threads(pid)} threads`),
        { timeoutMs: 20_000 },
      );
      const after = await e.scrape();
      const sum2 = notificationSum(after);
      assert.ok(
        sum2 >= lastSum,
        `netlink_messages_received_total{netns="*"} went down when pods went: ${lastSum} -> ${sum2}`,
      );
      lastSum = sum2;
    }
    assert.ok(e.running, 'the exporter runs on');
    await e.stop();
  });
});
