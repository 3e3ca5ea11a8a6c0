// Drives test/helpers/forge-netlink.py: a process that forges rtnetlink notifications inside a
// network namespace, as a hostile neighbour of the exporter's sockets would.

import { spawn, ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

/** The script's source, passed with `python3 -c` so that an unprivileged user needs no read access to the tree. */
const SCRIPT = fs.readFileSync(path.resolve(__dirname, '../../../test/helpers/forge-netlink.py'), 'utf8');
/** The system's python: a per-user one (pyenv under /root) is out of an unprivileged user's reach. */
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface ForgeResult {
  /** NETLINK_ROUTE ports of the namespace the datagrams were unicast to. */
  ports: number[];
  /** Unicast sends per port and datagram: accepted by the kernel (sent) or refused (ECONNREFUSED). */
  unicast: { sent: number; refused: number; other_errors: number };
  /** Datagrams multicast to RTNLGRP_LINK / RTNLGRP_IPV4_ROUTE. */
  multicast: { sent: number; errors: string[] };
}

export interface Forger {
  /** Its pid: /proc/PID/ns/net is the namespace it forges in. */
  readonly pid: number;
  /** Its own netlink port id, the source of every datagram it sends. */
  readonly port: number;
  /** Sends `count` forged RTM_NEWLINK (named `name`) and `count` RTM_NEWROUTE, each by unicast to every other port and by multicast. */
  forge(count: number, name: string, exclude?: number[]): Promise<ForgeResult>;
  close(): void;
}

/** Starts the forger under `prefix` (e.g. ['setpriv', ..., 'unshare', '-Urn'] or ['ip', 'netns', 'exec', NS]). */
export function startForger(prefix: string[], timeoutMs = 10_000): Promise<Forger> {
  const child: ChildProcessWithoutNullStreams = spawn(prefix[0] as string, [...prefix.slice(1), PYTHON, '-c', SCRIPT], {
    stdio: 'pipe',
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = readline.createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  const failures: ((err: Error) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  child.on('exit', (code, signal) => {
    for (const fail of failures.splice(0)) fail(new Error(`forger exited (${code ?? signal}): ${stderr}`));
  });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`forger silent for ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
      failures.push((err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  return next().then((line) => {
    const hello = JSON.parse(line) as { pid: number; port: number };
    return {
      pid: hello.pid,
      port: hello.port,
      async forge(count, name, exclude = []) {
        const reply = next();
        child.stdin.write(JSON.stringify({ count, name, exclude }) + '\n');
        return JSON.parse(await reply) as ForgeResult;
      },
      close() {
        child.stdin.end();
        if (child.exitCode === null) child.kill();
      },
    };
  });
}
