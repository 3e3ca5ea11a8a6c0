// Interface include/exclude patterns: RE2 semantics, anchored as Prometheus anchors them, linear
// time. A catastrophic backtracking pattern must finish against a long name (the test's own
// timeout is the guard: a backtracking engine would take longer than the universe has), RE2's
// refusals are refused, and the include/exclude semantics that users rely on stay as they were.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileNamePattern, MAX_PATTERN_LENGTH, PatternError } from '../../../src/config/name-pattern';
import type { LinkRecord } from '../../../src/state/links';
import { SeriesFilter } from '../../../src/state/series-filter';

test('a catastrophic backtracking pattern matches a 10,000-character name and returns', { timeout: 20_000 }, () => {
  const nested = compileNamePattern('(((a+)+)+)+$');
  // The worst case for a backtracking engine: almost a match, failing at the last character.
  assert.equal(nested.test(`${'a'.repeat(10_000)}b`), false);
  assert.equal(nested.test('a'.repeat(10_000)), true);
  const alternation = compileNamePattern('(a|aa)+');
  assert.equal(alternation.test(`${'a'.repeat(10_000)}!`), false);
  const classes = compileNamePattern('([a-z]*)*[0-9]');
  assert.equal(classes.test('x'.repeat(10_000)), false);
});

test('anchored at both ends, as Prometheus anchors relabel regexes', () => {
  const eth = compileNamePattern('eth.*');
  assert.equal(eth.test('eth0'), true);
  assert.equal(eth.test('veth0'), false, 'anchored at the start');
  const list = compileNamePattern('eth0|lo');
  assert.equal(list.test('eth0'), true);
  assert.equal(list.test('lo'), true);
  assert.equal(list.test('eth01'), false, 'alternatives anchored as a whole, not only the first and last');
  assert.equal(list.test('xlo'), false);
  assert.equal(compileNamePattern('.*').test(''), true);
  assert.equal(compileNamePattern('').test(''), true);
  assert.equal(compileNamePattern('').test('eth0'), false);
  // (?s): a dot matches every character, as in Prometheus.
  assert.equal(compileNamePattern('a.b').test('a\nb'), true);
});

test('RE2 syntax that JavaScript RegExp also had keeps its meaning', () => {
  const cases: [string, string, boolean][] = [
    ['veth[0-9a-f]{7}', 'veth1a2b3c4', true],
    ['veth[0-9a-f]{7}', 'veth1a2b3c', false],
    ['(?i)ETH\\d+', 'eth12', true],
    ['br-[[:alnum:]]+', 'br-abc123', true],
    ['\\p{L}+', 'ünïcödé', true],
    ['(?:cali|tap|tun)\\w+', 'cali1234', true],
    ['(?P<kind>veth|tap).*', 'tap0', true],
    ['[^.]+', 'eth0.100', false],
    ['lo|docker0', 'docker0', true],
  ];
  for (const [source, name, expected] of cases) {
    assert.equal(compileNamePattern(source).test(name), expected, `${source} on ${name}`);
    // Where both engines accept the pattern, the anchored JavaScript RegExp agreed (the old behaviour).
    if (!/\(\?i\)|\[\[:|\(\?P<|\\p\{/.test(source))
      assert.equal(new RegExp(`^(?:${source})$`, 'su').test(name), expected, `RegExp ${source}`);
  }
});

test('what RE2 refuses is refused, with the reason', () => {
  for (const [source, reason] of [
    ['(?=eth)eth0', /\(\?=/],
    ['(?!lo).*', /\(\?!/],
    ['(?<=v)eth', /RE2/],
    ['(?<!v)eth', /RE2/],
    ['(a)\\1', /\\1/],
    ['a++', /RE2/],
    ['a{1001}', /RE2/],
    ['(', /RE2/],
    ['a)|(b', /RE2/],
  ] as [string, RegExp][]) {
    assert.throws(
      () => compileNamePattern(source),
      (err: unknown) => err instanceof PatternError && reason.test(err.message),
      source,
    );
  }
  assert.throws(() => compileNamePattern('a'.repeat(MAX_PATTERN_LENGTH + 1)), /at most 1024/);
  assert.throws(() => compileNamePattern('(?:[a-z]{1000}|)'.repeat(11)), /RE2 instructions/);
});

test('include/exclude decide which interfaces get series, as before', () => {
  const filter = new SeriesFilter(compileNamePattern('eth.*|lo'), compileNamePattern('eth9.*'), 100);
  const wants = (name: string): boolean => {
    const record = { name, tracked: false } as LinkRecord;
    filter.track(record);
    return record.tracked;
  };
  assert.equal(wants('eth0'), true);
  assert.equal(wants('lo'), true);
  assert.equal(wants('eth99'), false, 'excluded');
  assert.equal(wants('veth0'), false, 'not included');
});
