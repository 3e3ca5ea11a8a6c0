// Network namespaces for the live-kernel tests.
//
// RULE: nothing here changes links, addresses or routes of the root network namespace. Every
// `ip` command that touches links/addresses/routes carries `-n NAME` or runs under
// `ip netns exec NAME`; the only commands without a namespace are `ip netns add|del|list`.
//
// Every namespace created here is deleted on every exit path: by `Netns.delete()` in after
// hooks, and synchronously from process 'exit', SIGINT, SIGTERM and SIGHUP handlers. Leftovers
// of a killed earlier run (`nle-<suite>-<pid>-<n>` whose pid is dead) are removed, together with
// any exporter process still watching them, the first time a namespace is created.

import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, test } from 'node:test';

const NETNS_DIR = '/run/netns';
const NAME_RE = /^nle-([a-z0-9]+)-(\d+)-(\d+)$/;

// ---------------------------------------------------------------------------------------------
// Commands

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Do not throw on a non-zero exit; the caller inspects the result. */
  allowFailure?: boolean;
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function describeCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** Runs a command synchronously; throws with the command line, exit status and stderr. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 20_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const result: RunResult = {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
  };
  if (r.error) {
    throw new Error(`${describeCommand(cmd, args)}: ${r.error.message}`);
  }
  if (!opts.allowFailure && r.status !== 0) {
    const how = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    const input = opts.input !== undefined ? `\nstdin:\n${opts.input.trimEnd()}` : '';
    throw new Error(
      `${describeCommand(cmd, args)} failed (${how})${input}\nstderr: ${result.stderr.trim() || '(empty)'}` +
        (result.stdout.trim() ? `\nstdout: ${result.stdout.trim()}` : ''),
    );
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Prerequisites

let commandCache: Map<string, boolean> | undefined;
export function haveCommand(cmd: string): boolean {
  commandCache ??= new Map();
  let ok = commandCache.get(cmd);
  if (ok === undefined) {
    const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
    ok = r.status === 0;
    commandCache.set(cmd, ok);
  }
  return ok;
}

/** Why the live-kernel tests cannot run here, or undefined when they can. */
export function liveKernelProblem(): string | undefined {
  if (process.platform !== 'linux') return 'the live-kernel tests need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return 'the live-kernel tests need root (network namespaces)';
  if (!haveCommand('ip')) return 'iproute2 `ip` is missing: apt-get install -y --no-install-recommends iproute2';
  return undefined;
}

/**
 * A describe() for live-kernel suites: skipped with the reason when the machine cannot run
 * them, except under CI=true, where a skip would hide a broken pipeline: there it is one
 * failing test that says why.
 */
export function liveDescribe(name: string, options: { timeout?: number }, fn: () => void): void {
  const reason = liveKernelProblem();
  if (reason && process.env.CI === 'true') {
    test(`${name}: live-kernel prerequisites`, () => {
      throw new Error(`${reason}; CI=true, where a skipped live-kernel test is a failure`);
    });
    return;
  }
  describe(name, { ...options, skip: reason ?? false }, fn);
}

// ---------------------------------------------------------------------------------------------
// Cleanup on every exit path

const liveNamespaces = new Set<string>();
const exitHooks = new Set<() => void>();
let handlersInstalled = false;

/** Registers a synchronous hook run at process exit or on a fatal signal (before namespaces go). */
export function onProcessExit(hook: () => void): () => void {
  installHandlers();
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

function deleteNamespaceSync(name: string): void {
  spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore', timeout: 10_000 });
}

function cleanupSync(): void {
  for (const hook of [...exitHooks]) {
    try {
      hook();
    } catch {
      // best effort: the namespaces below must still go
    }
  }
  exitHooks.clear();
  for (const name of [...liveNamespaces]) {
    deleteNamespaceSync(name);
    liveNamespaces.delete(name);
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanupSync();
      // Re-raise with the default action so the exit status still says "killed by sig".
      process.kill(process.pid, sig);
    });
  }
}

/** Whether a process runs (a zombie, killed but not yet reaped, does not). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Names of all `nle-*` namespaces under /run/netns. */
export function listTestNamespaces(): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
  return entries.filter((n) => n.startsWith('nle-')).sort();
}

/** Processes (other than us) whose command line mentions `needle`, e.g. a stale exporter. */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a === needle || a.endsWith(`=${needle}`) || a === `${NETNS_DIR}/${needle}`)) pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

let staleCleaned = false;
/**
 * Deletes `nle-*` namespaces left by a killed earlier run (their creator pid is dead), and kills
 * processes still started on them (an orphaned exporter would keep the namespace alive).
 * Returns the names deleted.
 */
export function cleanupStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const name of listTestNamespaces()) {
    const m = NAME_RE.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || pidAlive(pid)) continue;
    for (const p of processesMentioning(name)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    deleteNamespaceSync(name);
    removed.push(name);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// Namespaces

let counter = 0;

export interface LinkJson {
  ifindex: number;
  ifname: string;
  flags: string[];
  operstate: string;
  address?: string;
  link?: string;
  [key: string]: unknown;
}

export interface AddrInfoJson {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
  tentative?: boolean;
  dadfailed?: boolean;
  [key: string]: unknown;
}

export class Netns {
  private deleted = false;

  constructor(
    readonly name: string,
    readonly suite: string,
  ) {}

  get path(): string {
    return `${NETNS_DIR}/${this.name}`;
  }

  /** `ip -n NAME ARGS...`; returns stdout. */
  ip(...args: string[]): string {
    return run('ip', ['-n', this.name, ...args]).stdout;
  }

  /** `ip -n NAME -j ARGS...`, parsed. */
  ipJson<T = unknown>(...args: string[]): T {
    const out = this.ip('-j', ...args).trim();
    return (out === '' ? [] : JSON.parse(out)) as T;
  }

  /**
   * Runs many `ip` commands back-to-back in one process: `ip -n NAME -batch -` (stops at the
   * first error; the error names the failing line).
   */
  batch(lines: string[]): void {
    run('ip', ['-n', this.name, '-batch', '-'], { input: lines.join('\n') + '\n' });
  }

  /** `ip netns exec NAME CMD ARGS...`; returns stdout. */
  exec(cmd: string, ...args: string[]): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args]).stdout;
  }

  /** A number from /sys/class/net/IFACE/ATTR as this namespace sees it. */
  sysNumber(iface: string, attr: string): number {
    const text = this.exec('cat', `/sys/class/net/${iface}/${attr}`).trim();
    const n = Number(text);
    if (!Number.isFinite(n) || text === '')
      throw new Error(`/sys/class/net/${iface}/${attr} in ${this.name}: not a number: ${JSON.stringify(text)}`);
    return n;
  }

  /** The kernel's carrier counters of an interface. */
  carrierCounters(iface: string): { changes: number; up: number; down: number } {
    const [changes, up, down] = this.exec(
      'cat',
      `/sys/class/net/${iface}/carrier_changes`,
      `/sys/class/net/${iface}/carrier_up_count`,
      `/sys/class/net/${iface}/carrier_down_count`,
    )
      .trim()
      .split('\n')
      .map(Number);
    return { changes: changes!, up: up!, down: down! };
  }

  link(iface: string): LinkJson {
    const links = this.ipJson<LinkJson[]>('link', 'show', 'dev', iface);
    if (links.length !== 1) throw new Error(`ip -n ${this.name} -j link show dev ${iface}: ${links.length} links`);
    return links[0]!;
  }

  links(): LinkJson[] {
    return this.ipJson<LinkJson[]>('link', 'show');
  }

  ifindex(iface: string): number {
    return this.link(iface).ifindex;
  }

  /** Addresses of one interface from `ip -j addr show dev IFACE`. */
  addresses(iface: string): AddrInfoJson[] {
    const out = this.ipJson<Array<{ addr_info?: AddrInfoJson[] }>>('addr', 'show', 'dev', iface);
    return out.flatMap((l) => l.addr_info ?? []);
  }

  /**
   * Creates a veth pair. Both ends in this namespace, or `peerNetns` puts the peer straight into
   * another test namespace (never the root one). IPv6 address generation is off unless
   * `ipv6LinkLocal` is set, so no fe80:: address and no DAD add noise.
   */
  addVeth(name: string, peer: string, opts: { peerNetns?: Netns; up?: boolean; ipv6LinkLocal?: boolean } = {}): void {
    const peerNs = opts.peerNetns ?? this;
    const args = ['link', 'add', 'name', name, 'type', 'veth', 'peer', 'name', peer];
    if (opts.peerNetns) args.push('netns', opts.peerNetns.name);
    this.ip(...args);
    if (!opts.ipv6LinkLocal) {
      this.ip('link', 'set', 'dev', name, 'addrgenmode', 'none');
      peerNs.ip('link', 'set', 'dev', peer, 'addrgenmode', 'none');
    }
    if (opts.up) {
      this.ip('link', 'set', 'dev', name, 'up');
      peerNs.ip('link', 'set', 'dev', peer, 'up');
    }
  }

  /** Deletes the namespace (idempotent). */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    liveNamespaces.delete(this.name);
    if (fs.existsSync(this.path)) run('ip', ['netns', 'delete', this.name]);
  }

  get isDeleted(): boolean {
    return this.deleted;
  }
}

/**
 * Creates `nle-<suite>-<pid>-<counter>`; registered for deletion on every exit path.
 * `suite` is lower-case letters and digits (it ends up in label values and file names).
 */
export function createNetns(suite: string): Netns {
  if (!/^[a-z0-9]+$/.test(suite)) throw new Error(`suite name ${JSON.stringify(suite)}: use [a-z0-9]+`);
  installHandlers();
  if (!staleCleaned) {
    staleCleaned = true;
    cleanupStaleNamespaces();
  }
  const name = `nle-${suite}-${process.pid}-${++counter}`;
  // Register before creating: a signal between the two still removes it.
  liveNamespaces.add(name);
  try {
    run('ip', ['netns', 'add', name]);
  } catch (e) {
    liveNamespaces.delete(name);
    throw e;
  }
  return new Netns(name, suite);
}

/** Names still registered by this process (for harness self-tests). */
export function registeredNamespaces(): string[] {
  return [...liveNamespaces];
}

// ---------------------------------------------------------------------------------------------
// Routes as `ip route show table all` lists them

export interface KernelRoute {
  family: 'inet' | 'inet6';
  table: string;
  protocol: string;
  type: string;
  dst: string;
  dev?: string;
  gateway?: string;
}

interface IpRouteJson {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  nexthops?: Array<{ gateway?: string; dev?: string }>;
}

/**
 * All routes of the namespace, per family, from `ip -j -4|-6 route show table all`.
 * `ip -j` omits `table` for main, `protocol` for boot and `type` for unicast.
 */
export function kernelRoutes(ns: Netns): KernelRoute[] {
  const out: KernelRoute[] = [];
  for (const [flag, family] of [
    ['-4', 'inet'],
    ['-6', 'inet6'],
  ] as const) {
    for (const r of ns.ipJson<IpRouteJson[]>(flag, 'route', 'show', 'table', 'all')) {
      const route: KernelRoute = {
        family,
        table: r.table ?? 'main',
        protocol: r.protocol ?? 'boot',
        type: r.type ?? 'unicast',
        dst: r.dst,
      };
      const dev = r.dev ?? r.nexthops?.[0]?.dev;
      const gw = r.gateway ?? r.nexthops?.[0]?.gateway;
      if (dev !== undefined) route.dev = dev;
      if (gw !== undefined) route.gateway = gw;
      out.push(route);
    }
  }
  return out;
}

/** Key of a (table, family, protocol) group. */
export function routeGroupKey(table: string, family: string, protocol: string): string {
  return `table=${table},family=${family},protocol=${protocol}`;
}

/** Route counts grouped by table/family/protocol, as netlink_routes labels them. */
export function groupRoutes(routes: KernelRoute[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of routes) {
    const k = routeGroupKey(r.table, r.family, r.protocol);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

/** Differences between two count maps (absent = 0), one line each, sorted: for failure messages. */
export function diffCounts(
  what: string,
  got: ReadonlyMap<string, number>,
  want: ReadonlyMap<string, number>,
): string[] {
  const out: string[] = [];
  for (const k of new Set([...got.keys(), ...want.keys()])) {
    const g = got.get(k) ?? 0;
    const w = want.get(k) ?? 0;
    if (g !== w) out.push(`${what}{${k}} = ${g}, expected ${w}`);
  }
  return out.sort();
}
