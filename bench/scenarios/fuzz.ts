// Scenario 8: the codec's property tests with a large run count
// (FUZZ_RUNS, read by test/unit/netlink/codec-fuzz.test.ts: runs per property).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { runToEnd } from '../procs';
import type { Row } from '../table';
import { int } from '../util';
import type { Context } from './context';

/** dist/bench/scenarios/fuzz.js -> dist/test/codec-fuzz.test.js */
const FUZZ_JS = path.resolve(__dirname, '..', '..', 'test', 'unit', 'netlink', 'codec-fuzz.test.js');

export async function fuzzScenario(ctx: Context): Promise<Row[]> {
  const runs = ctx.size(300_000, 100);
  if (!fs.existsSync(FUZZ_JS)) throw new Error(`${FUZZ_JS} is missing (tsc -p tsconfig.json)`);
  const properties = (fs.readFileSync(FUZZ_JS, 'utf8').match(/(?:\bfc|fast_check_\d+\.default)\.assert\(/g) ?? [])
    .length;
  ctx.log(`fuzz: FUZZ_RUNS=${runs} node --test ${path.relative(process.cwd(), FUZZ_JS)}`);
  const r = await runToEnd(
    [process.execPath, '--test', FUZZ_JS],
    { FUZZ_RUNS: String(runs) },
    Math.max(600_000, runs * 10),
  );
  const tap = (k: string): number => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? NaN);
  const note =
    `FUZZ_RUNS=${int(runs)} x ${properties} properties = ${int(runs * properties)} cases in ${(r.ms / 1000).toFixed(1)} s ` +
    `(node --test: tests ${tap('tests')}, pass ${tap('pass')}, fail ${tap('fail')})`;
  const failures: string[] = [];
  if (r.code !== 0) {
    const failing = r.stdout
      .split('\n')
      .filter((l) => /^not ok|error:|Counterexample|seed/i.test(l.trim()))
      .slice(0, 8)
      .join('\n');
    failures.push(`codec fuzz failed (exit ${r.code ?? r.signal}):\n${failing || r.stderr.slice(-1000)}`);
  }
  return [{ scenario: '8 codec fuzz', notes: [note], failures }];
}
