// npm run bench: the benchmark behind the README's figures (bursts, overruns, a full table,
// many namespaces; see its Benchmark section). See bench/args.ts for the flags and
// bench/measure.ts for how each figure is measured.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ScenarioName, USAGE, UsageError, parseBenchArgs } from './args';
import { cleanupSync, removeStaleLeftovers } from './cleanup';
import { MAIN_JS } from './procs';
import { addressScenario, carrierScenario, flapScenario, routeScenario } from './scenarios/bursts';
import { Context, makeContext } from './scenarios/context';
import { fullTableScenario } from './scenarios/fulltable';
import { fuzzScenario } from './scenarios/fuzz';
import { interfacesScenario } from './scenarios/interfaces';
import { latencyScenario } from './scenarios/latency';
import { nodeScenario } from './scenarios/node';
import { replayScenario } from './scenarios/replay';
import { LEGEND, Row, renderTable } from './table';

const RUNNERS: Record<ScenarioName, { title: string; run: (ctx: Context) => Promise<Row[]> }> = {
  route: { title: '1 route burst', run: routeScenario },
  address: { title: '2 address burst', run: addressScenario },
  flap: { title: '3 flap burst', run: flapScenario },
  carrier: { title: '4 carrier-only burst', run: carrierScenario },
  fulltable: { title: '5 full table', run: fullTableScenario },
  interfaces: { title: '6 many interfaces', run: interfacesScenario },
  latency: { title: '7 event latency', run: latencyScenario },
  fuzz: { title: '8 codec fuzz', run: fuzzScenario },
  replay: { title: '9 JavaScript alone (replay)', run: replayScenario },
  node: { title: '10 Kubernetes node', run: nodeScenario },
};

function machine(): string {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const ipVersion = spawnSync('ip', ['-V'], { encoding: 'utf8' }).stdout.trim();
  const mem = (os.totalmem() / 1024 ** 3).toFixed(1);
  const repo = path.resolve(__dirname, '..', '..');
  const git = (...a: string[]): string =>
    spawnSync('git', ['-C', repo, ...a], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('log', '-1', '--format=%h %s').slice(0, 100);
  const dirty = git('status', '--porcelain', '--', 'src', 'addon').length > 0;
  const addonSrc = path.join(repo, 'addon', 'netlink_socket.cc');
  const addonBin = path.join(repo, 'build', 'Release', 'netlink_socket.node');
  const staleAddon = fs.existsSync(addonSrc) && fs.statSync(addonBin).mtimeMs < fs.statSync(addonSrc).mtimeMs;
  return [
    `machine: nproc ${os.availableParallelism?.() ?? os.cpus().length}, ${cpu}, ${mem} GiB RAM`,
    `kernel:  ${os.release()}; node ${process.version}; ${ipVersion}`,
    `code:    ${head || 'unknown'}${dirty ? ' (+ uncommitted changes in src/ or addon/)' : ''}` +
      (staleAddon
        ? '\nWARNING: build/Release/netlink_socket.node is older than addon/netlink_socket.cc (npm run build)'
        : ''),
    `load:    ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (1/5/15 min) at start; ${new Date().toISOString()}`,
  ].join('\n');
}

/** The variables that pick the signals: kept from the caller's environment under --otel. */
const SIGNAL_CHOICE: ReadonlySet<string> = new Set([
  'OTEL_TRACES_EXPORTER',
  'OTEL_LOGS_EXPORTER',
  'OTEL_METRICS_EXPORTER',
]);

/**
 * --otel: an OTLP/HTTP sink on loopback that reads every export and answers it at once (an empty
 * ExportServiceResponse), and the OTEL_* variables that point every exporter this process starts
 * at it (the children inherit the environment). Returns what it received, for the header.
 */
async function startOtlpSink(): Promise<{ summary: () => string; close: () => Promise<void> }> {
  const received = new Map<string, { requests: number; bytes: number }>();
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const entry = received.get(req.url ?? '') ?? { requests: 0, bytes: 0 };
      entry.requests++;
      entry.bytes += bytes;
      received.set(req.url ?? '', entry);
      const json = String(req.headers['content-type'] ?? '').startsWith('application/json');
      res
        .writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' })
        .end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // The caller's OTEL_* go, except the signal choice: OTEL_TRACES_EXPORTER=none
  // OTEL_LOGS_EXPORTER=none measures OTLP metrics alone, and so on.
  for (const key of Object.keys(process.env))
    if (key.startsWith('OTEL_') && !SIGNAL_CHOICE.has(key)) delete process.env[key];
  Object.assign(process.env, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_METRIC_EXPORT_INTERVAL: '10000',
  });
  return {
    summary: () =>
      [...received]
        .map(([url, r]) => `${url} ${r.requests} requests, ${(r.bytes / 1048576).toFixed(1)} MiB`)
        .join('; ') || 'nothing',
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function preflight(): void {
  if (process.platform !== 'linux') throw new Error('the benchmark needs Linux');
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, SO_RCVBUFFORCE)');
  if (!fs.existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: npm run build`);
  const addon = path.resolve(__dirname, '..', '..', 'build', 'Release', 'netlink_socket.node');
  if (!fs.existsSync(addon)) throw new Error(`${addon} is missing: npm run build (node-gyp)`);
  if (spawnSync('ip', ['-V']).status !== 0) throw new Error('iproute2 `ip` is missing: apt-get install iproute2');
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bench: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  preflight();
  const stale = removeStaleLeftovers();
  if (stale.length) process.stderr.write(`bench: removed leftovers of killed runs: ${stale.join(', ')}\n`);

  const sink = args.otel ? await startOtlpSink() : undefined;
  const ctx = makeContext(args.scale);
  const header = `netlink-exporter benchmark${args.scale !== 1 ? `, --scale ${args.scale}` : ''}${sink ? ', --otel (traces, logs and metrics over OTLP/HTTP to a loopback sink)' : ''}\n${machine()}\n`;
  process.stdout.write(header + '\n');
  const rows: Row[] = [];
  for (const name of args.only) {
    const r = RUNNERS[name];
    ctx.log(`${r.title}: start`);
    try {
      const got = await r.run(ctx);
      rows.push(...got);
      for (const row of got) for (const f of row.failures) ctx.log(`${row.scenario}: EXACTNESS FAILURE: ${f}`);
    } catch (e) {
      const err = e as Error;
      ctx.log(`${r.title}: ERROR: ${err.stack ?? err.message}`);
      rows.push({ scenario: r.title, notes: [], failures: [], error: err.message });
    }
    ctx.log(`${r.title}: done`);
  }
  process.stdout.write(`${renderTable(rows)}\n${LEGEND}\n`);
  if (sink) {
    process.stdout.write(`\nOTLP sink received: ${sink.summary()}\n`);
    await sink.close();
  }
  const bad = rows.filter((r) => r.error || r.failures.length);
  if (bad.length) {
    process.stdout.write(`\nFAILED: ${bad.map((r) => r.scenario).join(', ')}\n`);
    return 1;
  }
  process.stdout.write('\nall scenarios exact, no errors\n');
  return 0;
}

main().then(
  (code) => {
    cleanupSync();
    process.exit(code);
  },
  (err: Error) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    cleanupSync();
    process.exit(1);
  },
);
