// The command line: --help, --version, an unknown flag (usage on stderr, exit 2), bad config
// files (the error names the key path and the reason), a missing config file (names the file).
// Needs no root: none of these get as far as opening a socket.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runMain } from '../helpers/exporter';

const FLAGS = [
  '--web.listen-address',
  '--web.telemetry-path',
  '--config.file',
  '--netns',
  '--log.level',
  '--log.format',
  '--help',
  '--version',
];

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
  version: string;
};

function show(r: {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}): string {
  return `exit code ${r.code}, signal ${r.signal}${r.timedOut ? ' (TIMED OUT: killed)' : ''}\nstdout: ${r.stdout.trim() || '(empty)'}\nstderr: ${r.stderr.trim() || '(empty)'}`;
}

describe('cli', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nle-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('--help prints usage with every flag on stdout and exits 0', async () => {
    const r = await runMain(['--help']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /usage/i, show(r));
    for (const f of FLAGS) assert.ok(r.stdout.includes(f), `--help does not mention ${f}\n${show(r)}`);
    assert.match(r.stdout, /\bevents\b/, `--help does not mention the events subcommand\n${show(r)}`);
  });

  test('--version prints the version and exits 0', async () => {
    const r = await runMain(['--version']);
    assert.equal(r.code, 0, show(r));
    assert.ok(r.stdout.includes(pkg.version), `expected version ${pkg.version} on stdout\n${show(r)}`);
  });

  test('an unknown flag prints usage on stderr and exits 2', async () => {
    const r = await runMain(['--web.listen-address=127.0.0.1:0', '--no-such-flag']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /no-such-flag/, `the message should name the flag\n${show(r)}`);
    assert.match(r.stderr, /usage/i, show(r));
    assert.ok(r.stderr.includes('--web.listen-address'), `usage on stderr should list the flags\n${show(r)}`);
    assert.equal(r.stdout, '', `stdout should stay empty\n${show(r)}`);
  });

  test('a stray argument and a flag without its value exit 2', async () => {
    for (const args of [
      ['--web.listen-address=127.0.0.1:0', 'bogus'],
      ['--web.listen-address=127.0.0.1:0', '--log.level'],
    ]) {
      const r = await runMain(args);
      assert.equal(r.code, 2, `${args.join(' ')}\n${show(r)}`);
      assert.match(r.stderr, /usage/i, `${args.join(' ')}\n${show(r)}`);
    }
  });

  const badConfigs: Array<{ what: string; yaml: string; key: RegExp; reason: RegExp }> = [
    {
      what: 'an invalid regex',
      yaml: 'interfaces:\n  include: "("\n',
      key: /interfaces\.include/,
      reason: /regular expression|regex/i,
    },
    {
      what: 'an unknown key',
      yaml: 'interfaces:\n  no_such_key: 1\n',
      key: /interfaces\.no_such_key/,
      reason: /unknown/i,
    },
    {
      what: 'a number for a string',
      yaml: 'web:\n  listen_address: 42\n',
      key: /web\.listen_address/,
      reason: /string|host:port/i,
    },
    {
      what: 'a bad duration',
      yaml: 'interfaces:\n  deleted_grace_period: five minutes\n',
      key: /interfaces\.deleted_grace_period/,
      reason: /duration/i,
    },
    { what: 'an unknown top-level key', yaml: 'no_such_section: {}\n', key: /no_such_section/, reason: /unknown/i },
  ];
  for (const c of badConfigs) {
    test(`a config file with ${c.what} exits non-zero naming the key and the reason`, async () => {
      const file = path.join(dir, `bad-${badConfigs.indexOf(c)}.yml`);
      fs.writeFileSync(file, c.yaml);
      const r = await runMain(['--web.listen-address=127.0.0.1:0', `--config.file=${file}`]);
      assert.ok(!r.timedOut && r.code !== null && r.code !== 0, `expected a non-zero exit\n${show(r)}`);
      assert.match(r.stderr, c.key, `the error should name the key path ${c.key}\n${show(r)}`);
      assert.match(r.stderr, c.reason, `the error should give the reason ${c.reason}\n${show(r)}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m, `a config error is a message, not a stack trace\n${show(r)}`);
    });
  }

  // Issue 13: values that crashed with a stack trace, or were accepted and broke the exporter.
  const outOfRange: Array<{ yaml: string; key: string; reason: RegExp }> = [
    { yaml: 'web:\n  header_timeout: 99999999d\n', key: 'web.header_timeout', reason: /from 1s to 10m/ },
    { yaml: 'web:\n  header_timeout: 0s\n', key: 'web.header_timeout', reason: /0 would turn the guard off/ },
    {
      yaml: 'socket:\n  receive_buffer_bytes: 1e14\n',
      key: 'socket.receive_buffer_bytes',
      reason: /from 0 to 1073741823 bytes/,
    },
    { yaml: 'events:\n  buffer_size: 1e11\n', key: 'events.buffer_size', reason: /from 1 to 100000/ },
    { yaml: 'web:\n  telemetry_path: /api/v1/events\n', key: 'web.telemetry_path', reason: /other paths/ },
    { yaml: 'web:\n  telemetry_path: "/metrics?x=1"\n', key: 'web.telemetry_path', reason: /query string/ },
    { yaml: 'interfaces:\n  exclude: "(?!eth).*"\n', key: 'interfaces.exclude', reason: /RE2/ },
  ];
  for (const c of outOfRange) {
    test(`${c.key} out of range or malformed: one config error line naming file, key and range, exit 1`, async () => {
      const file = path.join(dir, `range-${outOfRange.indexOf(c)}.yml`);
      fs.writeFileSync(file, c.yaml);
      const r = await runMain(['--web.listen-address=127.0.0.1:0', `--config.file=${file}`]);
      assert.equal(r.code, 1, show(r));
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line, no stack trace\n${show(r)}`);
      assert.ok(lines[0]!.startsWith(`netlink-exporter: config error: ${file}: ${c.key}: `), show(r));
      assert.match(lines[0]!, c.reason, show(r));
    });
  }

  test('--web.telemetry-path is checked like the YAML key: a usage error naming the flag', async () => {
    for (const bad of ['/events', '/metrics?x=1', '//x', '/a/../b']) {
      const r = await runMain(['--web.listen-address=127.0.0.1:0', `--web.telemetry-path=${bad}`]);
      assert.equal(r.code, 2, `${bad}\n${show(r)}`);
      assert.match(r.stderr, /^netlink-exporter: --web\.telemetry-path: /, show(r));
    }
  });

  test('a config error never prints the credentials of the value it quotes', async () => {
    const file = path.join(dir, 'secret-endpoint.yml');
    fs.writeFileSync(file, 'tracing:\n  endpoint: "ftp://alice:cfg-secret-789@collector:4318/"\n');
    const r = await runMain(['--web.listen-address=127.0.0.1:0', `--config.file=${file}`]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /tracing\.endpoint: .*alice:\*\*\*@collector/, show(r));
    assert.ok(!r.stderr.includes('cfg-secret-789'), show(r));
  });

  test('a missing config file is named', async () => {
    const file = path.join(dir, 'does-not-exist.yml');
    const r = await runMain(['--web.listen-address=127.0.0.1:0', `--config.file=${file}`]);
    assert.ok(!r.timedOut && r.code !== null && r.code !== 0, `expected a non-zero exit\n${show(r)}`);
    assert.ok(r.stderr.includes(file), `the error should name ${file}\n${show(r)}`);
    assert.match(r.stderr, /ENOENT|no such file|not found|cannot read/i, show(r));
  });
});
