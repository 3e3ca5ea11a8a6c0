// The one table: a row per scenario (or phase), exporter and ip monitor side by side, with
// notes under each row for the figures that do not fit columns.

import type { SideResult } from './measure';
import { clockTicksPerSecond } from './procs';

export interface Row {
  scenario: string;
  exporter?: SideResult;
  ipmon?: SideResult;
  notes: string[];
  /** Exactness failures. */
  failures: string[];
  /** A scenario that could not run to the end. */
  error?: string;
}

function pct(lost: number, truth: number): string {
  if (truth === 0) return lost === 0 ? '0%' : '-';
  const p = (100 * lost) / truth;
  return p === 0 ? '0%' : `${p.toFixed(p < 1 ? 3 : 1)}%`;
}

function n(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

function perEvent(s: SideResult): string {
  if (s.processed <= 0) return '-';
  // Less than one clock tick of CPU time: say so instead of printing 0.
  if (s.cpuMicros <= 0) return `<${(1e6 / clockTicksPerSecond() / s.processed).toFixed(2)}`;
  return (s.cpuMicros / s.processed).toFixed(2);
}

function side(s: SideResult | undefined): string[] {
  if (!s) return ['-', '-', '-', '-', '-', '-'];
  return [
    n(s.truth),
    n(s.counted),
    pct(s.truth - s.counted, s.truth),
    perEvent(s),
    (s.peakKiB / 1024).toFixed(1),
    `${n(s.overruns)}/${n(s.drops)}`,
  ];
}

const HEAD1 = ['', 'EXPORTER', '', '', '', '', '', 'IP MONITOR', '', '', '', '', ''];
const HEAD2 = [
  'scenario',
  'truth',
  'counted',
  'loss',
  'µs/ev',
  'peak MB',
  'ovr/drop',
  'truth',
  'lines',
  'loss',
  'µs/ev',
  'peak MB',
  'nobuf/drop',
];

export function renderTable(rows: Row[]): string {
  const body = rows.map((r) => [r.scenario, ...side(r.exporter), ...side(r.ipmon)]);
  const all = [HEAD2, ...body];
  const widths = HEAD2.map((_, c) => Math.max(...all.map((row) => row[c]!.length), HEAD1[c]!.length));
  const fmt = (row: string[]): string =>
    row
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join(' | ')
      .replace(/\s+$/, '');
  const sep = widths.map((w) => '-'.repeat(w)).join('-+-');
  const out: string[] = [fmt(HEAD1.map((h, c) => (c === 0 ? h : h))), fmt(HEAD2), sep];
  rows.forEach((r, i) => {
    out.push(fmt(body[i]!));
    for (const note of r.notes) out.push(`    ${note}`);
    for (const f of r.failures) out.push(`    EXACTNESS FAILURE: ${f}`);
    if (r.error) out.push(`    ERROR: ${r.error.split('\n').join('\n           ')}`);
  });
  out.push(sep);
  return out.join('\n');
}

export const LEGEND = [
  'truth: what the kernel generated (a 256 MiB truth listener socket counting notifications, or the kernel carrier_down_count',
  '  for flaps); counted: exporter counter delta (route/address changes, interface flaps) or ip monitor notification lines;',
  '  µs/ev: CPU time of all threads (utime+stime from /proc/PID/stat) from just before the burst until caught up, divided by',
  '  the notifications the process processed (exporter: netlink_messages_received_total delta; ip monitor: lines printed);',
  '  peak MB: VmHWM; ovr/drop: exporter netlink_socket_overruns_total / drops of its sockets in /proc/net/netlink;',
  '  nobuf/drop: ip monitor "No buffer space" errors on stderr / drops of its socket in /proc/net/netlink.',
  '  ip monitor lines: one notification = one line starting without white space (indented continuation lines not counted).',
  '  Scenarios 1-4 start a fresh exporter and ip monitor each and send their burst twice: `1st` is the first burst the fresh',
  '  process meets (nothing before it but its start-up and one sentinel change), `2nd` what a running exporter pays.',
].join('\n');
