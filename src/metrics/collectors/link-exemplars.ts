// Exemplars on per-link counter lines (OpenMetrics): the cached text of the runs, annotated
// where a link has exemplars.

import type { LinkRecord } from '../../state/links';
import type { Exemplar } from '../../tracing/exemplars';
import type { Family } from '../contract';
import { formatExemplar } from '../openmetrics';
import type { TextSink } from '../sink';
import { LINK_FAMILIES } from './link-text';
import { linkRuns } from './link-runs';
import type { NamespaceSource } from '../source';

/** A cached sample line with an exemplar appended (OpenMetrics). */
function withExemplar(line: string, exemplar: Exemplar | undefined): string {
  return exemplar ? `${line}${formatExemplar(exemplar)}` : line;
}

/**
 * A family of per-link lines with exemplars (OpenMetrics). `find` gives a link's exemplars
 * (undefined when none), `annotate` its lines with them. Runs without any go out as they are.
 */
export function familyWithExemplars<E>(
  w: TextSink,
  def: Family,
  sources: readonly NamespaceSource[],
  at: number,
  find: (netns: string, link: LinkRecord) => E | undefined,
  annotate: (lines: string, exemplars: E) => string,
): void {
  w.family(def);
  for (const source of sources) {
    const netns = source.model.netns;
    for (const run of linkRuns(source.model, w.openMetrics, source.compact)) {
      const text = run.text[at] as Buffer;
      const found = run.links.map((link) => find(netns, link));
      if (found.every((e) => e === undefined)) {
        w.raw(text);
        continue;
      }
      let offset = 0;
      found.forEach((exemplars, i) => {
        const end = offset + (run.lengths[i * LINK_FAMILIES + at] as number);
        const lines = text.toString('utf8', offset, end);
        w.raw(exemplars === undefined || lines === '' ? lines : annotate(lines, exemplars));
        offset = end;
      });
    }
  }
}

/**
 * A link's lines of a counter family with `exemplars[i]` appended to its i-th sample of `def`
 * (its `_total` lines; the `_created` lines between them carry none).
 */
export function annotateSamples(
  def: Family,
  lines: string,
  exemplars: readonly (Exemplar | undefined)[],
  // Which exemplar a sample line takes; by default the i-th. A compact namespace's link lacks
  // the lines of counters still at 0, so there a sample is matched by its labels.
  indexOf: (line: string, i: number) => number = (_line, i) => i,
): string {
  let i = 0;
  const prefix = `${def.name}{`;
  return lines
    .split('\n')
    .map((line) => (line.startsWith(prefix) ? withExemplar(line, exemplars[indexOf(line, i++)]) : line))
    .join('\n');
}
