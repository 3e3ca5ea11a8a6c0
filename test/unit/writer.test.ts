import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRICS } from '../../src/metrics/contract';
import { ExpositionWriter, escapeLabelValue, formatValue } from '../../src/metrics/writer';

test('label values are escaped as the text format requires', () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assert.equal(escapeLabelValue('plain'), 'plain');
});

test('special values', () => {
  assert.equal(formatValue(NaN), 'NaN');
  assert.equal(formatValue(Infinity), '+Inf');
  assert.equal(formatValue(-Infinity), '-Inf');
  assert.equal(formatValue(1.5), '1.5');
});

test('a family is announced once, samples follow', () => {
  const w = new ExpositionWriter();
  w.family(METRICS.interfaceUp);
  w.sample(METRICS.interfaceUp, ['ns', 'eth"0'], 1);
  w.family(METRICS.interfaceUp);
  w.sample(METRICS.interfaceUp, ['', 'lo'], 0);
  assert.equal(
    w.text(),
    '# HELP netlink_interface_up Whether the interface is operationally up (operstate UP, or UNKNOWN with IFF_UP and IFF_LOWER_UP).\n' +
      '# TYPE netlink_interface_up gauge\n' +
      'netlink_interface_up{netns="ns",interface="eth\\"0"} 1\n' +
      'netlink_interface_up{netns="",interface="lo"} 0\n',
  );
});

test('every metric name follows the conventions', () => {
  for (const def of Object.values(METRICS)) {
    assert.match(def.name, /^netlink_[a-z0-9_]+$/);
    assert.equal(def.name.endsWith('_total'), def.type === 'counter', `${def.name}: _total iff counter`);
  }
});

test('a collector that throws costs its own series only', async () => {
  const { renderNetlinkMetrics, COLLECTORS } = await import('../../src/metrics/collectors');
  const failing: typeof COLLECTORS = [
    ['broken', () => {
      throw new Error('boom');
    }],
    ['fine', (w) => {
      w.family({ name: 'netlink_test', type: 'gauge', help: 'test', labels: [] });
    }],
  ];
  const errors: string[] = [];
  const text = Buffer.concat(renderNetlinkMetrics([], { addressInfo: true, addressInfoLinkLocal: false, deletedGracePeriod: 0 }, '1.2.3', (name) => errors.push(name), failing)).toString();
  assert.deepEqual(errors, ['broken']);
  assert.match(text, /netlink_collector_success\{collector="broken"\} 0/);
  assert.match(text, /netlink_collector_success\{collector="fine"\} 1/);
  assert.match(text, /# TYPE netlink_test gauge/);
  assert.match(text, /netlink_exporter_build_info\{version="1.2.3",nodejs_version="[^"]+"\} 1/);
});
