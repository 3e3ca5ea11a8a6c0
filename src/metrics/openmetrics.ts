// OpenMetrics 1.0 for scrapers that ask for it (Accept: application/openmetrics-text, which is
// how Prometheus asks for exemplars). The netlink_* families are written in this format by
// ExpositionWriter itself; prom-client's process_*/nodejs_* text (a few dozen lines) is
// converted here rather than kept in a second registry: prom-client allows exemplars only on
// an OpenMetrics registry, and a second set of default metrics would run its collectors twice.

import type { Exemplar } from '../tracing/exemplars';
import { escapeLabelValue, formatCreated } from './writer';

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const OPENMETRICS_EOF = '# EOF\n';

/** ` # {trace_id="...",span_id="..."} value timestamp`, to append to a counter sample line. */
export function formatExemplar(e: Exemplar): string {
  return ` # {trace_id="${escapeLabelValue(e.traceId)}",span_id="${escapeLabelValue(e.spanId)}"} ${e.value} ${e.timestamp.toFixed(3)}`;
}

/**
 * Prometheus text format (as prom-client writes it) to OpenMetrics, without the `# EOF`: a
 * counter family is announced without `_total` (its samples keep it; a counter whose samples
 * lack it becomes `unknown`), `untyped` becomes `unknown`, double quotes in HELP are escaped,
 * blank lines go, and `Nan` is spelled `NaN`. With `created` (seconds since the epoch), each
 * sample of a counter family is followed by its `_created` sample at that time: prom-client's
 * counters here (process CPU, the event stream's) are all registered at start-up, at 0.
 */
export function textToOpenMetrics(text: string, created?: number): string {
  const out: string[] = [];
  let help: { name: string; text: string } | undefined;
  /** The counter family whose samples are being read: its `_total` sample name and `_created` name. */
  let counter: { total: string; created: string } | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('# HELP ')) {
      const rest = line.slice('# HELP '.length);
      const space = rest.indexOf(' ');
      help = space < 0 ? { name: rest, text: '' } : { name: rest.slice(0, space), text: rest.slice(space + 1) };
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name = '', type = 'unknown'] = line.slice('# TYPE '.length).split(' ');
      let family = name;
      let omType = type === 'untyped' ? 'unknown' : type;
      counter = undefined;
      if (type === 'counter') {
        if (name.endsWith('_total')) {
          family = name.slice(0, -'_total'.length);
          counter = { total: name, created: `${family}_created` };
        } else omType = 'unknown';
      }
      if (help && help.name === name) out.push(`# HELP ${family} ${help.text.replace(/"/g, '\\"')}`);
      out.push(`# TYPE ${family} ${omType}`);
      help = undefined;
      continue;
    }
    if (line.startsWith('#')) continue;
    out.push(line.endsWith(' Nan') ? `${line.slice(0, -3)}NaN` : line);
    if (
      counter &&
      created !== undefined &&
      (line.startsWith(`${counter.total}{`) || line.startsWith(`${counter.total} `))
    ) {
      // The labels are what lies between the name and the value (the text after the last space).
      const labels = line.slice(counter.total.length, line.lastIndexOf(' '));
      out.push(`${counter.created}${labels} ${formatCreated(created)}`);
    }
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}
