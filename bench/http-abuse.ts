// node dist/bench/http-abuse.js [MAIN_JS]: what hostile HTTP clients cost the exporter.
// Three figures, each from a fresh exporter on 127.0.0.1 watching only its own namespace:
// 1. pipelining: 4 clients x 3,000 pipelined scrapes that never read, three rounds; RSS after each;
// 2. a password flood: N clients sending wrong passwords (half of them for unknown users) while
//    10 authenticated scrapes are timed (their password check is cached, as in production);
// 3. timing: median answer time of a known user with a wrong password against an unknown user.
// An optional argument runs another build (say an older commit's dist/src/main.js) for comparison.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { parseExposition, startExporter, Exporter } from '../test/helpers/exporter';
import { startPasswordFlood } from '../test/helpers/password-flood';
import { MAIN_JS } from './procs';
import { median, sleep } from './util';

const main = process.argv[2] ?? MAIN_JS;

function get(
  port: number,
  auth: string | undefined,
  agent: http.Agent | false = false,
): Promise<{ status: number; ms: number; body: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const headers: Record<string, string> =
      auth === undefined ? {} : { authorization: `Basic ${Buffer.from(auth).toString('base64')}` };
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          ms: performance.now() - t0,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0, body: '' }));
  });
}

async function rssMiB(ex: Exporter, auth?: string): Promise<number> {
  return (parseExposition((await get(ex.port, auth)).body).value('process_resident_memory_bytes', {}) ?? NaN) / 2 ** 20;
}

async function pipelining(): Promise<string> {
  const ex = await startExporter({ main });
  try {
    const rss = [await rssMiB(ex)];
    for (let round = 0; round < 3; round++) {
      const sockets: Socket[] = [];
      for (let c = 0; c < 4; c++) {
        const s = connect(ex.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.pause();
        s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3000));
        sockets.push(s);
      }
      // The attack lasts a while (the old server kept answering into the void), then the clients go.
      await sleep(8000);
      for (const s of sockets) s.destroy();
      await sleep(3000);
      rss.push(await rssMiB(ex));
    }
    return `pipelining, 4 clients x 3,000 requests never read, 3 rounds: RSS ${rss.map((r) => r.toFixed(0)).join(' -> ')} MB`;
  } finally {
    await ex.stop();
  }
}

async function withUsers<T>(cost: number, fn: (ex: Exporter) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'nle-bench-http-'));
  const file = join(dir, 'web.yml');
  writeFileSync(file, `basic_auth_users:\n  alice: ${bcrypt.hashSync('correct horse', cost)}\n`);
  const ex = await startExporter({ main, args: [`--web.config.file=${file}`], waitReady: false });
  try {
    return await fn(ex);
  } finally {
    await ex.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function flood(attackers: number, cost: number): Promise<string> {
  return withUsers(cost, async (ex) => {
    await get(ex.port, 'alice:correct horse');
    // The flood runs in a process of its own: its client work must not delay the timed scrapes.
    const attack = startPasswordFlood(ex.port, attackers);
    await attack.firstAnswer;
    await sleep(3000);
    const times: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { status, ms } = await get(ex.port, 'alice:correct horse');
      times.push(`${ms.toFixed(0)}${status === 200 ? '' : `(${status})`}`);
    }
    const answers = await attack.stop();
    return `${attackers} clients flooding wrong passwords, cost ${cost}: authenticated scrapes ${times.join(' ')} ms; attackers got ${JSON.stringify(answers)}`;
  });
}

async function timing(cost: number): Promise<string> {
  return withUsers(cost, async (ex) => {
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 20; i++) {
      known.push((await get(ex.port, `alice:wrong-${i}`)).ms);
      unknown.push((await get(ex.port, `nobody:wrong-${i}`)).ms);
    }
    return `cost ${cost}: a known user with a wrong password ${median(known).toFixed(0)} ms, an unknown user ${median(unknown).toFixed(0)} ms (medians of 20)`;
  });
}

async function run(): Promise<void> {
  process.stdout.write(`exporter: ${main}\n`);
  for (const step of [
    pipelining,
    () => flood(60, 10),
    () => flood(150, 10),
    () => flood(150, 12),
    () => timing(10),
    () => timing(12),
  ]) {
    process.stdout.write(`${await step()}\n`);
  }
}

run().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
