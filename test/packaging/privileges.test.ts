// Least privilege, measured: the built package, copied to a fresh directory under /tmp, run as an
// unprivileged system user with exactly the capabilities each case grants (setpriv: inheritable,
// ambient and bounding sets), against the live kernel.
//
//  - none:                own namespace watched; the receive buffer is what rmem_max allows
//                         (2 x rmem_max as the kernel reports it), said once; --netns X fails
//                         with one error naming X and CAP_SYS_ADMIN, X's ready gauge is 0, and
//                         the exporter keeps serving.
//  - CAP_NET_ADMIN:       the forced buffer is granted in full, no warning.
//  - CAP_SYS_ADMIN:       --netns works; two sockets, both capped, one warning.
//  - both:                --netns works, both buffers in full, no warning, no error.
//
// The asked buffer is 2 x rmem_max of this machine (read from /proc, never hardcoded), so the
// cap is visible whatever the sysctl says. Needs root (to create the user and the namespace);
// skipped without, a failure under CI=true.

import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Exporter, listeningPort, parseLogLine, poll } from '../helpers/exporter';
import { createNetns, haveCommand, liveDescribe, Netns, onProcessExit, run } from '../helpers/netns';
import { createLogger } from '../../src/support/log';
import {
  CAP_NET_ADMIN,
  CAP_SYS_ADMIN,
  effectiveCapabilities,
  hasCapability,
  namespaceOpenFailure,
  readRmemMax,
  receiveBufferShortfall,
  resetReceiveBufferWarning,
  warnReceiveBufferOnce,
} from '../../src/runtime/privileges';

const REPO = path.resolve(__dirname, '..', '..', '..');
const USER = 'nle-priv-test';

// ---------------------------------------------------------------------------------------------
// The wording helpers, without privilege

describe('privileges: messages', () => {
  test('CapEff is parsed from /proc/self/status text', () => {
    const caps = effectiveCapabilities('Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t0000000000201000\n');
    assert.equal(caps, (1n << 21n) | (1n << 12n));
    assert.equal(hasCapability(CAP_NET_ADMIN, caps), true);
    assert.equal(hasCapability(CAP_SYS_ADMIN, caps), true);
    assert.equal(hasCapability(19, caps), false);
  });

  test('a receive buffer granted in full says nothing; a capped one says what was granted and what it costs', () => {
    assert.equal(
      receiveBufferShortfall({ asked: 1 << 26, granted: 1 << 27, forced: true, rmemMax: 212992 }),
      undefined,
    );
    // asked <= rmem_max: SO_RCVBUF alone gives it all, CAP_NET_ADMIN or not.
    assert.equal(
      receiveBufferShortfall({ asked: 100_000, granted: 200_000, forced: false, rmemMax: 212992 }),
      undefined,
    );
    const r = receiveBufferShortfall({ asked: 1 << 26, granted: 2 * 212992, forced: false, rmemMax: 212992 });
    assert.ok(r);
    assert.match(r.msg, /CAP_NET_ADMIN/);
    assert.match(r.msg, /net\.core\.rmem_max/);
    assert.match(r.msg, /netlink_socket_overruns_total/);
    assert.equal(r.fields.granted, 425984);
    assert.equal(r.fields.asked, 1 << 26);
    assert.equal(r.fields.rmem_max, 212992);
    assert.equal(r.fields.granted_share, '0.3%');
  });

  test('the receive-buffer warning is logged once per process', () => {
    resetReceiveBufferWarning();
    const lines: string[] = [];
    const logger = createLogger('info', 'logfmt', (l) => lines.push(l));
    for (let i = 0; i < 3; i++) warnReceiveBufferOnce(logger, { asked: 1 << 30, granted: 4096, forced: false });
    assert.equal(lines.length, 1, lines.join(''));
    resetReceiveBufferWarning();
  });

  test('a namespace that cannot be entered is named with the missing capability', () => {
    const eperm = Object.assign(new Error("EPERM: operation not permitted, setns '/run/netns/lab'"), {
      code: 'EPERM',
      syscall: 'setns',
    });
    const r = namespaceOpenFailure('lab', eperm, 0n);
    assert.match(r.msg, /cannot watch network namespace lab: .*needs CAP_SYS_ADMIN/);
    assert.match(r.msg, /netlink_namespace_ready/);
    assert.equal(r.fields.missing_capability, 'CAP_SYS_ADMIN');
    // With CAP_SYS_ADMIN present, EPERM is a seccomp filter or a foreign user namespace.
    const withCap = namespaceOpenFailure('lab', eperm, 1n << 21n);
    assert.equal(withCap.fields.missing_capability, undefined);
    assert.match(withCap.msg, /RestrictNamespaces/);
    const eacces = Object.assign(new Error('EACCES'), { code: 'EACCES', syscall: 'open' });
    assert.equal(namespaceOpenFailure('/proc/1/ns/net', eacces, 1n << 21n).fields.missing_capability, 'CAP_SYS_PTRACE');
    const enoent = Object.assign(new Error('ENOENT'), { code: 'ENOENT', syscall: 'open' });
    assert.match(namespaceOpenFailure('nosuch', enoent, 0n).msg, /no such network namespace/);
  });
});

// ---------------------------------------------------------------------------------------------
// As a real unprivileged user

interface Case {
  caps: string[];
  netns: boolean;
}

interface Identity {
  uid: number;
  gid: number;
}

/** Copies what the package ships (dist/src, the addons, node_modules, package.json, config) to a 0755 directory under /tmp. */
function copyPackage(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-priv-'));
  fs.chmodSync(dir, 0o755);
  fs.mkdirSync(path.join(dir, 'dist'));
  fs.cpSync(path.join(REPO, 'dist', 'src'), path.join(dir, 'dist', 'src'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
  for (const addon of fs.readdirSync(path.join(REPO, 'build', 'Release')).filter((f) => f.endsWith('.node'))) {
    fs.copyFileSync(path.join(REPO, 'build', 'Release', addon), path.join(dir, 'build', 'Release', addon));
  }
  fs.cpSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), { recursive: true });
  fs.cpSync(path.join(REPO, 'config'), path.join(dir, 'config'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(dir, 'package.json'));
  // mkdtemp makes 0700 dirs and cpSync keeps modes: make the tree readable by others.
  run('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

function ensureUser(): Identity {
  if (run('id', ['-u', USER], { allowFailure: true }).status !== 0) {
    run('useradd', [
      '--system',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      USER,
    ]);
  }
  return { uid: Number(run('id', ['-u', USER]).stdout.trim()), gid: Number(run('id', ['-g', USER]).stdout.trim()) };
}

function removeUser(): void {
  if (run('id', ['-u', USER], { allowFailure: true }).status === 0) run('userdel', [USER], { allowFailure: true });
}

/** CapEff of a running process. */
function processCaps(pid: number): bigint | undefined {
  return effectiveCapabilities(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
}

function processUid(pid: number): number {
  const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[2]);
}

const CAP_BITS: Record<string, number> = { net_admin: CAP_NET_ADMIN, sys_admin: CAP_SYS_ADMIN };

function setprivProblem(): string | undefined {
  for (const cmd of ['setpriv', 'useradd', 'userdel']) {
    if (!haveCommand(cmd))
      return `${cmd} is missing (util-linux / passwd): bash scripts/ensure-system-packages.sh installs it`;
  }
  return undefined;
}

liveDescribe('privileges: as an unprivileged user with and without capabilities', { timeout: 120_000 }, () => {
  let dir: string;
  let who: Identity;
  let ns: Netns;
  let rmemMax: number;
  let asked: number;
  let configFile: string;
  const running = new Set<Exporter>();
  let unhook: (() => void) | undefined;

  before(() => {
    const problem = setprivProblem();
    if (problem) throw new Error(problem);
    const r = readRmemMax();
    assert.ok(r, 'cannot read /proc/sys/net/core/rmem_max');
    rmemMax = r;
    // Above rmem_max, so that only SO_RCVBUFFORCE can grant it; the kernel caps a request at INT_MAX / 2.
    asked = Math.min(2 * rmemMax, 2 ** 29);
    assert.ok(asked > rmemMax, `net.core.rmem_max=${rmemMax} is too large to show the cap`);
    unhook = onProcessExit(() => {
      for (const e of running) e.child.kill('SIGKILL');
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
      removeUser();
    });
    who = ensureUser();
    dir = copyPackage();
    configFile = path.join(dir, 'privileges-test.yml');
    fs.writeFileSync(configFile, `socket:\n  receive_buffer_bytes: ${asked}\n`, { mode: 0o644 });
    ns = createNetns('priv');
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    // The user reads the copy, and not through root's eyes: a check as that user.
    run('setpriv', [
      `--reuid=${who.uid}`,
      `--regid=${who.gid}`,
      '--init-groups',
      '--',
      'test',
      '-r',
      path.join(dir, 'dist', 'src', 'main.js'),
    ]);
  });

  after(async () => {
    for (const e of running) await e.stop();
    running.clear();
    ns?.delete();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    removeUser();
    unhook?.();
  });

  async function start(c: Case): Promise<Exporter> {
    const caps = c.caps.map((x) => `+${x}`).join(',');
    const capSpec = caps ? `-all,${caps}` : '-all';
    const args = [
      '--web.listen-address=127.0.0.1:0',
      `--config.file=${configFile}`,
      ...(c.netns ? ['--netns', ns.name] : []),
    ];
    const argv = [
      `--reuid=${who.uid}`,
      `--regid=${who.gid}`,
      '--init-groups',
      `--inh-caps=${capSpec}`,
      `--ambient-caps=${capSpec}`,
      `--bounding-set=${capSpec}`,
      '--pdeathsig=KILL',
      '--',
      process.execPath,
      path.join(dir, 'dist', 'src', 'main.js'),
      ...args,
    ];
    const child = spawn('setpriv', argv, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_OPTIONS: '' },
    });
    const exporter = new Exporter(child, args, '/metrics');
    running.add(exporter);
    try {
      await poll(
        'the "listening" log line',
        () => {
          if (!exporter.running) throw new Error(`exited: code ${child.exitCode}, signal ${child.signalCode}`);
          for (const line of exporter.stderr.lines) {
            const port = listeningPort(line);
            if (port) {
              exporter.port = port;
              return true;
            }
          }
          return 'not yet';
        },
        { timeoutMs: 15_000 },
      );
      await poll(
        'GET /-/ready == 200',
        async () => ((await exporter.get('/-/ready', 2_000)).status === 200 ? true : 'not ready'),
        { timeoutMs: 15_000 },
      );
    } catch (e) {
      await exporter.stop(2_000);
      running.delete(exporter);
      throw new Error(`setpriv ${argv.join(' ')}: ${(e as Error).message}\n${exporter.logs()}`, { cause: e });
    }
    // What the kernel says about the process: our user, exactly these capabilities.
    const pid = child.pid!;
    assert.equal(processUid(pid), who.uid, 'the exporter runs as the test user');
    const want = c.caps.reduce((acc, x) => acc | (1n << BigInt(CAP_BITS[x]!)), 0n);
    assert.equal(processCaps(pid), want, `CapEff of the exporter (asked for ${c.caps.join(',') || 'none'})`);
    return exporter;
  }

  async function finish(exporter: Exporter): Promise<Record<string, unknown>[]> {
    const st = await exporter.stop();
    running.delete(exporter);
    assert.equal(st.killed, false, `the exporter needed SIGKILL\n${exporter.logs()}`);
    await poll('stderr closed', () => exporter.stderr.closed || 'open', { timeoutMs: 5_000 });
    return exporter.stderr.lines.map((l) => parseLogLine(l) ?? {});
  }

  const bufferWarnings = (logs: Record<string, unknown>[]) =>
    logs.filter((l) => String(l.msg).startsWith('receive buffer capped'));
  const namespaceErrors = (logs: Record<string, unknown>[]) =>
    logs.filter((l) => String(l.msg).startsWith('cannot watch'));

  test('no capabilities: own namespace watched with the rmem_max buffer (said once); --netns fails naming CAP_SYS_ADMIN and the exporter keeps serving', async () => {
    const e = await start({ caps: [], netns: true });
    const s = await e.waitForValue('netlink_namespace_ready', { netns: '' }, 1);
    assert.equal(s.value('netlink_namespace_ready', { netns: ns.name }), 0, e.logs());
    assert.equal(s.value('netlink_socket_receive_buffer_bytes', { netns: '' }), 2 * rmemMax, e.logs());
    assert.ok(
      (s.value('netlink_interface_up', { netns: '', interface: 'lo' }) ?? -1) >= 0,
      `own namespace's lo has series\n${e.logs()}`,
    );
    const logs = await finish(e);
    const warnings = bufferWarnings(logs);
    assert.equal(warnings.length, 1, e.logs());
    assert.equal(warnings[0]!.level, 'warn');
    assert.equal(Number(warnings[0]!.granted), 2 * rmemMax);
    assert.equal(Number(warnings[0]!.asked), asked);
    assert.equal(Number(warnings[0]!.rmem_max), rmemMax);
    assert.match(String(warnings[0]!.msg), /CAP_NET_ADMIN/);
    const errors = namespaceErrors(logs);
    assert.equal(errors.length, 1, e.logs());
    assert.equal(errors[0]!.level, 'error');
    assert.equal(errors[0]!.netns, ns.name);
    assert.equal(errors[0]!.code, 'EPERM');
    assert.equal(errors[0]!.syscall, 'setns');
    assert.equal(errors[0]!.missing_capability, 'CAP_SYS_ADMIN');
    assert.match(String(errors[0]!.msg), new RegExp(`${ns.name}: .*CAP_SYS_ADMIN`));
  });

  test('CAP_NET_ADMIN: the forced receive buffer is granted in full, no warning', async () => {
    const e = await start({ caps: ['net_admin'], netns: false });
    const s = await e.waitForValue('netlink_namespace_ready', { netns: '' }, 1);
    assert.equal(s.value('netlink_socket_receive_buffer_bytes', { netns: '' }), 2 * asked, e.logs());
    const logs = await finish(e);
    assert.deepEqual(bufferWarnings(logs), [], e.logs());
    assert.deepEqual(namespaceErrors(logs), [], e.logs());
  });

  test('CAP_SYS_ADMIN alone: --netns is watched; both sockets capped, one warning for the process', async () => {
    const e = await start({ caps: ['sys_admin'], netns: true });
    const s = await e.waitForValue('netlink_namespace_ready', { netns: ns.name }, 1);
    assert.equal(s.value('netlink_namespace_ready', { netns: '' }), 1);
    for (const netns of ['', ns.name])
      assert.equal(
        s.value('netlink_socket_receive_buffer_bytes', { netns }),
        2 * rmemMax,
        `netns=${netns}\n${e.logs()}`,
      );
    assert.equal(s.value('netlink_interface_up', { netns: ns.name, interface: 'lo' }), 1, e.logs());
    const logs = await finish(e);
    assert.equal(bufferWarnings(logs).length, 1, e.logs());
    assert.deepEqual(namespaceErrors(logs), [], e.logs());
  });

  test('CAP_NET_ADMIN and CAP_SYS_ADMIN: --netns watched, both buffers in full, nothing to say', async () => {
    const e = await start({ caps: ['net_admin', 'sys_admin'], netns: true });
    const s = await e.waitForValue('netlink_namespace_ready', { netns: ns.name }, 1);
    for (const netns of ['', ns.name])
      assert.equal(s.value('netlink_socket_receive_buffer_bytes', { netns }), 2 * asked, `netns=${netns}\n${e.logs()}`);
    const logs = await finish(e);
    assert.deepEqual(bufferWarnings(logs), [], e.logs());
    assert.deepEqual(namespaceErrors(logs), [], e.logs());
    assert.deepEqual(
      logs.filter((l) => l.level === 'warn' || l.level === 'error'),
      [],
      e.logs(),
    );
  });
});
