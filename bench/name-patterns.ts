// Interface include/exclude pattern cost (each match on a name not seen before, as when
// interfaces appear): `node dist/bench/name-patterns.js` (after
// `npx tsc -p tsconfig.json`). Apart from `npm run bench` because it needs no kernel, no root and
// a few seconds. For each pattern: the RE2 program size, the cost of one match (median of five
// rounds), and for the catastrophic pattern the backtracking RegExp the exporter used before,
// on near misses short enough to finish (each byte more roughly doubles it; a 15-byte name
// took 47 s).

import { compileNamePattern } from '../src/config/name-pattern';
import { RE2JS } from 're2js';

function microsPerCall(fn: () => void, calls: number): number {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - start) / calls / 1000);
  }
  return rounds.sort((a, b) => a - b)[2] as number;
}

/** `count` different names of `length` letters: `stem` repeated, then a tail in base 26. */
function names(stem: string, length: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    let tail = '';
    for (let n = i; tail.length < 4; n = Math.floor(n / 26)) tail = String.fromCharCode(97 + (n % 26)) + tail;
    return stem.repeat(length).slice(0, length - 4) + tail;
  });
}

/** Near misses of `(((a+)+)+)+$`: a run of "a" and one other last character, the backtracker's worst case. */
function nearMisses(length: number): string[] {
  return [...'-_.0123456789bcdefghijk'].map((last) => 'a'.repeat(length - 1) + last);
}

const CASES: [label: string, pattern: string, names: string[]][] = [
  ['typical list', 'eth[0-9]+|veth.*|br-.*', names('veth', 15, 20_000)],
  ['match all (default)', '.*', names('veth', 15, 20_000)],
  ['catastrophic, 15-byte near miss', '(((a+)+)+)+$', nearMisses(15)],
  ['catastrophic, 10,000-char near miss', '(((a+)+)+)+$', nearMisses(10_000)],
  ['near the 10,000-instruction cap', '(?:[a-z]{1000}|)'.repeat(9), names('a', 15, 200)],
];

const rows: string[][] = [['case', 'program', 'us']];
for (const [label, pattern, list] of CASES) {
  const matcher = compileNamePattern(pattern);
  const size = RE2JS.compile(`^(?s:${pattern})$`).programSize();
  let i = 0;
  rows.push([
    `${label}, a match`,
    String(size),
    microsPerCall(() => matcher.test(list[i++ % list.length] as string), Math.max(list.length, 1000)).toFixed(1),
  ]);
}
rows.push([
  'compile near the cap',
  '',
  microsPerCall(() => compileNamePattern('(?:[a-z]{1000}|)'.repeat(9)), 3).toFixed(0),
]);
const backtracking = new RegExp('^(?:(((a+)+)+)+$)$');
for (const n of [9, 11, 13]) {
  rows.push([
    `old RegExp, catastrophic, ${n + 1}-byte near miss, a match`,
    '',
    microsPerCall(() => backtracking.test(`${'a'.repeat(n)}-`), 1).toFixed(0),
  ]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows)
  process.stdout.write(`${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}\n`);
