// What the OpenTelemetry integration tests set and read of an exporter process: its OTEL_*
// environment, the @opentelemetry modules it loaded, and its TCP sockets.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Unsets every OTEL_* variable this test process may have, then sets `vars`. */
export function otelEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of Object.keys(process.env)) if (key.startsWith('OTEL_')) env[key] = undefined;
  return { ...env, ...vars };
}

/**
 * A --require'd script that writes, when the process exits, every @opentelemetry module it
 * loaded (to `dir`/modules-`name`.txt; a random name when none is given).
 */
export function modulesPreload(
  dir: string,
  name = Math.random().toString(36).slice(2),
): { env: NodeJS.ProcessEnv; read: () => string[] } {
  const script = path.join(dir, 'record-modules.js');
  const out = path.join(dir, `modules-${name}.txt`);
  fs.writeFileSync(
    script,
    `process.on('exit', () => require('fs').writeFileSync(process.env.NLE_MODULES_OUT, Object.keys(require.cache).filter((f) => f.includes('/@opentelemetry/')).join('\\n')));\n`,
  );
  return {
    env: { NODE_OPTIONS: `--require ${script}`, NLE_MODULES_OUT: out },
    read: () => {
      assert.ok(fs.existsSync(out), `${out}: the exporter did not exit cleanly (no module list written)`);
      return fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    },
  };
}

/** TCP sockets of a process (from /proc/PID/fd and /proc/PID/net/tcp{,6}): local and remote port, state. */
export function tcpSockets(pid: number): { local: number; remote: number; state: string }[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out: { local: number; remote: number; state: string }[] = [];
  for (const file of ['tcp', 'tcp6']) {
    const lines = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (!inodes.has(f[9]!)) continue;
      out.push({ local: parseInt(f[1]!.split(':')[1]!, 16), remote: parseInt(f[2]!.split(':')[1]!, 16), state: f[3]! });
    }
  }
  return out;
}
