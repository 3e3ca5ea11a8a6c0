import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseArgs, UsageError } from '../../src/cli';
import { ConfigError, DEFAULT_CONFIG, parseConfigText, parseDuration } from '../../src/config';

const ROOT = join(__dirname, '..', '..', '..');

test('config/default.yml is the embedded default', () => {
  const text = readFileSync(join(ROOT, 'config', 'default.yml'), 'utf8');
  assert.deepEqual(parseConfigText(text, 'config/default.yml'), DEFAULT_CONFIG);
});

test('an empty file means the defaults', () => {
  assert.deepEqual(parseConfigText(''), DEFAULT_CONFIG);
});

test('durations parse as Prometheus writes them', () => {
  assert.equal(parseDuration('5m'), 300);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('500ms'), 0.5);
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration('5'), undefined);
  assert.equal(parseDuration('-1s'), undefined);
});

const BAD: [string, string, RegExp][] = [
  ['interfaces:\n  include: "("\n', 'interfaces.include', /not a valid regular expression/],
  ['web:\n  listen_address: 42\n', 'web.listen_address', /must be a string/],
  ['web:\n  listen_address: "localhost"\n', 'web.listen_address', /host:port/],
  ['interfaces:\n  deleted_grace_period: soon\n', 'interfaces.deleted_grace_period', /duration/],
  ['interfaces:\n  max_tracked: -3\n', 'interfaces.max_tracked', /whole number/],
  ['log:\n  level: loud\n', 'log.level', /one of debug, info, warn, error/],
  ['netns: [a, ""]\n', 'netns[1]', /must not be empty/],
  ['sockets: {}\n', 'sockets', /unknown key/],
  ['web:\n  listen: ":1"\n', 'web.listen', /unknown key/],
];

for (const [yaml, key, reason] of BAD) {
  test(`a bad config names ${key} and the reason`, () => {
    assert.throws(
      () => parseConfigText(yaml, 'bad.yml'),
      (err: unknown) => err instanceof ConfigError && err.key === key && reason.test(err.reason) && err.message.startsWith('bad.yml: '),
    );
  });
}

test('invalid YAML says where', () => {
  assert.throws(() => parseConfigText('web: [\n', 'x.yml'), /x\.yml: not valid YAML/);
});

test('flags override the config and --netns repeats', () => {
  const inv = parseArgs(['--web.listen-address=127.0.0.1:1234', '--netns', 'a', '--netns=/proc/1/ns/net', '--log.format=json']);
  assert.equal(inv.action, 'run');
  assert.equal(inv.command, 'serve');
  assert.equal(inv.config.web.listenAddress, '127.0.0.1:1234');
  assert.deepEqual(inv.config.netns, ['a', '/proc/1/ns/net']);
  assert.equal(inv.config.log.format, 'json');
});

test('events is a subcommand', () => {
  assert.equal(parseArgs(['events', '--log.format=json']).command, 'events');
});

for (const argv of [['--nope'], ['--log.level=loud'], ['--web.listen-address'], ['stray'], ['--web.telemetry-path=metrics'], ['--web.listen-address=:99999']]) {
  test(`bad flags are usage errors: ${argv.join(' ')}`, () => {
    assert.throws(() => parseArgs(argv), UsageError);
  });
}

test('the telemetry path cannot shadow the health endpoints', () => {
  assert.throws(() => parseArgs(['--web.telemetry-path=/-/ready']), ConfigError);
});
