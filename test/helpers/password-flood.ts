// A flood of wrong basic-auth passwords from a child process of its own, so that the flood's
// client work never delays the process that times the legitimate scrapes. Each of `clients`
// loops sends GET /metrics on a keep-alive connection with a fresh wrong password (half of them
// for users that do not exist) until told to stop; the child then reports the answers it got.

import { spawn } from 'node:child_process';
import * as http from 'node:http';

export interface PasswordFlood {
  /** Answers so far are unknown to the parent; resolves with the count of each status once stopped. */
  stop(): Promise<Record<string, number>>;
  /** Resolves once the first refusal with `status` came back (the flood is on). */
  firstAnswer: Promise<void>;
}

export function startPasswordFlood(port: number, clients: number, user = 'alice'): PasswordFlood {
  const child = spawn(process.execPath, [__filename, String(port), String(clients), user], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let resolveFirst: () => void;
  const firstAnswer = new Promise<void>((resolve) => (resolveFirst = resolve));
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    if (out.includes('\n')) resolveFirst();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    firstAnswer,
    async stop() {
      child.stdin.end();
      await exited;
      const last = out.trim().split('\n').at(-1) ?? '{}';
      return JSON.parse(last) as Record<string, number>;
    },
  };
}

function flood(port: number, clients: number, user: string): void {
  let stop = false;
  let announced = false;
  const answers: Record<string, number> = {};
  const one = (agent: http.Agent, auth: string): Promise<number> =>
    new Promise((resolve) => {
      const req = http.get(
        {
          host: '127.0.0.1',
          port,
          path: '/metrics',
          agent,
          headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
    });
  const loops = Array.from({ length: clients }, async (_, i) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let n = 0; !stop; n++) {
      const status = await one(agent, i % 2 === 0 ? `${user}:guess-${i}-${n}` : `nobody-${i}:guess-${n}`);
      answers[status] = (answers[status] ?? 0) + 1;
      if (!announced) {
        announced = true;
        process.stdout.write('{}\n');
      }
    }
    agent.destroy();
  });
  process.stdin.resume();
  process.stdin.on('end', () => {
    stop = true;
    void Promise.all(loops).then(() => process.stdout.write(`${JSON.stringify(answers)}\n`, () => process.exit(0)));
  });
}

if (require.main === module) flood(Number(process.argv[2]), Number(process.argv[3]), process.argv[4] ?? 'alice');
