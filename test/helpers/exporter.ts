// The real exporter as a child process, an HTTP client, a Prometheus text-format parser, and a
// runner for `events` mode. No sleeps as synchronisation: everything waits on a condition with a
// deadline and reports the last value it saw.

import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { onProcessExit } from './netns';

/** dist/test/helpers/exporter.js -> dist/src/main.js */
export const MAIN_JS = process.env.NLE_EXPORTER_MAIN ?? path.resolve(__dirname, '..', '..', 'src', 'main.js');

export function assertMainExists(main = MAIN_JS): void {
  if (!fs.existsSync(main)) {
    throw new Error(`${main} does not exist: build first (npx tsc -p tsconfig.json)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Small utilities

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` until it returns true, or throws after `timeoutMs` with the last thing it
 * returned (a string describing what is still wrong, or a thrown error's message).
 */
export async function poll(
  what: string,
  check: () => Promise<true | string> | true | string,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const r = await check();
      if (r === true) return;
      last = r;
    } catch (e) {
      last = `error: ${(e as Error).message}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${last}`);
    }
    await delay(intervalMs);
  }
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What Prometheus sends to ask for OpenMetrics (and how it gets exemplars and `_created`). */
export const OPENMETRICS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** GET without keep-alive (so stopping the exporter never waits for idle sockets). */
export function httpGet(url: string, timeoutMs = 10_000, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { ...headers, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: no response within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new Error(`GET ${url}: ${e.message}`)));
  });
}

// ---------------------------------------------------------------------------------------------
// Prometheus text exposition format (0.0.4)

export type Labels = Record<string, string>;

export interface Sample {
  name: string;
  labels: Labels;
  value: number;
  timestamp?: number;
}

export class ParseError extends Error {}

/** Like Prometheus (Go's ParseFloat): NaN and Inf in any letter case ("Nan" is prom-client's). */
function parseValue(s: string, line: number): number {
  const special = /^([+-]?)(nan|inf|infinity)$/i.exec(s);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s))
    throw new ParseError(`line ${line}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

export function labelsKey(name: string, labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

export function formatSample(s: Sample): string {
  return `${labelsKey(s.name, s.labels)} ${s.value}`;
}

/** A parsed scrape. */
export class Scrape {
  readonly samples: Sample[] = [];
  /** # TYPE lines: family name -> type. */
  readonly types = new Map<string, string>();
  readonly help = new Map<string, string>();
  /** Format problems that do not stop parsing (duplicate series, ...). */
  readonly problems: string[] = [];
  private readonly byName = new Map<string, Sample[]>();

  constructor(readonly text: string) {
    const seen = new Set<string>();
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      if (line.startsWith('#')) {
        const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s?(.*)$/.exec(line);
        if (m) {
          const map = m[1] === 'TYPE' ? this.types : this.help;
          if (map.has(m[2]!)) this.problems.push(`line ${i + 1}: second # ${m[1]} for ${m[2]}`);
          map.set(m[2]!, m[3]!);
        }
        continue;
      }
      const sample = parseSampleLine(line, i + 1);
      const key = labelsKey(sample.name, sample.labels);
      if (seen.has(key)) this.problems.push(`line ${i + 1}: duplicate series ${key}`);
      seen.add(key);
      this.samples.push(sample);
      let list = this.byName.get(sample.name);
      if (!list) this.byName.set(sample.name, (list = []));
      list.push(sample);
    }
  }

  /** Samples of `name` whose labels include every pair of `partial`. */
  series(name: string, partial: Labels = {}): Sample[] {
    const entries = Object.entries(partial);
    return (this.byName.get(name) ?? []).filter((s) => entries.every(([k, v]) => s.labels[k] === v));
  }

  /** The value of the series with exactly these labels, or undefined when absent. */
  value(name: string, labels: Labels): number | undefined {
    const want = labelsKey(name, labels);
    const hits = (this.byName.get(name) ?? []).filter((s) => labelsKey(s.name, s.labels) === want);
    if (hits.length > 1) throw new Error(`duplicate series ${want}`);
    return hits[0]?.value;
  }

  /** Sum over series(name, partial); 0 when none. */
  sum(name: string, partial: Labels = {}): number {
    return this.series(name, partial).reduce((a, s) => a + s.value, 0);
  }

  /** Text of the matching series, for failure messages. */
  show(name: string, partial: Labels = {}): string {
    const list = this.series(name, partial);
    return list.length ? list.map(formatSample).join('; ') : `(no ${name} series matching ${JSON.stringify(partial)})`;
  }

  /** Every series (any metric) with these labels, e.g. {interface:"x"}. */
  withLabels(partial: Labels): Sample[] {
    const entries = Object.entries(partial);
    return this.samples.filter((s) => entries.every(([k, v]) => s.labels[k] === v));
  }
}

function parseSampleLine(line: string, lineNo: number): Sample {
  const fail = (msg: string): never => {
    throw new ParseError(`line ${lineNo}: ${msg}: ${JSON.stringify(line)}`);
  };
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) fail('no metric name');
  const name = nameMatch![0];
  let i = name.length;
  while (line[i] === ' ' || line[i] === '\t') i++;
  const labels: Labels = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const lm = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!lm) fail('bad label name');
      const lname = lm![0];
      i += lname.length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=') fail(`no '=' after label ${lname}`);
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') fail(`label ${lname}: value not quoted`);
      i++;
      let v = '';
      for (;;) {
        if (i >= line.length) fail(`label ${lname}: unterminated value`);
        const c = line[i]!;
        if (c === '\\') {
          const n = line[i + 1];
          if (n === 'n') v += '\n';
          else if (n === '\\') v += '\\';
          else if (n === '"') v += '"';
          else if (n === undefined) fail(`label ${lname}: dangling backslash`);
          else v += '\\' + n;
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          v += c;
          i++;
        }
      }
      if (Object.prototype.hasOwnProperty.call(labels, lname)) fail(`label ${lname} repeated`);
      labels[lname] = v;
      while (line[i] === ' ') i++;
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] === '}') {
        i++;
        break;
      }
      fail(`expected ',' or '}' after label ${lname}`);
    }
  }
  const rest = line
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') fail('expected "value [timestamp]"');
  const sample: Sample = { name, labels, value: parseValue(rest[0]!, lineNo) };
  if (rest.length === 2) {
    if (!/^-?\d+$/.test(rest[1]!)) fail('bad timestamp');
    sample.timestamp = Number(rest[1]);
  }
  return sample;
}

export function parseExposition(text: string): Scrape {
  return new Scrape(text);
}

// ---------------------------------------------------------------------------------------------
// Child processes

const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Synchronous: kill whatever is still running when the test process goes.
    onProcessExit(() => {
      for (const c of children) {
        if (c.exitCode === null && c.signalCode === null) {
          try {
            c.kill('SIGKILL');
          } catch {
            // gone
          }
        }
      }
    });
  }
  children.add(child);
  child.once('exit', () => children.delete(child));
}

let setprivOk: boolean | undefined;
/** Prefix that makes the kernel SIGKILL the child if this test process dies (util-linux setpriv). */
function deathSignalPrefix(): string[] {
  if (setprivOk === undefined) {
    setprivOk = fs.existsSync('/usr/bin/setpriv');
  }
  return setprivOk ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'] : [];
}

function spawnNode(
  main: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
  prefix: readonly string[] = [],
): ChildProcess {
  const argv = [...deathSignalPrefix(), ...prefix, process.execPath, main, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  track(child);
  return child;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<ExitStatus | undefined> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(undefined);
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({ code, signal });
    };
    child.once('exit', onExit);
  });
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Returns how it ended and whether it needed SIGKILL. */
async function terminate(child: ChildProcess, graceMs: number): Promise<ExitStatus & { killed: boolean }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode, killed: false };
  }
  child.kill('SIGTERM');
  const st = await waitExit(child, graceMs);
  if (st) return { ...st, killed: false };
  child.kill('SIGKILL');
  const st2 = await waitExit(child, 5_000);
  return { code: st2?.code ?? null, signal: st2?.signal ?? 'SIGKILL', killed: true };
}

/** Collects a stream's lines, and lets callers wait for one. */
class LineLog {
  readonly lines: string[] = [];
  private waiters = new Set<() => void>();
  closed = false;

  constructor(stream: NodeJS.ReadableStream) {
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (l) => {
      this.lines.push(l);
      this.wake();
    });
    rl.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves on the next line, close, or timeout (whichever first). */
  changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.waiters.add(done);
    });
  }

  tail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }
}

// ---------------------------------------------------------------------------------------------
// Logs: logfmt or JSON

/** Parses one logfmt line (key=value, key="quoted \" value"). */
export function parseLogfmt(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([^\s=]+)=("((?:[^"\\]|\\.)*)"|\S*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) {
    out[m[1]!] = m[3] !== undefined ? m[3].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)) : m[2]!;
  }
  return out;
}

/** A log line as key/values, whether JSON or logfmt; undefined for neither. */
export function parseLogLine(line: string): Record<string, unknown> | undefined {
  const t = line.trim();
  if (t.startsWith('{')) {
    try {
      const v: unknown = JSON.parse(t);
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // not JSON: try logfmt
    }
  }
  const kv = parseLogfmt(t);
  return Object.keys(kv).length ? kv : undefined;
}

/** The port of a `msg=listening address=HOST:PORT` log line (logfmt or JSON), if it is one. */
export function listeningPort(line: string): number | undefined {
  const kv = parseLogLine(line);
  if (!kv || kv.msg !== 'listening' || typeof kv.address !== 'string') return undefined;
  const m = /:(\d+)$/.exec(kv.address);
  return m ? Number(m[1]) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The exporter

export interface ExporterOptions {
  /** Namespaces to watch (`--netns NAME`). */
  netns?: string[];
  configFile?: string;
  telemetryPath?: string;
  logFormat?: 'logfmt' | 'json';
  logLevel?: string;
  /** More flags, appended as given. */
  args?: string[];
  /** Wait for /-/ready 200 before returning (default true). */
  waitReady?: boolean;
  startTimeoutMs?: number;
  /** Script to run instead of dist/src/main.js (harness self-tests use a fake). */
  main?: string;
  /** Environment on top of this process's (a key set to undefined is removed, e.g. OTEL_*). */
  env?: NodeJS.ProcessEnv;
  /**
   * A command that execs the rest, put before `node` (e.g. `nsenter -t PID -m` to run in a
   * private mount namespace); it must exec, so that the child's pid is the exporter's.
   */
  prefix?: string[];
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

export class Exporter {
  readonly stderr: LineLog;
  readonly stdout: LineLog;
  port = 0;
  stopped: (ExitStatus & { killed: boolean }) | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly args: string[],
    readonly telemetryPath: string,
  ) {
    this.stderr = new LineLog(child.stderr!);
    this.stdout = new LineLog(child.stdout!);
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Last log lines, for failure messages. */
  logs(n = 30): string {
    return `exporter stderr (last ${n} lines):\n${this.stderr.tail(n)}`;
  }

  get(p: string, timeoutMs = 10_000): Promise<HttpResponse> {
    return httpGet(this.baseUrl + p, timeoutMs);
  }

  /** GET the telemetry path; asserts 200 and parses. */
  async scrape(p = this.telemetryPath): Promise<Scrape> {
    if (!this.running) throw new Error(`exporter is not running (${this.exitText()})\n${this.logs()}`);
    const res = await this.get(p);
    if (res.status !== 200) throw new Error(`GET ${p}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
    return new Scrape(res.body);
  }

  /**
   * Scrapes until `check` returns true; `check` returns a string saying what is still wrong,
   * which the timeout error repeats. Returns the scrape that satisfied it.
   */
  async waitFor(what: string, check: (s: Scrape) => true | string, opts: WaitForOptions = {}): Promise<Scrape> {
    let good: Scrape | undefined;
    try {
      await poll(
        what,
        async () => {
          const s = await this.scrape();
          const r = check(s);
          if (r === true) good = s;
          return r;
        },
        opts,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.logs(15)}`, { cause: e });
    }
    return good!;
  }

  /** Waits until the series with exactly `labels` has `expected` (undefined = absent). */
  waitForValue(name: string, labels: Labels, expected: number | undefined, opts: WaitForOptions = {}): Promise<Scrape> {
    const want = labelsKey(name, labels);
    return this.waitFor(
      `${want} == ${expected === undefined ? '(absent)' : expected}`,
      (s) => {
        const v = s.value(name, labels);
        return v === expected || (Number.isNaN(v) && Number.isNaN(expected))
          ? true
          : `${want} = ${v === undefined ? '(absent)' : v}`;
      },
      opts,
    );
  }

  private exitText(): string {
    return `exit code ${this.child.exitCode}, signal ${this.child.signalCode}`;
  }

  /** SIGTERM; SIGKILL after `graceMs`. Idempotent. */
  async stop(graceMs = 5_000): Promise<ExitStatus & { killed: boolean }> {
    this.stopped ??= await terminate(this.child, graceMs);
    return this.stopped;
  }
}

/** Builds the argv for the exporter from options. */
export function exporterArgs(opts: ExporterOptions): string[] {
  const args = ['--web.listen-address=127.0.0.1:0'];
  for (const n of opts.netns ?? []) args.push('--netns', n);
  if (opts.configFile) args.push(`--config.file=${opts.configFile}`);
  if (opts.telemetryPath) args.push(`--web.telemetry-path=${opts.telemetryPath}`);
  if (opts.logFormat) args.push(`--log.format=${opts.logFormat}`);
  if (opts.logLevel) args.push(`--log.level=${opts.logLevel}`);
  args.push(...(opts.args ?? []));
  return args;
}

/**
 * Starts `node dist/src/main.js` on 127.0.0.1 with an OS-chosen port, learns the port from the
 * `listening` log line, and (by default) waits for /-/ready 200.
 */
export async function startExporter(opts: ExporterOptions = {}): Promise<Exporter> {
  const main = opts.main ?? MAIN_JS;
  assertMainExists(main);
  const args = exporterArgs(opts);
  const exporter = new Exporter(spawnNode(main, args, opts.env, opts.prefix), args, opts.telemetryPath ?? '/metrics');
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  try {
    let seen = 0;
    while (!exporter.port) {
      for (; seen < exporter.stderr.lines.length; seen++) {
        const port = listeningPort(exporter.stderr.lines[seen]!);
        if (port) {
          exporter.port = port;
          break;
        }
      }
      if (exporter.port) break;
      if (!exporter.running || exporter.stderr.closed) {
        await waitExit(exporter.child, 2_000);
        throw new Error(
          `exporter exited before listening (exit code ${exporter.child.exitCode}, signal ${exporter.child.signalCode})`,
        );
      }
      if (Date.now() >= deadline) throw new Error(`no "msg=listening address=..." log line within ${timeoutMs} ms`);
      await exporter.stderr.changed(deadline - Date.now());
    }
    if (opts.waitReady ?? true) {
      await poll(
        'GET /-/ready == 200',
        async () => {
          if (!exporter.running) throw new Error('exporter exited');
          const r = await exporter.get('/-/ready', 2_000);
          return r.status === 200 ? true : `HTTP ${r.status} ${r.body.slice(0, 200)}`;
        },
        { timeoutMs: Math.max(1_000, deadline - Date.now()) },
      );
    }
  } catch (e) {
    await exporter.stop(2_000);
    throw new Error(`starting node ${main} ${args.join(' ')}: ${(e as Error).message}\n${exporter.logs()}`, {
      cause: e,
    });
  }
  return exporter;
}

/**
 * startExporter with `config`, when given, written to `configFile` first and passed as
 * `--config.file` (no config file at all when `config` is undefined).
 */
export async function startExporterWithConfig(
  opts: ExporterOptions,
  config: string | undefined,
  configFile: string,
): Promise<Exporter> {
  if (config === undefined) return startExporter(opts);
  fs.writeFileSync(configFile, config);
  return startExporter({ ...opts, configFile });
}

/**
 * A starter of exporters watching the namespace `netns()` names, each with its own environment
 * and, when given, config (written to `dir()`/exporter-N.yml); each one started is pushed onto
 * `started`, for the after() hook to stop.
 */
export function exporterStarter(
  started: Exporter[],
  netns: () => string,
  dir: () => string,
): (env: NodeJS.ProcessEnv, config?: string) => Promise<Exporter> {
  return async (env, config) => {
    const file = path.join(dir(), `exporter-${started.length}.yml`);
    const e = await startExporterWithConfig({ netns: [netns()], env }, config, file);
    started.push(e);
    return e;
  };
}

// ---------------------------------------------------------------------------------------------
// `events` mode

export interface EventsOptions {
  netns?: string[];
  logFormat?: 'logfmt' | 'json';
  args?: string[];
  main?: string;
}

export class EventsProcess {
  readonly stdout: LineLog;
  readonly stderr: LineLog;
  /** Index of the next unread stdout line. */
  cursor = 0;

  constructor(
    readonly child: ChildProcess,
    readonly args: string[],
  ) {
    this.stdout = new LineLog(child.stdout!);
    this.stderr = new LineLog(child.stderr!);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Consumes stdout lines until one satisfies `predicate`, and returns it. Lines skipped on the
   * way stay in `stdout.lines`; on timeout the error shows them and the stderr tail.
   */
  async nextLine(what: string, predicate: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const start = this.cursor;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.stdout.lines.length) {
        const line = this.stdout.lines[this.cursor++]!;
        if (predicate(line)) return line;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.stdout.closed) {
        const skipped = this.stdout.lines.slice(start);
        throw new Error(
          `events: no line for ${what} within ${timeoutMs} ms${this.stdout.closed ? ' (stdout closed)' : ''}\n` +
            `stdout lines read since the previous match (${skipped.length}):\n${skipped.join('\n') || '(none)'}\n` +
            `stderr (last 20 lines):\n${this.stderr.tail(20)}`,
        );
      }
      await this.stdout.changed(left);
    }
  }

  /** Lines read so far that no nextLine() consumed as a match or skipped (for diagnostics). */
  unread(): string[] {
    return this.stdout.lines.slice(this.cursor);
  }

  async stop(graceMs = 5_000): Promise<ExitStatus & { killed: boolean }> {
    return terminate(this.child, graceMs);
  }
}

export function startEvents(opts: EventsOptions = {}): EventsProcess {
  const main = opts.main ?? MAIN_JS;
  assertMainExists(main);
  const args = ['events'];
  for (const n of opts.netns ?? []) args.push('--netns', n);
  if (opts.logFormat) args.push(`--log.format=${opts.logFormat}`);
  args.push(...(opts.args ?? []));
  return new EventsProcess(spawnNode(main, args), args);
}

/** Runs main.js to completion (CLI tests): exit status, stdout, stderr; killed after timeoutMs. */
export async function runMain(
  args: string[],
  timeoutMs = 15_000,
  main = MAIN_JS,
): Promise<ExitStatus & { stdout: string; stderr: string; timedOut: boolean }> {
  assertMainExists(main);
  const child = spawnNode(main, args);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let st = await waitExit(child, timeoutMs);
  let timedOut = false;
  if (!st) {
    timedOut = true;
    st = await terminate(child, 1_000);
  }
  await Promise.race([closed, delay(2_000)]);
  return { ...st, stdout, stderr, timedOut };
}
