import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseArgs, UsageError } from '../../../src/cli';
import {
  BOUNDS,
  BoundedKey,
  ConfigError,
  DEFAULT_CONFIG,
  describeBound,
  formatDuration,
  loadConfigFile,
  parseConfigText,
  parseDuration,
  RESERVED_PATHS,
} from '../../../src/config/config';
import { EventBus } from '../../../src/events/bus';
import { EventRing } from '../../../src/events/ring';
import { createLogger } from '../../../src/support/log';
import { createEventRoutes } from '../../../src/http/event-routes';
import { REPO } from '../../helpers/paths';

test('config/default.yml is the embedded default', () => {
  const text = readFileSync(join(REPO, 'config', 'default.yml'), 'utf8');
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
  assert.equal(parseDuration('1s500ms'), 1.5);
  assert.equal(parseDuration('1w'), 7 * 86400);
  assert.equal(parseDuration('30m1h'), undefined, 'largest unit first, as Prometheus');
  assert.equal(parseDuration('1.5s'), undefined);
  assert.equal(parseDuration(''), undefined);
  assert.equal(formatDuration(5400), '1h30m');
  assert.equal(formatDuration(0.5), '500ms');
});

const BAD: [string, string, RegExp][] = [
  ['interfaces:\n  include: "("\n', 'interfaces.include', /not a valid RE2 regular expression/],
  ['web:\n  listen_address: 42\n', 'web.listen_address', /must be a string/],
  ['web:\n  listen_address: "localhost"\n', 'web.listen_address', /host:port/],
  ['interfaces:\n  deleted_grace_period: soon\n', 'interfaces.deleted_grace_period', /duration/],
  ['interfaces:\n  max_tracked: -3\n', 'interfaces.max_tracked', /whole number from 0 to 100000/],
  // Out-of-range values that used to be accepted: each named with its range, none a crash.
  ['web:\n  header_timeout: 99999999d\n', 'web.header_timeout', /from 1s to 10m, not 99999999d/],
  ['socket:\n  receive_buffer_bytes: 1e14\n', 'socket.receive_buffer_bytes', /whole number from 0 to 1073741823 bytes/],
  ['events:\n  buffer_size: 1e11\n', 'events.buffer_size', /whole number from 1 to 100000/],
  ['web:\n  header_timeout: 0s\n', 'web.header_timeout', /0 would turn the guard off/],
  ['web:\n  idle_timeout: 0s\n', 'web.idle_timeout', /0 would turn the guard off/],
  ['web:\n  max_concurrent_scrapes: 1.5\n', 'web.max_concurrent_scrapes', /whole number/],
  ['web:\n  scrape_ready_timeout: .inf\n', 'web.scrape_ready_timeout', /duration/],
  ['tracing:\n  max_open_spans: .inf\n', 'tracing.max_open_spans', /whole number/],
  ['interfaces:\n  include: "(?=eth)"\n', 'interfaces.include', /RE2.*\(\?=/],
  ['interfaces:\n  exclude: "(a)\\\\1"\n', 'interfaces.exclude', /RE2.*\\1/],
  ['interfaces:\n  exclude: "(?<!x)y"\n', 'interfaces.exclude', /RE2/],
  ['interfaces:\n  include: "a)|(b"\n', 'interfaces.include', /RE2/],
  [
    'interfaces:\n  include: "[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}"\n',
    'interfaces.include',
    /RE2 instructions/,
  ],
  [
    'vips:\n  - address: 192.0.2.1\n    ignore_interfaces: [a-name-longer-than-15]\n',
    'vips[0].ignore_interfaces[0]',
    /1 to 15 bytes/,
  ],
  ['log:\n  level: loud\n', 'log.level', /one of debug, info, warn, error/],
  ['netns: [a, ""]\n', 'netns[1]', /must not be empty/],
  ['sockets: {}\n', 'sockets', /unknown key/],
  ['web:\n  listen: ":1"\n', 'web.listen', /unknown key/],
];

for (const [yaml, key, reason] of BAD) {
  test(`a bad config names ${key} and the reason`, () => {
    assert.throws(
      () => parseConfigText(yaml, 'bad.yml'),
      (err: unknown) =>
        err instanceof ConfigError && err.key === key && reason.test(err.reason) && err.message.startsWith('bad.yml: '),
    );
  });
}

test('a config file that is no regular file, or too big, is refused by name', () => {
  assert.throws(
    () => loadConfigFile('/dev/zero'),
    (err: unknown) => err instanceof ConfigError && /regular file/.test(err.reason) && err.file === '/dev/zero',
  );
  const dir = mkdtempSync(join(tmpdir(), 'nle-cfg-'));
  try {
    const big = join(dir, 'big.yml');
    writeFileSync(big, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    assert.throws(
      () => loadConfigFile(big),
      (err: unknown) => err instanceof ConfigError && /at most 1048576/.test(err.reason),
    );
    assert.throws(
      () => loadConfigFile(dir),
      (err: unknown) => err instanceof ConfigError && /regular file/.test(err.reason),
    );
    // A FIFO with no writer: a blocking open(2) never returned.
    const fifo = join(dir, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    assert.throws(
      () => loadConfigFile(fifo),
      (err: unknown) => err instanceof ConfigError && /regular file/.test(err.reason),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a YAML alias bomb is a config error, not a hang', () => {
  const bomb = [
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
    ...Array.from(
      { length: 8 },
      (_, i) =>
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(',')}]`,
    ),
  ].join('\n');
  assert.throws(
    () => parseConfigText(bomb, 'bomb.yml'),
    (err: unknown) => err instanceof ConfigError && /not valid YAML: Excessive alias count/.test(err.reason),
  );
});

test('invalid YAML says where', () => {
  assert.throws(() => parseConfigText('web: [\n', 'x.yml'), /x\.yml: not valid YAML/);
});

test('flags override the config and --netns repeats', () => {
  const inv = parseArgs([
    '--web.listen-address=127.0.0.1:1234',
    '--netns',
    'a',
    '--netns=/proc/1/ns/net',
    '--log.format=json',
  ]);
  assert.equal(inv.action, 'run');
  assert.equal(inv.command, 'serve');
  assert.equal(inv.config.web.listenAddress, '127.0.0.1:1234');
  assert.deepEqual(inv.config.netns, ['a', '/proc/1/ns/net']);
  assert.equal(inv.config.log.format, 'json');
});

test('events is a subcommand', () => {
  assert.equal(parseArgs(['events', '--log.format=json']).command, 'events');
});

for (const argv of [
  ['--nope'],
  ['--log.level=loud'],
  ['--web.listen-address'],
  ['stray'],
  ['--web.telemetry-path=metrics'],
  ['--web.listen-address=:99999'],
]) {
  test(`bad flags are usage errors: ${argv.join(' ')}`, () => {
    assert.throws(() => parseArgs(argv), UsageError);
  });
}

/** A YAML document that sets one dotted key ("web.header_timeout") to `value`. */
function yamlWith(key: string, value: unknown): string {
  const [section, name] = key.split('.') as [string, string];
  return stringify({ [section]: { [name]: value } });
}

function rejects(yaml: string, key: string, reason: RegExp): void {
  assert.throws(
    () => parseConfigText(yaml, 'k.yml'),
    (err: unknown) => err instanceof ConfigError && err.key === key && reason.test(err.reason),
    `${key}: expected a ConfigError matching ${reason} for\n${yaml}`,
  );
}

for (const [key, bound] of Object.entries(BOUNDS) as [BoundedKey, (typeof BOUNDS)[BoundedKey]][]) {
  test(`${key}: ${describeBound(bound)} accepted, outside rejected naming the key and the range`, () => {
    const range = new RegExp(describeBound(bound).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const field = (c: ReturnType<typeof parseConfigText>): number => {
      const [section, name] = key.split('.') as [string, string];
      const camel = name.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase());
      return (c as unknown as Record<string, Record<string, number>>)[section]![camel]!;
    };
    if (bound.unit === 'seconds') {
      assert.equal(field(parseConfigText(yamlWith(key, formatDuration(bound.min)))), bound.min);
      assert.equal(field(parseConfigText(yamlWith(key, formatDuration(bound.max)))), bound.max);
      rejects(yamlWith(key, formatDuration(bound.max + 0.001)), key, range);
      if (bound.min > 0) rejects(yamlWith(key, '0s'), key, /0 would turn the guard off/);
      rejects(yamlWith(key, 10), key, /duration/);
      rejects(yamlWith(key, '99999999999999999999999999d'), key, range);
    } else {
      assert.equal(field(parseConfigText(yamlWith(key, bound.min))), bound.min);
      assert.equal(field(parseConfigText(yamlWith(key, bound.max))), bound.max);
      rejects(yamlWith(key, bound.max + 1), key, range);
      rejects(yamlWith(key, bound.min - 1), key, range);
      rejects(yamlWith(key, bound.min + 0.5), key, range);
      rejects(yamlWith(key, String(bound.min)), key, range);
    }
  });
}

test('every default is inside its documented range', () => {
  for (const [key, bound] of Object.entries(BOUNDS)) {
    const [section, name] = key.split('.') as [string, string];
    const camel = name.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase());
    const value = (DEFAULT_CONFIG as unknown as Record<string, Record<string, number>>)[section]![camel]!;
    assert.ok(value >= bound.min && value <= bound.max, `${key} default ${value} outside ${describeBound(bound)}`);
  }
});

test('the README lists every bounded key with its default and range', () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  for (const [key, bound] of Object.entries(BOUNDS)) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${key}\` |`) && line.split('|').length >= 7);
    assert.ok(row, `README has no range row for ${key}`);
    const cells = row.split('|').map((c) => c.trim().replace(/`/g, ''));
    const [min, max] =
      bound.unit === 'seconds'
        ? [formatDuration(bound.min), formatDuration(bound.max)]
        : [String(bound.min), String(bound.max)];
    assert.equal(cells[3], min, `${key} min in README: ${row}`);
    assert.equal(cells[4], max, `${key} max in README: ${row}`);
  }
});

const GOOD_PATHS = ['/metrics', '/probe', '/node/metrics', '/metrics/', '/a.b_c~d-e'];
const BAD_PATHS: [string, RegExp][] = [
  ['metrics', /start with/],
  ['/', /other paths/],
  ['/events', /other paths/],
  ['/api/v1/events', /other paths/],
  ['/api/v1/events/stream', /other paths/],
  ['/-/ready', /other paths/],
  ['/-/healthy', /other paths/],
  ['/-/reload', /under \/-\//],
  ['/api/v2/metrics', /under/],
  ['/metrics?x=1', /query string/],
  ['/metrics#top', /fragment/],
  ['//metrics', /empty segment/],
  ['/a//b', /empty segment/],
  ['/a/../metrics', /"\.\."/],
  ['/./metrics', /"\."/],
  ['/met rics', /whitespace/],
  ['/metrics\t', /whitespace/],
  ['/metrics\u0000', /control/],
  ['/metrics\u007f', /control/],
  ['/m%65trics', /only letters/],
  ['/métriques', /only letters/],
  ['/<script>', /only letters/],
  [`/${'m'.repeat(300)}`, /at most 256/],
];

test('a telemetry path must be a plain path the exporter does not already serve: YAML key and flag alike', () => {
  for (const path of GOOD_PATHS) {
    assert.equal(parseConfigText(yamlWith('web.telemetry_path', path)).web.telemetryPath, path);
    assert.equal(parseArgs([`--web.telemetry-path=${path}`]).config.web.telemetryPath, path);
  }
  for (const [path, reason] of BAD_PATHS) {
    rejects(yamlWith('web.telemetry_path', path), 'web.telemetry_path', reason);
    assert.throws(
      () => parseArgs([`--web.telemetry-path=${path}`]),
      (err: unknown) =>
        err instanceof UsageError && err.message.startsWith('--web.telemetry-path: ') && reason.test(err.message),
      `flag ${JSON.stringify(path)}`,
    );
  }
});

test('the reserved paths are every path the server and the event routes serve', () => {
  const logger = createLogger('error', 'logfmt', () => undefined);
  const routes = createEventRoutes({ ring: new EventRing(4), bus: new EventBus(), maxStreamClients: 1, logger });
  try {
    for (const path of Object.keys(routes.routes))
      assert.ok(RESERVED_PATHS.includes(path), `event route ${path} is not reserved`);
  } finally {
    routes.close();
  }
  // The server's own fixed paths, as its router compares them.
  const server = readFileSync(join(REPO, 'src', 'http', 'server.ts'), 'utf8');
  const fixed = [...server.matchAll(/path === '([^']*)'/g)].map((m) => m[1] as string);
  assert.ok(fixed.length >= 3, `found ${fixed.join(', ')} in src/http/server.ts`);
  for (const path of fixed) assert.ok(RESERVED_PATHS.includes(path), `server path ${path} is not reserved`);
});

test('a long --netns value and too many namespaces are usage errors', () => {
  assert.throws(() => parseArgs([`--netns=${'n'.repeat(5000)}`]), UsageError);
  assert.throws(() => parseArgs(Array.from({ length: 1025 }, (_, i) => `--netns=ns${i}`)), UsageError);
  rejects(stringify({ netns: Array.from({ length: 1025 }, (_, i) => `ns${i}`) }), 'netns', /at most 1024/);
});

test('a bad value is quoted short and with its credentials redacted', () => {
  rejects(
    yamlWith('tracing.endpoint', 'ftp://alice:hunter2-secret@collector:4318/'),
    'tracing.endpoint',
    /^must be an http.*alice:\*\*\*@collector/,
  );
  assert.throws(
    () => parseConfigText(yamlWith('tracing.endpoint', 'ftp://alice:hunter2-secret@collector:4318/')),
    (err: unknown) => err instanceof ConfigError && !err.message.includes('hunter2'),
  );
  rejects(yamlWith('web.listen_address', 'x'.repeat(100_000)), 'web.listen_address', /^must be host:port.{0,200}$/);
});

/**
 * Every key with values of every shape: the loader returns a Config or throws ConfigError, never
 * anything else (a TypeError, a RangeError from a later constructor, a stack trace for the user).
 */
const FUZZ_KEYS = [
  ...Object.keys(BOUNDS),
  'web.listen_address',
  'web.telemetry_path',
  'web.config_file',
  'interfaces.include',
  'interfaces.exclude',
  'addresses.info',
  'addresses.info_link_local',
  'log.level',
  'log.format',
  'events.log_level',
  'tracing.enabled',
  'tracing.endpoint',
  'tracing.protocol',
];

test('fuzz: any value for any key gives a Config or a ConfigError, nothing else', () => {
  const value = fc.oneof(
    fc.anything(),
    fc.double(),
    fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
    fc.constantFrom(0, -0, 1e14, 1e308, -1, 0.5, 2 ** 31, 2 ** 53 + 2, NaN, Infinity),
    fc.stringMatching(/^\d{0,30}(y|w|d|h|m|s|ms)?$/),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      '(',
      '(?=a)',
      '(a)\\1',
      '(((a+)+)+)+$',
      '\\p{Greek}',
      '[[:alpha:]]',
      '/metrics?x',
      '//x',
      'http://u:p@h',
      '0s',
      '99999999d',
      '.inf',
    ),
  );
  const doc = fc.oneof(
    fc.tuple(fc.constantFrom(...FUZZ_KEYS), value).map(([key, v]) => yamlWith(key, v)),
    fc
      .dictionary(
        fc.constantFrom('web', 'interfaces', 'socket', 'events', 'tracing', 'vips', 'netns', 'log', 'netns_all'),
        value,
      )
      .map((d) => stringify(d)),
    fc.string({ maxLength: 200 }),
  );
  fc.assert(
    fc.property(doc, (yaml) => {
      try {
        parseConfigText(yaml, 'fuzz.yml');
      } catch (err) {
        if (!(err instanceof ConfigError))
          throw new Error(`${(err as Error).name} escaped for ${JSON.stringify(yaml)}: ${(err as Error).message}`, {
            cause: err,
          });
        assert.ok(err.message.startsWith('fuzz.yml: '), err.message);
      }
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 3000) },
  );
});

test('fuzz: any flag value gives an invocation, a UsageError or a ConfigError, nothing else', () => {
  const flags = [
    '--web.listen-address',
    '--web.telemetry-path',
    '--web.config.file',
    '--netns',
    '--log.level',
    '--log.format',
    '--netns.all',
  ];
  const arg = fc.oneof(
    fc.tuple(fc.constantFrom(...flags), fc.string({ maxLength: 40 })).map(([flag, value]) => `${flag}=${value}`),
    fc.constantFrom(...flags),
    fc.string({ maxLength: 20 }),
  );
  fc.assert(
    fc.property(fc.array(arg, { maxLength: 6 }), (argv) => {
      try {
        parseArgs(argv);
      } catch (err) {
        if (!(err instanceof UsageError) && !(err instanceof ConfigError))
          throw new Error(`${(err as Error).name} escaped for ${JSON.stringify(argv)}: ${(err as Error).message}`, {
            cause: err,
          });
      }
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 2000) },
  );
});
