// A reader of exposition text (Prometheus 0.0.4 and OpenMetrics 1.0 sample lines), for tests that
// compare /metrics with another output sample by sample.

import type { PromSample } from './otlp-to-prometheus';

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN' || text === 'Nan') return NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`not a sample value: ${text}`);
  return value;
}

/** A sample line's labels (`{a="x",b="y"}` without the braces), unescaped. */
function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let at = 0;
  while (at < text.length) {
    const eq = text.indexOf('="', at);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = text.slice(at, eq);
    let value = '';
    let i = eq + 2;
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        const next = text[++i];
        value += next === 'n' ? '\n' : (next as string);
      } else value += text[i];
    }
    if (i >= text.length) throw new Error(`unterminated label value in: ${line}`);
    labels[name] = value;
    at = i + 1;
    if (text[at] === ',') at++;
  }
  return labels;
}

/** Every sample line of `text` (comments, `# EOF` and exemplars left out). */
export function parseExposition(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sample = line.split(' # ')[0] as string;
    const brace = sample.indexOf('{');
    const space = sample.lastIndexOf(' ');
    if (brace >= 0 && brace < space) {
      const close = sample.lastIndexOf('}');
      out.push({
        name: sample.slice(0, brace),
        labels: parseLabels(sample.slice(brace + 1, close), line),
        value: parseValue(sample.slice(close + 2).split(' ')[0] as string),
      });
    } else {
      const [name, value] = sample.split(' ');
      out.push({ name: name as string, labels: {}, value: parseValue(value as string) });
    }
  }
  return out;
}
