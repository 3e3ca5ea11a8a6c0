// Secrets never reach a log line: URL userinfo, token-like query values, Basic/Bearer
// credentials and registered secrets are replaced by *** in every message and field.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import fc from 'fast-check';
import { createLogger } from '../../../src/support/log';
import {
  clearSecrets,
  headerListSecrets,
  redactSecrets,
  registerSecret,
  urlSecrets,
} from '../../../src/support/redact';
import { resolveTracing } from '../../../src/tracing/settings';
import { DEFAULT_CONFIG } from '../../../src/config/config';

afterEach(() => clearSecrets());

test('URL userinfo: the password, or a lone user name, becomes ***', () => {
  assert.equal(
    redactSecrets('https://alice:s3cr3t@collector:4318/v1/traces'),
    'https://alice:***@collector:4318/v1/traces',
  );
  assert.equal(redactSecrets('endpoint http://tok3n@host/x failed'), 'endpoint http://***@host/x failed');
  assert.equal(redactSecrets('https://a:p@ss@host/'), 'https://a:***@host/', 'a password holding @');
  assert.equal(redactSecrets('http://collector:4318/v1/traces'), 'http://collector:4318/v1/traces', 'nothing to hide');
  assert.equal(redactSecrets('http://host/a@b'), 'http://host/a@b', 'an @ in the path is no userinfo');
  assert.equal(redactSecrets('ftp://u:pa/ss@host/x'), 'ftp://u:***@host/x', 'an unescaped / in a password');
});

test('token-like query values become ***, others stay', () => {
  assert.equal(
    redactSecrets('https://h/v1/traces?api_key=K1&tenant=blue&X-Amz-Signature=abc&access_token=t#f'),
    'https://h/v1/traces?api_key=***&tenant=blue&X-Amz-Signature=***&access_token=***#f',
  );
});

test('Basic and Bearer credentials become ***; words that only look alike stay', () => {
  assert.equal(redactSecrets('Authorization: Basic YWxpY2U6czNjcjN0'), 'Authorization: Basic ***');
  assert.equal(redactSecrets('{"authorization":"Bearer abc.def-ghi"}'), '{"authorization":"Bearer ***"}');
  assert.equal(redactSecrets('link added Basic ifindex=3 state=up'), 'link added Basic ifindex=3 state=up');
});

test('registered secrets disappear in any position, percent-encoded too', () => {
  registerSecret('p@ss word!');
  registerSecret('abc'); // too short to be a secret: ignored
  assert.equal(redactSecrets('x p@ss word! y p%40ss%20word!'), 'x *** y ***');
  assert.equal(redactSecrets('abc'), 'abc');
});

test('urlSecrets and headerListSecrets find what a client would send', () => {
  const found = urlSecrets('https://alice:s%3Fcret@h/?token=t0k3n&x=1');
  assert.ok(found.includes('s?cret'));
  assert.ok(found.includes(Buffer.from('alice:s?cret').toString('base64')));
  assert.ok(found.includes('t0k3n'));
  assert.ok(!found.includes('1'));
  const headers = headerListSecrets('Authorization=Bearer%20sekret-token,x-tenant=blue');
  assert.ok(headers.includes('Bearer sekret-token'));
  assert.ok(headers.includes('sekret-token'));
});

test('the logger redacts the message and every field, logfmt and JSON', () => {
  registerSecret('header-secret-value');
  for (const format of ['logfmt', 'json'] as const) {
    const lines: string[] = [];
    const logger = createLogger('debug', format, (l) => lines.push(l));
    logger.info('tracing on https://u:pw-in-msg@h/', {
      endpoint: 'https://alice:pw-in-field@collector/v1/traces',
      error: 'request failed: header-secret-value',
      n: 3,
    });
    const out = lines.join('');
    for (const secret of ['pw-in-msg', 'pw-in-field', 'header-secret-value'])
      assert.ok(!out.includes(secret), `${format}: ${secret} in ${out}`);
    assert.match(out, /alice:\*\*\*@collector/);
  }
});

test('tracing settings list the endpoint credentials and the OTLP header values as secrets', () => {
  const settings = resolveTracing(
    { ...DEFAULT_CONFIG.tracing, enabled: true, endpoint: 'https://alice:endpoint-pass@collector:4318' },
    { OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20hdr-token' },
  );
  assert.ok(settings);
  assert.ok(settings.secrets.includes('endpoint-pass'));
  assert.ok(settings.secrets.includes('hdr-token'));
});

test('/v1/traces goes after the endpoint path, before its query string', () => {
  const settings = resolveTracing(
    { ...DEFAULT_CONFIG.tracing, enabled: true, endpoint: 'https://u:p@collector:4318/otlp/?api_key=k' },
    {},
  );
  assert.equal(settings?.url, 'https://u:p@collector:4318/otlp/v1/traces?api_key=k');
  assert.equal(
    resolveTracing({ ...DEFAULT_CONFIG.tracing, enabled: true, endpoint: 'http://collector:4318' }, {})?.url,
    'http://collector:4318/v1/traces',
  );
});

test('OTEL_BSP_* values beyond a Node timer are refused with a warning, not passed on', () => {
  const settings = resolveTracing(
    { ...DEFAULT_CONFIG.tracing, enabled: true },
    { OTEL_BSP_SCHEDULE_DELAY: '99999999999', OTEL_BSP_EXPORT_TIMEOUT: '1e3' },
  );
  assert.ok(settings);
  assert.equal(settings.scheduleDelayMs, 5000);
  assert.equal(settings.exportTimeoutMs, 1000);
  assert.ok(settings.warnings.some((w) => w.includes('OTEL_BSP_SCHEDULE_DELAY')));
});

test('fuzz: whatever the user name and password, a URL in a log line never shows the password', () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.string({ minLength: 1, maxLength: 30 }),
      fc.constantFrom('', '/v1/traces', '/a@b?token=x'),
      (user, password, path) => {
        const url = new URL(`https://collector:4318${path}`);
        url.username = user;
        url.password = password;
        const line = redactSecrets(`export to ${url.toString()} failed`);
        assert.ok(!line.includes(`:${url.password}@`), line);
        assert.ok(line.includes(':***@'), line);
      },
    ),
    { numRuns: 2000 },
  );
});
