// The processes under test (the exporter, `ip monitor`, the exporter in `events` mode) and what
// /proc says about them: CPU time of all threads (utime + stime), peak and current RSS, and
// their sockets.

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as readline from 'node:readline';
import { TMP_DIR, trackChild, trackFile } from './cleanup';
import { GetResult, httpGet, sleep, waitUntil } from './util';

/** dist/bench/procs.js -> dist/src/main.js */
export const MAIN_JS = path.resolve(__dirname, '..', 'src', 'main.js');

let clkTck: number | undefined;
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clkTck = Number(r.stdout.trim()) || 100;
  }
  return clkTck;
}

/** utime + stime of every thread of the process (/proc/PID/stat fields 14 and 15), in µs. */
export function cpuMicros(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14 -> f[11], stime field 15 -> f[12].
  const ticks = Number(f[11]) + Number(f[12]);
  return (ticks * 1e6) / clockTicksPerSecond();
}

/** utime + stime of each thread of the process, in µs, by thread id. */
export function threadCpuMicros(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), ((Number(f[11]) + Number(f[12])) * 1e6) / clockTicksPerSecond());
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** VmRSS and VmHWM (peak RSS) in KiB. */
export function memory(pid: number): { rssKiB: number; hwmKiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: get('VmRSS'), hwmKiB: get('VmHWM') };
}

/** Inodes of the process's sockets (from /proc/PID/fd). */
export function socketInodes(pid: number): number[] {
  const out: number[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.push(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * Waits until the process stops using CPU: at most one clock tick over `windowMs` (the
 * exporter's own 100 ms event-loop monitor costs microseconds), and `stable()` (if given)
 * unchanged over the same window. Returns its CPU time (µs) at that moment.
 */
export async function waitIdle(
  pid: number,
  opts: { windowMs?: number; timeoutMs?: number; stable?: () => number } = {},
): Promise<number> {
  const windowMs = opts.windowMs ?? 300;
  const tick = 1e6 / clockTicksPerSecond();
  const deadline = performance.now() + (opts.timeoutMs ?? 300_000);
  let cpu = cpuMicros(pid);
  let mark = opts.stable?.();
  for (;;) {
    await sleep(windowMs);
    const cpu2 = cpuMicros(pid);
    const mark2 = opts.stable?.();
    if (cpu2 - cpu <= tick + 1 && mark2 === mark) return cpu2;
    if (performance.now() > deadline)
      throw new Error(`process ${pid} did not become idle within ${opts.timeoutMs ?? 300_000} ms`);
    cpu = cpu2;
    mark = mark2;
  }
}

function spawnTracked(argv: string[], stdio: Array<'ignore' | 'pipe' | number>, env?: NodeJS.ProcessEnv): ChildProcess {
  // setpriv --pdeathsig KILL: the kernel kills the child if the benchmark dies (even by SIGKILL).
  // setpriv execs the command, so the child's pid is the command's.
  const full = fs.existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', ...argv] : argv;
  const child = spawn(full[0]!, full.slice(1), { stdio, env: { ...process.env, NODE_OPTIONS: '', ...env } });
  trackChild(child);
  return child;
}

async function terminate(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const t = await Promise.race([exited.then(() => 'exited'), sleep(graceMs).then(() => 'timeout')]);
  if (t === 'timeout') {
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(5_000)]);
  }
}

class Lines {
  readonly lines: string[] = [];
  /** performance.now() at each line's arrival. */
  readonly times: number[] = [];
  closed = false;
  private waiters = new Set<() => void>();
  constructor(stream: NodeJS.ReadableStream) {
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (l) => {
      this.times.push(performance.now());
      this.lines.push(l);
      for (const w of [...this.waiters]) w();
    });
    rl.on('close', () => {
      this.closed = true;
      for (const w of [...this.waiters]) w();
    });
  }
  /** Resolves on the next line, close, or after timeoutMs. */
  next(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.waiters.add(done);
    });
  }
  tail(n = 20): string {
    return this.lines.slice(-n).join('\n');
  }
}

// ---------------------------------------------------------------------------------------------

export class ExporterProc {
  port = 0;
  readonly stderr: Lines;
  readonly spawnedAt = performance.now();

  private constructor(readonly child: ChildProcess) {
    this.stderr = new Lines(child.stderr!);
    child.stdout!.resume();
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Starts `node dist/src/main.js --web.listen-address=127.0.0.1:0 --netns NS [...]` and
   * learns its port from the `listening` log line. Does not wait for /-/ready.
   */
  static async spawn(netns: string[], extraArgs: string[] = [], prefix: readonly string[] = []): Promise<ExporterProc> {
    const args = [MAIN_JS, '--web.listen-address=127.0.0.1:0', ...netns.flatMap((n) => ['--netns', n]), ...extraArgs];
    // BENCH_EXPORTER_NODE_ARGS: node flags for the exporter, to profile it where it is measured
    // (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
    const nodeArgs = (process.env.BENCH_EXPORTER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    // `prefix` (e.g. nsenter into a private mount namespace) must exec node, so the pid stays the exporter's.
    const e = new ExporterProc(
      spawnTracked([...prefix, process.execPath, ...nodeArgs, ...args], ['ignore', 'pipe', 'pipe']),
    );
    const deadline = performance.now() + 20_000;
    let seen = 0;
    while (!e.port) {
      for (; seen < e.stderr.lines.length; seen++) {
        const m =
          /msg=listening address=\S*:(\d+)/.exec(e.stderr.lines[seen]!) ??
          /"msg":"listening".*"address":"[^"]*:(\d+)"/.exec(e.stderr.lines[seen]!);
        if (m) {
          e.port = Number(m[1]);
          break;
        }
      }
      if (e.port) break;
      if (!e.running || e.stderr.closed) throw new Error(`exporter exited before listening:\n${e.stderr.tail()}`);
      if (performance.now() > deadline) {
        await e.stop();
        throw new Error(`exporter: no listening line within 20 s:\n${e.stderr.tail()}`);
      }
      await e.stderr.next(deadline - performance.now());
    }
    return e;
  }

  get(p: string, timeoutMs = 30_000): Promise<GetResult> {
    return httpGet(`http://127.0.0.1:${this.port}${p}`, timeoutMs);
  }

  /** Waits for /-/ready 200, polling every `intervalMs`; returns performance.now() of the 200. */
  async waitReady(timeoutMs = 60_000, intervalMs = 10): Promise<number> {
    let at = 0;
    await waitUntil(
      'exporter /-/ready 200',
      async () => {
        if (!this.running) throw new Error(`exporter exited:\n${this.stderr.tail()}`);
        const r = await this.get('/-/ready', 5_000);
        if (r.status === 200) {
          at = performance.now();
          return true;
        }
        return `HTTP ${r.status}`;
      },
      timeoutMs,
      intervalMs,
    );
    return at;
  }

  async metrics(timeoutMs = 30_000): Promise<GetResult> {
    if (!this.running) throw new Error(`exporter is not running:\n${this.stderr.tail()}`);
    const r = await this.get('/metrics', timeoutMs);
    if (r.status !== 200) throw new Error(`GET /metrics: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    return r;
  }

  logs(n = 20): string {
    return this.stderr.tail(n);
  }

  /** Its warn/error log lines (overruns, resyncs, failures). */
  warnings(): string[] {
    return this.stderr.lines.filter((l) => /level=(warn|error)|"level":"(warn|error)"/.test(l));
  }

  stop(): Promise<void> {
    return terminate(this.child);
  }
}

// ---------------------------------------------------------------------------------------------

let monitorCounter = 0;

/**
 * `ip -n NS monitor OBJECTS...` writing to a file on tmpfs. One notification is one line that
 * starts without white space (`10.0.0.1 dev r0 ...`, `Deleted ...`, `3: a0@b0: <...> ...`);
 * the indented lines that follow (`link/ether ...`, `valid_lft ...`) continue it.
 */
export class IpMonitor {
  readonly outFile: string;
  readonly errFile: string;
  readonly child: ChildProcess;

  constructor(
    readonly netns: string,
    readonly objects: string[],
  ) {
    const base = `${TMP_DIR}/nle-bench-${process.pid}-monitor${++monitorCounter}`;
    this.outFile = `${base}.out`;
    this.errFile = `${base}.err`;
    trackFile(this.outFile);
    trackFile(this.errFile);
    const out = fs.openSync(this.outFile, 'w');
    const err = fs.openSync(this.errFile, 'w');
    try {
      this.child = spawnTracked(['ip', '-n', netns, 'monitor', ...objects], ['ignore', out, err]);
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  size(): number {
    return fs.statSync(this.outFile).size;
  }

  /**
   * Whether its netlink socket has joined multicast groups: `ip -n NS` setns()es itself, so
   * /proc/PID/net/netlink is the namespace's table; its socket is the one among its fds.
   */
  subscribed(): boolean {
    let table: string;
    try {
      table = fs.readFileSync(`/proc/${this.pid}/net/netlink`, 'utf8');
    } catch {
      return false;
    }
    const mine = new Set(socketInodes(this.pid));
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 10 && mine.has(Number(f[9])) && /[1-9a-f]/i.test(f[3]!)) return true;
    }
    return false;
  }

  /** The lines it printed, split into notifications (see the class comment). */
  read(): { events: number; lines: string[] } {
    const text = fs.readFileSync(this.outFile, 'utf8');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    let events = 0;
    for (const l of lines) if (l.length > 0 && l[0] !== ' ' && l[0] !== '\t') events++;
    return { events, lines };
  }

  /** ENOBUFS reports on its stderr ("netlink receive error No buffer space available"). */
  enobufs(): number {
    const text = fs.readFileSync(this.errFile, 'utf8');
    return (text.match(/No buffer space/g) ?? []).length;
  }

  stderrText(): string {
    return fs.readFileSync(this.errFile, 'utf8');
  }

  stop(): Promise<void> {
    return terminate(this.child);
  }
}

// ---------------------------------------------------------------------------------------------

/** `node dist/src/main.js events --netns NS --log.format=json`: one JSON line per domain event. */
export class EventsProc {
  readonly stdout: Lines;
  readonly stderr: Lines;
  cursor = 0;

  constructor(readonly child: ChildProcess) {
    this.stdout = new Lines(child.stdout!);
    this.stderr = new Lines(child.stderr!);
  }

  static async spawn(netns: string): Promise<EventsProc> {
    const e = new EventsProc(
      spawnTracked(
        [process.execPath, MAIN_JS, 'events', '--netns', netns, '--log.format=json'],
        ['ignore', 'pipe', 'pipe'],
      ),
    );
    // Logs are JSON too: {"msg":"watching",...} once the initial dumps are in.
    await waitUntil(
      'events mode: "watching" log line',
      () => {
        if (e.child.exitCode !== null) throw new Error(`events mode exited:\n${e.stderr.tail()}`);
        return e.stderr.lines.some((l) => /"msg":"watching"|msg=watching/.test(l)) ? true : 'not yet';
      },
      20_000,
      10,
    );
    return e;
  }

  /** Consumes stdout lines until one parses and satisfies `pred`; returns it with its arrival time. */
  async next(
    pred: (e: Record<string, unknown>) => boolean,
    timeoutMs = 5_000,
  ): Promise<{ event: Record<string, unknown>; at: number }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.stdout.lines.length) {
        const i = this.cursor++;
        let ev: Record<string, unknown>;
        try {
          ev = JSON.parse(this.stdout.lines[i]!) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (pred(ev)) return { event: ev, at: this.stdout.times[i]! };
      }
      const left = deadline - performance.now();
      if (left <= 0 || this.stdout.closed)
        throw new Error(
          `events mode: no matching event within ${timeoutMs} ms; last lines:\n${this.stdout.tail(5)}\n${this.stderr.tail(5)}`,
        );
      await this.stdout.next(left);
    }
  }

  stop(): Promise<void> {
    return terminate(this.child);
  }
}

/** Runs a command to completion with a timeout, collecting its output (for the fuzz run). */
export function runToEnd(
  argv: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawnTracked(argv, ['ignore', 'pipe', 'pipe'], env);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}
