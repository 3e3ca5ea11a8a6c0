import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRICS } from '../../../src/metrics/contract';
import { textToOpenMetrics } from '../../../src/metrics/openmetrics';
import { ExpositionWriter, escapeLabelValue, formatValue } from '../../../src/metrics/writer';

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

test('OpenMetrics: a counter sample is followed by its _created sample; gauges and the text format have none', () => {
  const om = new ExpositionWriter(true);
  om.family(METRICS.routeChanges);
  om.sample(METRICS.routeChanges, ['', 'main', 'inet', 'bgp', 'added'], 25, 1796518730.5124);
  om.family(METRICS.routes);
  om.sample(METRICS.routes, ['', 'main', 'inet', 'bgp'], 0, 1796518730);
  assert.equal(
    om
      .text()
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n'),
    'netlink_route_changes_total{netns="",table="main",family="inet",protocol="bgp",action="added"} 25\n' +
      'netlink_route_changes_created{netns="",table="main",family="inet",protocol="bgp",action="added"} 1796518730.512\n' +
      'netlink_routes{netns="",table="main",family="inet",protocol="bgp"} 0\n',
  );
  const text = new ExpositionWriter(false);
  text.sample(METRICS.routeChanges, ['', 'main', 'inet', 'bgp', 'added'], 25, 1796518730.5);
  assert.equal(
    text.text(),
    'netlink_route_changes_total{netns="",table="main",family="inet",protocol="bgp",action="added"} 25\n',
  );
});

test("prom-client's counters converted to OpenMetrics get a _created sample each", () => {
  const converted = textToOpenMetrics(
    '# HELP process_cpu_seconds_total CPU.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n' +
      '# HELP x_total By reason.\n# TYPE x_total counter\nx_total{reason="a b"} 2\nx_total{reason="c"} 0\n' +
      '# HELP g A gauge.\n# TYPE g gauge\ng 3\n',
    1700000000.25,
  );
  assert.equal(
    converted,
    '# HELP process_cpu_seconds CPU.\n# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total 1.5\nprocess_cpu_seconds_created 1700000000.250\n' +
      '# HELP x By reason.\n# TYPE x counter\nx_total{reason="a b"} 2\nx_created{reason="a b"} 1700000000.250\nx_total{reason="c"} 0\nx_created{reason="c"} 1700000000.250\n' +
      '# HELP g A gauge.\n# TYPE g gauge\ng 3\n',
  );
});

test('every metric name follows the conventions', () => {
  for (const def of Object.values(METRICS)) {
    assert.match(def.name, /^netlink_[a-z0-9_]+$/);
    assert.equal(def.name.endsWith('_total'), def.type === 'counter', `${def.name}: _total iff counter`);
  }
});

test('a collector that throws costs its own series only', async () => {
  const { renderNetlinkMetrics } = await import('../../../src/metrics/render');
  const failing: typeof import('../../../src/metrics/render').COLLECTORS = [
    [
      'broken',
      () => {
        throw new Error('boom');
      },
    ],
    [
      'fine',
      (w) => {
        w.family({ name: 'netlink_test', type: 'gauge', help: 'test', labels: [] });
      },
    ],
  ];
  const errors: string[] = [];
  const text = Buffer.concat(
    renderNetlinkMetrics(
      [],
      { addressInfo: true, addressInfoLinkLocal: false },
      '1.2.3',
      (name) => errors.push(name),
      failing,
    ),
  ).toString();
  assert.deepEqual(errors, ['broken']);
  assert.match(text, /netlink_collector_success\{collector="broken"\} 0/);
  assert.match(text, /netlink_collector_success\{collector="fine"\} 1/);
  assert.match(text, /# TYPE netlink_test gauge/);
  assert.match(text, /netlink_exporter_build_info\{version="1.2.3",nodejs_version="[^"]+"\} 1/);
});
