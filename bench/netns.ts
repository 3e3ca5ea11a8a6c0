// Private network namespaces for the benchmark: nle-bench-<pid>-<n>.
//
// RULE: nothing here changes links, addresses or routes of the root network namespace. Every
// `ip` command that touches them carries `-n NAME` (or runs under `ip netns exec NAME`); the
// only commands without a namespace are `ip netns add|delete`.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { NETNS_DIR, NS_PREFIX, trackNamespace, untrackNamespace } from './cleanup';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command synchronously; throws with the command line and stderr on failure. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number; allowFailure?: boolean } = {},
): RunResult {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 120_000,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (!opts.allowFailure && r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}): ${(r.stderr ?? '').trim().slice(0, 500)}`,
    );
  }
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

let counter = 0;

export class BenchNetns {
  private deleted = false;
  constructor(readonly name: string) {}

  get path(): string {
    return `${NETNS_DIR}/${this.name}`;
  }

  /** `ip -n NAME ARGS...`; returns stdout. */
  ip(...args: string[]): string {
    return run('ip', ['-n', this.name, ...args]).stdout;
  }

  /** Many `ip` commands in one process (`ip -n NAME -batch -`); stops at the first error. */
  batch(lines: string[], timeoutMs = 600_000): void {
    if (lines.length === 0) return;
    run('ip', ['-n', this.name, '-batch', '-'], { input: lines.join('\n') + '\n', timeoutMs });
  }

  /** `ip netns exec NAME CMD ARGS...`; returns stdout. */
  exec(cmd: string, ...args: string[]): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args]).stdout;
  }

  /** Interface name -> ifindex. */
  ifindexes(): Map<string, number> {
    const links = JSON.parse(this.ip('-j', 'link', 'show') || '[]') as Array<{ ifindex: number; ifname: string }>;
    return new Map(links.map((l) => [l.ifname, l.ifindex]));
  }

  /** The kernel's carrier_down_count of every interface, from sysfs as this namespace sees it. */
  carrierDownCounts(): Map<string, number> {
    const out = this.exec('sh', '-c', 'grep -H . /sys/class/net/*/carrier_down_count');
    const m = new Map<string, number>();
    for (const line of out.split('\n')) {
      const r = /^\/sys\/class\/net\/([^/]+)\/carrier_down_count:(\d+)$/.exec(line.trim());
      if (r) m.set(r[1]!, Number(r[2]));
    }
    return m;
  }

  /** Rows of /proc/net/netlink in this namespace, by socket inode. */
  netlinkSockets(): Map<number, { portId: number; groups: string; rmem: number; drops: number }> {
    const out = this.exec('cat', '/proc/net/netlink');
    const m = new Map<number, { portId: number; groups: string; rmem: number; drops: number }>();
    for (const line of out.split('\n').slice(1)) {
      // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || Number(f[1]) !== 0) continue;
      m.set(Number(f[9]), { portId: Number(f[2]), groups: f[3]!, rmem: Number(f[4]), drops: Number(f[8]) });
    }
    return m;
  }

  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    if (fs.existsSync(this.path)) run('ip', ['netns', 'delete', this.name], { allowFailure: true });
    untrackNamespace(this.name);
  }
}

/** Creates nle-bench-<pid>-<n>, registered for deletion on every exit path. */
export function createNetns(): BenchNetns {
  const name = `${NS_PREFIX}${process.pid}-${++counter}`;
  trackNamespace(name); // before creating: a signal in between still removes it
  run('ip', ['netns', 'add', name]);
  // lo up: nexthop objects and local routes want it; it changes nothing outside.
  run('ip', ['-n', name, 'link', 'set', 'dev', 'lo', 'up']);
  return new BenchNetns(name);
}

/**
 * `ip -batch` lines creating veth pairs `${a}${i}` / `${b}${i}` (peer optionally in another
 * namespace), without IPv6 address generation (no link-local addresses, no DAD noise), up.
 */
export function vethPairLines(
  a: string,
  b: string,
  count: number,
  opts: { peerNetns?: BenchNetns; up?: boolean } = {},
): { near: string[]; far: string[] } {
  const near: string[] = [];
  const far: string[] = [];
  const farLines = opts.peerNetns ? far : near;
  for (let i = 0; i < count; i++) {
    near.push(`link add ${a}${i} type veth peer name ${b}${i}${opts.peerNetns ? ` netns ${opts.peerNetns.name}` : ''}`);
  }
  for (let i = 0; i < count; i++) {
    near.push(`link set dev ${a}${i} addrgenmode none`);
    farLines.push(`link set dev ${b}${i} addrgenmode none`);
  }
  if (opts.up ?? true) {
    for (let i = 0; i < count; i++) {
      near.push(`link set dev ${a}${i} up`);
      farLines.push(`link set dev ${b}${i} up`);
    }
  }
  return { near, far };
}
