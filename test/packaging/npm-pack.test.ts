// `npm pack` output installed as a dependency with the npm that ships here (11.x): the tarball
// holds the built JavaScript (no tsc at install: `prepare` runs for git and directory installs
// only), the addon's sources and binding.gyp (node-gyp builds it at install), no tests; a fresh
// project that approves the package's install script (allowScripts, which npm 12 requires and
// npm 11 already enforces under --strict-allow-scripts) gets a built addon and a working
// `npx netlink-exporter`. Without the approval, --strict-allow-scripts refuses and names it.
// Needs no root; it needs the npm registry for the dependencies, and what node-gyp needs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onProcessExit, run, RunResult } from '../helpers/netns';
import { devOnlyDependencies } from '../helpers/package-tree';

const REPO = path.resolve(__dirname, '..', '..', '..');
const pkgJson = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface PackResult {
  filename: string;
  files: { path: string }[];
}

/** Runs npm (or npx) in `cwd`; the user's npm config (nodedir, cache) applies. */
function runIn(cwd: string, args: string[], allowFailure: boolean, cmd: 'npm' | 'npx' = 'npm'): RunResult {
  const extra = cmd === 'npm' ? ['--no-audit', '--no-fund'] : [];
  return run('sh', ['-c', 'cd "$1" && shift && exec "$@"', 'sh', cwd, cmd, ...args, ...extra], {
    allowFailure,
    timeoutMs: 180_000,
  });
}

describe('npm pack: the tarball installs as a dependency under npm 11', { timeout: 240_000 }, () => {
  let dir: string;
  let tarball: string;
  let packed: PackResult;
  let unhook: (() => void) | undefined;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-pack-'));
    unhook = onProcessExit(() => fs.rmSync(dir, { recursive: true, force: true }));
    // --ignore-scripts: the tree is built already (the test runs after tsc); `npm pack` would run prepare (tsc) again.
    const out = runIn(REPO, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], false);
    packed = (JSON.parse(out.stdout) as PackResult[])[0]!;
    tarball = path.join(dir, packed.filename);
    assert.ok(fs.existsSync(tarball), out.stderr);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    unhook?.();
  });

  test('the tarball: built JavaScript, addon sources, binding.gyp, config, bin; no tests, no build output, no node_modules', () => {
    const files = packed.files.map((f) => f.path);
    for (const f of [
      'package.json',
      'binding.gyp',
      'addon/netlink_socket.cc',
      'dist/src/main.js',
      'config/default.yml',
      'README.md',
    ]) {
      assert.ok(files.includes(f), `the tarball lacks ${f}`);
    }
    assert.equal(pkgJson.bin[pkgJson.name], 'dist/src/main.js');
    assert.ok(
      fs.readFileSync(path.join(REPO, 'dist', 'src', 'main.js'), 'utf8').startsWith('#!/usr/bin/env node\n'),
      'the bin has a node shebang',
    );
    const stray = files.filter(
      (f) =>
        /^(test|bench|dist\/test|dist\/bench|build|node_modules|deploy|scripts|\.ci)\//.test(f) ||
        /\.test\.(js|ts)$/.test(f) ||
        f.endsWith('.node'),
    );
    assert.deepEqual(stray, [], 'tests, build output or modules in the tarball');
    // Every module dist/src requires at run time is in the tarball (nothing is compiled at install).
    const sources = files.filter((f) => /^src\/.*\.ts$/.test(f)).map((f) => `dist/${f.replace(/\.ts$/, '.js')}`);
    assert.deepEqual(
      sources.filter((js) => !files.includes(js)),
      [],
      'TypeScript sources without their compiled JavaScript',
    );
  });

  test('without approval, npm --strict-allow-scripts (npm 12 behaviour) refuses and names the package', () => {
    const project = path.join(dir, 'unapproved');
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
    );
    const r = runIn(project, ['install', '--strict-allow-scripts', tarball], true);
    assert.notEqual(r.status, 0, `the install should be refused\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /ESTRICTALLOWSCRIPTS/);
    assert.match(r.stderr, /netlink-exporter@\S+ \(install: node-gyp rebuild/);
  });

  test('approved (allowScripts), it installs as a dependency: the addon is built, no tsc is needed, npx netlink-exporter --version works', () => {
    const project = path.join(dir, 'approved');
    fs.mkdirSync(project);
    // What `npm install-scripts approve` writes for a tarball; for the registry it is the name.
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        version: '1.0.0',
        private: true,
        // protobufjs (under the OpenTelemetry OTLP exporters) has a postinstall that only checks
        // its own command-line tools' dependencies: nothing the exporter needs, so it is denied.
        allowScripts: { [`file:${tarball}`]: true, protobufjs: false },
      }),
    );
    const r = runIn(project, ['install', '--strict-allow-scripts', tarball], true);
    assert.equal(r.status, 0, `npm install failed\n${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /install-scripts/, 'no unreviewed-install-script notice once approved');
    const installed = path.join(project, 'node_modules', pkgJson.name);
    assert.ok(
      fs.existsSync(path.join(installed, 'build', 'Release', 'netlink_socket.node')),
      'node-gyp built the addon at install',
    );
    for (const dev of devOnlyDependencies(REPO)) {
      assert.ok(!fs.existsSync(path.join(project, 'node_modules', dev)), `devDependency ${dev} was installed`);
    }
    const v = runIn(project, ['netlink-exporter', '--version'], true, 'npx');
    assert.equal(v.status, 0, `npx netlink-exporter --version\n${v.stdout}${v.stderr}`);
    assert.match(v.stdout, new RegExp(`^netlink-exporter ${pkgJson.version.replace(/\./g, '\\.')} `));
    // The addon loads: the exporter's native socket opens (own namespace, no privilege needed).
    const load = run(process.execPath, [
      '-e',
      `const m = require(${JSON.stringify(path.join(installed, 'build', 'Release', 'netlink_socket.node'))}); if (typeof m.NetlinkSocket !== 'function') process.exit(3);`,
    ]);
    assert.equal(load.status, 0);
  });
});
