// A real Prometheus (the Debian package's) scraping one exporter every second, for the tests
// that need Prometheus's own reading of the exposition (exemplars, `_created`): its own
// temporary directory and free port, killed with this process (setpriv --pdeathsig, and an exit
// hook), and its HTTP API.

import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { onProcessExit } from './netns';
import { httpGet, poll } from './exporter';

export const PROMETHEUS = '/usr/bin/prometheus';

export interface InstantResult {
  metric: Record<string, string>;
  value: [number, string];
}

/** [major, minor] of the installed `prometheus --version`. */
export function prometheusVersion(): [number, number] {
  const out = spawnSync(PROMETHEUS, ['--version'], { encoding: 'utf8' });
  const m = /version (\d+)\.(\d+)/.exec(`${out.stdout}${out.stderr}`);
  assert.ok(m, `cannot read the version of ${PROMETHEUS}: ${out.stdout}${out.stderr}`);
  return [Number(m[1]), Number(m[2])];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export class TestPrometheus {
  private readonly output: string[] = [];

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly tmp: string,
    private readonly removeExitHook: () => void,
  ) {
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.output.push(line);
      if (this.output.length > 200) this.output.splice(0, this.output.length - 200);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /**
   * Starts Prometheus scraping `target` (host:port) every second as `job`, with `flags` added,
   * and waits until it has scraped it `scrapes` times.
   */
  static async start(opts: {
    job: string;
    target: string;
    flags?: string[];
    scrapes?: number;
  }): Promise<TestPrometheus> {
    assert.ok(
      fs.existsSync(PROMETHEUS),
      `${PROMETHEUS} is missing: apt-get install -y --no-install-recommends prometheus`,
    );
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `nle-${opts.job}-`));
    let child: ChildProcess | undefined;
    const removeExitHook = onProcessExit(() => {
      try {
        child?.kill('SIGKILL');
      } catch {
        // gone
      }
      fs.rmSync(tmp, { recursive: true, force: true });
    });
    const port = await freePort();
    fs.writeFileSync(
      path.join(tmp, 'prometheus.yml'),
      stringifyYaml({
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [{ job_name: opts.job, static_configs: [{ targets: [opts.target] }] }],
      }),
    );
    const prefix = fs.existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'] : [];
    const argv = [
      ...prefix,
      PROMETHEUS,
      `--config.file=${path.join(tmp, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...(opts.flags ?? []),
      '--log.level=warn',
    ];
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const prometheus = new TestPrometheus(`http://127.0.0.1:${port}`, child, tmp, removeExitHook);
    const scrapes = opts.scrapes ?? 1;
    await prometheus.poll(`Prometheus scraping ${opts.target} ${scrapes} time(s) (up == 1)`, async () => {
      if (child!.exitCode !== null) throw new Error(`prometheus exited (${child!.exitCode})`);
      const up = (await prometheus.query(`up{job="${opts.job}"}`))[0]?.value[1];
      const seen = Number((await prometheus.query(`count_over_time(up{job="${opts.job}"}[1m])`))[0]?.value[1] ?? 0);
      return up === '1' && seen >= scrapes ? true : `up = ${up ?? '(no sample yet)'}, ${seen} scrapes`;
    });
    return prometheus;
  }

  logs(n = 15): string {
    return `prometheus output (last ${n} lines):\n${this.output.slice(-n).join('\n')}`;
  }

  /** GET an API path (`/api/v1/...`); its `data`, or an error with Prometheus's. */
  async api<T>(p: string): Promise<T> {
    const r = await httpGet(`${this.url}${p}`, 10_000);
    const body = JSON.parse(r.body) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${p}: ${body.error ?? r.body.slice(0, 300)}`);
    return body.data;
  }

  async query(expr: string): Promise<InstantResult[]> {
    return (await this.api<{ result: InstantResult[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result;
  }

  /** Polls `check` with a deadline; a failure carries Prometheus's last log lines. */
  async poll(what: string, check: () => Promise<true | string>, timeoutMs = 30_000): Promise<void> {
    await poll(what, check, { timeoutMs, intervalMs: 200 }).catch((e: Error) => {
      throw new Error(`${e.message}\n${this.logs()}`);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.tmp, { recursive: true, force: true });
    this.removeExitHook();
  }
}
