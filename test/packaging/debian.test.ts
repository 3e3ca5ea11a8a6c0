// The Debian package, for real: scripts/build-deb.sh builds it from this tree; its metadata and
// contents are checked; `dpkg -i` installs it on this machine (system user, conffiles, enabled
// unit); `systemd-analyze verify` checks the unit as installed (its ExecStart exists now); the
// installed command runs as the package's user with the unit's capability (CAP_NET_ADMIN
// ambient, nothing else) on a loopback port and is scraped; `dpkg --purge` removes every trace.
// systemd is not PID 1 on these machines, so the unit is verified, never started (where it is
// PID 1, the postinst starts the service as Debian packages do, and the purge stops it).
//
// Needs root (dpkg). It refuses to touch a machine where netlink-exporter is already installed.
// The purge also runs from a process-exit hook, so a failed or killed run leaves nothing behind.

import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { Exporter, listeningPort, poll } from '../helpers/exporter';
import { haveCommand, liveDescribe, onProcessExit, run } from '../helpers/netns';
import { devOnlyDependencies } from '../helpers/package-tree';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PKG = 'netlink-exporter';
const pkgJson = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};

function installed(): boolean {
  const r = run('dpkg-query', ['-W', '-f=${Status}', PKG], { allowFailure: true });
  return r.status === 0 && /installed/.test(r.stdout) && !/not-installed/.test(r.stdout);
}

function userExists(name: string): boolean {
  return run('getent', ['passwd', name], { allowFailure: true }).status === 0;
}

liveDescribe('debian package: build, install, verify the unit, run, scrape, purge', { timeout: 240_000 }, () => {
  let dir: string;
  let deb: string;
  let weInstalled = false;
  let unhook: (() => void) | undefined;
  let exporter: Exporter | undefined;

  const purge = (): void => {
    if (!weInstalled) return;
    run('dpkg', ['--purge', PKG], { allowFailure: true, timeoutMs: 60_000 });
    weInstalled = false;
  };

  before(() => {
    for (const cmd of ['dpkg', 'dpkg-deb', 'systemd-analyze', 'setpriv', 'npm']) {
      if (!haveCommand(cmd))
        throw new Error(
          `${cmd} is missing: bash scripts/ensure-system-packages.sh installs what the packaging tests need`,
        );
    }
    if (installed())
      throw new Error(
        `${PKG} is already installed here (dpkg); this test installs and purges it, so it refuses to run: dpkg --purge ${PKG} first`,
      );
    if (userExists(PKG))
      throw new Error(
        `a user named ${PKG} exists but the package is not installed; this test would remove it on purge`,
      );
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-deb-'));
    unhook = onProcessExit(() => {
      if (exporter?.running) exporter.child.kill('SIGKILL');
      purge();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const out = run('bash', [path.join(REPO, 'scripts', 'build-deb.sh'), '--out', dir], { timeoutMs: 180_000 });
    deb = out.stdout.trim().split('\n').pop()!;
    assert.ok(fs.existsSync(deb), `build-deb.sh printed ${deb}\n${out.stderr}`);
  });

  after(async () => {
    await exporter?.stop();
    purge();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    unhook?.();
  });

  test('metadata: name, version, architecture, Depends on nodejs >= 20, conffiles', () => {
    const arch = run('dpkg', ['--print-architecture']).stdout.trim();
    assert.equal(path.basename(deb), `${PKG}_${pkgJson.version.replace(/-/g, '~')}_${arch}.deb`);
    const field = (f: string) => run('dpkg-deb', ['-f', deb, f]).stdout.trim();
    assert.equal(field('Package'), PKG);
    assert.equal(field('Version'), pkgJson.version.replace(/-/g, '~'));
    assert.equal(field('Architecture'), arch);
    assert.match(field('Depends'), /(^|, )nodejs \(>= 20\)(,|$)/);
    assert.match(field('Depends'), /libstdc\+\+6/, 'the addon links libstdc++');
    const control = fs.mkdtempSync(path.join(dir, 'control-'));
    run('dpkg-deb', ['--control', deb, control]);
    assert.deepEqual(fs.readFileSync(path.join(control, 'conffiles'), 'utf8').trim().split('\n').sort(), [
      '/etc/default/netlink-exporter',
      '/etc/netlink-exporter/config.yml',
    ]);
    for (const s of ['postinst', 'prerm', 'postrm'])
      assert.ok(fs.statSync(path.join(control, s)).mode & 0o111, `${s} is executable`);
  });

  test('contents: the application, production dependencies only, unit, wrapper, config; no sources, tests or dev tools', () => {
    const lines = run('dpkg-deb', ['--contents', deb], { timeoutMs: 60_000 }).stdout.trim().split('\n');
    const entries = new Map<string, { mode: string; owner: string }>();
    for (const l of lines) {
      const cols = l.split(/\s+/);
      entries.set(cols[5]!.replace(/^\./, '').replace(/\/$/, ''), { mode: cols[0]!, owner: cols[1]! });
    }
    for (const p of [
      '/usr/bin/netlink-exporter',
      '/usr/lib/netlink-exporter/dist/src/main.js',
      '/usr/lib/netlink-exporter/build/Release/netlink_socket.node',
      '/usr/lib/netlink-exporter/package.json',
      '/usr/lib/netlink-exporter/config/default.yml',
      '/usr/lib/netlink-exporter/node_modules/prom-client/package.json',
      '/usr/lib/netlink-exporter/node_modules/yaml/package.json',
      '/lib/systemd/system/netlink-exporter.service',
      '/etc/netlink-exporter/config.yml',
      '/etc/default/netlink-exporter',
      '/usr/share/doc/netlink-exporter/copyright',
      '/usr/share/doc/netlink-exporter/netns.conf.example',
    ]) {
      assert.ok(entries.has(p), `the package lacks ${p}`);
    }
    for (const addon of fs.readdirSync(path.join(REPO, 'build', 'Release')).filter((f) => f.endsWith('.node'))) {
      assert.ok(
        entries.has(`/usr/lib/netlink-exporter/build/Release/${addon}`),
        `the package lacks the addon ${addon}`,
      );
    }
    assert.equal(entries.get('/usr/bin/netlink-exporter')!.mode, '-rwxr-xr-x');
    for (const [p, e] of entries) assert.equal(e.owner, 'root/root', `${p} is owned by ${e.owner}`);
    const paths = [...entries.keys()];
    for (const dev of devOnlyDependencies(REPO)) {
      assert.ok(
        !paths.some((p) => p.startsWith(`/usr/lib/netlink-exporter/node_modules/${dev}/`)),
        `devDependency ${dev} is in the package`,
      );
    }
    const own = paths.filter(
      (p) => p.startsWith('/usr/lib/netlink-exporter/') && !p.startsWith('/usr/lib/netlink-exporter/node_modules/'),
    );
    const stray = own.filter(
      (p) =>
        /\/(src|test|bench|addon)(\/|$)/.test(p.replace('/usr/lib/netlink-exporter/dist/src', '')) ||
        /\.(ts|map|cc)$/.test(p),
    );
    assert.deepEqual(stray, [], 'tests, benchmarks, TypeScript sources or source maps in the package');
    assert.ok(
      !paths.some((p) => p.startsWith('/usr/lib/netlink-exporter/node_modules/node-addon-api/')),
      'node-addon-api is only needed to compile the addon',
    );
  });

  test('dpkg -i: system user, config directory for its group, unit enabled', () => {
    run('dpkg', ['-i', deb], { timeoutMs: 120_000 });
    weInstalled = true;
    assert.ok(installed());
    assert.ok(userExists(PKG), 'postinst creates the system user');
    const shell = run('getent', ['passwd', PKG]).stdout.trim().split(':');
    assert.ok(Number(shell[2]) < 1000, `a system uid (${shell[2]})`);
    assert.equal(shell[6], '/usr/sbin/nologin');
    const st = fs.statSync('/etc/netlink-exporter');
    assert.equal(st.mode & 0o777, 0o750);
    assert.equal(st.gid, Number(run('getent', ['group', PKG]).stdout.split(':')[2]));
    assert.equal(
      fs.readFileSync('/etc/netlink-exporter/config.yml', 'utf8'),
      fs.readFileSync(path.join(REPO, 'config', 'default.yml'), 'utf8'),
    );
    assert.equal(
      fs.readlinkSync('/etc/systemd/system/multi-user.target.wants/netlink-exporter.service'),
      '/lib/systemd/system/netlink-exporter.service',
    );
  });

  test('systemd-analyze verify passes on the unit as installed', () => {
    const r = run('systemd-analyze', ['verify', '/lib/systemd/system/netlink-exporter.service'], {
      allowFailure: true,
      timeoutMs: 60_000,
    });
    assert.equal(r.status, 0, `systemd-analyze verify failed:\n${r.stderr}${r.stdout}`);
    assert.equal(r.stderr.trim(), '', `systemd-analyze verify warned:\n${r.stderr}`);
    const unit = fs.readFileSync('/lib/systemd/system/netlink-exporter.service', 'utf8');
    assert.match(
      unit,
      /^ExecStart=\/usr\/bin\/netlink-exporter --config\.file=\/etc\/netlink-exporter\/config\.yml \$ARGS$/m,
    );
    assert.match(unit, /^AmbientCapabilities=CAP_NET_ADMIN$/m);
    assert.match(unit, /^CapabilityBoundingSet=CAP_NET_ADMIN$/m);
    assert.match(unit, /^User=netlink-exporter$/m);
  });

  test('systemd-analyze security: CAP_NET_ADMIN is the only capability; the netns drop-in adds CAP_SYS_ADMIN and entering network namespaces only', () => {
    const security = (): string =>
      run(
        'systemd-analyze',
        ['security', '--offline=yes', '--no-pager', '/lib/systemd/system/netlink-exporter.service'],
        { allowFailure: true, timeoutMs: 60_000 },
      ).stdout;
    const exposure = (out: string): number =>
      Number(/Overall exposure level for netlink-exporter\.service: ([\d.]+)/.exec(out)?.[1] ?? NaN);
    const flagged = (out: string, setting: string): boolean =>
      out.split('\n').some((l) => l.startsWith('✗') && l.includes(setting));
    const base = security();
    assert.ok(exposure(base) <= 2.5, `exposure ${exposure(base)}\n${base}`);
    assert.ok(flagged(base, 'CapabilityBoundingSet=~CAP_NET_ADMIN'), 'CAP_NET_ADMIN is granted');
    for (const s of [
      'CapabilityBoundingSet=~CAP_SYS_ADMIN',
      'RestrictNamespaces=~net',
      'NoNewPrivileges=',
      'ProtectSystem=',
      'ProtectHome=',
      'PrivateTmp=',
      'RestrictAddressFamilies=~AF_PACKET',
    ]) {
      assert.ok(!flagged(base, s), `${s} is flagged\n${base}`);
    }
    const dropInDir = '/etc/systemd/system/netlink-exporter.service.d';
    const dropIn = path.join(dropInDir, 'netns.conf');
    assert.ok(!fs.existsSync(dropIn), `${dropIn} exists already`);
    const removeDropIn = (): void => {
      fs.rmSync(dropIn, { force: true });
      if (fs.existsSync(dropInDir) && fs.readdirSync(dropInDir).length === 0) fs.rmdirSync(dropInDir);
    };
    const unhookDropIn = onProcessExit(removeDropIn);
    try {
      fs.mkdirSync(dropInDir, { recursive: true });
      fs.copyFileSync('/usr/share/doc/netlink-exporter/netns.conf.example', dropIn);
      const v = run('systemd-analyze', ['verify', '/lib/systemd/system/netlink-exporter.service'], {
        allowFailure: true,
        timeoutMs: 60_000,
      });
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stderr.trim(), '', v.stderr);
      const netns = security();
      assert.ok(flagged(netns, 'CapabilityBoundingSet=~CAP_SYS_ADMIN'), `the drop-in grants CAP_SYS_ADMIN\n${netns}`);
      assert.ok(flagged(netns, 'RestrictNamespaces=~net'), 'the drop-in allows network namespaces');
      for (const ns of ['user', 'mnt', 'pid', 'ipc', 'uts', 'cgroup'])
        assert.ok(!flagged(netns, `RestrictNamespaces=~${ns}`), `only net namespaces: ${ns} too\n${netns}`);
    } finally {
      removeDropIn();
      unhookDropIn();
    }
  });

  test('the installed command runs as the package user with CAP_NET_ADMIN only, is scraped, and stops on SIGTERM', async () => {
    const version = run('/usr/bin/netlink-exporter', ['--version']).stdout;
    assert.ok(version.includes(pkgJson.version), version);
    // As the unit runs it: its user, CAP_NET_ADMIN ambient and in the bounding set, nothing else.
    const args = ['--config.file=/etc/netlink-exporter/config.yml', '--web.listen-address=127.0.0.1:0'];
    const child = spawn(
      'setpriv',
      [
        `--reuid=${PKG}`,
        `--regid=${PKG}`,
        '--init-groups',
        '--inh-caps=-all,+net_admin',
        '--ambient-caps=-all,+net_admin',
        '--bounding-set=-all,+net_admin',
        '--pdeathsig=KILL',
        '--',
        '/usr/bin/netlink-exporter',
        ...args,
      ],
      {
        cwd: '/',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      },
    );
    const e = new Exporter(child, args, '/metrics');
    exporter = e;
    await poll(
      'the "listening" log line',
      () => {
        if (!e.running) throw new Error(`exited: code ${child.exitCode}\n${e.logs()}`);
        const port = e.stderr.lines.map(listeningPort).find((p) => p !== undefined);
        if (port === undefined) return 'not yet';
        e.port = port;
        return true;
      },
      { timeoutMs: 15_000 },
    );
    const s = await e.waitForValue('netlink_namespace_ready', { netns: '' }, 1);
    assert.equal(
      s.value('netlink_exporter_build_info', { version: pkgJson.version, nodejs_version: process.versions.node }),
      1,
      e.logs(),
    );
    // The unit's capability is enough for the configured buffer: granted in full (the kernel doubles it).
    const conf = parse(fs.readFileSync('/etc/netlink-exporter/config.yml', 'utf8')) as {
      socket: { receive_buffer_bytes: number };
    };
    assert.equal(
      s.value('netlink_socket_receive_buffer_bytes', { netns: '' }),
      2 * conf.socket.receive_buffer_bytes,
      e.logs(),
    );
    assert.ok(!e.stderr.lines.some((l) => /level=(warn|error)/.test(l)), e.logs());
    const st = await e.stop();
    assert.equal(st.killed, false, e.logs());
    assert.equal(st.code, 0, e.logs());
  });

  test('dpkg --purge removes the files, the conffiles, the unit link, the user and the group', () => {
    run('dpkg', ['--purge', PKG], { timeoutMs: 60_000 });
    weInstalled = false;
    assert.ok(!installed());
    for (const p of [
      '/usr/bin/netlink-exporter',
      '/usr/lib/netlink-exporter',
      '/etc/netlink-exporter',
      '/etc/default/netlink-exporter',
      '/lib/systemd/system/netlink-exporter.service',
      '/etc/systemd/system/multi-user.target.wants/netlink-exporter.service',
    ]) {
      assert.ok(!fs.existsSync(p), `${p} is still there after purge`);
    }
    assert.ok(!userExists(PKG), 'the system user is gone');
    assert.notEqual(run('getent', ['group', PKG], { allowFailure: true }).status, 0, 'the group is gone');
  });
});
