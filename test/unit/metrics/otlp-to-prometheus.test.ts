// The OTLP -> Prometheus translation the producer test relies on (test/helpers/otlp-to-prometheus.ts),
// held to the cases of the Collector's own tests: opentelemetry-collector-contrib
// pkg/translator/prometheus/normalize_name_test.go at 1ba49ba839c739d6bf0a264a26c7b2a959ffd71c and
// normalize_label_test.go at 870de3632d376a989b61459319e6e8754ec1532c (the normalizeName cases;
// BuildCompliantName's feature-gate-off variants and TrimPromSuffixes are not used here).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { ValueType } from '@opentelemetry/api';
import {
  buildUtf8MetricName,
  cleanUpString,
  metricToPrometheus,
  normalizeLabel,
  normalizeName,
  perUnitMapGetOrDefault,
  removeItem,
  unitMapGetOrDefault,
} from '../../helpers/otlp-to-prometheus';

const gauge = (name: string, unit: string): string => normalizeName({ name, unit, type: 'gauge' });
const counter = (name: string, unit: string): string => normalizeName({ name, unit, type: 'sum', isMonotonic: true });

test('normalizeName: the Collector’s cases', () => {
  // TestByte, TestByteCounter, TestWhiteSpaces
  assert.equal(gauge('system.filesystem.usage', 'By'), 'system_filesystem_usage_bytes');
  assert.equal(counter('system.io', 'By'), 'system_io_bytes_total');
  assert.equal(counter('network_transmitted_bytes_total', 'By'), 'network_transmitted_bytes_total');
  assert.equal(gauge('\t system.filesystem.usage       ', '  By\t'), 'system_filesystem_usage_bytes');
  // TestNonStandardUnit(Counter), TestBrokenUnit(Counter)
  assert.equal(gauge('system.network.dropped', '{packets}'), 'system_network_dropped');
  assert.equal(counter('system.network.dropped', '{packets}'), 'system_network_dropped_total');
  assert.equal(gauge('system.network.dropped', 'packets'), 'system_network_dropped_packets');
  assert.equal(gauge('system.network.packets.dropped', 'packets'), 'system_network_packets_dropped');
  assert.equal(gauge('system.network.packets', 'packets'), 'system_network_packets');
  assert.equal(counter('system.network.dropped', 'packets'), 'system_network_dropped_packets_total');
  assert.equal(counter('system.network.packets.dropped', 'packets'), 'system_network_packets_dropped_total');
  assert.equal(counter('system.network.packets', 'packets'), 'system_network_packets_total');
  // TestRatio, TestHertz, TestPer, TestPercent, TestEmpty
  assert.equal(gauge('hw.gpu.memory.utilization', '1'), 'hw_gpu_memory_utilization_ratio');
  assert.equal(gauge('hw.fan.speed_ratio', '1'), 'hw_fan_speed_ratio');
  assert.equal(counter('objects', '1'), 'objects_total');
  assert.equal(gauge('hw.cpu.speed_limit', 'Hz'), 'hw_cpu_speed_limit_hertz');
  assert.equal(gauge('broken.metric.speed', 'km/h'), 'broken_metric_speed_km_per_hour');
  assert.equal(gauge('astro.light.speed_limit', 'm/s'), 'astro_light_speed_limit_meters_per_second');
  assert.equal(gauge('broken.metric.success_ratio', '%'), 'broken_metric_success_ratio_percent');
  assert.equal(gauge('broken.metric.success_percent', '%'), 'broken_metric_success_percent');
  assert.equal(gauge('test.metric.no_unit', ''), 'test_metric_no_unit');
  assert.equal(gauge('test.metric.spaces', '   \t  '), 'test_metric_spaces');
  // TestUnsupportedRunes
  assert.equal(gauge('unsupported.metric.temperature', '°F'), 'unsupported_metric_temperature_F');
  assert.equal(gauge('unsupported.metric.weird', '+=.:,!* & #'), 'unsupported_metric_weird');
  assert.equal(gauge('unsupported.metric.redundant', '__test $/°C'), 'unsupported_metric_redundant_test_per_C');
  // TestOtelReceivers
  const receivers: [string, (n: string, u: string) => string, string, string][] = [
    [
      'active_directory_ds_replication_network_io_bytes_total',
      counter,
      'active_directory.ds.replication.network.io',
      'By',
    ],
    [
      'active_directory_ds_replication_sync_object_pending_total',
      counter,
      'active_directory.ds.replication.sync.object.pending',
      '{objects}',
    ],
    [
      'active_directory_ds_replication_object_rate_per_second',
      gauge,
      'active_directory.ds.replication.object.rate',
      '{objects}/s',
    ],
    ['active_directory_ds_name_cache_hit_rate_percent', gauge, 'active_directory.ds.name_cache.hit_rate', '%'],
    [
      'active_directory_ds_ldap_bind_last_successful_time_milliseconds',
      gauge,
      'active_directory.ds.ldap.bind.last_successful.time',
      'ms',
    ],
    ['apache_current_connections', gauge, 'apache.current_connections', 'connections'],
    ['apache_workers_connections', gauge, 'apache.workers', 'connections'],
    ['apache_requests_total', counter, 'apache.requests', '1'],
    ['bigip_virtual_server_request_count_total', counter, 'bigip.virtual_server.request.count', '{requests}'],
    ['system_cpu_utilization_ratio', gauge, 'system.cpu.utilization', '1'],
    ['system_disk_operation_time_seconds_total', counter, 'system.disk.operation_time', 's'],
    ['system_cpu_load_average_15m_ratio', gauge, 'system.cpu.load_average.15m', '1'],
    ['memcached_operation_hit_ratio_percent', gauge, 'memcached.operation_hit_ratio', '%'],
    ['mongodbatlas_process_asserts_per_second', gauge, 'mongodbatlas.process.asserts', '{assertions}/s'],
    [
      'mongodbatlas_process_journaling_data_files_mebibytes',
      gauge,
      'mongodbatlas.process.journaling.data_files',
      'MiBy',
    ],
    ['mongodbatlas_process_network_io_bytes_per_second', gauge, 'mongodbatlas.process.network.io', 'By/s'],
    ['mongodbatlas_process_oplog_rate_gibibytes_per_hour', gauge, 'mongodbatlas.process.oplog.rate', 'GiBy/h'],
    [
      'mongodbatlas_process_db_query_targeting_scanned_per_returned',
      gauge,
      'mongodbatlas.process.db.query_targeting.scanned_per_returned',
      '{scanned}/{returned}',
    ],
    ['nginx_requests', gauge, 'nginx.requests', 'requests'],
    ['nginx_connections_accepted', gauge, 'nginx.connections_accepted', 'connections'],
    ['nsxt_node_memory_usage_kilobytes', gauge, 'nsxt.node.memory.usage', 'KBy'],
    ['redis_latest_fork_microseconds', gauge, 'redis.latest_fork', 'us'],
  ];
  for (const [want, kind, name, unit] of receivers) assert.equal(kind(name, unit), want, name);
  // TestNamespace, TestBuildCompliantNameWithNormalize
  assert.equal(normalizeName({ name: 'test', unit: '', type: 'gauge' }, 'space'), 'space_test');
  assert.equal(normalizeName({ name: '#test', unit: '', type: 'gauge' }, 'space'), 'space_test');
  assert.equal(
    normalizeName({ name: 'network.io', unit: 'By', type: 'sum', isMonotonic: true }, 'system'),
    'system_network_io_bytes_total',
  );
  assert.equal(gauge('3.14 digits', ''), '_3_14_digits');
  assert.equal(gauge('envoy__rule_engine_zlib_buf_error', ''), 'envoy_rule_engine_zlib_buf_error');
  assert.equal(gauge(':foo::bar', ''), 'foo_bar');
  assert.equal(counter(':foo::bar', ''), 'foo_bar_total');
});

test('normalizeName: what the exporter relies on (a `_total` once, a unit not doubled, a non-monotonic sum keeps its name)', () => {
  assert.equal(counter('netlink_interface_flaps_total', ''), 'netlink_interface_flaps_total');
  assert.equal(counter('netlink_interface_flaps', ''), 'netlink_interface_flaps_total');
  assert.equal(counter('process_cpu_seconds_total', 's'), 'process_cpu_seconds_total');
  assert.equal(gauge('netlink_interface_mtu_bytes', 'By'), 'netlink_interface_mtu_bytes');
  assert.equal(
    gauge('netlink_interface_last_change_timestamp_seconds', 's'),
    'netlink_interface_last_change_timestamp_seconds',
  );
  assert.equal(gauge('nodejs_active_handles_total', ''), 'nodejs_active_handles_total');
  assert.equal(normalizeName({ name: 'queue_depth', unit: '', type: 'sum', isMonotonic: false }), 'queue_depth');
  assert.equal(normalizeName({ name: 'latency', unit: 's', type: 'histogram' }), 'latency_seconds');
});

test('the helpers of normalizeName: the Collector’s cases', () => {
  // TestCleanUpString
  assert.equal(cleanUpString(''), '');
  assert.equal(cleanUpString('a b'), 'a_b');
  assert.equal(cleanUpString('hello, world!'), 'hello_world');
  assert.equal(cleanUpString('hello you 2'), 'hello_you_2');
  assert.equal(cleanUpString('$1000'), '1000');
  assert.equal(cleanUpString('*+$^=)'), '');
  // TestUnitMapGetOrDefault, TestPerUnitMapGetOrDefault
  assert.equal(unitMapGetOrDefault(''), '');
  assert.equal(unitMapGetOrDefault('s'), 'seconds');
  assert.equal(unitMapGetOrDefault('invalid'), 'invalid');
  assert.equal(perUnitMapGetOrDefault(''), '');
  assert.equal(perUnitMapGetOrDefault('s'), 'second');
  assert.equal(perUnitMapGetOrDefault('invalid'), 'invalid');
  // TestRemoveItem
  assert.deepEqual(removeItem([], 'test'), []);
  assert.deepEqual(removeItem([], ''), []);
  assert.deepEqual(removeItem(['a', 'b', 'c'], 'd'), ['a', 'b', 'c']);
  assert.deepEqual(removeItem(['a', 'b', 'c'], ''), ['a', 'b', 'c']);
  assert.deepEqual(removeItem(['a', 'b', 'c'], 'c'), ['a', 'b']);
  assert.deepEqual(removeItem(['a', 'b', 'c'], 'b'), ['a', 'c']);
  assert.deepEqual(removeItem(['a', 'b', 'c'], 'a'), ['b', 'c']);
});

test('normalizeLabel: the Collector’s cases (TestSanitize)', () => {
  assert.equal(normalizeLabel(''), '');
  assert.equal(normalizeLabel('_test'), 'key_test');
  assert.equal(normalizeLabel('0test'), 'key_0test');
  assert.equal(normalizeLabel('test'), 'test');
  assert.equal(normalizeLabel('test_/'), 'test__');
  assert.equal(normalizeLabel('__test'), '__test');
});

test('a histogram point becomes cumulative `_bucket` samples with `+Inf`, `_sum` and `_count`', () => {
  const samples = metricToPrometheus({
    descriptor: { name: 'http.server.duration', description: '', unit: 's', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [
      {
        startTime: [1, 0],
        endTime: [2, 0],
        attributes: { 'http.route': '/x' },
        value: { buckets: { boundaries: [0.1, 1], counts: [2, 3, 1] }, sum: 4.5, count: 6 },
      },
    ],
  });
  assert.deepEqual(
    samples.map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`),
    [
      'http_server_duration_seconds_bucket{"http_route":"/x","le":"0.1"} 2',
      'http_server_duration_seconds_bucket{"http_route":"/x","le":"1"} 5',
      'http_server_duration_seconds_bucket{"http_route":"/x","le":"+Inf"} 6',
      'http_server_duration_seconds_sum{"http_route":"/x"} 4.5',
      'http_server_duration_seconds_count{"http_route":"/x"} 6',
    ],
  );
});

test('otlptranslator NoUTF8EscapingWithSuffixes (buildMetricName): names kept, suffixes trimmed and appended once', () => {
  const utf8 = (name: string, unit: string, type: 'gauge' | 'sum' | 'histogram', isMonotonic = false): string =>
    buildUtf8MetricName({ name, unit, type, isMonotonic });
  // the examples in metric_namer.go's comments (there with underscore escaping), here kept as UTF-8
  assert.equal(utf8('http.server.duration', 's', 'histogram'), 'http.server.duration_seconds');
  assert.equal(utf8('requests.count', '1', 'sum', true), 'requests.count_total');
  assert.equal(utf8('memory.usage', 'By', 'gauge'), 'memory.usage_bytes');
  // its ratio and per-unit rules
  assert.equal(utf8('cpu.utilization', '1', 'gauge'), 'cpu.utilization_ratio');
  assert.equal(utf8('io.rate', 'By/s', 'gauge'), 'io.rate_bytes_per_second');
  // the exporter's names come back as they are
  assert.equal(utf8('netlink_interface_flaps_total', '', 'sum', true), 'netlink_interface_flaps_total');
  assert.equal(utf8('process_cpu_seconds_total', 's', 'sum', true), 'process_cpu_seconds_total');
  assert.equal(utf8('netlink_interface_mtu_bytes', 'By', 'gauge'), 'netlink_interface_mtu_bytes');
  assert.equal(utf8('nodejs_active_handles_total', '', 'gauge'), 'nodejs_active_handles_total');
});
